package postgres

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
)

// TestLockerDatabaseFailover: on a primary and its standby (a DSN naming
// both, target_session_attrs=read-write), a Locker reaching the standby
// alone refuses to take the lock there; a lease is lost when the
// primary is killed (advisory locks are not replicated); until the standby
// is promoted Acquire fails saying why, at once; after the promotion a
// Locker whose kept connection went to the old primary takes the lock on
// the new one at the first try. When all is released and closed, no
// goroutine is left.
func TestLockerDatabaseFailover(t *testing.T) {
	pair := peers.StartPostgresPair(t)
	dsn := pair.DSN()
	ctx := t.Context()
	baseline := runtime.NumGoroutine()
	a, err := NewLocker(dsn, LockerOptions{Key: ActiveLockKey, What: "active lease", Validity: time.Second, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewLocker(dsn, LockerOptions{Key: ActiveLockKey, What: "active lease", Validity: time.Second, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A standby grants advisory locks that the primary does not see: a
	// Locker reaching one refuses to take the lock there.
	onStandby, err := NewLocker(pair.ServerDSN(pair.StandbyPort), LockerOptions{Key: ActiveLockKey, What: "active lease", Validity: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onStandby.Acquire(ctx, 0); err == nil || errors.Is(err, ErrLockHeld) || !strings.Contains(err.Error(), "is a standby") {
		t.Fatalf("Acquire on the standby: %v, want a refusal saying that the server is a standby", err)
	}
	onStandby.Close()
	la, err := a.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// b's connection is kept after its refused try.
	if _, err := b.Acquire(ctx, 0); !errors.Is(err, ErrLockHeld) {
		t.Fatalf("b's Acquire while a holds the lease: %v, want ErrLockHeld", err)
	}

	pair.KillPrimary(t)
	killed := time.Now()
	select {
	case <-la.Context().Done():
		t.Logf("the lease was lost %s after the kill: %v", time.Since(killed).Round(time.Millisecond), context.Cause(la.Context()))
	case <-time.After(2 * time.Second):
		t.Fatal("the lease was not lost within 2s of the primary's end (validity 1s)")
	}
	if err := la.Check(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Check of the lost lease: %v, want ErrLeaseLost", err)
	}
	la.Release()
	// Before the promotion there is no primary: a's try fails at once
	// and says what to check.
	start := time.Now()
	_, err = a.Acquire(ctx, 0)
	if err == nil || errors.Is(err, ErrLockHeld) || !strings.Contains(err.Error(), "is the primary") {
		t.Fatalf("Acquire with no primary: %v, want a connection error saying to check the primary", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Acquire with no primary took %s", d)
	}

	pair.Promote(t)
	// b still holds its connection to the old primary: its first try
	// replaces it.
	lb, err := b.Acquire(ctx, 0)
	if err != nil {
		t.Fatalf("b's first Acquire after the promotion: %v", err)
	}
	if err := lb.Check(ctx); err != nil {
		t.Fatalf("Check of the lease on the new primary: %v", err)
	}
	if _, err := a.Acquire(ctx, 0); !errors.Is(err, ErrLockHeld) {
		t.Fatalf("a's Acquire while b holds the lease on the new primary: %v, want ErrLockHeld", err)
	}
	lb.Release()
	a.Close()
	b.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after closing the Lockers, %d before:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
