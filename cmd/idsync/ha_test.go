package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/metrics"
)

// haTarget is the slow target of TestHAFailover: a PostgreSQL table whose
// trigger takes 10 ms per row written and logs every committed write with
// the writer's application_name (which idsync process sent it) and the
// time. A write rolled back (its process killed mid-statement) leaves no
// log row.
const haTarget = `
CREATE TABLE accounts (id text PRIMARY KEY, email text NOT NULL UNIQUE, display_name text);
CREATE TABLE ops (n bigserial PRIMARY KEY, op text NOT NULL, id text NOT NULL, app text NOT NULL, at timestamptz NOT NULL);
CREATE FUNCTION slow_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(0.01);
	INSERT INTO ops (op, id, app, at) VALUES (TG_OP, NEW.id, current_setting('application_name'), clock_timestamp());
	RETURN NEW;
END $$;
CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION slow_log();
`

const haRules = `rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: person
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: displayName, target: displayName}
  - name: out-app
    connector: app
    direction: outbound
    csObjectType: account
    mvObjectType: person
    linkType: Provision
    precedence: 2
    flows:
      - {type: Direct, source: employeeID, target: accountId}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: displayName, target: displayName}
`

// haServer is one `idsync serve` of the group.
type haServer struct {
	name string
	cmd  *exec.Cmd
	port int
	log  *syncBuffer
	done chan struct{}
}

func (s *haServer) health(t *testing.T) *metrics.HAHealth {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.port))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var rep metrics.HealthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("%s /healthz: %v", s.name, err)
	}
	return rep.HA
}

var activeLine = regexp.MustCompile(`time=(\S+) level=INFO msg="high availability: active, this server exports"`)

// activeSince returns when the server's log says it became active (zero
// when it did not).
func (s *haServer) activeSince(t *testing.T) time.Time {
	m := activeLine.FindStringSubmatch(s.log.String())
	if m == nil {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatalf("%s: log time %q: %v", s.name, m[1], err)
	}
	return at
}

// TestHAFailover: two `idsync serve` processes on one PostgreSQL store
// with ha.enabled export 300 accounts, in batches of 10, to a slow table.
// Mid-export the active one is killed with SIGKILL ("kill"), or cut off
// from the database ("partition": its connections to the store go silent,
// and the database drops them after its patience, 2 × takeoverAfter/6,
// while the target stays reachable). The standby takes over within
// ha.takeoverAfter, replays the journaled batch and finishes the export:
// every account is inserted exactly once, and the two processes' active
// intervals (and their writes) never overlap; a cut-off server stops
// writing within its lease's validity.
func TestHAFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test skipped in -short mode")
	}
	for _, mode := range []string{"kill", "partition"} {
		t.Run(mode, func(t *testing.T) { testHAFailover(t, mode) })
	}
}

