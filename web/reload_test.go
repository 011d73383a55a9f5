package web

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// TestReloadWhilePagesAreRead: the console reloads the configuration (a
// rule disabled and enabled again) while other users read the pages that
// use the engine's rules and connectors — the object preview, the
// dashboard and connector pages (each connector's run profiles), the rule
// pages, the applications. The reload replaces the engine's rules and
// reopens a connector, as idsync serve's does, under Options.EngineMu; run
// with -race, a page reading them without it fails the test.
func TestReloadWhilePagesAreRead(t *testing.T) {
	s := newSite(t)
	p := s.configurable()
	var mv string
	_ = s.st.ScanMV(t.Context(), func(m *store.MVObject) error { mv = m.ID; return nil })
	mu := s.web.o.EngineMu
	s.web.cfgMu.Lock()
	s.web.o.Reload = func(context.Context) (*config.Config, *rules.RuleSet, error) {
		cfg, err := config.Load(p)
		if err != nil {
			return nil, nil, err
		}
		rs, err := cfg.LoadRules()
		if err != nil {
			return nil, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		s.e.Rules = rs
		hr := s.e.Connectors["hr"]
		conn := hr.Conn                    // reopened with its settings: the
		hr.Conn, hr.Partitions = conn, nil // same connector, written again
		return cfg, rs, nil
	}
	s.web.cfgMu.Unlock()
	admin, browse := s.login("ann"), s.login("bea")
	pages := []string{"/metaverse/" + mv + "/preview", "/api/v1/metaverse/" + mv + "/preview", "/", "/connectors/hr",
		"/api/v1/connectors", "/rules", "/api/v1/rules", "/rules/detail?name=out-user", "/applications", "/api/v1/applications"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, page := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp := browse.do("GET", page, nil); resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s during reloads: %d %s", page, resp.StatusCode, resp.Body)
					return
				}
			}
		}()
	}
	for i := range 6 {
		action := map[int]string{0: "disable", 1: "enable"}[i%2]
		if resp := admin.do("POST", "/rules/"+action, url.Values{"name": {"out-user"}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d %s", action, resp.StatusCode, resp.Body)
		}
	}
	close(stop)
	wg.Wait()
	if s.ruleState("out-user").Disabled {
		t.Error("out-user is disabled after an even number of changes")
	}
}
