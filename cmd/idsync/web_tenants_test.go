package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/graphfake"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/tenant"
	"github.com/idsync/idsync/web"
)

const webTenantPassword = "correct horse battery"

// tenantConsole is the console of `idsync serve` on a copy of
// examples/tenant-onboarding with the tenants contoso and fabrikam, and
// console users of every role: ann (admin), otto (operator), bea
// (browse), tim (admin of tenant contoso only), fay (admin of tenant
// fabrikam only). The tenant options are cmd's own (tenantWebOptions:
// the onboarding is opened as idsync onboard opens it).
type tenantConsole struct {
	t   *testing.T
	dir string
	st  store.Store
	srv *httptest.Server
}

func newTenantConsole(t *testing.T, configure ...func(*config.Config)) *tenantConsole {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "examples", "tenant-onboarding"), dir)
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDSYNC_SECRET_KEY", key)
	createSubscribers(t, "sqlite", "file:"+filepath.Join(dir, "subscribers.db"), filepath.Join(dir, "schema.sql"))
	ctx := t.Context()
	g := &globalFlags{config: filepath.Join(dir, "idsync.yaml")}
	a, err := openApp(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	svc := tenantService(a.cfg, a.store)
	for _, id := range []string{"contoso", "fabrikam"} {
		if _, err := svc.AddTenant(ctx, id, strings.ToUpper(id[:1])+id[1:]+" Ltd"); err != nil {
			t.Fatal(err)
		}
	}
	h, err := auth.HashPassword(webTenantPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, role, tenant string }{
		{"ann", auth.RoleAdmin, ""}, {"otto", auth.RoleOperator, ""}, {"bea", auth.RoleBrowse, ""},
		{"tim", auth.RoleAdmin, "contoso"}, {"fay", auth.RoleAdmin, "fabrikam"},
	} {
		if err := a.store.PutUser(ctx, &store.User{Name: u.name, Role: u.role, Tenant: u.tenant, PasswordHash: h, Created: time.Now(), Modified: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range configure {
		f(a.cfg)
	}
	o := web.Options{Store: a.store, Engine: a.engine, Rules: a.rules, Config: a.cfg, Version: "test"}
	if err := tenantWebOptions(ctx, g, a, &o); err != nil {
		t.Fatal(err)
	}
	if o.Tenants == nil || o.OpenTenant == nil {
		t.Fatal("tenantWebOptions gave the console no tenants")
	}
	srv, err := web.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := &tenantConsole{t: t, dir: dir, st: a.store, srv: httptest.NewServer(srv.Handler())}
	t.Cleanup(c.srv.Close)
	return c
}

// browser is a signed-in (or anonymous) client: a cookie jar, no
// redirects followed, the session's CSRF token.
type browser struct {
	c     *tenantConsole
	hc    *http.Client
	csrf  string
	token string // an API token instead of a session
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *tenantConsole) anonymous() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: c, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *tenantConsole) login(user string) *browser {
	c.t.Helper()
	b := c.anonymous()
	m := csrfInput.FindStringSubmatch(b.get("/login").body)
	if m == nil {
		c.t.Fatal("no form token on the sign-in page")
	}
	b.csrf = m[1]
	if r := b.form("POST", "/login", url.Values{"user": {user}, "password": {webTenantPassword}}); r.code != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: %d %s", user, r.code, r.body)
	}
	b.csrf = ""
	// A tenant-scoped user lands on their tenant's page.
	r := b.get("/")
	if r.code == http.StatusSeeOther {
		r = b.get(r.header.Get("Location"))
	}
	if m := csrfInput.FindStringSubmatch(r.body); m != nil {
		b.csrf = m[1]
	} else {
		c.t.Fatalf("%s: no CSRF token on the first page (%d)", user, r.code)
	}
	return b
}

type answer struct {
	code   int
	header http.Header
	body   string
	raw    []byte
}

func (b *browser) send(method, path, ctype string, body io.Reader) *answer {
	b.c.t.Helper()
	req, err := http.NewRequest(method, b.c.srv.URL+path, body)
	if err != nil {
		b.c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	if method != "GET" && b.csrf != "" && strings.HasPrefix(path, "/api/") {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return &answer{code: resp.StatusCode, header: resp.Header, body: string(raw), raw: raw}
}

func (b *browser) get(path string) *answer { return b.send("GET", path, "", nil) }

// form posts a form with the session's CSRF token (unless it has one).
func (b *browser) form(method, path string, f url.Values) *answer {
	if f == nil {
		f = url.Values{}
	}
	if b.csrf != "" && !f.Has("csrf") {
		f.Set("csrf", b.csrf)
	}
	return b.send(method, path, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
}

func (c *tenantConsole) token(user string) *browser {
	c.t.Helper()
	tok, hash, err := auth.NewToken()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.st.PutAPIToken(c.t.Context(), &store.APIToken{ID: "tok-" + user, User: user, Name: "script", Hash: hash, Created: time.Now()}); err != nil {
		c.t.Fatal(err)
	}
	return &browser{c: c, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, token: tok}
}

func (c *tenantConsole) audit(action string) []*store.AuditEntry {
	c.t.Helper()
	es, err := c.st.Audit(c.t.Context(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		c.t.Fatal(err)
	}
	return es
}

// TestConsoleTenantAccess: every tenant route against every kind of
// user — anonymous, browse, operator, admin, an admin of tenant contoso,
// an admin of tenant fabrikam — on tenant contoso; a tenant-scoped user
// reaches only their own tenant (refusals audited) and nothing of the
// installation; tenant A's API token sees nothing of tenant B; a form
// without the CSRF token is refused.
func TestConsoleTenantAccess(t *testing.T) {
	c := newTenantConsole(t)
	who := []string{"anonymous", "browse", "operator", "admin", "tenantA", "tenantB"}
	clients := map[string]*browser{"anonymous": c.anonymous(), "browse": c.login("bea"), "operator": c.login("otto"),
		"admin": c.login("ann"), "tenantA": c.login("tim"), "tenantB": c.login("fay")}
	if r := clients["admin"].form("POST", "/tenants/contoso/domains", url.Values{"domain": {"contoso.com"}}); r.code != http.StatusSeeOther {
		t.Fatalf("add contoso.com: %d %s", r.code, r.body)
	}
	const (
		see    = http.StatusSeeOther
		ok     = http.StatusOK
		no     = http.StatusForbidden
		unauth = http.StatusUnauthorized
		bad    = http.StatusBadRequest
		busy   = http.StatusConflict
	)
	for _, tc := range []struct {
		method, path string
		form         url.Values // a form (pages) …
		body         string     // … or a JSON or CSV body (API)
		ctype        string
		want         [6]int // anonymous, browse, operator, admin, tenantA, tenantB
	}{
		{"GET", "/tenants", nil, "", "", [6]int{see, ok, ok, ok, see, see}},
		{"GET", "/tenants/contoso", nil, "", "", [6]int{see, ok, ok, ok, ok, no}},
		{"GET", "/tenants/nope", nil, "", "", [6]int{see, 404, 404, 404, no, no}},
		{"POST", "/tenants/contoso/domains", url.Values{"domain": {"WHO.contoso.net"}}, "", "", [6]int{see, no, no, see, see, no}},
		{"POST", "/tenants/contoso/domains/contoso.com/verify", url.Values{}, "", "", [6]int{see, no, see, see, see, no}},
		{"POST", "/tenants/contoso/domains/contoso.com/use", url.Values{}, "", "", [6]int{see, no, no, bad, bad, no}},
		{"POST", "/tenants/contoso/settings", url.Values{"set.extensionStart": {"2001"}}, "", "", [6]int{see, no, no, see, see, no}},
		{"POST", "/tenants/contoso/discover", url.Values{}, "", "", [6]int{see, no, see, see, see, no}},
		{"GET", "/tenants/contoso/review", nil, "", "", [6]int{see, ok, ok, ok, ok, no}},
		{"GET", "/tenants/contoso/review.csv", nil, "", "", [6]int{see, ok, ok, ok, ok, no}},
		{"POST", "/tenants/contoso/review", url.Values{}, "", "", [6]int{see, no, see, see, see, no}},
		{"POST", "/tenants/contoso/spreadsheet", url.Values{}, "", "", [6]int{see, no, no, busy, busy, no}},
		{"POST", "/tenants/contoso/confirm", url.Values{}, "", "", [6]int{see, no, see, see, see, no}},
		{"GET", "/api/v1/tenants", nil, "", "", [6]int{unauth, ok, ok, ok, ok, ok}},
		{"GET", "/api/v1/tenants/contoso", nil, "", "", [6]int{unauth, ok, ok, ok, ok, no}},
		{"POST", "/api/v1/tenants/contoso/domains", nil, `{"domain": "api-WHO.contoso.net"}`, "application/json", [6]int{unauth, no, no, 201, 201, no}},
		{"POST", "/api/v1/tenants/contoso/domains/contoso.com/verify", nil, "", "", [6]int{unauth, no, ok, ok, ok, no}},
		{"POST", "/api/v1/tenants/contoso/domains/contoso.com/use", nil, "", "", [6]int{unauth, no, no, bad, bad, no}},
		{"PUT", "/api/v1/tenants/contoso/settings", nil, `{"extensionStart": "2001"}`, "application/json", [6]int{unauth, no, no, ok, ok, no}},
		{"GET", "/api/v1/tenants/contoso/onboarding", nil, "", "", [6]int{unauth, ok, ok, ok, ok, no}},
		{"POST", "/api/v1/tenants/contoso/onboarding/discover", nil, "", "", [6]int{unauth, no, ok, ok, ok, no}},
		{"GET", "/api/v1/tenants/contoso/onboarding/review", nil, "", "", [6]int{unauth, ok, ok, ok, ok, no}},
		{"POST", "/api/v1/tenants/contoso/onboarding/review", nil, "id,include\n", "text/csv", [6]int{unauth, no, ok, ok, ok, no}},
		{"POST", "/api/v1/tenants/contoso/onboarding/confirm", nil, "", "", [6]int{unauth, no, ok, ok, ok, no}},
		// The page's confirm above left passwords awaiting delivery: the
		// first admin gets them, the next one nothing.
		{"POST", "/api/v1/tenants/contoso/onboarding/spreadsheet", nil, "", "", [6]int{unauth, no, no, ok, busy, no}},
		// The installation stays closed to tenant-scoped users.
		{"GET", "/runs", nil, "", "", [6]int{see, ok, ok, ok, no, no}},
		{"GET", "/api/v1/runs", nil, "", "", [6]int{unauth, ok, ok, ok, no, no}},
		{"GET", "/", nil, "", "", [6]int{see, ok, ok, ok, see, see}},
	} {
		for i, w := range who {
			b := clients[w]
			var r *answer
			switch {
			case tc.form != nil:
				f := url.Values{}
				for k, v := range tc.form {
					f[k] = []string{strings.ReplaceAll(v[0], "WHO", strings.ToLower(w))}
				}
				r = b.form(tc.method, tc.path, f)
			default:
				r = b.send(tc.method, tc.path, tc.ctype, strings.NewReader(strings.ReplaceAll(tc.body, "WHO", strings.ToLower(w))))
			}
			if r.code != tc.want[i] {
				t.Errorf("%s %s as %s: %d, want %d: %.300s", tc.method, tc.path, w, r.code, tc.want[i], r.body)
			}
		}
	}
	// Where the list and the landing page take a tenant-scoped user.
	if r := clients["tenantA"].get("/tenants"); r.header.Get("Location") != "/tenants/contoso" {
		t.Errorf("/tenants as tim goes to %q", r.header.Get("Location"))
	}
	if r := clients["tenantB"].get("/"); r.header.Get("Location") != "/tenants/fabrikam" {
		t.Errorf("/ as fay goes to %q", r.header.Get("Location"))
	}
	// Tenant A's API token on tenant B.
	tok := c.token("tim")
	if r := tok.get("/api/v1/tenants/fabrikam"); r.code != no {
		t.Errorf("tim's token on fabrikam: %d %s", r.code, r.body)
	}
	if r := tok.send("POST", "/api/v1/tenants/fabrikam/onboarding/discover", "", nil); r.code != no {
		t.Errorf("tim's token discovering fabrikam: %d %s", r.code, r.body)
	}
	var list []map[string]any
	if r := tok.get("/api/v1/tenants"); r.code != ok || json.Unmarshal(r.raw, &list) != nil || len(list) != 1 || list[0]["id"] != "contoso" {
		t.Errorf("tim's token lists %d %s", r.code, r.body)
	}
	if r := tok.get("/api/v1/tenants/contoso"); r.code != ok || !strings.Contains(r.body, "idsync-verification=") {
		t.Errorf("tim's token on contoso: %d %s", r.code, r.body)
	}
	denied := 0
	for _, e := range c.audit("denied") {
		if (e.User == "fay" || e.User == "tim") && strings.Contains(e.Detail, "tenant-scoped user") {
			denied++
		}
	}
	if denied < 20 {
		t.Errorf("%d refusals of tenant-scoped users audited, want every one", denied)
	}
	// Without the CSRF token, a session's change is refused.
	admin := clients["admin"]
	if r := admin.form("POST", "/tenants/contoso/discover", url.Values{"csrf": {"wrong"}}); r.code != no {
		t.Errorf("discover with a wrong CSRF token: %d", r.code)
	}
	if r := admin.send("POST", "/tenants/contoso/spreadsheet", "application/x-www-form-urlencoded", strings.NewReader("format=xlsx")); r.code != no {
		t.Errorf("spreadsheet without a CSRF token: %d", r.code)
	}
	noCSRF := *admin
	noCSRF.csrf = ""
	if r := noCSRF.send("POST", "/api/v1/tenants/contoso/onboarding/confirm", "", nil); r.code != no {
		t.Errorf("API confirm with the session and no CSRF header: %d", r.code)
	}
}

// TestConsoleTenantOnboarding walks the wizard as TestOnboarding walks
// the command line: domain and settings, discover, a review refused for
// an invalid cell (nothing changed, the error shown at its user), a
// valid review (an extension edited, a user removed), confirm, and the
// spreadsheet downloaded once by an admin and read back; every step
// audited.
func TestConsoleTenantOnboarding(t *testing.T) {
	c := newTenantConsole(t)
	ann, otto := c.login("ann"), c.login("otto")
	ctx := t.Context()

	// Domains: added with the record to publish; verified (here by the
	// store: TestTenantCommands and package tenant verify against a real
	// DNS server), then made the tenant's domain.
	if r := ann.form("POST", "/tenants/contoso/domains", url.Values{"domain": {"Contoso.COM"}}); r.code != http.StatusSeeOther {
		t.Fatalf("add domain: %d %s", r.code, r.body)
	}
	d, err := c.st.GetDomain(ctx, "contoso", "contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	page := ann.get("/tenants/contoso").body
	for _, want := range []string{"_idsync.contoso.com", "idsync-verification=" + d.Token, "pending", "Verify contoso.com now", "extensionStart"} {
		if !strings.Contains(page, want) {
			t.Errorf("tenant page lacks %q", want)
		}
	}
	if r := ann.form("POST", "/tenants/contoso/domains/contoso.com/use", nil); r.code != http.StatusBadRequest || !strings.Contains(r.body, "not verified") {
		t.Errorf("use a pending domain: %d", r.code)
	}
	now := time.Now()
	d.State, d.Verified, d.NextCheck = store.DomainVerified, &now, nil
	if err := c.st.PutDomain(ctx, d); err != nil {
		t.Fatal(err)
	}
	if r := ann.form("POST", "/tenants/contoso/domains/contoso.com/use", nil); r.code != http.StatusSeeOther {
		t.Errorf("use a verified domain: %d %s", r.code, r.body)
	}
	if tn, _ := c.st.GetTenant(ctx, "contoso"); tn.Domain != "contoso.com" {
		t.Errorf("tenant's domain = %q", tn.Domain)
	}

	// Settings are checked by the template.
	if r := ann.form("POST", "/tenants/contoso/settings", url.Values{"set.extensionStart": {"12ab"}}); r.code != http.StatusBadRequest || !strings.Contains(r.body, "does not match") {
		t.Errorf("a bad setting: %d", r.code)
	}
	if r := ann.form("POST", "/tenants/contoso/settings", url.Values{"set.extensionStart": {"2001"}, "set.sipDomain": {"sip.example.net"}}); r.code != http.StatusSeeOther ||
		!strings.Contains(r.header.Get("Location"), "extensionStart%3D2001") {
		t.Errorf("set extensionStart: %d %s", r.code, r.header.Get("Location"))
	}

	// Discover, then review.
	if r := otto.form("POST", "/tenants/contoso/discover", nil); r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "confirming+would+create+3+subscribers") {
		t.Fatalf("discover: %d %s %s", r.code, r.header.Get("Location"), r.body)
	}
	page = otto.get("/tenants/contoso/review").body
	for _, want := range []string{`name="v:extension:7c1e2f4a-0001" value="2001"`, `value="7c1e2f4a-0003"`, "out of scope", "Apply the review"} {
		if !strings.Contains(page, want) {
			t.Errorf("review page lacks %q", want)
		}
	}
	reviewFile := filepath.Join(c.dir, "tenants", "contoso", "review.csv")
	before, _ := os.ReadFile(reviewFile)
	form := func(edits map[string]string, exclude ...string) url.Values {
		f := url.Values{}
		for _, id := range []string{"7c1e2f4a-0001", "7c1e2f4a-0002", "7c1e2f4a-0003"} {
			f.Add("id", id)
			if !slices.Contains(exclude, id) {
				f.Add("include", id)
			}
		}
		for k, v := range edits {
			f.Set(k, v)
		}
		return f
	}
	r := otto.form("POST", "/tenants/contoso/review", form(map[string]string{"v:extension:7c1e2f4a-0002": "twenty"}))
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(r.body), `extension "twenty": a number`) ||
		!strings.Contains(r.body, "user 7c1e2f4a-0002 (line 3 of the list)") || !strings.Contains(r.body, `value="twenty"`) || !strings.Contains(r.body, "nothing was changed") {
		t.Errorf("an invalid cell: %d\n%s", r.code, r.body)
	}
	if after, _ := os.ReadFile(reviewFile); !bytes.Equal(before, after) {
		t.Errorf("a refused review changed the review file:\n%s", after)
	}
	if r := otto.get("/tenants/contoso/review"); !strings.Contains(r.body, `name="v:extension:7c1e2f4a-0002" value="2002"`) {
		t.Errorf("after a refused review, Alex's extension is not 2002 any more")
	}
	// The API refuses a bad list the same way.
	if r := otto.send("POST", "/api/v1/tenants/contoso/onboarding/review", "text/csv", strings.NewReader("id,include,extension\nnobody,yes,3000\n")); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id \"nobody\" is not a user`) {
		t.Errorf("API review with an unknown user: %d %s", r.code, r.body)
	}
	r = otto.form("POST", "/tenants/contoso/review", form(map[string]string{"v:extension:7c1e2f4a-0002": "2050", "v:sipUser:7c1e2f4a-0002": "alex.w"}, "7c1e2f4a-0003"))
	if r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "2+values+edited%2C+1+users+removed") {
		t.Fatalf("a valid review: %d %s\n%s", r.code, r.header.Get("Location"), r.body)
	}
	var rv web.ReviewView
	if r := otto.get("/api/v1/tenants/contoso/onboarding/review"); json.Unmarshal(r.raw, &rv) != nil || len(rv.Rows) != 4 {
		t.Fatalf("API review: %d %s", r.code, r.body)
	}
	for _, row := range rv.Rows {
		switch row.ID {
		case "7c1e2f4a-0002":
			if row.Values["extension"] != "2050" || row.Values["sipUser"] != "alex.w" || row.State != tenant.StateNew {
				t.Errorf("Alex after the review: %+v", row)
			}
		case "7c1e2f4a-0003":
			if row.Include || row.State != tenant.StateExcluded {
				t.Errorf("Diego after the review: %+v", row)
			}
		}
	}

	// Confirm; the spreadsheet is an admin's, once.
	if r := otto.form("POST", "/tenants/contoso/confirm", nil); r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "2+subscribers+created") {
		t.Fatalf("confirm: %d %s %s", r.code, r.header.Get("Location"), r.body)
	}
	if !strings.Contains(ann.get("/tenants/contoso").body, "Download 2 passwords") {
		t.Errorf("the tenant page does not offer the 2 passwords")
	}
	if r := otto.form("POST", "/tenants/contoso/spreadsheet", nil); r.code != http.StatusForbidden {
		t.Errorf("an operator's spreadsheet: %d", r.code)
	}
	r = ann.form("POST", "/tenants/contoso/spreadsheet", url.Values{"format": {"xlsx"}})
	if r.code != http.StatusOK || !strings.Contains(r.header.Get("Content-Disposition"), "contoso-passwords-") {
		t.Fatalf("spreadsheet: %d %v %s", r.code, r.header, r.body)
	}
	cells, err := tenant.ReadXLSX(bytes.NewReader(r.raw))
	if err != nil {
		t.Fatal(err)
	}
	subs := readSubscribers(t, "sqlite", "file:"+filepath.Join(c.dir, "subscribers.db"), "contoso")
	if len(cells) != 3 || !slices.Equal(cells[0], []string{"Name", "E-mail", "Extension", "SIP user", "Password", "SIP domain"}) {
		t.Fatalf("spreadsheet cells: %v", cells)
	}
	for _, row := range cells[1:] {
		var sub map[string]string
		for _, s := range subs {
			if s["mail"] == row[1] {
				sub = s
			}
		}
		if sub == nil || row[2] != sub["extension"] || row[3] != sub["sipUser"] || row[4] != sub["sipPassword"] || len(row[4]) != 16 {
			t.Errorf("spreadsheet row %v, subscriber %v", row, sub)
		}
	}
	if subs["7c1e2f4a-0002"]["extension"] != "2050" || subs["7c1e2f4a-0001"]["extension"] != "2001" || subs["7c1e2f4a-0003"] != nil {
		t.Errorf("subscribers: %v", subs)
	}
	if r := ann.form("POST", "/tenants/contoso/spreadsheet", url.Values{"format": {"csv"}}); r.code != http.StatusConflict || !strings.Contains(r.body, "delivered once") {
		t.Errorf("a second spreadsheet: %d", r.code)
	}
	if strings.Contains(ann.get("/tenants/contoso").body, "Download 2 passwords") {
		t.Errorf("the tenant page still offers the delivered passwords")
	}

	// Every step is in the audit log, with who did it.
	for action, want := range map[string][]string{
		"tenant-domain-add":   {"ann ok domain contoso.com"},
		"tenant-domain-use":   {"ann failed", "ann ok domain contoso.com (was -)"},
		"tenant-settings":     {"ann failed", "ann ok extensionStart=2001"},
		"onboard-discover":    {"otto ok 4 users, 3 to create"},
		"onboard-review":      {"otto failed", "otto failed", "otto ok 2 edited, 1 excluded, 0 included"},
		"onboard-confirm":     {"otto ok 2 created"},
		"onboard-spreadsheet": {"ann ok 2 passwords as xlsx", "ann failed no passwords await delivery"},
	} {
		es := c.audit(action)
		var got []string
		for _, e := range es {
			got = append(got, e.User+" "+e.Outcome+" "+e.Detail)
		}
		if len(es) != len(want) {
			t.Errorf("audit %s: %q, want %d entries like %q", action, got, len(want), want)
			continue
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
				t.Errorf("audit %s: %q lacks %q", action, got, w)
			}
		}
	}
	// Nor in a page or the API's JSON.
	for _, path := range []string{"/tenants/contoso", "/tenants/contoso/review", "/tenants/contoso/review.csv", "/api/v1/tenants/contoso",
		"/api/v1/tenants/contoso/onboarding", "/api/v1/tenants/contoso/onboarding/review"} {
		body := ann.get(path).body
		for _, row := range cells[1:] {
			if strings.Contains(body, row[4]) {
				t.Errorf("%s shows a password", path)
			}
		}
	}
	for _, e := range c.audit("") {
		for _, row := range cells[1:] {
			if strings.Contains(e.Detail, row[4]) {
				t.Errorf("a password in the audit log: %+v", e)
			}
		}
	}
}

