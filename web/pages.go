package web

import (
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/view"
)

// pageData is what every page's layout gets.
type pageData struct {
	Title   string
	User    *principal
	CSRF    string
	Nav     string // the active section
	Flash   string // a message after an action
	Version string
	// Tenants: the console has tenant pages.
	Tenants bool
	Data    any
}

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"login", "error", "dashboard", "connector", "pending", "runs", "run", "search", "mv", "cs", "rules", "scheduler", "audit", "apps", "app", "rule", "expr", "preview", "tenants", "tenant", "review"}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"time": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.Local().Format("2006-01-02 15:04:05")
			case *time.Time:
				if v == nil || v.IsZero() {
					return ""
				}
				return v.Local().Format("2006-01-02 15:04:05")
			}
			return fmt.Sprint(t)
		},
		"duration": func(r *store.Run) string {
			if r == nil || r.Finished == nil {
				return ""
			}
			return r.Finished.Sub(r.Started).Round(time.Millisecond).String()
		},
		"join":    strings.Join,
		"percent": percent,
		"can":     func(p *principal, role string) bool { return p.can(role) },
		"deref": func(p *int) string {
			if p == nil {
				return ""
			}
			return fmt.Sprint(*p)
		},
	}
	s.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("web: template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// render writes a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, p *principal, name, title, nav string, data any) {
	d := pageData{Title: title, User: p, Nav: nav, Version: s.o.Version, Data: data, Flash: r.URL.Query().Get("flash"), Tenants: s.o.Tenants != nil}
	if p != nil && p.session != nil {
		d.CSRF = p.session.csrf
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages[name].ExecuteTemplate(w, "layout", d); err != nil {
		s.o.Log.Error("console page", "page", name, "err", err)
	}
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, p *principal) {
	if p != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, "login", "Sign in", "", map[string]string{"Next": safeNext(r.URL.Query().Get("next")), "Token": s.loginToken(w, r), "OIDC": s.oidcName()})
}

// The sign-in form carries a token that must match a cookie set with the
// form (SameSite=Strict): a form posted from another site — signing the
// victim in as the attacker — has no cookie and is refused.
const loginCookie = "idsync_login"

// loginToken returns the token of the sign-in form, setting its cookie
// when the browser has none.
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", MaxAge: 3600, HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteStrictMode})
	return tok
}

// safeNext keeps a redirect after sign-in on this site. Control
// characters and spaces are refused too: browsers drop tabs and newlines
// from a URL, so "/\t/evil.example" would leave as "//evil.example"; and
// so is what is not a URL reference.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") ||
		strings.ContainsFunc(next, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return path.Clean("/"+strings.SplitN(next, "?", 2)[0]) + func() string {
		if i := strings.Index(next, "?"); i >= 0 {
			return next[i:]
		}
		return ""
	}()
}

