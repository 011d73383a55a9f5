package web

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/tlsroots"
	"github.com/idsync/idsync/store"
)

// OpenID Connect sign-in (config.ConsoleOIDC): the authorization code flow
// with PKCE (S256), state and nonce.
//
//   - GET /login/oidc starts a flow: a random state, nonce and PKCE
//     verifier kept in memory (by state) with a random value that is also
//     set in a cookie of this browser (idsync_oidc, SameSite=Lax so that
//     the provider's redirect back carries it; one value for the flows of
//     every tab), and a redirect to the
//     provider's authorization endpoint.
//   - GET /login/oidc/callback takes the flow of the returned state — once:
//     a replayed callback, a tampered state or an expired flow (OIDCFlowTTL)
//     finds none — and checks that the browser is the one that started it
//     (the cookie), the authorization response's iss (RFC 9207) when given,
//     then exchanges the code with the verifier and verifies the ID token
//     (signature, issuer, audience, expiry) and its nonce.
//   - The role is the most powerful one whose values (console.oidc.roles)
//     the rolesClaim holds; none: refused. A local user of the same name
//     (idsync user add) binds the person to it, and may only narrow: a
//     disabled one refuses the sign-in, its tenant limits the session to
//     that tenant, and its role caps the claims' role.
//   - The session is the same kind as a local user's (cookie, CSRF, roles
//     enforced by the route table). The session cookie is SameSite=Strict,
//     so it would not be sent on the rest of the provider's cross-site
//     redirect chain: the callback answers a page that moves on to the
//     console (a same-site navigation), as the consent callback does.
//
// Sign-ins and refusals go to the audit log (login, login-failed), with the
// issuer and the ID token's subject. Flows live in this process's memory:
// behind a load balancer, the callback must reach the server that started
// the flow (sticky sessions), as the sessions do.

// OIDCFlowTTL is how long a started sign-in waits for the provider's
// callback; OIDCMaxFlows bounds the flows in progress (GET /login/oidc is
// anonymous: a flood of them must not grow memory without end), and
// OIDCMaxFlowsPerAddress those of one client address (so that one client
// cannot take them all).
var (
	OIDCFlowTTL            = 10 * time.Minute
	OIDCMaxFlows           = 10000
	OIDCMaxFlowsPerAddress = 50
)

const oidcCookie = "idsync_oidc"

// oidcLogin is the console's OIDC sign-in.
type oidcLogin struct {
	cfg    *config.ConsoleOIDC
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider // discovered at the first sign-in
	flows    map[string]*oidcFlow
}

// oidcFlow is a started sign-in, by its state.
type oidcFlow struct {
	addr     string // the client's address
	browser  string // the idsync_oidc cookie's value
	nonce    string
	verifier string
	next     string
	created  time.Time
}

func newOIDCLogin(cfg *config.ConsoleOIDC) (*oidcLogin, error) {
	pool, err := tlsroots.Pool(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("console.oidc.%w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &oidcLogin{cfg: cfg, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, flows: map[string]*oidcFlow{}}, nil
}

// discover returns the provider, reading its discovery document the first
// time (a provider that did not answer is asked again at the next sign-in).
func (l *oidcLogin) discover(ctx context.Context) (*oidc.Provider, error) {
	l.mu.Lock()
	p := l.provider
	l.mu.Unlock()
	if p != nil {
		return p, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, l.client), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, l.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("read the discovery document of %s: %w", l.cfg.Issuer, err)
	}
	l.mu.Lock()
	l.provider = p
	l.mu.Unlock()
	return p, nil
}

func (l *oidcLogin) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: l.cfg.ClientID, ClientSecret: l.cfg.ClientSecret, RedirectURL: l.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: l.cfg.Scopes}
}

// start records a flow; false when too many are in progress, in all or
// from the flow's address.
func (l *oidcLogin) start(state string, f *oidcFlow) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	same := 0
	for k, o := range l.flows {
		switch {
		case f.created.Sub(o.created) > OIDCFlowTTL:
			delete(l.flows, k)
		case o.addr == f.addr:
			same++
		}
	}
	if len(l.flows) >= OIDCMaxFlows || same >= OIDCMaxFlowsPerAddress {
		return false
	}
	l.flows[state] = f
	return true
}

// take removes and returns the live flow of state (nil: unknown, used or
// expired).
func (l *oidcLogin) take(state string, now time.Time) *oidcFlow {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.flows[state]
	delete(l.flows, state)
	if f == nil || now.Sub(f.created) > OIDCFlowTTL {
		return nil
	}
	return f
}

