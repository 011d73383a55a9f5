package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/web"
)

// TestConsoleContainers: the OU tree on the console's connector page, over
// a slapd directory, with idsync serve's own options (configWebOptions):
// every role sees the tree, only an admin with the CSRF token saves it
// (audited); a save excluding an OU is applied by the running process at
// once — its next full import of the connector no longer brings the OU's
// objects — and the console-managed file holds the exclusion.
func TestConsoleContainers(t *testing.T) {
	srv := peers.Slapd(t)
	a, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Bind(srv.BindDN, srv.Password); err != nil {
		t.Fatal(err)
	}
	people := "ou=people," + srv.BaseDN
	sales, leavers := "ou=sales,"+people, "ou=leavers,"+people
	for dn, attrs := range map[string]map[string][]string{
		sales:   {"objectClass": {"organizationalUnit"}, "ou": {"sales"}},
		leavers: {"objectClass": {"organizationalUnit"}, "ou": {"leavers"}},
	} {
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := a.Add(req); err != nil {
			t.Fatal(err)
		}
	}
	for i, ou := range []string{sales, sales, leavers} {
		req := ldap.NewAddRequest(fmt.Sprintf("cn=web%d,%s", i, ou), nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("cn", []string{fmt.Sprintf("web%d", i)})
		req.Attribute("sn", []string{"Test"})
		if err := a.Add(req); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`dataDir: .
connectors:
  - name: src
    type: ldap
    config: {url: %s, bindDN: %q, password: "${IDSYNC_TEST_LDAP_PASSWORD}", baseDN: %q, containers: {include: [%q]}}
  - name: dst
    type: ldap
    config: {url: %s, caFile: %s, bindDN: %q, password: "${IDSYNC_TEST_LDAP_PASSWORD}", baseDN: %q}
rules: [rules.yaml]
`, srv.URL, srv.BindDN, srv.BaseDN, people, srv.LDAPSURL, srv.CAFile, srv.BindDN, srv.TargetBaseDN))
	writeFile(t, filepath.Join(dir, "rules.yaml"), ldapRules)
	t.Setenv("IDSYNC_TEST_LDAP_PASSWORD", srv.Password)
	ctx := t.Context()
	g := &globalFlags{config: cfgPath}
	app, err := openApp(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	csNames := func() string {
		t.Helper()
		if _, err := app.engine.Run(ctx, "src", engine.FullImport, engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		var names []string
		err := app.store.ScanCS(ctx, "src", func(o *store.CSObject) error {
			if !o.Deleted {
				names = append(names, o.Object.Attrs.First("cn"))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(names, " ")
	}
	if got := csNames(); !strings.Contains(got, "web2") || !strings.Contains(got, "web0") {
		t.Fatalf("first import: %s", got)
	}
	h, err := auth.HashPassword(webTenantPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, role string }{{"ann", auth.RoleAdmin}, {"otto", auth.RoleOperator}, {"bea", auth.RoleBrowse}} {
		if err := app.store.PutUser(ctx, &store.User{Name: u.name, Role: u.role, PasswordHash: h, Created: time.Now(), Modified: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	s := &scheduler.Scheduler{Engine: app.engine, Store: app.store, Lock: func() (func(), error) { return app.lock(time.Hour) }}
	o := web.Options{Store: app.store, Engine: app.engine, Rules: app.rules, Config: app.cfg, Version: "test"}
	if err := configWebOptions(g, app, s, &o); err != nil {
		t.Fatal(err)
	}
	ws, err := web.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := &tenantConsole{t: t, dir: dir, st: app.store, srv: httptest.NewServer(ws.Handler())}
	t.Cleanup(c.srv.Close)

	ann, otto, bea := c.login("ann"), c.login("otto"), c.login("bea")
	page := bea.get("/connectors/src")
	if page.code != http.StatusOK || !strings.Contains(page.body, `value="`+leavers+`"`) || strings.Contains(page.body, "Save the OU selection") ||
		!regexp.MustCompile(`(?s)name="sel" value="`+regexp.QuoteMeta(leavers)+`" checked disabled`).MatchString(page.body) {
		t.Fatalf("the browse user's connector page:\n%s", page.body)
	}
	page = ann.get("/connectors/src")
	if !strings.Contains(page.body, "Save the OU selection of "+srv.BaseDN) || !strings.Contains(page.body, `class="subtree subtree-some"`) {
		t.Fatalf("the admin's connector page:\n%s", page.body)
	}
	if r := bea.get("/api/v1/connectors/src/containers"); r.code != http.StatusOK || !strings.Contains(r.body, `"subtree": "some"`) {
		t.Errorf("GET containers: %d %s", r.code, r.body)
	}
	if r := bea.get("/api/v1/connectors/dst/containers"); r.code != http.StatusOK {
		t.Errorf("GET containers of dst: %d %s", r.code, r.body)
	}

	// The form as the admin's browser sends it: every node, the ticked
	// ones; leavers unticked.
	form := url.Values{}
	for _, m := range regexp.MustCompile(`name="node" value="([^"]+)"`).FindAllStringSubmatch(page.body, -1) {
		form.Add("node", m[1])
	}
	for _, m := range regexp.MustCompile(`name="sel" value="([^"]+)" checked`).FindAllStringSubmatch(page.body, -1) {
		if m[1] != leavers {
			form.Add("sel", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`name="new" value="([^"]+)" checked`).FindAllStringSubmatch(page.body, -1) {
		form.Add("new", m[1])
	}
	console := filepath.Join(dir, "idsync.console.yaml")
	for _, tc := range []struct {
		who  *browser
		csrf string
		want int
	}{
		{c.anonymous(), "", http.StatusSeeOther},
		{bea, "", http.StatusForbidden},
		{otto, "", http.StatusForbidden},
		{ann, "wrong", http.StatusForbidden},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if tc.csrf != "" {
			f.Set("csrf", tc.csrf)
		}
		if r := tc.who.form("POST", "/connectors/src/containers", f); r.code != tc.want {
			t.Errorf("POST containers: %d, want %d", r.code, tc.want)
		}
		if _, err := os.Stat(console); err == nil {
			t.Fatal("a refused request wrote the console-managed file")
		}
	}
	if r := ann.form("POST", "/connectors/src/containers", form); r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "OU+selection+saved") {
		t.Fatalf("admin's save: %d %s %s", r.code, r.header.Get("Location"), r.body)
	}
	if data, err := os.ReadFile(console); err != nil || !strings.Contains(string(data), leavers) {
		t.Fatalf("%s: %v\n%s", console, err, data)
	}
	if got := csNames(); strings.Contains(got, "web2") || !strings.Contains(got, "web0") || !strings.Contains(got, "web1") {
		t.Errorf("the full import after the save brings %q; want web0 and web1, not web2 (in leavers)", got)
	}
	if page := ann.get("/connectors/src"); !regexp.MustCompile(`name="sel" value="`+regexp.QuoteMeta(leavers)+`">`).MatchString(page.body) ||
		!strings.Contains(page.body, "exclude:") || !strings.Contains(page.body, "config.containers: set from the console, in idsync.console.yaml") {
		t.Errorf("the page after the save shows leavers selected, or the properties lack the exclusion:\n%s", page.body)
	}
	// Refused: a container that is not in the tree; nothing changes.
	before, _ := os.ReadFile(console)
	if r := ann.form("POST", "/connectors/src/containers", url.Values{"node": {"ou=ghost," + people}, "sel": {"ou=ghost," + people}}); r.code != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "not in the OU tree") {
		t.Errorf("a container not in the tree: %d %s", r.code, r.body)
	}
	if after, _ := os.ReadFile(console); string(after) != string(before) {
		t.Error("a refused save rewrote the file")
	}
	// The API: select leavers again.
	r := ann.send("PUT", "/api/v1/connectors/src/containers", "application/json", strings.NewReader(`{"`+leavers+`": {"selected": true}}`))
	if r.code != http.StatusOK {
		t.Fatalf("PUT containers: %d %s", r.code, r.body)
	}
	if got := csNames(); !strings.Contains(got, "web2") {
		t.Errorf("after selecting leavers again the import brings %q", got)
	}
	es := c.audit("containers")
	outcomes := map[string]bool{}
	for _, e := range es {
		outcomes[e.User+" "+e.Outcome] = true
	}
	if !outcomes["ann ok"] || !outcomes["ann failed"] || len(c.audit("denied")) < 3 {
		t.Errorf("audit: containers %v, denied %d", outcomes, len(c.audit("denied")))
	}
}