func (s *Server) postLogin(w http.ResponseWriter, r *http.Request, _ *principal) {
	now := s.now()
	name := strings.TrimSpace(r.PostFormValue("user"))
	keys := []string{"addr:" + remote(r), "user:" + strings.ToLower(name)}
	next := safeNext(r.PostFormValue("next"))
	again := func(code int, msg string) {
		tok := s.loginToken(w, r)
		w.WriteHeader(code)
		s.render(w, r, nil, "login", "Sign in", "", map[string]string{"Next": next, "User": name, "Error": msg, "Token": tok, "OIDC": s.oidcName()})
	}
	if c, err := r.Cookie(loginCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		s.audit(r, &principal{User: name}, "login-failed", "", "sign-in form without its token (expired, or posted from another site)", "denied")
		again(http.StatusForbidden, "The sign-in form expired or was not this site's: sign in again.")
		return
	}
	if blocked, until := s.limiter.blocked(now, keys...); blocked {
		s.audit(r, &principal{User: name}, "login-failed", "", "rate limited", "denied")
		again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins: try again after %s.", until.Local().Format("15:04")))
		return
	}
	u, err := s.o.Store.GetUser(r.Context(), name)
	ok := false
	if err == nil && !u.Disabled && u.PasswordHash != "" {
		ok, _ = auth.VerifyPassword(u.PasswordHash, r.PostFormValue("password"))
	} else {
		// The same work whether the user exists (and has a password:
		// `idsync user add --no-password`) or not.
		_, _ = auth.VerifyPassword(dummyHash, r.PostFormValue("password"))
	}
	if !ok {
		s.limiter.failed(now, keys...)
		s.audit(r, &principal{User: name}, "login-failed", "", "wrong user name or password", "denied")
		again(http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	s.limiter.succeeded(keys...)
	ss, err := s.sessions.start(r.Context(), u, now)
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: ss.id, Path: "/", HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteStrictMode})
	s.audit(r, &principal{User: u.Name, Role: u.Role}, "login", "", "", "ok")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// dummyHash is verified when the user does not exist, so that a wrong
// name takes as long as a wrong password.
var dummyHash = func() string {
	h, err := auth.HashPassword(randomToken())
	if err != nil {
		panic(err)
	}
	return h
}()

func (s *Server) postLogout(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.session != nil {
		if err := s.sessions.end(r.Context(), p.session.id); err != nil {
			s.storeError(w, r, false, err, "")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteStrictMode})
	s.audit(r, p, "logout", "", "", "ok")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request, p *principal) {
	cs, err := s.connectors(r.Context())
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	sch, err := s.schedulerState(r.Context())
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	s.render(w, r, p, "dashboard", "Dashboard", "dashboard", map[string]any{
		"Connectors": cs, "Scheduler": sch, "Staging": s.o.Engine.InStaging(),
		"Standby": !s.o.Engine.Staging && s.o.Engine.InStaging()})
}

func (s *Server) pageConnector(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	if err := s.knownConnector(name); err != nil {
		s.fail(w, r, false, http.StatusNotFound, err.Error())
		return
	}
	c, err := s.connectorState(r.Context(), name)
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	runs, err := s.o.Store.Runs(r.Context(), store.RunFilter{Connector: name, Limit: 20})
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	guarded := false
	for _, run := range runs {
		if run.Profile == string(engine.Export) {
			guarded = run.Status == "stopped" && strings.Contains(run.Message, engine.ErrDeleteThreshold.Error())
			break
		}
	}
	s.render(w, r, p, "connector", name, "dashboard", map[string]any{"Connector": c, "Runs": runs, "Guarded": guarded,
		"Properties": s.properties(name), "OUs": s.containerTrees(r.Context(), name)})
}

// postAllowDeletes runs an export that the accidental-delete guard let
// through once (admins; audited).
func (s *Server) postAllowDeletes(w http.ResponseWriter, r *http.Request, p *principal) {
	conn := r.PathValue("name")
	if err := s.startRun(p, conn, string(engine.Export), engine.RunOptions{AllowDeletes: true}); err != nil {
		s.audit(r, p, "allow-deletes", conn, err.Error(), "failed")
		s.fail(w, r, false, http.StatusConflict, err.Error())
		return
	}
	s.audit(r, p, "allow-deletes", conn, "export with the deletes allowed once", "ok")
	http.Redirect(w, r, "/connectors/"+url.PathEscape(conn)+"?flash="+url.QueryEscape("Export started with the deletes allowed once"), http.StatusSeeOther)
}

func (s *Server) postRun(w http.ResponseWriter, r *http.Request, p *principal) {
	conn, profile := r.PathValue("name"), r.PostFormValue("profile")
	if err := s.startRun(p, conn, profile, engine.RunOptions{}); err != nil {
		s.audit(r, p, "run-profile", conn, profile+": "+err.Error(), "failed")
		s.fail(w, r, false, http.StatusConflict, err.Error())
		return
	}
	s.audit(r, p, "run-profile", conn, profile, "ok")
	http.Redirect(w, r, "/connectors/"+url.PathEscape(conn)+"?flash="+url.QueryEscape(profile+" started"), http.StatusSeeOther)
}

func (s *Server) pagePending(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	rows, err := s.pendingRows(r.Context(), name)
	if err != nil {
		s.fail(w, r, false, http.StatusNotFound, err.Error())
		return
	}
	s.render(w, r, p, "pending", "Pending exports: "+name, "dashboard", map[string]any{"Connector": name, "Rows": rows})
}

// downloadPending is the preview as CSV (R2.9), for operators; audited.
func (s *Server) downloadPending(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	rows, err := s.pendingRows(r.Context(), name)
	if err != nil {
		s.fail(w, r, false, http.StatusNotFound, err.Error())
		return
	}
	s.audit(r, p, "download-preview", name, fmt.Sprintf("%d rows", len(rows)), "ok")
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "pending-"+name+".csv"))
	cw := csv.NewWriter(w)
	_ = cw.Write(engine.PreviewColumns)
	for _, row := range rows {
		_ = cw.Write([]string{row.Connector, row.Object, row.ObjectType, row.Operation, row.Attribute, row.Change, row.OldValue, row.NewValue, row.State, row.Error})
	}
	cw.Flush()
}

