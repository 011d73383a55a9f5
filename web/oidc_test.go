package web

import (
	"bytes"
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
)

// syncBuffer is a log the server writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// oidcSite is a console with OIDC sign-in against a real provider
// (oidc-provider), over newSite's store, engine and local users.
type oidcSite struct {
	*site
	prov *peers.OIDCProvider
	cfg  *config.ConsoleOIDC
	log  *syncBuffer
}

// newOIDCSite starts the provider with accounts, and n consoles: the
// first with the client's secret (the site's), the others with what
// secret returns for them (the provider knows all their redirect URIs).
func newOIDCSite(t *testing.T, accounts map[string]peers.OIDCAccount, others ...func(*config.ConsoleOIDC)) (*oidcSite, []*httptest.Server) {
	t.Helper()
	s := newSite(t)
	srvs := make([]*httptest.Server, 1+len(others))
	var redirects []string
	for i := range srvs {
		srvs[i] = httptest.NewUnstartedServer(nil)
		t.Cleanup(srvs[i].Close)
		redirects = append(redirects, "http://"+srvs[i].Listener.Addr().String()+config.OIDCCallbackPath)
	}
	prov := peers.OIDC(t, peers.OIDCOptions{RedirectURIs: redirects, Accounts: accounts})
	o := &oidcSite{site: s, prov: prov, log: &syncBuffer{}}
	for i, ts := range srvs {
		cfg := &config.ConsoleOIDC{Issuer: prov.Issuer, ClientID: prov.ClientID, ClientSecret: prov.ClientSecret,
			RedirectURL: redirects[i], Scopes: []string{"openid", "profile", "groups"},
			UsernameClaim: "preferred_username", RolesClaim: "groups", DisplayName: "Test IdP",
			Roles: map[string][]string{"admin": {"idsync-admins"}, "operator": {"idsync-operators"}, "browse": {"idsync-helpdesk", "auditors"}}}
		if i > 0 {
			others[i-1](cfg)
		} else {
			o.cfg = cfg
		}
		w, err := New(t.Context(), Options{Store: s.st, Engine: s.e, Rules: s.web.o.Rules, Version: "test", OIDC: cfg,
			Log: slog.New(slog.NewTextHandler(o.log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ts.Config.Handler = w.Handler()
		ts.Start()
		if i == 0 {
			s.web, s.srv = w, ts
		}
	}
	return o, srvs
}

var metaNext = regexp.MustCompile(`content="0;url=([^"]+)"`)

// toCallback drives the provider from the console's /login/oidc?next=…:
// it follows the redirects, posts the sign-in form with login and password
// and the consent form, and stops at the redirect to the console's
// callback, whose URL it returns (the browser has not requested it yet).
func (o *oidcSite) toCallback(c *client, login, password, next string) string {
	t := o.t
	t.Helper()
	start := c.do("GET", "/login/oidc?next="+url.QueryEscape(next), nil)
	if start.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET /login/oidc: %d %s", start.StatusCode, start.Body)
	}
	loc := start.Header.Get("Location")
	au, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, o.prov.Issuer+"/") {
		t.Fatalf("GET /login/oidc redirects to %q, not to the provider", loc)
	}
	q := au.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": o.prov.ClientID, "code_challenge_method": "S256",
		"redirect_uri": o.cfg.RedirectURL, "scope": "openid profile groups"} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("authorization request %s = %q: want a random value of at least 256 bits", k, q.Get(k))
		}
	}
	cb, err := o.prov.Authorize(c.c, loc, login, password, o.cfg.RedirectURL)
	if err != nil {
		t.Fatalf("sign-in of %s at the provider: %v", login, err)
	}
	return cb
}

// callback requests the callback URL in c's browser.
func (o *oidcSite) callback(c *client, u string) *result {
	o.t.Helper()
	return c.do("GET", strings.TrimPrefix(u, o.srv.URL), nil)
}

// signIn signs in through the provider and follows the hop page; it
// fails the test unless a session starts.
func (o *oidcSite) signIn(login, password, next string) *client {
	o.t.Helper()
	c := o.anonymous()
	res := o.callback(c, o.toCallback(c, login, password, next))
	m := metaNext.FindStringSubmatch(res.Body)
	if res.StatusCode != http.StatusOK || m == nil {
		o.t.Fatalf("callback of %s: %d %s", login, res.StatusCode, res.Body)
	}
	if got := html.UnescapeString(m[1]); got != next {
		o.t.Errorf("after signing in, %s goes to %q, want %q", login, got, next)
	}
	page := c.do("GET", next, nil)
	if page.StatusCode != http.StatusOK {
		o.t.Fatalf("GET %s after signing in as %s: %d", next, login, page.StatusCode)
	}
	if m := csrfField.FindStringSubmatch(page.Body); m != nil {
		c.csrf = m[1]
	}
	return c
}

