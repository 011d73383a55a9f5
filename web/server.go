// Package web is idsync's web console and REST API: the Synchronization
// Service Manager in the browser. `idsync serve` serves it next to the
// scheduler, with /metrics and /healthz.
//
// Pages are server-rendered (html/template) with htmx, every asset
// embedded (no CDN); they read without JavaScript. The REST API under
// /api/v1 returns the JSON shapes of package view (the CLI's -o json) and
// is described by /api/v1/openapi.json.
//
// Access: local users (store.User, passwords hashed with argon2id, created
// with `idsync user add`), or people of an OpenID Connect provider when
// console.oidc is configured (oidc.go), sign in to a server-side session
// held in an HttpOnly, SameSite=Strict cookie (Secure over TLS); scripts use API
// tokens (Authorization: Bearer, `idsync user token`). Every page and API
// call needs a role — browse (read), operator (run profiles, download
// spreadsheets), admin (everything: the scheduler, users) — checked by the
// route table in one place (routes); a user limited to a tenant reaches
// only the routes of that tenant (tenants.go). State-changing requests with a
// session carry the session's CSRF token; failed sign-ins are rate
// limited; sign-ins, changes, downloads and refusals go to the audit log.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector/ldap"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/tenant"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server.
type Options struct {
	// Store holds the console's state (users, tokens, audit log, the
	// scheduler's switch); View, when set, is what object data is read
	// from: a masked view of the store, in which secret values are
	// [secret] (see secrets.go). Secret tells which attributes are secret.
	Store  store.Store
	View   store.Store
	Secret func(attr string) bool
	Engine *engine.Engine
	Rules  *rules.RuleSet
	// Apps are the applications provisioned (nil: none), and DataDir
	// holds their activity reports.
	Apps    *provisioning.File
	DataDir string
	// Applications, when set, returns the applications as now configured
	// (a reload replaces them, Apps is then not read); the console's
	// changes to them (provisioning on or off, assignments) are written
	// to the console-managed file next to their file
	// (provisioning.ConsolePath), then Reload applies them.
	Applications func() *provisioning.File
	// RunProfile runs a run profile of a connector under the store's run
	// lock (the caller's: `idsync serve` waits for a running cycle). The
	// console calls it in the background and shows the run in the history.
	RunProfile func(ctx context.Context, connector string, p engine.Profile, o engine.RunOptions) error
	// Config is the configuration (connector properties, secrets masked
	// with Mask, which hides the secret values the process knows).
	Config *config.Config
	Mask   func(string) string
	// RunCycle runs a sync cycle now, as the scheduler does (nil: the
	// console cannot).
	RunCycle func(ctx context.Context) error
	// Metrics and Health serve /metrics and /healthz (nil: not served).
	Metrics, Health http.Handler
	// Secure marks cookies Secure (the server speaks TLS).
	Secure bool
	Log    *slog.Logger
	// Now returns the time (tests); default time.Now.
	Now func() time.Time
	// Version is shown in the footer.
	Version string
	// Tenants manages the provider's tenants and their domains (R5), over
	// Store; nil: no tenant pages or API.
	Tenants *tenant.Service
	// TenantTemplate loads the provider's tenant template (the settings a
	// tenant has); nil or an error: the settings are not shown.
	TenantTemplate func() (*tenant.Template, error)
	// OpenTenant opens a tenant's onboarding — the engine on the tenant's
	// own configuration and store — under the tenant's run lock, which
	// close releases (nil: no onboarding wizard).
	OpenTenant func(ctx context.Context, id string) (ob *tenant.Onboarder, close func(), err error)
	// Consent, when set, offers the Entra ID admin consent on tenant pages
	// (consent.go).
	Consent *ConsentOptions
	// Reload makes the process run the configuration as now written, after
	// the console changed its console-managed part (config/console.go:
	// cloned, disabled and enabled rules, OU selections), and returns what
	// it loaded. idsync serve reloads under the run lock, reopens the
	// connectors whose settings changed and gives the engine and the
	// scheduler the new rules. nil: the console shows the configuration
	// but does not change it.
	Reload func(ctx context.Context) (*config.Config, *rules.RuleSet, error)
	// CheckRules checks a whole rule set before a rule change is saved
	// (the errors idsync refuses to start with); ExtraRules are the rule
	// files loaded after the configuration's (the applications' generated
	// rules).
	CheckRules config.RuleCheck
	ExtraRules []*rules.File
	// ContainerTrees reads an LDAP connector's OU trees, one per partition
	// it synchronizes, with the selection of the configuration as now
	// written; SaveContainers writes choices made in them (by container
	// DN; the containers not named keep their state) to the console-managed
	// connector settings and returns the filtering written. nil: no OU
	// tree on the connector pages.
	ContainerTrees func(ctx context.Context, connector string) ([]*ldap.Tree, error)
	SaveContainers func(ctx context.Context, connector string, choices map[string]ldap.Choice) (ldap.Containers, error)
	// EngineMu guards what Reload replaces in Engine — its Rules, its
	// connectors' Conn and Partitions — outside the run lock: Reload
	// holds it for writing while it swaps them, the console for reading
	// while it reads them (the object preview, the connectors' run
	// profiles). nil: the console makes its own, which a Reload that
	// changes Engine must then use (Server.Options().EngineMu).
	EngineMu *sync.RWMutex
	// OIDC turns on sign-in with an OpenID Connect provider next to the
	// local users (oidc.go); nil: local users only.
	OIDC *config.ConsoleOIDC
}

