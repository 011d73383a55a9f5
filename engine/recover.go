package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/idsync/idsync/store"
)

// RunInterrupted is the status of a run whose process died (kill -9, power
// loss) before it could record its end.
const RunInterrupted = "interrupted"

// RecoverInterrupted marks runs still recorded as running as interrupted. Call
// it only while holding the run lock: then no run can really be running.
func RecoverInterrupted(ctx context.Context, st store.Store) error {
	runs, err := st.Runs(ctx, store.RunFilter{Limit: 100})
	if err != nil {
		return fmt.Errorf("read run history: %w", err)
	}
	for _, r := range runs {
		if r.Status != store.RunRunning {
			continue
		}
		now := time.Now().UTC()
		r.Finished = &now
		r.Status = RunInterrupted
		r.Message = "the process running it stopped before the run finished (killed or crashed); " +
			"its effects up to the last committed batch are kept, and the next run of the same profile completes the work"
		if err := st.UpdateRun(ctx, r); err != nil {
			return fmt.Errorf("mark run %d interrupted: %w", r.ID, err)
		}
	}
	return nil
}