func (s *Server) pageCS(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	v, err := s.csObject(r.Context(), q.Get("id"), q.Get("connector"), q.Get("anchor"))
	if err != nil {
		s.storeError(w, r, false, err, "the connector space object")
		return
	}
	s.render(w, r, p, "cs", v.Connector+": "+v.Anchor, "metaverse", v)
}

func (s *Server) pageRuns(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	runs, err := s.o.Store.Runs(r.Context(), store.RunFilter{Connector: q.Get("connector"), OnlyErrors: q.Get("errors") == "true", Limit: 100})
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	s.render(w, r, p, "runs", "Run history", "runs", map[string]any{"Runs": runs, "Connector": q.Get("connector"),
		"Errors": q.Get("errors") == "true", "Connectors": s.o.Engine.ConnectorNames()})
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.run(r.Context(), id)
	if err != nil {
		s.storeError(w, r, false, err, "run "+r.PathValue("id"))
		return
	}
	s.render(w, r, p, "run", fmt.Sprintf("Run %d", id), "runs", d)
}

func (s *Server) pageSearch(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	sq, err := parseSearch(q)
	data := map[string]any{"Query": sq}
	if attrs, aerr := s.view().SearchAttrs(r.Context()); aerr == nil {
		data["Indexed"] = attrs
	}
	if err == nil && (q.Has("value") || q.Has("attribute")) {
		var page *SearchPage
		page, err = s.search(r.Context(), sq)
		var es *errSearch
		if err != nil && !errors.As(err, &es) {
			s.storeError(w, r, false, err, "")
			return
		}
		if page != nil {
			data["Results"], data["Searched"] = page.Objects, true
			if page.Next != "" {
				next := url.Values{"attribute": {sq.Attribute}, "value": {sq.Value}, "match": {sq.Match}, "type": {sq.Type}, "after": {page.Next}}
				data["Next"] = "/metaverse?" + next.Encode()
			}
			data["Paged"] = sq.After != ""
		}
	}
	if err != nil {
		data["Problem"] = err.Error()
	}
	s.render(w, r, p, "search", "Metaverse search", "metaverse", data)
}

// mvPage is the metaverse object page's data: the object, and the names
// its connected objects sign in with, by connector and anchor.
type mvPage struct {
	*view.MVObject
	SignIn map[string]string
}

// signInNames are the attributes of a connected object the metaverse page
// shows beside it: in an AD domain (a managed domain's in particular) they
// may have been generated (R4.4, R4.8), not the metaverse's.
var signInNames = []string{"userPrincipalName", "sAMAccountName"}

