package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sealed"
	"github.com/idsync/idsync/store/sqlite"
)

const testRules = `
rules:
  - name: in-user
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: userPassword, target: userPassword}
  - name: out-user
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={displayName},ou=users,dc=cloud"
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: userPassword, target: userPassword}
`

const testPassword = "correct horse battery"

// adaPassword is a secret attribute's value: the console never shows it.
const adaPassword = "Ada-Initial-Secret-2026"

// site is a console over a store with users of every role, an HR source
// and a cloud target with pending exports.
type site struct {
	t   *testing.T
	st  store.Store
	e   *engine.Engine
	srv *httptest.Server
	web *Server
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := rules.Parse("rules.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	hr := memory.New("hr")
	hr.Put(&model.Object{Anchor: "h1", Type: "user", DN: "cn=ada,ou=people", Attrs: model.Attrs{"cn": model.Str("Ada Lovelace"), "mail": model.Str("ada@example.org"), "userPassword": model.Str(adaPassword)}},
		&model.Object{Anchor: "h2", Type: "user", DN: "cn=alan,ou=people", Attrs: model.Attrs{"cn": model.Str("Alan Turing"), "mail": model.Str("alan@example.org")}})
	e := &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{
		"hr": {Name: "hr", Conn: hr, DeleteThreshold: -1}, "cloud": {Name: "cloud", Conn: memory.New("cloud"), DeleteThreshold: -1}}}
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		if _, err := e.Run(ctx, "hr", p, engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct{ name, role, tenant string }{
		{"ann", auth.RoleAdmin, ""}, {"otto", auth.RoleOperator, ""}, {"bea", auth.RoleBrowse, ""}, {"tim", auth.RoleAdmin, "contoso"},
	} {
		h, err := auth.HashPassword(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutUser(ctx, &store.User{Name: u.name, Role: u.role, Tenant: u.tenant, PasswordHash: h, Created: time.Now(), Modified: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	s := &site{t: t, st: st, e: e}
	// An application whose endpoint does not answer, with an activity
	// report.
	apps, err := provisioning.Parse("provisioning.yaml", []byte(`applications:
  - name: crm
    scim: {url: "http://127.0.0.1:1/scim/v2", auth: {token: t}, maxRetries: 0, timeout: 2s}
    assignments: {groups: [{displayName: Sales}]}
    mappings: [{target: userName, source: mail, matching: true}]
`))
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	writeLog(t, provisioning.LogPath(dataDir, "crm"), `{"time":"2026-12-01T10:00:00Z","app":"crm","cycle":1,"action":"create","object":"mv-1","name":"ada@example.org","scimId":"s1","changes":{"userName":["ada@example.org"]}}`,
		`{"time":"2026-12-01T10:00:01Z","app":"crm","cycle":1,"action":"error","object":"mv-2","name":"alan@example.org","error":"409 uniqueness"}`)
	s.web, err = New(t.Context(), Options{Store: st, Engine: e, Rules: rs, Version: "test", Apps: apps, DataDir: dataDir,
		RunProfile: func(ctx context.Context, conn string, p engine.Profile, o engine.RunOptions) error {
			_, err := e.Run(ctx, conn, p, o)
			return err
		},
		RunCycle: func(ctx context.Context) error {
			for _, c := range []string{"hr", "cloud"} {
				for _, p := range []engine.Profile{engine.DeltaSync, engine.Export} {
					if _, err := e.Run(ctx, c, p, engine.RunOptions{}); err != nil {
						return err
					}
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(s.web.Handler())
	t.Cleanup(s.srv.Close)
	return s
}

// client is a browser: a cookie jar, no redirects followed.
type client struct {
	s    *site
	c    *http.Client
	csrf string
}

func (s *site) anonymous() *client {
	jar, _ := cookiejar.New(nil)
	return &client{s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in and keeps the session's CSRF token.
func (s *site) login(user string) *client {
	s.t.Helper()
	c := s.anonymous()
	c.loginForm()
	resp := c.do("POST", "/login", url.Values{"user": {user}, "password": {testPassword}})
	read(resp)
	if resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	body := read(c.do("GET", "/", nil))
	if m := csrfField.FindStringSubmatch(body); m != nil {
		c.csrf = m[1]
	}
	return c
}

// loginForm opens the sign-in page and keeps its form token (sent with
// the next POST as csrf).
func (c *client) loginForm() {
	c.s.t.Helper()
	if m := csrfField.FindStringSubmatch(read(c.do("GET", "/login", nil))); m != nil {
		c.csrf = m[1]
	}
}

// result is an answer, read.
type result struct {
	StatusCode int
	Header     http.Header
	Body       string
}

func (c *client) do(method, path string, form url.Values) *result {
	c.s.t.Helper()
	var body io.Reader
	if form != nil {
		if c.csrf != "" && form.Get("csrf") == "" {
			form.Set("csrf", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.s.srv.URL+path, body)
	if err != nil {
		c.s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &result{StatusCode: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func read(r *result) string { return r.Body }

func readResp(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestAccess: every route against every role — anonymous, browse,
// operator, admin, and an admin limited to a tenant — gets what the route
// table says, and a state-changing request without the CSRF token is
// refused.
func TestAccess(t *testing.T) {
	s := newSite(t)
	mv := ""
	_ = s.st.ScanMV(t.Context(), func(m *store.MVObject) error { mv = m.ID; return nil })
	clients := map[string]*client{"anonymous": s.anonymous(), "browse": s.login("bea"), "operator": s.login("otto"),
		"admin": s.login("ann"), "tenant": s.login("tim")}
	const (
		redirect = http.StatusSeeOther
		ok       = http.StatusOK
		denied   = http.StatusForbidden
		unauth   = http.StatusUnauthorized
	)
	for _, tc := range []struct {
		method, path string
		form         url.Values
		// want: anonymous, browse, operator, admin, tenant
		want [5]int
	}{
		{"GET", "/", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/connectors/cloud", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/connectors/cloud/pending", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/connectors/cloud/pending.csv", nil, [5]int{redirect, denied, ok, ok, denied}},
		{"GET", "/runs", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/runs/1", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/metaverse?value=ada", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/metaverse/" + mv, nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/metaverse/" + mv + "/preview", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/cs?connector=hr&anchor=h1", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/rules", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/rules/detail?name=out-user", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/expr?expression=LCase(%5Bcn%5D)&attrs=cn%3DAda", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/api/v1/rules/detail?name=out-user", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/expr?expression=LCase(%5Bcn%5D)&attrs=cn%3DAda", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/scheduler", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/audit", nil, [5]int{redirect, denied, denied, ok, denied}},
		{"POST", "/scheduler", url.Values{"enabled": {"true"}}, [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/scheduler/cycle", url.Values{}, [5]int{redirect, denied, redirect, redirect, denied}},
		{"POST", "/connectors/cloud/allow-deletes", url.Values{}, [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/connectors/hr/run", url.Values{"profile": {"delta-sync"}}, [5]int{redirect, denied, redirect, redirect, denied}},
		{"GET", "/api/v1/connectors", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/runs", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/runs/1", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/metaverse?value=ada", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/metaverse/" + mv, nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/metaverse/" + mv + "/preview", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/cs?connector=hr&anchor=h1", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/connectors/cloud/pending", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/rules", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/scheduler", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/audit", nil, [5]int{unauth, denied, denied, ok, denied}},
		{"GET", "/api/v1/openapi.json", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/applications", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/applications/crm?since=", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"POST", "/applications/crm/test", url.Values{}, [5]int{redirect, denied, redirect, redirect, denied}},
		{"GET", "/api/v1/applications", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/api/v1/applications/crm/activity", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/applications/crm/progress", nil, [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/api/v1/applications/crm/progress", nil, [5]int{unauth, ok, ok, ok, denied}},
		{"GET", "/login", nil, [5]int{ok, redirect, redirect, redirect, redirect}},
		{"GET", "/static/app.css", nil, [5]int{ok, ok, ok, ok, ok}},
	} {
		for i, who := range []string{"anonymous", "browse", "operator", "admin", "tenant"} {
			form := tc.form
			if form != nil {
				form = url.Values{}
				for k, v := range tc.form {
					form[k] = v
				}
			}
			resp := clients[who].do(tc.method, tc.path, form)
			read(resp)
			for deadline := time.Now().Add(10 * time.Second); (s.web.isRunning("hr") || s.web.isRunning("")) && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond) // a run started from the console ends before the next role tries
			}
			if resp.StatusCode != tc.want[i] {
				t.Errorf("%s %s as %s: %d, want %d", tc.method, tc.path, who, resp.StatusCode, tc.want[i])
			}
			if tc.want[i] == redirect && who == "anonymous" && !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Errorf("%s %s as anonymous: redirected to %q, want the sign-in page", tc.method, tc.path, resp.Header.Get("Location"))
			}
		}
	}
	// Without the CSRF token, a session's change is refused (and audited).
	admin := clients["admin"]
	resp := admin.do("POST", "/scheduler", url.Values{"enabled": {"false"}, "csrf": {"wrong"}})
	read(resp)
	if resp.StatusCode != denied {
		t.Errorf("POST /scheduler with a wrong CSRF token: %d, want 403", resp.StatusCode)
	}
	req, _ := http.NewRequest("PUT", s.srv.URL+"/api/v1/scheduler", strings.NewReader(`{"enabled": false}`))
	raw, err := admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readResp(raw)
	if raw.StatusCode != denied {
		t.Errorf("PUT /api/v1/scheduler with the session and no CSRF header: %d, want 403", raw.StatusCode)
	}
	es, err := s.st.Audit(t.Context(), store.AuditFilter{Action: "denied", Limit: 1000})
	if err != nil || len(es) == 0 {
		t.Errorf("refusals in the audit log: %d, %v", len(es), err)
	}
}

// TestSecurityHeaders: every answer carries the CSP and framing headers.
func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	resp := s.anonymous().do("GET", "/login", nil)
	read(resp)
	for h, want := range map[string]string{"Content-Security-Policy": "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("%s = %q, want it to contain %q", h, resp.Header.Get(h), want)
		}
	}
}

// TestLoginRateLimit: after LoginFailures wrong passwords for a user, even
// the right one is refused until the window has passed; failures are
// audited, the good sign-in is too.
func TestLoginRateLimit(t *testing.T) {
	s := newSite(t)
	now := time.Now()
	s.web.o.Now = func() time.Time { return now }
	c := s.anonymous()
	// A form posted from another site carries no token: refused.
	if code := statusOf(c.do("POST", "/login", url.Values{"user": {"ann"}, "password": {testPassword}})); code != http.StatusForbidden {
		t.Fatalf("sign-in without the form's token: %d, want 403", code)
	}
	c.loginForm()
	for range LoginFailures {
		if code := statusOf(c.do("POST", "/login", url.Values{"user": {"ann"}, "password": {"wrong password!"}})); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", code)
		}
	}
	if code := statusOf(c.do("POST", "/login", url.Values{"user": {"ann"}, "password": {testPassword}})); code != http.StatusTooManyRequests {
		t.Fatalf("sign-in after %d failures: %d, want 429", LoginFailures, code)
	}
	now = now.Add(LoginWindow + time.Second)
	if code := statusOf(c.do("POST", "/login", url.Values{"user": {"ann"}, "password": {testPassword}})); code != http.StatusSeeOther {
		t.Fatalf("sign-in after the window: %d", code)
	}
	failed, _ := s.st.Audit(t.Context(), store.AuditFilter{Action: "login-failed"})
	good, _ := s.st.Audit(t.Context(), store.AuditFilter{Action: "login"})
	if len(failed) != LoginFailures+2 || len(good) != 1 {
		t.Errorf("audit: %d failed sign-ins, %d good ones; want %d and 1", len(failed), len(good), LoginFailures+2)
	}
}

// TestAPIToken: a script with an API token reads the API and starts a run
// without a CSRF token; a wrong or expired token is refused.
// TestMVPreview: the single-object sync preview through the API, which
// changes nothing.
func TestMVPreview(t *testing.T) {
	s := newSite(t)
	var mv string
	_ = s.st.ScanMV(t.Context(), func(m *store.MVObject) error {
		if m.Attrs["mail"].Equal(model.Str("ada@example.org")) {
			mv = m.ID
		}
		return nil
	})
	before, err := engine.Canonical(t.Context(), s.st)
	if err != nil {
		t.Fatal(err)
	}
	c := s.login("bea")
	res := c.do("GET", "/api/v1/metaverse/"+mv+"/preview", nil)
	var p engine.ObjectPreview
	if err := json.Unmarshal([]byte(res.Body), &p); res.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("preview: %d %v %s", res.StatusCode, err, res.Body)
	}
	if p.MVID != mv || len(p.Inbound.Sources) != 1 || len(p.Outbound) != 1 || p.Outbound[0].Connector != "cloud" {
		t.Fatalf("preview = %s", res.Body)
	}
	cloud := p.Outbound[0]
	if cloud.Link.Action != engine.LinkKeep || len(cloud.Export) != 3 || cloud.Export[0].Operation != "add" ||
		cloud.Export[0].Object != "cn=Ada Lovelace,ou=users,dc=cloud" {
		t.Fatalf("cloud = %+v", cloud)
	}
	if after, _ := engine.Canonical(t.Context(), s.st); after != before {
		t.Fatalf("the preview changed the store")
	}
	if res := c.do("GET", "/api/v1/metaverse/nope/preview", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown object: %d %s", res.StatusCode, res.Body)
	}
}

func TestAPIToken(t *testing.T) {
	s := newSite(t)
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.PutAPIToken(t.Context(), &store.APIToken{ID: "t1", User: "otto", Name: "ci", Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readResp(resp)
	}
	if code, body := call("GET", "/api/v1/connectors", tok, ""); code != http.StatusOK || !strings.Contains(body, `"name": "cloud"`) {
		t.Fatalf("connectors with a token: %d %s", code, body)
	}
	if code, _ := call("GET", "/api/v1/connectors", tok+"x", ""); code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	if code, body := call("POST", "/api/v1/connectors/cloud/runs", tok, `{"profile": "export"}`); code != http.StatusAccepted {
		t.Fatalf("start an export with a token: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runs, _ := s.st.Runs(t.Context(), store.RunFilter{Connector: "cloud", Limit: 1})
		if len(runs) == 1 && runs[0].Status == "success" {
			if runs[0].Counts.Adds != 2 {
				t.Errorf("the export added %d objects, want 2", runs[0].Counts.Adds)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the export started through the API did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := call("PUT", "/api/v1/scheduler", tok, `{"enabled": false}`); code != http.StatusForbidden {
		t.Errorf("an operator's token disabling the scheduler: %d, want 403", code)
	}
	expired := time.Now().Add(-time.Hour)
	tok2, hash2, _ := auth.NewToken()
	_ = s.st.PutAPIToken(t.Context(), &store.APIToken{ID: "t2", User: "ann", Name: "old", Hash: hash2, Created: time.Now(), Expires: &expired})
	if code, body := call("GET", "/api/v1/connectors", tok2, ""); code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("an expired token: %d %s", code, body)
	}
}

// TestPages: what an operator sees — the dashboard, the pending exports
// and their CSV (audited), a metaverse search, an object with its lineage.
func TestPages(t *testing.T) {
	s := newSite(t)
	c := s.login("otto")
	body := read(c.do("GET", "/", nil))
	for _, want := range []string{"hr", "cloud", "Pending exports", "otto (operator)"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	body = read(c.do("GET", "/connectors/cloud/pending", nil))
	if !strings.Contains(body, "cn=Ada Lovelace,ou=users,dc=cloud") || !strings.Contains(body, "pending.csv") {
		t.Errorf("pending page:\n%s", body)
	}
	resp := c.do("GET", "/connectors/cloud/pending.csv", nil)
	csv := read(resp)
	if !strings.HasPrefix(csv, strings.Join(engine.PreviewColumns, ",")+"\n") || !strings.Contains(csv, "ada@example.org") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "pending-cloud.csv") {
		t.Errorf("pending CSV:\n%s", csv)
	}
	if es, _ := s.st.Audit(t.Context(), store.AuditFilter{Action: "download-preview"}); len(es) != 1 || es[0].User != "otto" || es[0].Target != "cloud" {
		t.Errorf("the download is not audited: %+v", es)
	}
	body = read(c.do("GET", "/metaverse?attribute=mail&value=ADA", nil))
	m := regexp.MustCompile(`href="/metaverse/([^"]+)">Ada Lovelace`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("search result:\n%s", body)
	}
	body = read(c.do("GET", "/metaverse/"+m[1], nil))
	for _, want := range []string{"ada@example.org", "in-user", "hr", "h1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metaverse object page lacks %q (lineage, links)", want)
		}
	}
}

// statusOf is an answer's status code.
func statusOf(r *result) int { return r.StatusCode }

func writeLog(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestApplications: the applications page shows the activity report with
// its filters, and a connection test says what failed (audited).
func TestApplications(t *testing.T) {
	s := newSite(t)
	c := s.login("otto")
	body := read(c.do("GET", "/applications/crm?since=", nil))
	for _, want := range []string{"ada@example.org", "409 uniqueness", "http://127.0.0.1:1/scim/v2", "Sales"} {
		if !strings.Contains(body, want) {
			t.Errorf("application page lacks %q", want)
		}
	}
	body = read(c.do("GET", "/applications/crm?since=&action=error", nil))
	if strings.Contains(body, ">create<") || !strings.Contains(body, "409 uniqueness") {
		t.Errorf("the action filter does not filter:\n%s", body)
	}
	r := c.do("POST", "/applications/crm/test", url.Values{})
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "reachability") {
		t.Errorf("test connection: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if es, _ := s.st.Audit(t.Context(), store.AuditFilter{Action: "app-test-connection"}); len(es) != 1 || es[0].Outcome != "failed" {
		t.Errorf("the connection test is not audited: %+v", es)
	}
}

// TestOpenAPICoversRoutes: every API route of the route table is in the
// OpenAPI document, and the document names no route that does not exist.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, m := range regexp.MustCompile(`s\.handle\("(GET|POST|PUT|DELETE) (/api/v1/[^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		if m[2] == "/api/v1/" {
			continue // the not-found catch-all
		}
		routes[strings.ToLower(m[1])+" "+m[2]] = true
		if doc.Paths[m[2]][strings.ToLower(m[1])] == nil {
			t.Errorf("%s %s is not in openapi.json", m[1], m[2])
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !routes[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which the server does not serve", method, path)
			}
		}
	}
}

// TestRuleAndExpr: a rule's detail shows its flows; the expression tester
// evaluates in both dialects and shows errors.
func TestRuleAndExpr(t *testing.T) {
	s := newSite(t)
	c := s.login("bea")
	body := read(c.do("GET", "/rules/detail?name=out-user", nil))
	for _, want := range []string{"cn={displayName},ou=users,dc=cloud", "displayName", "mail", "outbound"} {
		if !strings.Contains(body, want) {
			t.Errorf("rule detail lacks %q", want)
		}
	}
	for _, tc := range []struct{ q, want string }{
		{"expression=" + url.QueryEscape(`LCase([givenName]) & "." & LCase([sn])`) + "&attrs=" + url.QueryEscape("givenName=Ada\nsn=Lovelace"), `"values": [` + "\n" + `    "ada.lovelace"`},
		{"dialect=provisioning&expression=" + url.QueryEscape(`Join("@", [a], "x.test")`) + "&attrs=" + url.QueryEscape("a=u1"), `"u1@x.test"`},
		{"expression=" + url.QueryEscape(`Lcase([a])`), `unknown function`},
	} {
		if got := read(c.do("GET", "/api/v1/expr?"+tc.q, nil)); !strings.Contains(got, tc.want) {
			t.Errorf("expr %s = %s, want %s", tc.q, got, tc.want)
		}
	}
}

// TestConnectorProperties: a connector's configuration shows with its
// secrets masked, a reference to the environment left as it is.
func TestConnectorProperties(t *testing.T) {
	s := newSite(t)
	cfg, err := config.Parse("idsync.yaml", []byte(`connectors:
  - name: hr
    type: memory
    deleteThreshold: 50
    config: {bindPassword: "Sup3r-Secret!", token: "${HR_TOKEN}", url: "ldaps://dc.example.org"}
`))
	if err != nil {
		t.Fatal(err)
	}
	s.web.o.Config = cfg
	body := read(s.login("bea").do("GET", "/connectors/hr", nil))
	if strings.Contains(body, "Sup3r-Secret!") || !strings.Contains(body, "********") || !strings.Contains(body, "${HR_TOKEN}") ||
		!strings.Contains(body, "ldaps://dc.example.org") || !strings.Contains(body, "deleteThreshold: 50") {
		t.Errorf("connector properties:\n%s", body)
	}
}

// TestAllowDeletesOnce: an export stopped by the accidental-delete guard
// shows admins the action that lets the deletes through once; an operator
// gets no such action, and its POST is refused.
func TestAllowDeletesOnce(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	if _, err := s.e.Run(ctx, "cloud", engine.Export, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	hr := s.e.Connectors["hr"].Conn.(*memory.Connector)
	hr.Remove("h1")
	hr.Remove("h2")
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		if _, err := s.e.Run(ctx, "hr", p, engine.RunOptions{AllowShrink: true}); err != nil {
			t.Fatal(err)
		}
	}
	s.e.Connectors["cloud"].DeleteThreshold = 1
	if _, err := s.e.Run(ctx, "cloud", engine.Export, engine.RunOptions{}); err == nil {
		t.Fatal("the guard did not stop the export")
	}
	if body := read(s.login("otto").do("GET", "/connectors/cloud", nil)); strings.Contains(body, "allow-deletes") {
		t.Error("an operator is offered to allow the deletes")
	}
	if r := s.login("otto").do("POST", "/connectors/cloud/allow-deletes", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("an operator allowing the deletes: %d, want 403", r.StatusCode)
	}
	admin := s.login("ann")
	if body := read(admin.do("GET", "/connectors/cloud", nil)); !strings.Contains(body, "allow-deletes") {
		t.Fatalf("the admin is not offered to allow the deletes:\n%s", body)
	}
	if r := admin.do("POST", "/connectors/cloud/allow-deletes", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("allow the deletes: %d %s", r.StatusCode, r.Body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		runs, _ := s.st.Runs(ctx, store.RunFilter{Connector: "cloud", Limit: 1})
		if len(runs) == 1 && runs[0].Status == "success" && runs[0].Counts.Deletes == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the export with the deletes allowed did not delete them: %+v", runs[0])
		}
	}
	if es, _ := s.st.Audit(ctx, store.AuditFilter{Action: "allow-deletes"}); len(es) != 1 || es[0].User != "ann" {
		t.Errorf("allowing the deletes is not audited: %+v", es)
	}
}

// TestCSLinks follows the links to connector space objects whose anchors
// have characters that a query must escape (base64 GUIDs end in "=="): the
// template escapes them once, no more.
func TestCSLinks(t *testing.T) {
	s := newSite(t)
	const anchor = "RyKc8Wiz+GPo/csKF6Zplq&Dw=="
	s.e.Connectors["hr"].Conn.(*memory.Connector).Put(&model.Object{Anchor: anchor, Type: "user", DN: "cn=grace,ou=people",
		Attrs: model.Attrs{"cn": model.Str("Grace Hopper"), "mail": model.Str("grace@example.org")}})
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		if _, err := s.e.Run(t.Context(), "hr", p, engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := s.login("otto")
	body := read(c.do("GET", "/metaverse?attribute=mail&value=grace", nil))
	m := regexp.MustCompile(`href="/metaverse/([^"]+)">Grace Hopper`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("search result:\n%s", body)
	}
	body = read(c.do("GET", "/metaverse/"+m[1], nil))
	link := regexp.MustCompile(`href="(/cs\?connector=hr&amp;anchor=[^"]+)"`).FindStringSubmatch(body)
	if link == nil {
		t.Fatalf("no link to the hr object:\n%s", body)
	}
	href := html.UnescapeString(link[1])
	u, err := url.Parse(href)
	if err != nil || u.Query().Get("anchor") != anchor {
		t.Fatalf("link %s: anchor %q, want %q (%v)", href, u.Query().Get("anchor"), anchor, err)
	}
	if r := c.do("GET", href, nil); r.StatusCode != http.StatusOK || !strings.Contains(read(r), "cn=grace,ou=people") {
		t.Errorf("GET %s: %d\n%s", href, r.StatusCode, read(r))
	}
	// The pending exports show each object's DN, and link by its anchor.
	body = read(c.do("GET", "/connectors/cloud/pending", nil))
	links := regexp.MustCompile(`href="(/cs\?connector=cloud&amp;anchor=[^"]*)">([^<]+)<`).FindAllStringSubmatch(body, -1)
	if len(links) == 0 {
		t.Fatalf("no link to a cloud object:\n%s", body)
	}
	for _, l := range links {
		href := html.UnescapeString(l[1])
		if r := c.do("GET", href, nil); r.StatusCode != http.StatusOK || !strings.Contains(read(r), html.UnescapeString(l[2])) {
			t.Errorf("GET %s (%s): %d\n%s", href, l[2], r.StatusCode, read(r))
		}
	}
}

// TestSecretsHidden: the values of secret attributes (a password flowing
// from HR to the cloud) show as [secret] on every page and API call that
// shows object data, the single-object preview included.
func TestSecretsHidden(t *testing.T) {
	s := newSite(t)
	policy := secret.NewPolicy()
	s.web.o.View, s.web.o.Secret = sealed.Masked(s.st, policy), policy.IsSecret
	mv := ""
	_ = s.st.ScanMV(t.Context(), func(m *store.MVObject) error {
		if m.Attrs.First("mail") == "ada@example.org" {
			mv = m.ID
		}
		return nil
	})
	c := s.login("ann")
	for _, path := range []string{"/metaverse/" + mv + "/preview", "/connectors/cloud/pending", "/connectors/cloud/pending.csv", "/cs?connector=hr&anchor=h1",
		"/metaverse/" + mv, "/api/v1/metaverse/" + mv, "/api/v1/metaverse/" + mv + "/preview", "/api/v1/connectors/cloud/pending",
		"/api/v1/cs?connector=hr&anchor=h1", "/metaverse?value=Secret-2026"} {
		r := c.do("GET", path, nil)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.StatusCode)
		}
		if strings.Contains(r.Body, adaPassword) {
			t.Errorf("GET %s shows the password in clear", path)
		}
		if path != "/metaverse?value=Secret-2026" && !strings.Contains(r.Body, secretShown) {
			t.Errorf("GET %s does not show the password as %s", path, secretShown)
		}
	}
}

// TestPreviewPage: the console renders the single-object preview: the
// inbound rule, the winning flows, the outbound link decision.
func TestPreviewPage(t *testing.T) {
	s := newSite(t)
	mv := ""
	_ = s.st.ScanMV(t.Context(), func(m *store.MVObject) error {
		if m.Attrs.First("mail") == "ada@example.org" {
			mv = m.ID
		}
		return nil
	})
	body := read(s.login("bea").do("GET", "/metaverse/"+mv+"/preview", nil))
	for _, want := range []string{"in-user", "(wins)", "out-user", "keep", "cn=Ada Lovelace", "in scope"} {
		if !strings.Contains(body, want) {
			t.Errorf("preview page lacks %q", want)
		}
	}
}

// TestRunErrorLinks: a run's per-object error links to its object by the
// object's ID, whatever its DN or anchor looks like.
func TestRunErrorLinks(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	hr := s.e.Connectors["hr"].Conn.(*memory.Connector)
	hr.Put(&model.Object{Anchor: "h3", Type: "user", DN: "cn=bad,ou=people", Attrs: model.Attrs{"cn": model.Str("Bad Limits"), "mail": model.Str("bad@example.org")}})
	if _, err := s.e.Run(ctx, "hr", engine.FullImport, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, err := s.st.GetCSByAnchor(ctx, "hr", "h3")
	if err != nil {
		t.Fatal(err)
	}
	run := &store.Run{Connector: "hr", Profile: "full-sync", Started: time.Now(), Status: "completed-with-errors"}
	if err := s.st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := s.st.AddRunErrors(ctx, []store.RunError{{RunID: run.ID, Object: "cn=bad,ou=people", CSID: cs.ID, Message: "a flow failed", Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	c := s.login("bea")
	body := read(c.do("GET", fmt.Sprintf("/runs/%d", run.ID), nil))
	m := regexp.MustCompile(`href="(/cs\?id=[^"]+)">cn=bad,ou=people`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the run's error does not link to its object:\n%s", body)
	}
	if r := c.do("GET", html.UnescapeString(m[1]), nil); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "h3") {
		t.Errorf("GET %s: %d", m[1], r.StatusCode)
	}
}

// TestPollingDoesNotKeepSessions: the dashboard's own polling does not
// count as activity: an unattended browser is signed out after
// SessionIdle.
func TestPollingDoesNotKeepSessions(t *testing.T) {
	s := newSite(t)
	now := time.Now()
	s.web.o.Now = func() time.Time { return now }
	c := s.login("bea")
	poll := func() (int, string) {
		req, _ := http.NewRequest("GET", s.srv.URL+"/", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Trigger", "connectors")
		resp, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readResp(resp)
		return resp.StatusCode, resp.Header.Get("HX-Redirect")
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusUnauthorized} {
		now = now.Add(SessionIdle/3 + time.Second)
		code, redirect := poll()
		if code != want {
			t.Errorf("poll %d, %s after sign-in: %d, want %d", i+1, time.Duration(i+1)*(SessionIdle/3+time.Second), code, want)
		}
		if want == http.StatusUnauthorized && !strings.HasPrefix(redirect, "/login") {
			t.Errorf("the expired poll is not sent to the sign-in page (HX-Redirect %q)", redirect)
		}
	}
	if r := c.do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after %s of polling only, the session is still alive (%d)", 4*SessionIdle/3, r.StatusCode)
	}
}

// TestStandbyBanner: the dashboard says which kind of passive server this
// is: a standby of a high-availability group while it is one (and nothing
// once it is active), a staging server with stagingMode.
func TestStandbyBanner(t *testing.T) {
	s := newSite(t)
	c := s.login("otto")
	standby := true
	s.e.Passive = func() bool { return standby }
	for _, tc := range []struct {
		standby, staging bool
		want, not        string
	}{
		{true, false, "Standby: another idsync server holds the active lease", "Staging mode"},
		{false, false, "", "class=\"banner\""},
		{false, true, "Staging mode: this server imports and synchronizes, but never exports", "Standby:"},
	} {
		standby, s.e.Staging = tc.standby, tc.staging
		body := read(c.do("GET", "/", nil))
		if !strings.Contains(body, tc.want) || strings.Contains(body, tc.not) {
			t.Errorf("standby %v, staging %v: the dashboard lacks %q or has %q", tc.standby, tc.staging, tc.want, tc.not)
		}
	}
}

// TestMVPageSignInNames: the metaverse object page shows, beside each
// connected object, the userPrincipalName and sAMAccountName that object
// has — in a managed domain possibly generated, not the metaverse's.
func TestMVPageSignInNames(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	hr := s.e.Connectors["hr"].Conn.(*memory.Connector)
	hr.Put(&model.Object{Anchor: "h9", Type: "user", DN: "cn=grace,ou=people", Attrs: model.Attrs{"cn": model.Str("Grace Hopper"),
		"mail": model.Str("grace@example.org")}})
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		if _, err := s.e.Run(ctx, "hr", p, engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mv := ""
	_ = s.st.ScanMV(ctx, func(m *store.MVObject) error {
		if m.Attrs.First("mail") == "grace@example.org" {
			mv = m.ID
		}
		return nil
	})
	if mv == "" {
		t.Fatal("Grace was not projected")
	}
	// The HR rules read neither name, so the import did not keep them: as
	// an AD connector's object would have them.
	c, err := s.st.GetCSByAnchor(ctx, "hr", "h9")
	if err != nil {
		t.Fatal(err)
	}
	c.Object.Attrs["sAMAccountName"], c.Object.Attrs["userPrincipalName"] = model.Str("gracehkq3x1"), model.Str("grace-kq3x1@example.org")
	if err := s.st.Apply(ctx, &store.Batch{PutCS: []*store.CSObject{c}}); err != nil {
		t.Fatal(err)
	}
	body := read(s.login("bea").do("GET", "/metaverse/"+mv, nil))
	for _, want := range []string{"Sign-in names", "userPrincipalName grace-kq3x1@example.org, sAMAccountName gracehkq3x1", "idsync managed-domain report"} {
		if !strings.Contains(body, want) {
			t.Errorf("the metaverse page lacks %q", want)
		}
	}
}
