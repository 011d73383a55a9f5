package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/web"
)

// TestConsoleAppToggle: with idsync serve's own options (configWebOptions,
// the reload, provisioning.Serve on the applications as now configured)
// and a SCIM server: the admin turns the application off on its page —
// no cycle runs while it is off, nothing is deprovisioned — assigns a user
// through the API, which the engine's rules have at once, and turns it on:
// the next cycle provisions the user.
func TestConsoleAppToggle(t *testing.T) {
	srv := peers.SCIM(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfgPath, "dataDir: .\n")
	t.Setenv("CRM_SCIM_TOKEN", srv.Token)
	writeFile(t, filepath.Join(dir, "provisioning.yaml"), fmt.Sprintf(`
applications:
  - name: crm
    interval: 500ms
    scim: {url: %q, auth: {token: "${CRM_SCIM_TOKEN}"}}
    assignments:
      groups: [{displayName: Sales}]
    mappings:
      - {target: userName, source: accountName, matching: true}
      - {target: displayName, source: displayName}
`, srv.URL))
	ctx := t.Context()
	g := &globalFlags{config: cfgPath}
	app, err := openApp(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	var b store.Batch
	for _, n := range []string{"ann", "bob", "dan"} {
		b.PutMV = append(b.PutMV, &store.MVObject{ID: "mv-" + n, Type: "person", Modified: time.Now(),
			Attrs: model.Attrs{"accountName": model.Str(n), "displayName": model.Str(strings.ToUpper(n))}})
	}
	b.PutMV = append(b.PutMV, &store.MVObject{ID: "mv-sales", Type: "group", Modified: time.Now(),
		Attrs: model.Attrs{"displayName": model.Str("Sales"), "member": model.Ref("mv-ann", "mv-bob")}})
	h, err := auth.HashPassword(webTenantPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := app.store.PutUser(ctx, &store.User{Name: "ann", Role: auth.RoleAdmin, PasswordHash: h, Created: time.Now(), Modified: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := &scheduler.Scheduler{Engine: app.engine, Store: app.store, Lock: func() (func(), error) { return app.lock(time.Hour) }}
	o := web.Options{Store: app.store, Engine: app.engine, Rules: app.rules, Apps: app.apps, DataDir: app.cfg.DataDir, Config: app.cfg, Version: "test"}
	if err := configWebOptions(g, app, s, &o); err != nil {
		t.Fatal(err)
	}
	ws, err := web.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := &tenantConsole{t: t, dir: dir, st: app.store, srv: httptest.NewServer(ws.Handler())}
	t.Cleanup(c.srv.Close)

	cycles := make(chan *provisioning.Result, 100)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		provisioning.Serve(sctx, app.currentApps, app.engine, app.cfg.DataDir, func() (func(), error) { return app.lock(time.Hour) },
			func(r *provisioning.Result, err error) {
				if err != nil {
					t.Errorf("cycle: %v", err)
				}
				cycles <- r
			})
	}()
	defer func() { stop(); <-done }()
	next := func(what string) *provisioning.Result {
		t.Helper()
		select {
		case r := <-cycles:
			return r
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no cycle in 30 s", what)
			return nil
		}
	}
	if r := next("first cycle"); r.Created != 3 { // ann, bob and the group Sales
		t.Fatalf("first cycle: %+v", r)
	}

	ann := c.login("ann")
	// The progress part and API between two cycles (every 500 ms): the
	// last cycle's runs of the engine, in order.
	var prog web.AppProgress
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := ann.get("/api/v1/applications/crm/progress")
		if r.code != http.StatusOK || json.Unmarshal(r.raw, &prog) != nil {
			t.Fatalf("progress: %d %s", r.code, r.body)
		}
		if !prog.Running || time.Now().After(deadline) {
			break
		}
	}
	var steps []string
	for _, r := range prog.Runs {
		steps = append(steps, r.Profile)
	}
	if prog.Running || prog.Errors != 0 || !regexp.MustCompile(`^full-import (full|delta)-sync export$`).MatchString(strings.Join(steps, " ")) || prog.Finished == nil {
		t.Fatalf("progress between cycles: %+v (runs %v)", prog, steps)
	}
	// The part, asked for now, may find the next cycle running.
	if part := ann.get("/applications/crm/progress"); !regexp.MustCompile(`(No cycle is running|state-running)(.|\n)*href="/runs/\d+"`).MatchString(part.body) {
		t.Errorf("the progress part between cycles:\n%s", part.body)
	}

	if r := ann.form("POST", "/applications/crm/provisioning", url.Values{"provisioning": {"off"}}); r.code != http.StatusSeeOther {
		t.Fatalf("provisioning off: %d %s", r.code, r.body)
	}
	for len(cycles) > 0 {
		<-cycles // a cycle that ended before the reload took the run lock
	}
	select {
	case r := <-cycles:
		t.Fatalf("a cycle ran while provisioning was off: %+v", r)
	case <-time.After(3 * time.Second): // six intervals
	}
	if page := ann.get("/applications/crm"); !strings.Contains(page.body, `id="provisioning-on"`) {
		t.Errorf("the page after off:\n%s", page.body)
	}
	if r := ann.send("POST", "/api/v1/applications/crm/assign", "application/json", strings.NewReader(`{"user": {"value": "dan"}}`)); r.code != http.StatusOK {
		t.Fatalf("assign dan: %d %s", r.code, r.body)
	}
	app.engineMu.RLock()
	var assigned bool
	for _, r := range app.engine.Rules.Rules {
		if r.Name == provisioning.UsersRuleName("crm") {
			for _, a := range r.Assignments {
				assigned = assigned || a == (rules.Assignment{Attribute: "accountName", Value: "dan", Role: "User"})
			}
		}
	}
	app.engineMu.RUnlock()
	if !assigned {
		t.Error("the engine's rules lack dan's assignment after the reload")
	}
	if r := ann.form("POST", "/applications/crm/provisioning", url.Values{"provisioning": {"on"}}); r.code != http.StatusSeeOther {
		t.Fatalf("provisioning on: %d %s", r.code, r.body)
	}
	if r := next("after on"); r.Created != 1 || r.Disabled+r.Deleted != 0 {
		t.Errorf("the cycle after on: %+v", r)
	}
}
