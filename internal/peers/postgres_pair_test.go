package peers

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPostgresPair checks the pair: the standby replicates synchronously
// (a committed row is on the standby, which refuses writes), the DSN
// reaches the primary; once the primary is killed and the standby
// promoted, the same DSN reaches the new primary, which has every
// committed row and accepts writes.
func TestPostgresPair(t *testing.T) {
	start := time.Now()
	p := StartPostgresPair(t)
	t.Logf("the pair started in %s", time.Since(start).Round(time.Millisecond))
	psql := Need(t, "psql")[0]
	query := func(dsn, sql string) (string, error) {
		out, err := exec.Command(psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(dsn, sql string) string {
		t.Helper()
		out, err := query(dsn, sql)
		if err != nil {
			t.Fatalf("%s: %v: %s", sql, err, out)
		}
		return out
	}
	primary, standby := p.ServerDSN(p.PrimaryPort), p.ServerDSN(p.StandbyPort)
	if got := must(p.DSN(), "SELECT inet_server_port()"); got != itoa(p.PrimaryPort) {
		t.Fatalf("the pair's DSN reached port %s, want the primary's %d", got, p.PrimaryPort)
	}
	must(p.DSN(), "CREATE TABLE t (n int PRIMARY KEY)")
	must(p.DSN(), "INSERT INTO t SELECT generate_series(1, 100)")
	if out, err := p.psql(p.PrimaryPort, "SELECT application_name, sync_state FROM pg_stat_replication;\n"); err != nil || strings.TrimSpace(out) != "walreceiver|sync" {
		t.Fatalf("pg_stat_replication on the primary: %v: %q, want the standby as synchronous", err, out)
	}
	// Synchronous: what the primary acknowledged is on the standby (its
	// replay follows at once; give it a moment).
	if got := waitFor(t, func() string { out, _ := query(standby, "SELECT count(*) FROM t"); return out }, "100"); got != "100" {
		t.Fatalf("the standby has %s rows, want 100", got)
	}
	if out, err := query(standby, "INSERT INTO t VALUES (0)"); err == nil || !strings.Contains(out, "read-only") {
		t.Fatalf("a write on the standby: %v: %s", err, out)
	}

	p.KillPrimary(t)
	if out, err := query(primary, "SELECT 1"); err == nil {
		t.Fatalf("the killed primary answers: %s", out)
	}
	if out, err := query(p.DSN(), "SELECT 1"); err == nil || !strings.Contains(out, "read-only") && !strings.Contains(out, "read-write") {
		t.Fatalf("before the promotion, the pair's DSN (read-write) reached a server: %v: %s", err, out)
	}
	start = time.Now()
	p.Promote(t)
	t.Logf("the standby was promoted in %s", time.Since(start).Round(time.Millisecond))
	if got := must(p.DSN(), "SELECT inet_server_port()"); got != itoa(p.StandbyPort) {
		t.Fatalf("after the promotion the pair's DSN reached port %s, want the standby's %d", got, p.StandbyPort)
	}
	if got := must(p.DSN(), "SELECT count(*) FROM t"); got != "100" {
		t.Fatalf("the new primary has %s rows, want 100", got)
	}
	must(p.DSN(), "INSERT INTO t VALUES (101)") // no synchronous standby required any more
}

func itoa(n int) string { return strconv.Itoa(n) }

// waitFor returns get's value once it is want, or its last after 10 s.
func waitFor(t *testing.T, get func() string, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := get()
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}
