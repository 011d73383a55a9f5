package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

// liveSite is `idsync serve` in live mode between two slapd databases.
type liveSite struct {
	srv *peers.LDAPServer
	a   *ldap.Conn
	cfg string
	cmd *exec.Cmd
	log *strings.Builder
}

func startLive(tb testing.TB, interval string) *liveSite {
	tb.Helper()
	srv := peers.Slapd(tb)
	a, err := ldap.DialURL(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	if err := a.Bind(srv.BindDN, srv.Password); err != nil {
		tb.Fatal(err)
	}
	req := ldap.NewAddRequest("cn=live,ou=people,"+srv.BaseDN, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("sn", []string{"Live"})
	req.Attribute("mail", []string{"v0@example.test"})
	if err := a.Add(req); err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(tb, cfg, fmt.Sprintf(`dataDir: .
connectors:
  - {name: src, type: ldap, config: {url: %s, bindDN: %q, password: %q, baseDN: %q}}
  - {name: dst, type: ldap, config: {url: %s, bindDN: %q, password: %q, baseDN: %q, containers: {include: ["ou=people,%s"]}}}
rules: [rules.yaml]
scheduler: {order: [src, dst], liveInterval: %s}
`, srv.URL, srv.BindDN, srv.Password, srv.BaseDN, srv.URL, srv.BindDN, srv.Password, srv.TargetBaseDN, srv.TargetBaseDN, interval))
	writeFile(tb, filepath.Join(dir, "rules.yaml"), ldapRules)
	s := &liveSite{srv: srv, a: a, cfg: cfg, log: &strings.Builder{}}
	s.cmd = exec.Command(bin, "--config", cfg, "--log-level", "info", "serve", "--listen", "")
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
	})
	if _, ok := s.waitMail(tb, "v0@example.test", 30*time.Second); !ok {
		tb.Fatalf("serve did not provision the user within 30s:\n%s", s.log.String())
	}
	return s
}

// waitMail polls the target until cn=live has the mail, and returns how long
// that took.
func (s *liveSite) waitMail(tb testing.TB, mail string, timeout time.Duration) (time.Duration, bool) {
	tb.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		res, err := s.a.Search(ldap.NewSearchRequest("cn=live,ou=people,"+s.srv.TargetBaseDN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"mail"}, nil))
		if err == nil && len(res.Entries) == 1 && res.Entries[0].GetAttributeValue("mail") == mail {
			return time.Since(start), true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start), false
}

func (s *liveSite) setMail(tb testing.TB, mail string) {
	tb.Helper()
	m := ldap.NewModifyRequest("cn=live,ou=people,"+s.srv.BaseDN, nil)
	m.Replace("mail", []string{mail})
	if err := s.a.Modify(m); err != nil {
		tb.Fatal(err)
	}
}

// TestLiveMode: under `idsync serve` with scheduler.liveInterval, a change
// in the source directory reaches the target between cycles (the cycle
// interval is 30 minutes), and polls that find nothing leave no runs in the
// history.
func TestLiveMode(t *testing.T) {
	s := startLive(t, "200ms")
	for i := 1; i <= 3; i++ {
		mail := fmt.Sprintf("v%d@example.test", i)
		s.setMail(t, mail)
		if d, ok := s.waitMail(t, mail, 20*time.Second); !ok {
			t.Fatalf("change %d did not reach the target in %s:\n%s", i, d, s.log.String())
		}
	}
	time.Sleep(time.Second) // five empty polls
	out := mustIdsync(t, "--config", s.cfg, "runs", "--limit", "0")
	// The first cycle (3 imports, 2 syncs, 1 export) and, per change, one
	// import, one sync and one export, plus the target's confirming imports.
	if n := strings.Count(out, "\nrun ") + 1; n > 30 {
		t.Errorf("%d runs in the history: empty polls are being recorded\n%s", n, out)
	}
}

// BenchmarkLivePropagation measures how long a change in slapd takes to
// reach the target directory under `idsync serve` in live mode (target:
// < 2 s p50). It reports the median and the 95th percentile.
func BenchmarkLivePropagation(b *testing.B) {
	s := startLive(b, "250ms")
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		mail := fmt.Sprintf("b%d@example.test", i)
		s.setMail(b, mail)
		d, ok := s.waitMail(b, mail, 30*time.Second)
		if !ok {
			b.Fatalf("change %d did not arrive", i)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
}