func groups(g ...string) map[string]any { return map[string]any{"groups": g} }

func account(name string, claims map[string]any) peers.OIDCAccount {
	c := map[string]any{"preferred_username": name, "name": "Test " + name}
	for k, v := range claims {
		c[k] = v
	}
	return peers.OIDCAccount{Password: name + "-Pw-2026", Claims: c}
}

// TestOIDCSignIn signs people in through a real OpenID Connect provider
// (panva's oidc-provider) with the authorization code flow, and checks the
// roles the groups claim gives, the refusals, the audit log, a tampered
// state and a replayed callback.
func TestOIDCSignIn(t *testing.T) {
	ctx := context.Background()
	accounts := map[string]peers.OIDCAccount{
		"alice": account("alice", groups("staff", "idsync-helpdesk", "idsync-admins")),
		"bob":   account("bob", groups("staff", "auditors")),
		"carol": account("carol", groups("staff")),
		"nogrp": account("nogrp", nil),
		"otto":  account("otto", groups("idsync-admins")), // a local operator
		"tim":   account("tim", groups("idsync-admins")),  // a local admin of tenant contoso
		"dora":  account("dora", groups("idsync-admins")), // a disabled local user
		"rui":   account("rui", groups("idsync-admins")),  // a local browse user with no password
		// Entra ID's groups overage: the groups are to be read elsewhere
		// (a distributed claim).
		"olga": account("olga", map[string]any{"_claim_names": map[string]any{"groups": "src1"},
			"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.example/v1.0/users/olga/getMemberObjects"}}}),
	}
	const wrongSecret = "Wrong-Client-Secret-0123456789"
	o, srvs := newOIDCSite(t, accounts, func(c *config.ConsoleOIDC) { c.ClientSecret = wrongSecret })
	for _, u := range []*store.User{
		{Name: "dora", Role: auth.RoleAdmin, Disabled: true, Created: time.Now(), Modified: time.Now()},
		{Name: "Rui", Role: auth.RoleBrowse, Created: time.Now(), Modified: time.Now()},
	} {
		if err := o.st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	pw := func(login string) string { return accounts[login].Password }

	login := read(o.anonymous().do("GET", "/login?next=/runs", nil))
	if !strings.Contains(login, `href="/login/oidc?next=%2fruns"`) || !strings.Contains(login, "Sign in with Test IdP") {
		t.Errorf("the sign-in page has no OIDC button to /login/oidc?next=%%2fruns:\n%s", login)
	}

	t.Run("admin", func(t *testing.T) {
		c := o.signIn("alice", pw("alice"), "/scheduler")
		if !strings.Contains(read(c.do("GET", "/", nil)), "alice (admin)") {
			t.Error("alice is not shown signed in as admin (the most powerful of her groups' roles)")
		}
		if r := c.do("POST", "/scheduler", url.Values{"enabled": {"true"}, "csrf": {"forged"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST /scheduler without the session's CSRF token: %d, want 403", r.StatusCode)
		}
		if r := c.do("POST", "/scheduler", url.Values{"enabled": {"true"}}); r.StatusCode != http.StatusSeeOther {
			t.Errorf("admin alice POST /scheduler: %d, want 303", r.StatusCode)
		}
		if r := c.do("GET", "/audit", nil); r.StatusCode != http.StatusOK {
			t.Errorf("admin alice GET /audit: %d", r.StatusCode)
		}
		if r := c.do("POST", "/logout", url.Values{}); r.StatusCode != http.StatusSeeOther {
			t.Errorf("logout: %d", r.StatusCode)
		}
		if r := c.do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
			t.Errorf("GET / after logout: %d, want a redirect to the sign-in page", r.StatusCode)
		}
	})

	t.Run("browse", func(t *testing.T) {
		c := o.signIn("bob", pw("bob"), "/")
		if r := c.do("GET", "/runs", nil); r.StatusCode != http.StatusOK {
			t.Errorf("browse bob GET /runs: %d", r.StatusCode)
		}
		r := c.do("POST", "/scheduler", url.Values{"enabled": {"false"}})
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "signed in as bob with the browse role") {
			t.Errorf("browse bob POST /scheduler: %d, want 403 saying so", r.StatusCode)
		}
		if r := c.do("POST", "/scheduler/cycle", url.Values{}); r.StatusCode != http.StatusForbidden {
			t.Errorf("browse bob POST /scheduler/cycle: %d, want 403", r.StatusCode)
		}
	})

	t.Run("no role", func(t *testing.T) {
		for _, who := range []string{"carol", "nogrp"} {
			c := o.anonymous()
			r := o.callback(c, o.toCallback(c, who, pw(who), "/"))
			if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "none of your groups grants a role") {
				t.Errorf("%s, in no mapped group: %d %s, want 403 saying so", who, r.StatusCode, r.Body)
			}
			if r := c.do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
				t.Errorf("%s GET / after the refusal: %d, want a redirect to the sign-in page", who, r.StatusCode)
			}
		}
	})

	t.Run("groups overage", func(t *testing.T) {
		c := o.anonymous()
		r := o.callback(c, o.toCallback(c, "olga", pw("olga"), "/"))
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "too many groups") {
			t.Errorf("olga, whose groups are a distributed claim: %d %s, want 403 saying so", r.StatusCode, r.Body)
		}
	})

	t.Run("local user binds", func(t *testing.T) {
		c := o.signIn("otto", pw("otto"), "/")
		r := c.do("POST", "/scheduler", url.Values{"enabled": {"true"}})
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "with the operator role") {
			t.Errorf("otto (local operator, admin by his groups) POST /scheduler: %d, want 403 as operator", r.StatusCode)
		}
		c = o.anonymous()
		r = o.callback(c, o.toCallback(c, "tim", pw("tim"), "/"))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("tim: %d %s", r.StatusCode, r.Body)
		}
		if r := c.do("GET", "/", nil); r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "limited to the tenant contoso") {
			t.Errorf("tim (local user of tenant contoso) GET /: %d, want 403 limited to the tenant", r.StatusCode)
		}
		c = o.anonymous()
		r = o.callback(c, o.toCallback(c, "dora", pw("dora"), "/"))
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "dora is disabled") {
			t.Errorf("dora (disabled local user): %d %s, want 403", r.StatusCode, r.Body)
		}
		// A local user with no password (idsync user add --no-password)
		// signs in only through the provider, bound to its record.
		c = o.signIn("rui", pw("rui"), "/")
		if !strings.Contains(read(c.do("GET", "/", nil)), "Rui (browse)") {
			t.Error("rui is not signed in as the local user Rui with its browse role")
		}
		local := o.anonymous()
		local.loginForm()
		for _, p := range []string{"", pw("rui")} {
			if r := local.do("POST", "/login", url.Values{"user": {"rui"}, "password": {p}}); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("local sign-in of rui (no password) with %q: %d, want 401", p, r.StatusCode)
			}
		}
		// Local sign-in with a password still works next to OIDC.
		ann := o.login("ann")
		if r := ann.do("GET", "/audit", nil); r.StatusCode != http.StatusOK {
			t.Errorf("local admin ann GET /audit: %d", r.StatusCode)
		}
	})

	t.Run("tampered state", func(t *testing.T) {
		c := o.anonymous()
		cb := o.toCallback(c, "alice", pw("alice"), "/")
		u, _ := url.Parse(cb)
		q := u.Query()
		state := q.Get("state")
		q.Set("state", state[:len(state)-2]+"xx")
		u.RawQuery = q.Encode()
		if r := o.callback(c, u.String()); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "unknown, already used or expired") {
			t.Errorf("callback with a tampered state: %d %s, want 400", r.StatusCode, r.Body)
		}
		if r := c.do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
			t.Errorf("GET / after a tampered callback: %d, want no session", r.StatusCode)
		}
		// The genuine callback still signs in; replayed, it is refused.
		if r := o.callback(c, cb); r.StatusCode != http.StatusOK {
			t.Fatalf("genuine callback after the tampered one: %d %s", r.StatusCode, r.Body)
		}
		if r := o.callback(c, cb); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "already used") {
			t.Errorf("replayed callback: %d %s, want 400", r.StatusCode, r.Body)
		}
	})

	t.Run("another browser", func(t *testing.T) {
		c := o.anonymous()
		cb := o.toCallback(c, "alice", pw("alice"), "/")
		attacker := o.anonymous()
		if r := o.callback(attacker, cb); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "started in another browser") {
			t.Errorf("callback in another browser: %d %s, want 400", r.StatusCode, r.Body)
		}
		if r := attacker.do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
			t.Errorf("the other browser got a session: GET / %d", r.StatusCode)
		}
	})

	t.Run("provider error", func(t *testing.T) {
		c := o.anonymous()
		cb := o.toCallback(c, "alice", pw("alice"), "/")
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Del("code")
		q.Set("error", "access_denied")
		q.Set("error_description", "End-User aborted interaction")
		u.RawQuery = q.Encode()
		if r := o.callback(c, u.String()); r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "access_denied") {
			t.Errorf("callback with error=access_denied: %d %s, want 403", r.StatusCode, r.Body)
		}
		// A callback claiming another issuer (RFC 9207 mix-up) is refused.
		c = o.anonymous()
		u, _ = url.Parse(o.toCallback(c, "alice", pw("alice"), "/"))
		q = u.Query()
		q.Set("iss", "https://evil.example")
		u.RawQuery = q.Encode()
		if r := o.callback(c, u.String()); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "another identity provider") {
			t.Errorf("callback with another iss: %d %s, want 400", r.StatusCode, r.Body)
		}
	})

	t.Run("wrong client secret", func(t *testing.T) {
		bad := &oidcSite{site: &site{t: t, st: o.st, e: o.e, srv: srvs[1]}, prov: o.prov, log: o.log,
			cfg: &config.ConsoleOIDC{RedirectURL: "http://" + srvs[1].Listener.Addr().String() + config.OIDCCallbackPath}}
		c := bad.anonymous()
		r := bad.callback(c, bad.toCallback(c, "alice", pw("alice"), "/"))
		if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.Body, "clientSecret") {
			t.Errorf("code exchange with a wrong client secret: %d %s, want 502 pointing at the secret", r.StatusCode, r.Body)
		}
		if strings.Contains(r.Body, wrongSecret) {
			t.Error("the page shows the client secret")
		}
	})

	// The audit log has each sign-in and refusal, with the provider's
	// subject; no secret is in it or in the log.
	es, err := o.st.Audit(ctx, store.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range es {
		lines = append(lines, strings.Join([]string{e.User, e.Role, e.Action, e.Target, e.Detail, e.Outcome}, " | "))
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"alice | admin | login | " + o.prov.Issuer + ` | OIDC: subject alice of ` + o.prov.Issuer + `, role admin from groups "idsync-admins" | ok`,
		"bob | browse | login | ",
		`carol |  | login-failed | ` + o.prov.Issuer + ` | OIDC: subject carol of ` + o.prov.Issuer + `: no value of the groups claim maps to a role (values: ["staff"]) | denied`,
		"otto | operator | login | " + o.prov.Issuer + " | OIDC: subject otto of " + o.prov.Issuer + `, role admin from groups "idsync-admins"; bound to the local user otto (role operator) | ok`,
		"tim | admin | login | " + o.prov.Issuer + " | OIDC: subject tim of " + o.prov.Issuer + `, role admin from groups "idsync-admins"; bound to the local user tim (role admin, tenant contoso) | ok`,
		"dora |  | login-failed | ",
		"olga |  | login-failed | " + o.prov.Issuer + " | OIDC: subject olga of " + o.prov.Issuer + ": the groups claim is not in the ID token but elsewhere",
		"Rui | browse | login | ",
		"OIDC: callback with an unknown, already used or expired state | denied",
		"OIDC: callback in a browser other than the one that started the sign-in",
		"OIDC: the provider refused: access_denied: End-User aborted interaction | denied",
		`OIDC: callback from issuer "https://evil.example"`,
		"OIDC: code exchange: ",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, all)
		}
	}
	for _, secret := range []string{o.prov.ClientSecret, wrongSecret, pw("alice")} {
		if strings.Contains(all, secret) || strings.Contains(o.log.String(), secret) {
			t.Errorf("a secret is in the audit log or the server's log")
		}
	}
}