func testHAFailover(t *testing.T, mode string) {
	const n = 300
	// IDSYNC_TEST_HA_TAKEOVER measures the failover with another
	// takeoverAfter (docs/benchmarks.md: 30s, the default).
	takeover := 6 * time.Second
	if v := os.Getenv("IDSYNC_TEST_HA_TAKEOVER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IDSYNC_TEST_HA_TAKEOVER: %v", err)
		}
		takeover = d
	}
	storeDSN, targetDSN := peers.Postgres(t), peers.Postgres(t)
	ctx := t.Context()
	tc, err := pgx.Connect(ctx, targetDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close(ctx)
	if _, err := tc.Exec(ctx, haTarget); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("employeeID,displayName,mail\n")
	for i := range n {
		fmt.Fprintf(&csv, "E%04d,Person %d,p%d@example.test\n", i, i, i)
	}
	writeFile(t, filepath.Join(dir, "hr.csv"), csv.String())
	writeFile(t, filepath.Join(dir, "rules.yaml"), haRules)
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, fmt.Sprintf(`dataDir: .
store: {type: postgres, dsn: "${IDSYNC_HA_STORE_DSN}"}
ha: {enabled: true, takeoverAfter: %s}
connectors:
  - {name: hr, type: file, config: {path: hr.csv, anchor: employeeID, objectType: person}}
  - name: app
    type: sql
    config:
      driver: postgres
      dsn: "${IDSYNC_HA_TARGET_DSN}"
      table: accounts
      objectType: account
      anchor: {column: id}
      columns:
        id: {attribute: accountId}
        email: {attribute: mail}
        display_name: {attribute: displayName}
rules: [rules.yaml]
engine: {batchSize: 10}
scheduler: {order: [hr, app]}
`, takeover))

	start := func(name, storeDSN string) *haServer {
		s := &haServer{name: name, port: peers.FreePort(t), log: &syncBuffer{}, done: make(chan struct{})}
		s.cmd = exec.Command(bin, "--config", cfg, "--log-level", "info", "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", s.port))
		s.cmd.Env = append(os.Environ(), "IDSYNC_HA_STORE_DSN="+storeDSN, "IDSYNC_HA_TARGET_DSN="+targetDSN+"&application_name="+name)
		s.cmd.Stderr = s.log
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.cmd.Wait(); close(s.done) }()
		t.Cleanup(func() {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
			if t.Failed() {
				t.Logf("log of %s:\n%s", s.name, s.log.String())
			}
		})
		return s
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var c int
		if err := tc.QueryRow(ctx, q, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	waitUntil := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	servers := map[string]*haServer{}
	var proxy *silentProxy
	if mode == "kill" {
		servers["a"], servers["b"] = start("a", storeDSN), start("b", storeDSN)
	} else {
		// a reaches the store through a proxy, and is made active first.
		u, err := url.Parse(storeDSN)
		if err != nil {
			t.Fatal(err)
		}
		proxy = startSilentProxy(t, u.Host)
		u.Host = proxy.addr
		servers["a"] = start("a", u.String())
		waitUntil("a to become active", 30*time.Second, func() bool {
			h := servers["a"].health(t)
			return h != nil && h.Role == "active"
		})
		servers["b"] = start("b", storeDSN)
	}

	// Mid-export: 95 accounts written, half of the 10th batch.
	waitUntil("95 accounts written", 40*time.Second, func() bool { return count(`SELECT count(*) FROM ops`) >= 95 })
	var activeName string
	if err := tc.QueryRow(ctx, `SELECT app FROM ops ORDER BY n LIMIT 1`).Scan(&activeName); err != nil {
		t.Fatal(err)
	}
	active, standby := servers[activeName], servers["a"]
	if activeName == "a" {
		standby = servers["b"]
	}
	if h := active.health(t); h == nil || h.Role != "active" {
		t.Errorf("/healthz of the exporting server: %+v, want role active", h)
	}
	if h := standby.health(t); h == nil || h.Role != "standby" {
		t.Errorf("/healthz of the other server: %+v, want role standby", h)
	}
	var killed time.Time // when the active one was killed or cut off
	if mode == "kill" {
		if err := active.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		killed = time.Now()
		<-active.done
	} else {
		if activeName != "a" {
			t.Fatalf("%s exports, not a (behind the proxy)", activeName)
		}
		proxy.silence()
		killed = time.Now()
		// The database drops the silent sessions after its patience
		// (tcp_user_timeout); the proxy's upstream ends stand for that.
		time.AfterFunc(2*takeover/6, proxy.dropUpstream)
	}
	before := count(`SELECT count(*) FROM accounts`)
	if before >= n {
		t.Fatalf("the export had finished (%d accounts) when its server was killed: make the target slower", before)
	}

	waitUntil("the standby to finish the export", 40*time.Second, func() bool { return count(`SELECT count(*) FROM accounts`) == n })
	var firstOp time.Time
	if err := tc.QueryRow(ctx, `SELECT min(at) FROM ops WHERE app = $1`, standby.name).Scan(&firstOp); err != nil {
		t.Fatal(err)
	}
	failover := firstOp.Sub(killed)
	t.Logf("%s: the active server stopped after %d of %d accounts; the standby wrote its first %s later (takeoverAfter %s)", mode, before, n, failover, takeover)
	if failover > takeover {
		t.Errorf("the standby exported %s after the kill, more than takeoverAfter %s", failover, takeover)
	}
	if h := standby.health(t); h == nil || h.Role != "active" {
		t.Errorf("/healthz of the standby after the takeover: %+v, want role active", h)
	}

	// Exactly once: one insert per account, the replays of the batch cut
	// short at most updates of rows that batch had written.
	inserts := count(`SELECT count(*) FROM ops WHERE op = 'INSERT'`)
	distinct := count(`SELECT count(DISTINCT id) FROM ops WHERE op = 'INSERT'`)
	updates := count(`SELECT count(*) FROM ops WHERE op = 'UPDATE'`)
	if inserts != n || distinct != n {
		t.Errorf("%d inserts of %d accounts, want each of the %d once", inserts, distinct, n)
	}
	if updates > 10 {
		t.Errorf("%d updates: more than one batch (10) replayed", updates)
	}
	t.Logf("%d inserts, %d updates (a replayed add whose row exists changes nothing)", inserts, updates)

	// Nothing left pending, no export refused (a second add of a row
	// would be refused by the table's key, and counted as an error).
	t.Setenv("IDSYNC_HA_STORE_DSN", storeDSN)
	t.Setenv("IDSYNC_HA_TARGET_DSN", targetDSN)
	if out := mustIdsync(t, "--config", cfg, "preview", "app"); strings.Count(out, "\n") != 1 {
		t.Errorf("pending exports after the takeover:\n%s", out)
	}
	// The kill landed in an export run, which the history shows
	// interrupted; no run failed or had errors.
	runs := mustIdsync(t, "--config", cfg, "runs", "--limit", "0")
	if !regexp.MustCompile(`app +export +interrupted`).MatchString(runs) || regexp.MustCompile(`(?m)failed|errors [1-9]`).MatchString(runs) {
		t.Errorf("run history:\n%s", runs)
	}

	// Never two active at once: the killed server's interval [its
	// activation, the kill] ends before the standby's begins, and so do
	// its writes.
	aFrom, bFrom := active.activeSince(t), standby.activeSince(t)
	if aFrom.IsZero() || bFrom.IsZero() {
		t.Fatalf("activation times missing from the logs: %v, %v", aFrom, bFrom)
	}
	if !bFrom.After(killed) {
		t.Errorf("the standby became active at %s, before the active one was killed at %s", bFrom, killed)
	}
	var lastA time.Time
	if err := tc.QueryRow(ctx, `SELECT max(at) FROM ops WHERE app = $1`, active.name).Scan(&lastA); err != nil {
		t.Fatal(err)
	}
	if !lastA.Before(firstOp) || firstOp.Before(bFrom) {
		t.Errorf("writes overlap: the killed server's last at %s, the standby's first at %s (active since %s)", lastA, firstOp, bFrom)
	}
	if got := count(`SELECT count(*) FROM ops WHERE app NOT IN ($1, $2)`, "a", "b"); got != 0 {
		t.Errorf("%d writes from neither server", got)
	}
	if mode == "partition" {
		// The cut-off server stopped writing within its lease's validity
		// (its request in flight then included), and stands by.
		if limit := killed.Add(takeover/6 + 500*time.Millisecond); lastA.After(limit) {
			t.Errorf("the cut-off server wrote until %s, %s after it was cut off", lastA, lastA.Sub(killed))
		}
		if !strings.Contains(active.log.String(), "high availability: lost the active lease, stopped exporting") {
			t.Error("the cut-off server's log does not say it lost the lease")
		}
		if h := active.health(t); h == nil || h.Role != "standby" {
			t.Errorf("/healthz of the cut-off server: %+v, want role standby", h)
		}
		_ = active.cmd.Process.Kill()
	}
}

// silentProxy forwards TCP to a server until silenced; then it drops what
// either side sends, leaving the connections open (a network that stops
// delivering), until dropUpstream closes the server's side.
type silentProxy struct {
	addr   string
	silent atomic.Bool
	mu     sync.Mutex
	up     []net.Conn
}

func startSilentProxy(t *testing.T, target string) *silentProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{addr: ln.Addr().String()}
	var down []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		p.dropUpstream()
		p.mu.Lock()
		for _, c := range down {
			_ = c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.up, down = append(p.up, u), append(down, c)
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 && !p.silent.Load() {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	return p
}

func (p *silentProxy) silence() { p.silent.Store(true) }

func (p *silentProxy) dropUpstream() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.up {
		_ = c.Close()
	}
}