func (s *Server) pageMV(w http.ResponseWriter, r *http.Request, p *principal) {
	v, err := s.mvObject(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, false, err, "metaverse object "+r.PathValue("id"))
		return
	}
	title := v.ID
	for _, a := range v.Attributes {
		if a.Name == "displayName" && len(a.Values) > 0 {
			title = a.Values[0]
		}
	}
	page := mvPage{MVObject: v, SignIn: map[string]string{}}
	if cs, err := s.view().CSForMV(r.Context(), v.ID); err == nil {
		for _, c := range cs {
			attrs := model.Attrs{}
			for _, n := range signInNames {
				if x, ok := c.Object.Attrs[n]; ok {
					attrs[n] = x
				}
			}
			if c.Pending != nil { // about to be set: a new object's, a changed one
				for _, ch := range c.Pending.Changes {
					if slices.Contains(signInNames, ch.Name) && ch.Mode == connector.Replace {
						attrs[ch.Name] = model.Values{Type: ch.Type, Values: ch.Values}
					}
				}
			}
			var parts []string
			for _, n := range signInNames {
				if x := attrs.First(n); x != "" {
					parts = append(parts, n+" "+x)
				}
			}
			page.SignIn[c.Connector+"\x00"+c.Object.Anchor] = strings.Join(parts, ", ")
		}
	}
	s.render(w, r, p, "mv", title, "metaverse", page)
}

func (s *Server) pageRules(w http.ResponseWriter, r *http.Request, p *principal) {
	var in, out []view.Rule
	if rs := s.currentRules(); rs != nil {
		for _, rule := range rs.Rules {
			v := view.FromRule(rule)
			if v.Direction == "inbound" {
				in = append(in, v)
			} else {
				out = append(out, v)
			}
		}
	}
	s.render(w, r, p, "rules", "Sync rules", "rules", map[string]any{"Inbound": in, "Outbound": out})
}

func (s *Server) pageScheduler(w http.ResponseWriter, r *http.Request, p *principal) {
	st, err := s.schedulerState(r.Context())
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	s.render(w, r, p, "scheduler", "Scheduler", "scheduler", st)
}

func (s *Server) postScheduler(w http.ResponseWriter, r *http.Request, p *principal) {
	on := r.PostFormValue("enabled") == "true"
	if err := s.setScheduler(r, p, on); err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	http.Redirect(w, r, "/scheduler?flash="+url.QueryEscape(map[bool]string{true: "Scheduler enabled", false: "Scheduler disabled"}[on]), http.StatusSeeOther)
}

func (s *Server) pageAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	es, err := s.o.Store.Audit(r.Context(), store.AuditFilter{User: q.Get("user"), Action: q.Get("action"), Limit: 200})
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	s.render(w, r, p, "audit", "Audit log", "audit", map[string]any{"Entries": es, "User": q.Get("user"), "Action": q.Get("action")})
}

func (s *Server) postCycle(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.startCycle(p); err != nil {
		s.audit(r, p, "run-cycle", "", err.Error(), "failed")
		s.fail(w, r, false, http.StatusConflict, err.Error())
		return
	}
	s.audit(r, p, "run-cycle", "", "", "ok")
	http.Redirect(w, r, "/scheduler?flash="+url.QueryEscape("Cycle started: see the run history"), http.StatusSeeOther)
}

// pageMVPreview renders the single-object synchronization preview: rule by
// rule, what synchronizing the object would do (Azure AD Connect's
// single-object sync report); nothing is changed.
func (s *Server) pageMVPreview(w http.ResponseWriter, r *http.Request, p *principal) {
	pv, err := s.previewObject(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, false, err, "metaverse object "+r.PathValue("id"))
		return
	}
	s.scrubPreview(pv)
	s.render(w, r, p, "preview", "Synchronization preview of "+pv.MVID, "metaverse", pv)
}