// TestOIDCProviderDown: a provider that does not answer gives a page that
// says so (and points to local sign-in), an audit entry, and no session;
// local sign-in is unaffected.
func TestOIDCProviderDown(t *testing.T) {
	s := newSite(t)
	cfg := &config.ConsoleOIDC{Issuer: "http://127.0.0.1:1", ClientID: "c", ClientSecret: "s", DisplayName: "Down IdP",
		RedirectURL: "http://127.0.0.1:2/login/oidc/callback", Scopes: []string{"openid"}, UsernameClaim: "sub", RolesClaim: "groups",
		Roles: map[string][]string{"admin": {"a"}}}
	w, err := New(t.Context(), Options{Store: s.st, Engine: s.e, OIDC: cfg})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(w.Handler())
	t.Cleanup(s.srv.Close)
	c := s.anonymous()
	r := c.do("GET", "/login/oidc", nil)
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.Body, "Down IdP did not answer") || !strings.Contains(r.Body, "local user") {
		t.Errorf("GET /login/oidc with the provider down: %d %s", r.StatusCode, r.Body)
	}
	if r := c.do("GET", "/login/oidc/callback?state=x&code=y", nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback nobody started: %d, want 400", r.StatusCode)
	}
	es, err := s.st.Audit(context.Background(), store.AuditFilter{Action: "login-failed"})
	if err != nil || len(es) != 2 {
		t.Fatalf("audit: %v %+v, want two login-failed entries", err, es)
	}
	if s.login("ann") == nil {
		t.Fatal("local sign-in")
	}
}