// Server is the console and API.
type Server struct {
	o        Options
	mux      *http.ServeMux
	sessions *sessions
	limiter  *limiter
	pages    map[string]*template.Template
	// running: "connector\x00profile" started from the console and not
	// finished.
	running sync.Map
	// base is the context of background runs (the server's lifetime).
	base context.Context
	// cfgMu guards o.Config and o.Rules, which a reload replaces.
	cfgMu sync.RWMutex
	// oidc is the OpenID Connect sign-in (nil: off).
	oidc *oidcLogin
}

// New builds the server. ctx bounds the runs it starts in the background.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Store == nil || o.Engine == nil {
		return nil, fmt.Errorf("web: Options.Store and Options.Engine are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EngineMu == nil {
		o.EngineMu = new(sync.RWMutex)
	}
	s := &Server{o: o, mux: http.NewServeMux(), sessions: newSessions(o.Store), limiter: newLimiter(), base: ctx}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	if o.OIDC != nil {
		l, err := newOIDCLogin(o.OIDC)
		if err != nil {
			return nil, err
		}
		s.oidc = l
	}
	s.routes()
	return s, nil
}

func (s *Server) now() time.Time { return s.o.Now() }

// Handler returns the server's handler with its security headers.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if s.o.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		s.mux.ServeHTTP(w, r)
	})
}

// access is what a route needs.
type access struct {
	role string // "": anyone, signed in or not
	api  bool   // JSON errors (401) instead of a redirect to the sign-in page
	// tenant: a tenant's route (the path's {tenant}, or the list of
	// tenants), the only kind a tenant-scoped user may reach — for their
	// own tenant only.
	tenant bool
}

var (
	public   = access{}
	browse   = access{role: auth.RoleBrowse}
	operator = access{role: auth.RoleOperator}
	admin    = access{role: auth.RoleAdmin}
)

func (a access) json() access { a.api = true; return a }

// scoped marks a tenant's route.
func (a access) scoped() access { a.tenant = true; return a }

// handler is a route's handler; p is nil only on public routes.
type handler func(w http.ResponseWriter, r *http.Request, p *principal)

