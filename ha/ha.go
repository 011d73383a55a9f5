// Package ha makes several `idsync serve` processes on one PostgreSQL store
// an active/passive group: the process holding the active lease (a
// session-level advisory lock, store/postgres's Locker with ActiveLockKey)
// runs cycles and exports; the others are standbys, staging servers that
// import and synchronize and try for the lease every Poll. A standby that
// takes the lease waits Settle (the longest the previous holder may still
// be sending the batch it had started) and becomes active. A holder whose
// lease is lost (its connection to the database failed, or did not answer
// within the lease's validity) stops exporting at once and stands by.
//
// Two processes never export at once: every export batch asks Fence,
// which checks the lease with the server before the batch and gives the
// batch a context that ends with the lease; the server gives the lock to
// another session only after the holder's session ended, which it does
// for a silent holder after twice the validity, when the holder has
// already stopped.
package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/idsync/idsync/store/postgres"
)

// Timing is how a takeover time divides into the lease's parameters.
type Timing struct {
	// Validity: a lease is lost this long after its last successful
	// check (checks run every Validity/3); the server drops a silent
	// session after 2×Validity.
	Validity time.Duration
	// Poll: how often a standby tries for the lease.
	Poll time.Duration
	// Settle: how long a new holder waits before its first export.
	Settle time.Duration
}

// TimingFor divides takeoverAfter, the longest a standby may take to
// export once the active server stops: a dead process's session ends at
// once (Poll + Settle, about a quarter of it); a silent one's after
// 2×Validity (then Poll + Settle: about three fifths of it).
func TimingFor(takeoverAfter time.Duration) Timing {
	v := takeoverAfter / 6
	return Timing{Validity: v, Poll: takeoverAfter / 10, Settle: v}
}

// ErrNotActive is returned by Fence on a standby.
var ErrNotActive = errors.New("this server is not the active one of its high-availability group (it does not hold the active lease)")

// State is a role and since when this process has it.
type State struct {
	Active bool
	Since  time.Time
	// TakeoverAfter is the configured takeover time.
	TakeoverAfter time.Duration
}

// Role is this process's role in its group.
type Role struct {
	locker        *postgres.Locker
	timing        Timing
	takeoverAfter time.Duration
	log           *slog.Logger
	// OnChange is called (from Run's goroutine) when the role changes.
	OnChange func(active bool)

	mu     sync.Mutex
	active bool
	since  time.Time
	lease  *postgres.Lease
}

// New returns the role of this process on the database of dsn, standby
// until Run takes the lease.
func New(dsn string, takeoverAfter time.Duration, log *slog.Logger) (*Role, error) {
	t := TimingFor(takeoverAfter)
	l, err := postgres.NewLocker(dsn, postgres.LockerOptions{Key: postgres.ActiveLockKey, What: "active lease",
		Validity: t.Validity, Poll: t.Poll})
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Role{locker: l, timing: t, takeoverAfter: takeoverAfter, log: log, since: time.Now()}, nil
}

// Active reports whether this process is the active one now.
func (r *Role) Active() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// State returns the role and since when.
func (r *Role) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return State{Active: r.active, Since: r.since, TakeoverAfter: r.takeoverAfter}
}

// Lease returns the active lease after checking it with the server now;
// ErrNotActive on a standby, the cause when the check fails.
func (r *Role) Lease(ctx context.Context) (*postgres.Lease, error) {
	r.mu.Lock()
	l, active := r.lease, r.active
	r.mu.Unlock()
	if !active || l == nil {
		return nil, ErrNotActive
	}
	if err := l.Check(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotActive, err)
	}
	return l, nil
}

// Bound returns a context derived from ctx that ends as soon as one of the
// leases is lost (its cause the lease's).
func Bound(ctx context.Context, leases ...*postgres.Lease) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancelCause(ctx)
	stops := make([]func() bool, 0, len(leases))
	for _, l := range leases {
		lc := l.Context()
		stops = append(stops, context.AfterFunc(lc, func() { cancel(context.Cause(lc)) }))
	}
	return c, func() {
		for _, s := range stops {
			s()
		}
		cancel(context.Canceled)
	}
}

func (r *Role) set(active bool, l *postgres.Lease) {
	r.mu.Lock()
	changed := r.active != active
	r.active, r.lease = active, l
	if changed {
		r.since = time.Now()
	}
	r.mu.Unlock()
	if changed && r.OnChange != nil {
		r.OnChange(active)
	}
}

// Run takes the lease when it is free, holds it while it can, and stands
// by when it cannot, until ctx ends; then it gives the lease back.
func (r *Role) Run(ctx context.Context) {
	defer r.locker.Close()
	r.log.Info("high availability: standby, trying for the active lease", "takeoverAfter", r.takeoverAfter, "poll", r.timing.Poll)
	var lastErr string
	for ctx.Err() == nil {
		lease, err := r.locker.Acquire(ctx, 0)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Said once per new reason: a standby polls every Poll.
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				if errors.Is(err, postgres.ErrLockHeld) {
					r.log.Info("high availability: standby (another server is active)", "holder", msg)
				} else {
					r.log.Warn("high availability: cannot try for the active lease; retrying", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.timing.Poll):
			}
			continue
		}
		lastErr = ""
		r.log.Info("high availability: took the active lease; waiting out the previous holder's last batch before exporting", "wait", r.timing.Settle)
		select {
		case <-ctx.Done():
			lease.Release()
			return
		case <-lease.Context().Done():
			r.log.Error("high availability: lost the active lease before exporting; standing by", "err", context.Cause(lease.Context()))
			lease.Release()
			continue
		case <-time.After(r.timing.Settle):
		}
		r.set(true, lease)
		r.log.Info("high availability: active, this server exports")
		select {
		case <-ctx.Done():
			r.set(false, nil)
			lease.Release()
			return
		case <-lease.Context().Done():
			r.set(false, nil)
			r.log.Error("high availability: lost the active lease, stopped exporting; standing by", "err", context.Cause(lease.Context()))
			lease.Release()
		}
	}
}