func TestOIDCRole(t *testing.T) {
	roles := map[string][]string{"admin": {"g-admin"}, "operator": {"g-ops", "g-ops2"}, "browse": {"g-read"}}
	for _, tc := range []struct {
		name     string
		claim    any
		role, by string
	}{
		{"one group", []any{"g-read"}, "browse", "g-read"},
		{"highest wins", []any{"g-read", "g-ops2", "g-admin"}, "admin", "g-admin"},
		{"string claim", "g-ops", "operator", "g-ops"},
		{"no match", []any{"staff"}, "", ""},
		{"case matters", []any{"G-ADMIN"}, "", ""},
		{"not strings", []any{1, true, map[string]any{"g": "g-admin"}}, "", ""},
		{"missing", nil, "", ""},
		{"number", 3.0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, by := oidcRole(roles, claimValues(tc.claim))
			if role != tc.role || by != tc.by {
				t.Errorf("oidcRole(%v) = %q, %q; want %q, %q", tc.claim, role, by, tc.role, tc.by)
			}
		})
	}
}

func TestClaimOverage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   bool
	}{
		{"Entra ID overage", map[string]any{"_claim_names": map[string]any{"groups": "src1"}, "_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}}, true},
		{"another claim elsewhere", map[string]any{"_claim_names": map[string]any{"address": "src1"}}, false},
		{"groups in the token", map[string]any{"groups": []any{"a"}}, false},
		{"malformed", map[string]any{"_claim_names": "groups"}, false},
		{"none", map[string]any{}, false},
	} {
		if got := claimOverage(tc.claims, "groups"); got != tc.want {
			t.Errorf("%s: claimOverage = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOIDCUsername(t *testing.T) {
	for _, tc := range []struct {
		claim   any
		want    string
		wantErr string
	}{
		{"alice@contoso.com", "alice@contoso.com", ""},
		{" bob ", "bob", ""},
		{"", "", "missing"},
		{nil, "", "missing"},
		{[]any{"x"}, "", "not a string"},
		{"a\nb", "", "has the character"},
		{`CONTOSO\\ann`, "", "has the character"},
		{"cli", "", "reserved"},
		{"CLI", "", "reserved"},
		{strings.Repeat("x", 300), "", "too long"},
	} {
		got, err := oidcUsername(tc.claim)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("oidcUsername(%q) = %q, %v; want %q, error with %q", tc.claim, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestOIDCFlows: a flow is taken once, expires after OIDCFlowTTL, and
// the flows in progress are bounded.
func TestOIDCFlows(t *testing.T) {
	l := &oidcLogin{flows: map[string]*oidcFlow{}}
	now := time.Now()
	if !l.start("s1", &oidcFlow{created: now}) {
		t.Fatal("start")
	}
	if l.take("s1", now) == nil || l.take("s1", now) != nil {
		t.Error("a flow must be taken exactly once")
	}
	l.start("s2", &oidcFlow{created: now})
	if l.take("s2", now.Add(OIDCFlowTTL+time.Second)) != nil {
		t.Error("an expired flow was taken")
	}
	defer func(n, m int) { OIDCMaxFlows, OIDCMaxFlowsPerAddress = n, m }(OIDCMaxFlows, OIDCMaxFlowsPerAddress)
	OIDCMaxFlows, OIDCMaxFlowsPerAddress = 4, 2
	for i, tc := range []struct {
		addr string
		want bool
	}{{"10.0.0.1", true}, {"10.0.0.1", true}, {"10.0.0.1", false}, {"10.0.0.2", true}, {"10.0.0.3", true}, {"10.0.0.4", false}} {
		if got := l.start(string(rune('a'+i)), &oidcFlow{addr: tc.addr, created: now}); got != tc.want {
			t.Errorf("flow %d from %s: start = %v, want %v", i, tc.addr, got, tc.want)
		}
	}
	// Expired flows make room.
	if !l.start("late", &oidcFlow{created: now.Add(OIDCFlowTTL + time.Minute)}) {
		t.Error("expired flows were not dropped")
	}
	if len(l.flows) != 1 || l.flows["late"] == nil {
		t.Errorf("flows after expiry: %d, want only the new one", len(l.flows))
	}
}