// handle registers a route with what it needs: the role check, tenant
// scope and CSRF check happen here, for every route.
func (s *Server) handle(pattern string, a access, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		p, err := s.identify(r)
		switch {
		case err != nil:
			s.audit(r, nil, "auth-failed", r.URL.Path, err.Error(), "denied")
			s.fail(w, r, a.api, http.StatusUnauthorized, err.Error())
			return
		case a.role != "" && p == nil:
			if a.api {
				s.fail(w, r, true, http.StatusUnauthorized, "sign in first: send an API token (Authorization: Bearer …; `idsync user token`)")
				return
			}
			next := r.URL.Path
			if r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			if r.Header.Get("HX-Request") == "true" {
				// A part of a page asking (the dashboard's polling): the
				// whole page goes to the sign-in page, not the part.
				if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && u.Path != "" {
					next = u.RequestURI()
				}
				w.Header().Set("HX-Redirect", "/login?next="+url.QueryEscape(next))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		case a.role != "" && !p.can(a.role):
			s.audit(r, p, "denied", r.Method+" "+r.URL.Path, "needs the role "+a.role, "denied")
			s.fail(w, r, a.api, http.StatusForbidden, fmt.Sprintf("this needs the %s role; you are signed in as %s with the %s role", a.role, p.User, p.Role))
			return
		case a.role != "" && p.Tenant != "" && !a.tenant:
			// A tenant-scoped user sees nothing of the installation: only
			// their tenant's pages.
			if r.URL.Path == "/" && s.o.Tenants != nil {
				http.Redirect(w, r, "/tenants/"+url.PathEscape(p.Tenant), http.StatusSeeOther)
				return
			}
			s.audit(r, p, "denied", r.Method+" "+r.URL.Path, "tenant-scoped user", "denied")
			s.fail(w, r, a.api, http.StatusForbidden, fmt.Sprintf("%s is limited to the tenant %s, and this page shows the whole installation", p.User, p.Tenant))
			return
		case a.role != "" && p.Tenant != "" && r.PathValue("tenant") != "" && r.PathValue("tenant") != p.Tenant:
			s.audit(r, p, "denied", r.Method+" "+r.URL.Path, "tenant-scoped user of tenant "+p.Tenant, "denied")
			s.fail(w, r, a.api, http.StatusForbidden, fmt.Sprintf("%s is limited to the tenant %s", p.User, p.Tenant))
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK(r, p):
			s.audit(r, p, "denied", r.Method+" "+r.URL.Path, "missing or wrong CSRF token", "denied")
			s.fail(w, r, a.api, http.StatusForbidden, "the request lacks this session's CSRF token (reload the page and try again)")
			return
		}
		h(w, r, p)
	})
}

