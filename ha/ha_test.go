package ha

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
)

// TestRoles: of two processes' roles on one database, one becomes active
// (after Settle), the other stays standby (Lease refuses); when the active
// one stops, the standby takes over within Poll + Settle and the roles'
// active intervals never overlap.
func TestRoles(t *testing.T) {
	dsn := peers.Postgres(t)
	const takeover = 3 * time.Second
	type interval struct{ from, to time.Time }
	var mu sync.Mutex
	spans := map[int][]interval{}
	roles := make([]*Role, 2)
	cancels := make([]context.CancelFunc, 2)
	var wg sync.WaitGroup
	for i := range roles {
		r, err := New(dsn, takeover, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.OnChange = func(active bool) {
			mu.Lock()
			defer mu.Unlock()
			if active {
				spans[i] = append(spans[i], interval{from: time.Now()})
			} else {
				spans[i][len(spans[i])-1].to = time.Now()
			}
		}
		roles[i] = r
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	active := func(only ...int) int {
		deadline := time.Now().Add(takeover)
		for time.Now().Before(deadline) {
			for i, r := range roles {
				if r.Active() && (len(only) == 0 || only[0] == i) {
					return i
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no role active within %s", takeover)
		return -1
	}
	first := active()
	other := 1 - first
	if _, err := roles[other].Lease(t.Context()); !errors.Is(err, ErrNotActive) {
		t.Fatalf("Lease on the standby: %v, want ErrNotActive", err)
	}
	if _, err := roles[first].Lease(t.Context()); err != nil {
		t.Fatalf("Lease on the active one: %v", err)
	}
	stopped := time.Now()
	cancels[first]()
	if active(other) != other {
		t.Fatal("the standby did not take over")
	}
	tm := TimingFor(takeover)
	if d := time.Since(stopped); d > tm.Poll+tm.Settle+500*time.Millisecond {
		t.Errorf("takeover took %s, want within Poll + Settle (%s)", d, tm.Poll+tm.Settle)
	}
	mu.Lock()
	defer mu.Unlock()
	a, b := spans[first], spans[other]
	if len(a) != 1 || len(b) != 1 || a[0].to.IsZero() || !a[0].to.Before(b[0].from) {
		t.Fatalf("active intervals overlap or are missing: %v and %v", a, b)
	}
}
