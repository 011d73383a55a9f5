package ha

import (
	"context"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
)

// TestRolesDatabaseFailover: two roles on a primary and its standby (a
// DSN naming both, target_session_attrs=read-write). When the primary is
// killed, the active role stands by within the lease's validity and
// neither is active while there is no primary; once the standby is
// promoted, one role takes the lease on it within Poll + Settle. The
// active intervals never overlap; the log says what happened; when both
// roles stop, no goroutine is left.
func TestRolesDatabaseFailover(t *testing.T) {
	pair := peers.StartPostgresPair(t)
	const takeover = 3 * time.Second
	tm := TimingFor(takeover)
	baseline := runtime.NumGoroutine()
	type interval struct {
		role     int
		from, to time.Time
	}
	var mu sync.Mutex
	var spans []interval
	var logs [2]*strings.Builder
	roles := make([]*Role, 2)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range roles {
		logs[i] = &strings.Builder{}
		r, err := New(pair.DSN(), takeover, slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: logs[i]}, nil)))
		if err != nil {
			t.Fatal(err)
		}
		r.OnChange = func(active bool) {
			mu.Lock()
			defer mu.Unlock()
			if active {
				spans = append(spans, interval{role: i, from: time.Now()})
				return
			}
			for k := len(spans) - 1; k >= 0; k-- {
				if spans[k].role == i {
					spans[k].to = time.Now()
					break
				}
			}
		}
		roles[i] = r
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
	}
	defer stop()
	activeOne := func(limit time.Duration) int {
		t.Helper()
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			for i, r := range roles {
				if r.Active() {
					return i
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no role active within %s", limit)
		return -1
	}
	first := activeOne(tm.Poll + tm.Settle + 2*time.Second)

	pair.KillPrimary(t)
	killed := time.Now()
	for roles[first].Active() {
		if time.Since(killed) > tm.Validity+500*time.Millisecond {
			t.Fatalf("the active role is still active %s after the primary's end (validity %s)", time.Since(killed), tm.Validity)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the active role stood by %s after the kill", time.Since(killed).Round(time.Millisecond))
	// No primary for a while: nobody is active.
	time.Sleep(tm.Poll + 200*time.Millisecond)
	for i, r := range roles {
		if r.Active() {
			t.Fatalf("role %d is active with no primary", i)
		}
	}
	pair.Promote(t)
	promoted := time.Now()
	next := activeOne(tm.Poll + tm.Settle + 2*time.Second)
	t.Logf("role %d (role %d was active before) active %s after the promotion", next, first, time.Since(promoted).Round(time.Millisecond))

	stop()
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	if len(spans) != 2 {
		t.Fatalf("active intervals %+v, want two", spans)
	}
	for i := 1; i < len(spans); i++ {
		if spans[i-1].to.IsZero() || !spans[i-1].to.Before(spans[i].from) {
			t.Errorf("active intervals overlap: %+v", spans)
		}
	}
	if !strings.Contains(logs[first].String(), "high availability: lost the active lease, stopped exporting") {
		t.Errorf("the first active role's log does not say it lost the lease:\n%s", logs[first].String())
	}
	all := logs[0].String() + logs[1].String()
	if !strings.Contains(all, "cannot try for the active lease; retrying") || !strings.Contains(all, "is the primary") {
		t.Errorf("the logs do not say that the lease cannot be tried while there is no primary, nor what to check:\n%s", all)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after the roles stopped, %d before:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedWriter serializes a logger's writes with the test's reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