// routes is the route table: every page and API call with the role it
// needs.
func (s *Server) routes() {
	s.handle("GET /static/", public, s.static)
	s.handle("GET /login", public, s.pageLogin)
	s.handle("POST /login", public, s.postLogin)
	s.handle("POST /logout", browse, s.postLogout)
	if s.oidc != nil {
		s.handle("GET /login/oidc", public, s.oidcStart)
		s.handle("GET /login/oidc/callback", public, s.oidcCallback)
	}
	if s.o.Health != nil {
		s.handle("GET /healthz", public, func(w http.ResponseWriter, r *http.Request, _ *principal) { s.o.Health.ServeHTTP(w, r) })
	}
	if s.o.Metrics != nil {
		s.handle("GET /metrics", browse.json(), func(w http.ResponseWriter, r *http.Request, _ *principal) { s.o.Metrics.ServeHTTP(w, r) })
	}

	s.handle("GET /{$}", browse, s.pageDashboard)
	s.handle("GET /connectors/{name}", browse, s.pageConnector)
	s.handle("GET /connectors/{name}/pending", browse, s.pagePending)
	s.handle("GET /connectors/{name}/pending.csv", operator, s.downloadPending)
	s.handle("POST /connectors/{name}/run", operator, s.postRun)
	s.handle("POST /connectors/{name}/allow-deletes", admin, s.postAllowDeletes)
	s.handle("POST /connectors/{name}/containers", admin, s.postContainers)
	s.handle("GET /cs", browse, s.pageCS)
	s.handle("GET /runs", browse, s.pageRuns)
	s.handle("GET /runs/{id}", browse, s.pageRun)
	s.handle("GET /metaverse", browse, s.pageSearch)
	s.handle("GET /metaverse/{id}", browse, s.pageMV)
	s.handle("GET /metaverse/{id}/preview", browse, s.pageMVPreview)
	s.handle("GET /rules", browse, s.pageRules)
	s.handle("GET /rules/detail", browse, s.pageRule)
	s.handle("POST /rules/clone", admin, s.postRuleEdit("clone"))
	s.handle("POST /rules/disable", admin, s.postRuleEdit("disable"))
	s.handle("POST /rules/enable", admin, s.postRuleEdit("enable"))
	s.handle("GET /expr", browse, s.pageExpr)
	s.handle("GET /scheduler", browse, s.pageScheduler)
	s.handle("POST /scheduler", admin, s.postScheduler)
	s.handle("POST /scheduler/cycle", operator, s.postCycle)
	s.handle("GET /audit", admin, s.pageAudit)
	s.handle("GET /applications", browse, s.pageApps)
	s.handle("GET /applications/{name}", browse, s.pageApp)
	s.handle("POST /applications/{name}/test", operator, s.postAppTest)
	s.handle("GET /applications/{name}/progress", browse, s.pageAppProgress)
	s.handle("POST /applications/{name}/provisioning", admin, s.postAppProvisioning)
	s.handle("POST /applications/{name}/assign", admin, s.postAppAssign)
	s.handle("POST /applications/{name}/unassign", admin, s.postAppUnassign)

	api := func(a access) access { return a.json() }
	if s.o.Tenants != nil {
		// Tenants (R5): the only routes a tenant-scoped user reaches, for
		// their own tenant (scoped). The onboarding steps run while the
		// request waits (a tenant's directory is small).
		s.handle("GET /tenants", browse.scoped(), s.pageTenants)
		s.handle("GET /tenants/{tenant}", browse.scoped(), s.pageTenant)
		s.handle("POST /tenants/{tenant}/domains", admin.scoped(), s.postDomainAdd)
		s.handle("POST /tenants/{tenant}/domains/{domain}/verify", operator.scoped(), s.postDomainVerify)
		s.handle("POST /tenants/{tenant}/domains/{domain}/use", admin.scoped(), s.postDomainUse)
		s.handle("POST /tenants/{tenant}/settings", admin.scoped(), s.postTenantSettings)
		s.handle("POST /tenants/{tenant}/discover", operator.scoped(), s.postDiscover)
		s.handle("GET /tenants/{tenant}/review", browse.scoped(), s.pageReview)
		s.handle("GET /tenants/{tenant}/review.csv", browse.scoped(), s.downloadReview)
		s.handle("POST /tenants/{tenant}/review", operator.scoped(), s.postReview)
		s.handle("POST /tenants/{tenant}/confirm", operator.scoped(), s.postConfirm)
		s.handle("POST /tenants/{tenant}/spreadsheet", admin.scoped(), s.postSpreadsheet)
		if s.o.Consent != nil {
			s.handle("POST /tenants/{tenant}/consent", admin.scoped(), s.postConsent)
			s.handle("GET /consent/callback", public, s.consentCallback)
			// No {tenant} in the path: the handler checks the request's
			// tenant against a tenant-scoped user's.
			s.handle("GET /consent/complete", browse.scoped(), s.consentComplete)
		}

		s.handle("GET /api/v1/tenants", api(browse).scoped(), s.apiTenants)
		s.handle("GET /api/v1/tenants/{tenant}", api(browse).scoped(), s.apiTenant)
		s.handle("POST /api/v1/tenants/{tenant}/domains", api(admin).scoped(), s.apiDomainAdd)
		s.handle("POST /api/v1/tenants/{tenant}/domains/{domain}/verify", api(operator).scoped(), s.apiDomainVerify)
		s.handle("POST /api/v1/tenants/{tenant}/domains/{domain}/use", api(admin).scoped(), s.apiDomainUse)
		s.handle("PUT /api/v1/tenants/{tenant}/settings", api(admin).scoped(), s.apiSetTenantSettings)
		s.handle("GET /api/v1/tenants/{tenant}/onboarding", api(browse).scoped(), s.apiOnboarding)
		s.handle("POST /api/v1/tenants/{tenant}/onboarding/discover", api(operator).scoped(), s.apiDiscover)
		s.handle("GET /api/v1/tenants/{tenant}/onboarding/review", api(browse).scoped(), s.apiReview)
		s.handle("POST /api/v1/tenants/{tenant}/onboarding/review", api(operator).scoped(), s.apiApplyReview)
		s.handle("POST /api/v1/tenants/{tenant}/onboarding/confirm", api(operator).scoped(), s.apiConfirm)
		s.handle("POST /api/v1/tenants/{tenant}/onboarding/spreadsheet", api(admin).scoped(), s.apiSpreadsheet)
	}
	s.handle("GET /api/v1/openapi.json", api(browse), s.apiOpenAPI)
	s.handle("GET /api/v1/connectors", api(browse), s.apiConnectors)
	s.handle("GET /api/v1/connectors/{name}/pending", api(browse), s.apiPending)
	s.handle("GET /api/v1/connectors/{name}/containers", api(browse), s.apiContainers)
	s.handle("PUT /api/v1/connectors/{name}/containers", api(admin), s.apiSetContainers)
	s.handle("POST /api/v1/connectors/{name}/runs", api(operator), s.apiRun)
	s.handle("GET /api/v1/cs", api(browse), s.apiCS)
	s.handle("GET /api/v1/runs", api(browse), s.apiRuns)
	s.handle("GET /api/v1/runs/{id}", api(browse), s.apiRunOne)
	s.handle("GET /api/v1/metaverse", api(browse), s.apiSearch)
	s.handle("GET /api/v1/metaverse/{id}", api(browse), s.apiMV)
	s.handle("GET /api/v1/metaverse/{id}/preview", api(browse), s.apiMVPreview)
	s.handle("GET /api/v1/rules", api(browse), s.apiRules)
	s.handle("GET /api/v1/rules/detail", api(browse), s.apiRule)
	s.handle("POST /api/v1/rules/clone", api(admin), s.apiRuleEdit("clone"))
	s.handle("POST /api/v1/rules/disable", api(admin), s.apiRuleEdit("disable"))
	s.handle("POST /api/v1/rules/enable", api(admin), s.apiRuleEdit("enable"))
	s.handle("GET /api/v1/expr", api(browse), s.apiExpr)
	s.handle("GET /api/v1/scheduler", api(browse), s.apiScheduler)
	s.handle("PUT /api/v1/scheduler", api(admin), s.apiSetScheduler)
	s.handle("POST /api/v1/scheduler/cycle", api(operator), s.apiCycle)
	s.handle("GET /api/v1/audit", api(admin), s.apiAudit)
	s.handle("GET /api/v1/applications", api(browse), s.apiApps)
	s.handle("GET /api/v1/applications/{name}/activity", api(browse), s.apiActivity)
	s.handle("GET /api/v1/applications/{name}/progress", api(browse), s.apiAppProgress)
	s.handle("PUT /api/v1/applications/{name}/provisioning", api(admin), s.apiSetAppProvisioning)
	s.handle("POST /api/v1/applications/{name}/assign", api(admin), s.apiAppAssign(false))
	s.handle("POST /api/v1/applications/{name}/unassign", api(admin), s.apiAppAssign(true))
	s.handle("GET /api/v1/", api(browse), func(w http.ResponseWriter, r *http.Request, _ *principal) {
		s.fail(w, r, true, http.StatusNotFound, "no such API call: see /api/v1/openapi.json")
	})
}

func (s *Server) static(w http.ResponseWriter, r *http.Request, _ *principal) {
	sub, _ := fs.Sub(staticFS, "static")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.StripPrefix("/static/", http.FileServerFS(sub)).ServeHTTP(w, r)
}

// fail answers an error: JSON for the API, a page for the console.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, api bool, code int, msg string) {
	if api || strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = s.pages["error"].ExecuteTemplate(w, "layout", pageData{Title: http.StatusText(code), Data: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// audit records an action; an audit failure is logged (the action it
// records has happened).
func (s *Server) audit(r *http.Request, p *principal, action, target, detail, outcome string) {
	e := &store.AuditEntry{Time: s.now().UTC(), Action: action, Target: target, Detail: detail, Remote: remote(r), Outcome: outcome}
	if p != nil {
		e.User, e.Role = p.User, p.Role
	}
	if err := s.o.Store.AddAudit(context.WithoutCancel(r.Context()), e); err != nil {
		s.o.Log.Error("audit log", "err", err, "action", action, "user", e.User)
	}
}