// oidcName is the provider's name on the sign-in page ("": no OIDC).
func (s *Server) oidcName() string {
	if s.oidc == nil {
		return ""
	}
	return s.oidc.cfg.DisplayName
}

// oidcFail refuses a sign-in: an audit entry (user is who the provider
// said, when known) and a page saying what to do.
func (s *Server) oidcFail(w http.ResponseWriter, r *http.Request, code int, user, detail, msg string) {
	s.audit(r, &principal{User: user}, "login-failed", s.oidc.cfg.Issuer, "OIDC: "+detail, store.AuditDenied)
	s.fail(w, r, false, code, msg)
}

func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request, p *principal) {
	next := safeNext(r.URL.Query().Get("next"))
	if p != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	prov, err := s.oidc.discover(r.Context())
	if err != nil {
		s.o.Log.Error("OIDC sign-in", "err", err)
		s.oidcFail(w, r, http.StatusBadGateway, "", err.Error(),
			fmt.Sprintf("%s did not answer: %v. Sign in with a local user, or try again later.", s.oidc.cfg.DisplayName, err))
		return
	}
	browser := ""
	if c, err := r.Cookie(oidcCookie); err == nil && len(c.Value) >= 43 {
		browser = c.Value
	} else {
		browser = randomToken()
	}
	state := randomToken()
	f := &oidcFlow{addr: remote(r), browser: browser, nonce: randomToken(), verifier: oauth2.GenerateVerifier(), next: next, created: s.now()}
	if !s.oidc.start(state, f) {
		s.oidcFail(w, r, http.StatusTooManyRequests, "", "too many sign-ins in progress",
			"Too many sign-ins are in progress: try again in a few minutes.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: browser, Path: "/login/oidc", MaxAge: int(OIDCFlowTTL.Seconds()),
		HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteLaxMode})
	u := s.oidc.oauth2(prov).AuthCodeURL(state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

var signInHop = template.Must(template.New("hop").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.}}">
<title>Signing in</title></head>
<body><p>Signed in. <a href="{{.}}">Continue to the console</a></p></body></html>
`))

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	cfg := s.oidc.cfg
	again := fmt.Sprintf("sign in again from the sign-in page (Sign in with %s)", cfg.DisplayName)
	f := s.oidc.take(q.Get("state"), s.now())
	if f == nil {
		s.oidcFail(w, r, http.StatusBadRequest, "", "callback with an unknown, already used or expired state",
			"This sign-in is unknown, already used or expired: "+again+".")
		return
	}
	if c, err := r.Cookie(oidcCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(f.browser)) != 1 {
		s.oidcFail(w, r, http.StatusBadRequest, "", "callback in a browser other than the one that started the sign-in (no or another idsync_oidc cookie)",
			"This sign-in was started in another browser (or its cookie expired): "+again+".")
		return
	}
	if iss := q.Get("iss"); iss != "" && iss != cfg.Issuer {
		s.oidcFail(w, r, http.StatusBadRequest, "", fmt.Sprintf("callback from issuer %q, not %s", iss, cfg.Issuer),
			"The sign-in came back from another identity provider than the configured one: "+again+".")
		return
	}
	if e := q.Get("error"); e != "" {
		desc := strings.TrimSpace(e + ": " + q.Get("error_description"))
		s.oidcFail(w, r, http.StatusForbidden, "", "the provider refused: "+desc,
			fmt.Sprintf("%s did not sign you in (%s).", cfg.DisplayName, desc))
		return
	}
	prov, err := s.oidc.discover(r.Context())
	if err != nil {
		s.oidcFail(w, r, http.StatusBadGateway, "", err.Error(), fmt.Sprintf("%s did not answer: %v. Try again later.", cfg.DisplayName, err))
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), s.oidc.client), 30*time.Second)
	defer cancel()
	tok, err := s.oidc.oauth2(prov).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		s.o.Log.Error("OIDC sign-in: code exchange", "issuer", cfg.Issuer, "err", err)
		s.oidcFail(w, r, http.StatusBadGateway, "", "code exchange: "+err.Error(),
			fmt.Sprintf("%s did not accept the sign-in's code (%v): %s; if it keeps failing, check console.oidc.clientId and clientSecret.", cfg.DisplayName, err, again))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		s.oidcFail(w, r, http.StatusBadGateway, "", "the token response has no id_token",
			fmt.Sprintf("%s sent no ID token: is the openid scope in console.oidc.scopes, and the client an OpenID Connect client?", cfg.DisplayName))
		return
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		s.oidcFail(w, r, http.StatusUnauthorized, "", "ID token refused: "+err.Error(), "The ID token did not verify: "+again+".")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		s.oidcFail(w, r, http.StatusUnauthorized, "", "ID token with another nonce than the sign-in's (subject "+idt.Subject+")",
			"The ID token was not issued for this sign-in: "+again+".")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.oidcFail(w, r, http.StatusBadGateway, "", "ID token claims: "+err.Error(), "The ID token's claims did not decode: "+again+".")
		return
	}
	who := "subject " + idt.Subject + " of " + cfg.Issuer
	name, err := oidcUsername(claims[cfg.UsernameClaim])
	if err != nil {
		s.oidcFail(w, r, http.StatusForbidden, "", fmt.Sprintf("%s: claim %s %v", who, cfg.UsernameClaim, err),
			fmt.Sprintf("%s's ID token has no usable %s claim (%v): ask an administrator to check console.oidc.usernameClaim.", cfg.DisplayName, cfg.UsernameClaim, err))
		return
	}
	values := claimValues(claims[cfg.RolesClaim])
	role, by := oidcRole(cfg.Roles, values)
	if role == "" && len(values) == 0 && claimOverage(claims, cfg.RolesClaim) {
		s.oidcFail(w, r, http.StatusForbidden, name, fmt.Sprintf("%s: the %s claim is not in the ID token but elsewhere (_claim_names: a groups overage)", who, cfg.RolesClaim),
			fmt.Sprintf("You are in too many groups for %s to put them in the ID token: ask an administrator to map app roles instead (console.oidc.rolesClaim: roles), or to send only the groups assigned to the application.", cfg.DisplayName))
		return
	}
	if role == "" {
		shown := values
		if len(shown) > 20 {
			shown = append(slices.Clone(shown[:20]), fmt.Sprintf("… %d more", len(values)-20))
		}
		s.oidcFail(w, r, http.StatusForbidden, name, fmt.Sprintf("%s: no value of the %s claim maps to a role (values: %q)", who, cfg.RolesClaim, shown),
			fmt.Sprintf("You signed in at %s as %s, but none of your %s grants a role in the idsync console: ask an administrator to add you to one of the groups console.oidc.roles lists.", cfg.DisplayName, name, cfg.RolesClaim))
		return
	}
	u := &store.User{Name: name, Role: role}
	detail := fmt.Sprintf("OIDC: %s, role %s from %s %q", who, role, cfg.RolesClaim, by)
	switch local, err := s.o.Store.GetUser(r.Context(), name); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.storeError(w, r, false, err, "")
		return
	case local.Disabled:
		s.oidcFail(w, r, http.StatusForbidden, name, who+": the local user "+local.Name+" is disabled",
			fmt.Sprintf("The console user %s is disabled: ask an administrator (idsync user enable).", local.Name))
		return
	default:
		u.Name, u.Tenant = local.Name, local.Tenant
		if !auth.Allows(local.Role, role) {
			u.Role = local.Role
		}
		detail += fmt.Sprintf("; bound to the local user %s (role %s", local.Name, local.Role)
		if local.Tenant != "" {
			detail += ", tenant " + local.Tenant
		}
		detail += ")"
	}
	ss, err := s.sessions.start(r.Context(), u, s.now())
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: ss.id, Path: "/", HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteStrictMode})
	s.audit(r, &principal{User: u.Name, Role: u.Role}, "login", cfg.Issuer, detail, store.AuditOK)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = signInHop.Execute(w, f.next)
}

// oidcUsername checks the username claim's value: a string that is a user
// name as local users' are (auth.CheckUserName: letters, digits and
// . _ - @ +, not the command line's "cli"), so that it reads the same in
// the audit log and can bind to a local user.
func oidcUsername(v any) (string, error) {
	name, ok := v.(string)
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", errors.New("is missing or not a string")
	}
	if err := auth.CheckUserName(name); err != nil {
		return "", fmt.Errorf("is not a console user name: %w", err)
	}
	return name, nil
}

// claimValues reads a claim that holds a string or a list of strings.
func claimValues(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// claimOverage reports whether the ID token says that claim is to be read
// elsewhere (an aggregated or distributed claim, OpenID Connect Core
// 5.6.2): Entra ID does so with groups when a person is in more than 200.
func claimOverage(claims map[string]any, claim string) bool {
	names, _ := claims["_claim_names"].(map[string]any)
	_, ok := names[claim]
	return ok
}

// oidcRole returns the most powerful role one of values maps to, and the
// value that granted it ("" when none).
func oidcRole(roles map[string][]string, values []string) (role, by string) {
	for _, r := range auth.Roles() {
		for _, v := range values {
			if slices.Contains(roles[r], v) {
				return r, v
			}
		}
	}
	return "", ""
}