// TestConsoleTenantConsent: the Entra ID admin consent from a tenant's page,
// against the fake identity platform: the consent URL, Microsoft's
// redirect to /consent/callback (no session cookie on that cross-site
// navigation), the same-site hop to /consent/complete, the directory ID in
// the tenant's settings; a state serves once, and another tenant's admin
// can neither start nor complete it.
func TestConsoleTenantConsent(t *testing.T) {
	fake := graphfake.New(t)
	const redirect = "https://console.example.net/consent/callback"
	c := newTenantConsole(t, func(cfg *config.Config) {
		cfg.Tenants.Consent = config.TenantConsent{ClientID: fake.ClientID, RedirectURL: redirect, Authority: fake.Authority}
	})
	tim, fay := c.login("tim"), c.login("fay")
	if r := fay.form("POST", "/tenants/contoso/consent", nil); r.code != http.StatusForbidden {
		t.Errorf("fabrikam's admin starting contoso's consent: %d", r.code)
	}
	start := func() url.Values {
		t.Helper()
		r := tim.form("POST", "/tenants/contoso/consent", url.Values{"directory": {"contoso.onmicrosoft.com"}})
		if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), fake.Authority+"/contoso.onmicrosoft.com/v2.0/adminconsent?") {
			t.Fatalf("start consent: %d %s", r.code, r.header.Get("Location"))
		}
		// The administrator consents at Microsoft, which redirects back.
		pem, err := os.ReadFile(fake.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		defer hc.CloseIdleConnections()
		resp, err := hc.Get(r.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirect+"?") {
			t.Fatalf("the fake's consent answer: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query()
	}
	q := start()
	// The callback, without a session: a page that moves on same-site.
	hop := c.anonymous().get("/consent/callback?" + q.Encode())
	m := regexp.MustCompile(`content="0;url=([^"]+)"`).FindStringSubmatch(hop.body)
	if hop.code != http.StatusOK || m == nil {
		t.Fatalf("callback: %d %s", hop.code, hop.body)
	}
	next := html.UnescapeString(m[1])
	if !strings.HasPrefix(next, "/consent/complete?") || !strings.Contains(next, "state=") {
		t.Fatalf("callback moves on to %q", next)
	}
	if r := c.anonymous().get(next); r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("complete without a session: %d %s", r.code, r.header.Get("Location"))
	}
	if r := fay.get(next); r.code != http.StatusForbidden {
		t.Errorf("fabrikam's admin completing contoso's consent: %d %s", r.code, r.body)
	}
	r := tim.get(next)
	if r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "Consent+granted+by+directory+"+fake.DirectoryID) {
		t.Fatalf("complete: %d %s %s", r.code, r.header.Get("Location"), r.body)
	}
	tn, err := c.st.GetTenant(t.Context(), "contoso")
	if err != nil || !strings.Contains(tn.Settings, `"directoryId":"`+fake.DirectoryID+`"`) {
		t.Errorf("contoso's settings after the consent: %v %v", tn, err)
	}
	if r := tim.get(next); r.code != http.StatusBadRequest || !strings.Contains(r.body, "already used") {
		t.Errorf("a replayed callback: %d", r.code)
	}
	// Microsoft reports a declined consent: an error on the page.
	q = start()
	q.Del("admin_consent")
	q.Del("tenant")
	q.Set("error", "access_denied")
	q.Set("error_description", "AADSTS65004: User declined to consent.")
	if r := tim.get("/consent/complete?" + q.Encode()); r.code != http.StatusForbidden || !strings.Contains(r.body, "access_denied") {
		t.Errorf("a declined consent: %d %s", r.code, r.body)
	}
	entries, err := c.st.Audit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "tenant-consent") {
			got = append(got, e.Action+" "+e.Outcome)
		}
	}
	want := []string{"tenant-consent failed", "tenant-consent-start ok", "tenant-consent denied", "tenant-consent ok", "tenant-consent-start ok"}
	if !slices.Equal(got, want) {
		t.Errorf("audit: %v, want %v", got, want)
	}
}
