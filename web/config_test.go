package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// configurable gives the site a configuration file (its connectors hr and
// cloud, its rules testRules) and a Reload like idsync serve's: the
// configuration and rules loaded again, checked, and given to the engine.
func (s *site) configurable() string {
	s.t.Helper()
	dir := s.t.TempDir()
	p := filepath.Join(dir, "idsync.yaml")
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(testRules), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("connectors:\n  - {name: hr, type: memory}\n  - {name: cloud, type: memory}\nrules: [rules.yaml]\n"), 0o600); err != nil {
		s.t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		s.t.Fatal(err)
	}
	check := func(rs *rules.RuleSet) error {
		var errs []error
		for _, e := range rs.Validate(rules.ValidateEnv{}) {
			if !rules.IsWarning(e) {
				errs = append(errs, e)
			}
		}
		return errors.Join(errs...)
	}
	s.web.cfgMu.Lock()
	s.web.o.Config, s.web.o.CheckRules = cfg, check
	s.web.o.Reload = func(context.Context) (*config.Config, *rules.RuleSet, error) {
		cfg, err := config.Load(p)
		if err != nil {
			return nil, nil, err
		}
		rs, err := cfg.LoadRules()
		if err != nil {
			return nil, nil, err
		}
		if err := check(rs); err != nil {
			return nil, nil, err
		}
		s.e.Rules = rs
		return cfg, rs, nil
	}
	s.web.cfgMu.Unlock()
	return p
}

func (s *site) ruleState(name string) *rules.Rule {
	for _, r := range s.e.Rules.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// TestRuleEditAccess: cloning, disabling and enabling a rule (R2.8) is for
// admins, with the session's CSRF token; each change is audited, reaches
// the engine's rules, and is refused with the reason when the rule set
// would be invalid.
func TestRuleEditAccess(t *testing.T) {
	s := newSite(t)
	s.configurable()
	clients := map[string]*client{"anonymous": s.anonymous(), "browse": s.login("bea"), "operator": s.login("otto"),
		"admin": s.login("ann"), "tenant": s.login("tim")}
	const (
		redirect = http.StatusSeeOther
		denied   = http.StatusForbidden
		unauth   = http.StatusUnauthorized
	)
	for _, tc := range []struct {
		method, path string
		form         url.Values
		want         [5]int // anonymous, browse, operator, admin, tenant
	}{
		{"POST", "/rules/disable", url.Values{"name": {"out-user"}}, [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/rules/enable", url.Values{"name": {"out-user"}}, [5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/rules/clone", url.Values{"name": {"out-user"}, "newName": {"out-user (custom)"}, "precedence": {"50"}, "disableOriginal": {"1"}},
			[5]int{redirect, denied, denied, redirect, denied}},
		{"POST", "/api/v1/rules/disable", nil, [5]int{unauth, denied, denied, 0, denied}},
	} {
		for i, who := range []string{"anonymous", "browse", "operator", "admin", "tenant"} {
			if tc.want[i] == 0 {
				continue
			}
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			resp := clients[who].do(tc.method, tc.path, form)
			if resp.StatusCode != tc.want[i] {
				t.Errorf("%s %s as %s: %d, want %d: %s", tc.method, tc.path, who, resp.StatusCode, tc.want[i], resp.Body)
			}
		}
	}
	// The admin's clone is in the engine's rules, the original disabled.
	if c, o := s.ruleState("out-user (custom)"), s.ruleState("out-user"); c == nil || c.Precedence != 50 || c.Disabled || o == nil || !o.Disabled {
		t.Fatalf("after the clone: clone %+v, original %+v", c, o)
	}
	admin := clients["admin"]
	body := admin.do("GET", "/rules/detail?name="+url.QueryEscape("out-user (custom)"), nil).Body
	if !strings.Contains(body, "idsync.console-rules.yaml") || !strings.Contains(body, `action="/rules/disable"`) {
		t.Errorf("the clone's page:\n%s", body)
	}
	if body := clients["operator"].do("GET", "/rules/detail?name=out-user", nil).Body; strings.Contains(body, `action="/rules/clone"`) {
		t.Error("an operator is offered the clone form")
	}
	// Refused: a precedence another enabled rule has; nothing changes.
	resp := admin.do("POST", "/rules/clone", url.Values{"name": {"in-user"}, "newName": {"in-user (custom)"}, "precedence": {"50"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.Body, "would not be valid") || !strings.Contains(resp.Body, "precedence") {
		t.Errorf("clone at a taken precedence: %d %s", resp.StatusCode, resp.Body)
	}
	if s.ruleState("in-user (custom)") != nil {
		t.Error("a refused clone reached the engine")
	}
	// Without the CSRF token: 403.
	resp = admin.do("POST", "/rules/enable", url.Values{"name": {"out-user"}, "csrf": {"wrong"}})
	if resp.StatusCode != denied || !s.ruleState("out-user").Disabled {
		t.Errorf("enable without the CSRF token: %d", resp.StatusCode)
	}
	// The API with the session's CSRF header.
	req, _ := http.NewRequest("POST", s.srv.URL+"/api/v1/rules/enable", strings.NewReader(`{"name": "out-user"}`))
	req.Header.Set("X-CSRF-Token", admin.csrf)
	raw, err := admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readResp(raw); raw.StatusCode != http.StatusOK || !strings.Contains(got, `"name": "out-user"`) || s.ruleState("out-user").Disabled {
		t.Errorf("API enable: %d %s", raw.StatusCode, got)
	}
	es, err := s.st.Audit(t.Context(), store.AuditFilter{User: "ann", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range es {
		seen[e.Action+" "+e.Outcome] = e.Detail
	}
	for _, want := range []string{"rule-clone ok", "rule-clone failed", "rule-disable ok", "rule-enable ok"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("audit log lacks %q: %v", want, seen)
		}
	}
}

// TestRuleEditWithoutReload: a console started without Options.Reload
// shows no edit form and refuses the change.
func TestRuleEditWithoutReload(t *testing.T) {
	s := newSite(t)
	admin := s.login("ann")
	if body := admin.do("GET", "/rules/detail?name=out-user", nil).Body; strings.Contains(body, `action="/rules/clone"`) {
		t.Error("clone form without Reload")
	}
	if resp := admin.do("POST", "/rules/disable", url.Values{"name": {"out-user"}}); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("disable without Reload: %d", resp.StatusCode)
	}
}
