package provisioning

import (
	"context"
	"errors"
	"time"

	"github.com/idsync/idsync/store"
)

// Serve runs the cycles of every application whose provisioning is on, each
// at its interval (default 20m, R3.5), until ctx ends. The first cycle of
// each application starts at once. report, when set, receives every
// cycle's result and error (ErrQuarantined for an application waiting for
// its retry time). `idsync serve` is meant to call it beside the sync
// scheduler.
func Serve(ctx context.Context, f *File, st store.Store, dataDir string, report func(*Result, error)) {
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
				res, err := Run(ctx, a, st, Options{DataDir: dataDir})
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
