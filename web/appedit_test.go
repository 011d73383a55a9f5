package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

const editableApps = `applications:
  - name: crm
    scim: {url: "http://127.0.0.1:1/scim/v2", auth: {token: t}, maxRetries: 0, timeout: 2s}
    appRoles: [{name: User}, {name: Admin}]
    assignments: {groups: [{displayName: Sales}]}
    mappings: [{target: userName, source: mail, matching: true}]
`

// editableApps gives the site a provisioning file next to its configuration
// and a Reload that loads both again (as idsync serve's does), the
// applications through Options.Applications; the metaverse gets the groups
// Sales and Marketing and a person with an accountName. It returns the
// provisioning file's path.
func (s *site) editableApps() string {
	s.t.Helper()
	cfgPath := s.configurable()
	path := filepath.Join(filepath.Dir(cfgPath), "provisioning.yaml")
	if err := os.WriteFile(path, []byte(editableApps), 0o600); err != nil {
		s.t.Fatal(err)
	}
	apps, err := provisioning.Load(path)
	if err != nil {
		s.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := s.st.Apply(s.t.Context(), &store.Batch{PutMV: []*store.MVObject{
		{ID: "mv-g-sales", Type: "group", Attrs: model.Attrs{"displayName": model.Str("Sales")}, Modified: now},
		{ID: "mv-g-marketing", Type: "group", Attrs: model.Attrs{"displayName": model.Str("Marketing")}, Modified: now},
		{ID: "mv-grace", Type: "person", Attrs: model.Attrs{"displayName": model.Str("Grace Hopper"), "accountName": model.Str("grace")}, Modified: now},
	}}); err != nil {
		s.t.Fatal(err)
	}
	var mu sync.Mutex
	s.web.cfgMu.Lock()
	reload := s.web.o.Reload
	s.web.o.Applications = func() *provisioning.File { mu.Lock(); defer mu.Unlock(); return apps }
	s.web.o.Reload = func(ctx context.Context) (*config.Config, *rules.RuleSet, error) {
		f, err := provisioning.Load(path)
		if err != nil {
			return nil, nil, err
		}
		cfg, rs, err := reload(ctx)
		if err != nil {
			return nil, nil, err
		}
		mu.Lock()
		apps = f
		mu.Unlock()
		return cfg, rs, nil
	}
	s.web.cfgMu.Unlock()
	return path
}

// TestAppEditAccess: provisioning on/off, assign and unassign are for
// admins, with the session's CSRF token (the API's header); each change is
// audited, written to provisioning.console.yaml (provisioning.yaml stays
// as it was) and in use once the request answers; the progress part and
// API are for every role.
func TestAppEditAccess(t *testing.T) {
	s := newSite(t)
	path := s.editableApps()
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
		body         string // an API call's JSON, sent with the session's CSRF header
		want         [5]int // anonymous, browse, operator, admin, tenant
	}{
		{"POST", "/applications/crm/provisioning", url.Values{"provisioning": {"off"}}, "", [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/applications/crm/provisioning", url.Values{"provisioning": {"on"}}, "", [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/applications/crm/assign", url.Values{"mvid": {"mv-g-marketing"}, "role": {"Admin"}}, "", [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/applications/crm/unassign", url.Values{"kind": {"group"}, "displayName": {"Marketing"}}, "", [5]int{redirect, denied, denied, redirect, denied}},
		{"PUT", "/api/v1/applications/crm/provisioning", nil, `{"provisioning": "off"}`, [5]int{unauth, denied, denied, ok, denied}},
		{"POST", "/api/v1/applications/crm/assign", nil, `{"user": {"value": "grace"}}`, [5]int{unauth, denied, denied, ok, denied}},
		{"POST", "/api/v1/applications/crm/unassign", nil, `{"group": {"displayName": "Sales"}}`, [5]int{unauth, denied, denied, ok, denied}},
		{"GET", "/applications/crm/progress", nil, "", [5]int{redirect, ok, ok, ok, denied}},
		{"GET", "/api/v1/applications/crm/progress", nil, "", [5]int{unauth, ok, ok, ok, denied}},
	} {
		for i, who := range []string{"anonymous", "browse", "operator", "admin", "tenant"} {
			c := clients[who]
			var code int
			var body string
			if tc.body != "" {
				req, _ := http.NewRequest(tc.method, s.srv.URL+tc.path, strings.NewReader(tc.body))
				req.Header.Set("X-CSRF-Token", c.csrf)
				raw, err := c.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				code, body = raw.StatusCode, readResp(raw)
			} else {
				form := tc.form
				if form != nil {
					form = url.Values{}
					for k, v := range tc.form {
						form[k] = v
					}
				}
				resp := c.do(tc.method, tc.path, form)
				code, body = resp.StatusCode, resp.Body
			}
			if code != tc.want[i] {
				t.Errorf("%s %s as %s: %d, want %d: %s", tc.method, tc.path, who, code, tc.want[i], body)
			}
		}
	}
	// Where the changes went: crm is off, Grace assigned, Sales (of
	// provisioning.yaml) unassigned, Marketing assigned and unassigned.
	if data, _ := os.ReadFile(path); string(data) != editableApps {
		t.Errorf("provisioning.yaml was written:\n%s", data)
	}
	crm, err := s.web.currentApps().App("crm")
	if err != nil {
		t.Fatal(err)
	}
	if crm.On() || len(crm.Assignments.Groups) != 0 || len(crm.Assignments.Users) != 1 || crm.Assignments.Users[0].Value != "grace" {
		t.Errorf("crm in use after the changes: provisioning %s, assignments %+v", crm.Provisioning, crm.Assignments)
	}
	onDisk, err := provisioning.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := onDisk.App("crm"); a.On() || len(a.Assignments.Users) != 1 {
		t.Errorf("crm as loaded from the files: %+v", a)
	}
	admin := clients["admin"]
	// Without the CSRF token: refused, nothing changes.
	if resp := admin.do("POST", "/applications/crm/provisioning", url.Values{"provisioning": {"on"}, "csrf": {"wrong"}}); resp.StatusCode != denied {
		t.Errorf("provisioning on without the CSRF token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", s.srv.URL+"/api/v1/applications/crm/assign", strings.NewReader(`{"group": {"displayName": "Sales"}}`))
	raw, err := admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readResp(raw); raw.StatusCode != denied {
		t.Errorf("API assign without the CSRF header: %d", raw.StatusCode)
	}
	if crm, _ := s.web.currentApps().App("crm"); crm.On() || len(crm.Assignments.Groups) != 0 {
		t.Errorf("a refused request changed crm: %+v", crm)
	}
	// Refused with the reason: a group that is not in the metaverse, a
	// role the application lacks, an unassign of what is not assigned.
	for _, tc := range []struct{ body, path, want string }{
		{`{"group": {"displayName": "Finance"}}`, "assign", `no metaverse group has displayName \"Finance\"`},
		{`{"group": {"displayName": "Marketing", "role": "Boss"}}`, "assign", `role \"Boss\" is not a role of the application`},
		{`{"group": {"displayName": "Marketing"}}`, "unassign", `is not assigned to crm`},
		{`{"group": {}}`, "assign", "exactly one of displayName"},
	} {
		req, _ := http.NewRequest("POST", s.srv.URL+"/api/v1/applications/crm/"+tc.path, strings.NewReader(tc.body))
		req.Header.Set("X-CSRF-Token", admin.csrf)
		raw, err := admin.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readResp(raw); raw.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want 422 with %q", tc.path, tc.body, raw.StatusCode, body, tc.want)
		}
	}
	es, err := s.st.Audit(t.Context(), store.AuditFilter{User: "ann", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Action+" "+e.Outcome+" "+e.Detail] = true
	}
	for _, want := range []string{"app-provisioning ok provisioning off", "app-provisioning ok provisioning on", `app-assign ok group "Marketing"`,
		`app-unassign ok group "Marketing"`, `app-assign ok user accountName="grace"`, `app-unassign ok group "Sales"`} {
		if !seen[want] {
			t.Errorf("audit log lacks %q: %v", want, seen)
		}
	}
}

// TestAppPage: the admin's page offers the on/off switch with what it
// means, the assignments with their unassign buttons, and the metaverse
// lookup whose result assigns; an operator sees the state without the
// forms; the progress part follows a cycle's runs.
func TestAppPage(t *testing.T) {
	s := newSite(t)
	s.editableApps()
	admin, operator := s.login("ann"), s.login("otto")
	body := admin.do("GET", "/applications/crm?since=&find=market", nil).Body
	for _, want := range []string{`id="provisioning-off"`, "nothing is deprovisioned by turning it off", `action="/applications/crm/unassign"`,
		`name="mvid" value="mv-g-marketing"`, "<option>Admin</option>", `hx-get="/applications/crm/progress"`, "No cycle has run yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("the admin's page lacks %q", want)
		}
	}
	body = operator.do("GET", "/applications/crm?since=&find=market", nil).Body
	if strings.Contains(body, `action="/applications/crm/provisioning"`) || strings.Contains(body, `name="mvid"`) || !strings.Contains(body, "Sales") {
		t.Errorf("the operator's page offers changes or lacks the assignments:\n%s", body)
	}
	if r := admin.do("POST", "/applications/crm/assign", url.Values{"mvid": {"mv-g-marketing"}, "role": {"Admin"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", r.StatusCode, r.Body)
	}
	if r := admin.do("POST", "/applications/crm/provisioning", url.Values{"provisioning": {"off"}}); r.StatusCode != http.StatusSeeOther ||
		!strings.Contains(r.Header.Get("Location"), "nothing+was+deprovisioned") {
		t.Fatalf("provisioning off: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	body = admin.do("GET", "/applications/crm?since=", nil).Body
	if !strings.Contains(body, `id="provisioning-on"`) || !strings.Contains(body, "Marketing") {
		t.Errorf("after off and the assign, the page:\n%s", body)
	}

	// A cycle: its import and sync done, its export running.
	ctx := t.Context()
	started := time.Now().UTC().Add(-time.Minute)
	var ids []int64
	for i, p := range []string{"full-import", "delta-sync", "export"} {
		r := &store.Run{Connector: "crm", Profile: p, Started: started.Add(time.Duration(i) * time.Second), Status: store.RunRunning}
		if err := s.st.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		if p != "export" {
			fin := r.Started.Add(time.Second / 2)
			r.Status, r.Finished, r.Counts.Errors = store.RunSuccess, &fin, 1
		} else {
			r.Done, r.Total, r.Counts.Errors = 40, 160, 2
		}
		if err := s.st.UpdateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var p AppProgress
	if err := json.Unmarshal([]byte(operator.do("GET", "/api/v1/applications/crm/progress", nil).Body), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Running || p.Step != "export" || p.Run != ids[2] || p.Done != 40 || p.Total != 160 || p.Errors != 4 || len(p.Runs) != 3 || !p.Started.Equal(started) {
		t.Errorf("progress of the running export: %+v", p)
	}
	part := operator.do("GET", "/applications/crm/progress", nil).Body
	for _, want := range []string{"step <strong>export</strong>", "40 of 160 objects (25%)", "4 errors so far", `hx-trigger="every 3s"`} {
		if !strings.Contains(part, want) {
			t.Errorf("the progress part lacks %q:\n%s", want, part)
		}
	}
	// It ends: the part links to its runs.
	runs, _ := s.st.Runs(ctx, store.RunFilter{ID: ids[2]})
	fin := time.Now().UTC()
	runs[0].Status, runs[0].Finished = store.RunSuccess, &fin
	if err := s.st.UpdateRun(ctx, runs[0]); err != nil {
		t.Fatal(err)
	}
	part = operator.do("GET", "/applications/crm/progress", nil).Body
	for _, id := range ids {
		if !strings.Contains(part, fmt.Sprintf(`href="/runs/%d"`, id)) {
			t.Errorf("the ended cycle's part lacks the link to run %d:\n%s", id, part)
		}
	}
	if strings.Contains(part, "state-running") || !strings.Contains(part, "No cycle is running") {
		t.Errorf("the ended cycle is shown running:\n%s", part)
	}
}
