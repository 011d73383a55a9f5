package provisioning

import (
	"context"
	"errors"
	"time"

	"github.com/idsync/idsync/engine"
)

// offPoll is how often the scheduler looks again at an application whose
// provisioning is off (at most: its interval when shorter), to start its
// cycles soon after it is turned on.
const offPoll = 30 * time.Second

// Serve runs the cycles of every application, each at its interval
// (default 20m, R3.5), until ctx ends. apps returns the applications as now
// configured: idsync serve's reload replaces them when the console turns
// an application's provisioning on or off or changes its assignments. An
// application whose provisioning is off has no cycle (nothing is
// deprovisioned because of it); once turned on, its first cycle starts
// within offPoll. The first cycle of each application starts at once.
// Applications added after Serve started take a restart. report, when
// set, receives every cycle's result and error (ErrQuarantined for an
// application waiting for its retry time). `idsync serve` calls it beside
// the sync scheduler, on the same engine (which has the applications
// installed): the engine runs one run at a time. lock, when set, takes the
// store's run lock around each cycle (the scheduler takes it too), so
// that no other process runs the engine meanwhile; the application is
// read again once it is held.
func Serve(ctx context.Context, apps func() *File, e *engine.Engine, dataDir string, lock func() (func(), error), report func(*Result, error)) {
	done := make(chan struct{})
	names := []string{}
	f := apps()
	if f == nil {
		return
	}
	for _, a := range f.Applications {
		names = append(names, a.Name)
	}
	current := func(name string) *App {
		f := apps()
		if f == nil {
			return nil
		}
		a, err := f.App(name)
		if err != nil {
			return nil // removed: the reload refuses it, a restart drops it
		}
		return a
	}
	for _, name := range names {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				a := current(name)
				if a == nil {
					return
				}
				wait := a.Interval.Duration
				if !a.On() {
					wait = min(wait, offPoll)
				} else {
					res, err := runLocked(ctx, e, func() *App { return current(name) }, dataDir, lock)
					if ctx.Err() != nil {
						return
					}
					if report != nil && (res == nil || res.Status != StatusOff) {
						report(res, err)
					}
					if errors.Is(err, ErrQuarantined) && res != nil && res.Quarantine != nil {
						// Wake at the retry time rather than polling.
						wait = max(time.Until(res.Quarantine.Until), time.Second)
					}
				}
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}()
	}
	for range names {
		<-done
	}
}

func runLocked(ctx context.Context, e *engine.Engine, app func() *App, dataDir string, lock func() (func(), error)) (*Result, error) {
	if lock != nil {
		unlock, err := lock()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	a := app()
	if a == nil {
		return nil, ctx.Err()
	}
	return Run(ctx, e, a, Options{DataDir: dataDir})
}
