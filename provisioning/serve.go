package provisioning

import (
	"context"
	"errors"
	"time"

	"github.com/idsync/idsync/engine"
)

// Serve runs the cycles of every application whose provisioning is on, each
// at its interval (default 20m, R3.5), until ctx ends. The first cycle of
// each application starts at once. report, when set, receives every
// cycle's result and error (ErrQuarantined for an application waiting for
// its retry time). `idsync serve` calls it beside the sync scheduler, on
// the same engine (which has the applications installed): the engine runs
// one run at a time. lock, when set, takes the store's run lock around
// each cycle (the scheduler takes it too), so that no other process runs
// the engine meanwhile.
func Serve(ctx context.Context, f *File, e *engine.Engine, dataDir string, lock func() (func(), error), report func(*Result, error)) {
	done := make(chan struct{})
	n := 0
	for _, a := range f.Applications {
		if !a.On() {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				res, err := runLocked(ctx, e, a, dataDir, lock)
				if ctx.Err() != nil {
					return
				}
				if report != nil {
					report(res, err)
				}
				wait := a.Interval.Duration
				if errors.Is(err, ErrQuarantined) && res != nil && res.Quarantine != nil {
					// Wake at the retry time rather than polling.
					wait = max(time.Until(res.Quarantine.Until), time.Second)
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
	for range n {
		<-done
	}
}

func runLocked(ctx context.Context, e *engine.Engine, a *App, dataDir string, lock func() (func(), error)) (*Result, error) {
	if lock != nil {
		unlock, err := lock()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	return Run(ctx, e, a, Options{DataDir: dataDir})
}
