package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/store"
)

// TestExportFence: the right to export (Engine.Fence) is asked before
// every batch. Refused, the export stops before journaling the batch;
// ended while a batch is sent, the export records none of that batch's
// outcomes, which stays journaled as being sent, and the next export
// (another process's, after a takeover) replays it: every object arrives
// once.
func TestExportFence(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.BatchSize = 5
	for i := range 12 {
		h.conns["ad"].Put(user(fmt.Sprint("a", i), fmt.Sprint("u", i), fmt.Sprintf("u%d@x", i), "", "employeeID", fmt.Sprint(i)))
	}
	fullCycle(h, "ad")

	// Refused at once: nothing journaled, nothing sent.
	lost := errors.New("lease lost")
	h.e.Fence = func(context.Context) (context.Context, context.CancelFunc, error) { return nil, nil, lost }
	if _, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{}); !errors.Is(err, lost) {
		t.Fatalf("export with the right refused: %v, want the fence's error", err)
	}
	if n := len(h.conns["cloud"].Exported()); n != 0 {
		t.Fatalf("%d ops sent without the right to export", n)
	}

	// Ended during the second batch, after two of its ops were sent.
	calls, sent := 0, 0
	var cancel context.CancelCauseFunc
	h.e.Fence = func(ctx context.Context) (context.Context, context.CancelFunc, error) {
		calls++
		c, cf := context.WithCancelCause(ctx)
		cancel = cf
		return c, func() { cf(nil) }, nil
	}
	h.conns["cloud"].SetFailFunc(func(connector.ExportOp) error {
		if sent++; sent == 7 {
			cancel(lost)
		}
		return nil
	})
	_, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{})
	if !errors.Is(err, lost) || !strings.Contains(err.Error(), "left to the next export") {
		t.Fatalf("export whose right ended mid-batch: %v", err)
	}
	if calls != 2 {
		t.Errorf("the fence was asked %d times, want once per batch (2)", calls)
	}
	sending := 0
	if err := h.st.ScanCSExports(h.ctx, "cloud", func(o *store.CSObject) error {
		if o.Pending.State == store.ExportSending {
			sending++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sending != 5 || h.conns["cloud"].Len() != 7 {
		t.Fatalf("after the fence ended: %d exports being sent (want the batch's 5), %d objects in the target (want 7)", sending, h.conns["cloud"].Len())
	}

	// The next export (no fence: the new active one) replays the batch.
	h.e.Fence = nil
	h.conns["cloud"].SetFailFunc(nil)
	r := h.run("cloud", Export)
	if r.Counts.Errors != 0 || h.conns["cloud"].Len() != 12 {
		t.Fatalf("replay: %+v, %d objects in the target, want 12", r.Counts, h.conns["cloud"].Len())
	}
	if p := h.pending("cloud"); len(p) != 0 {
		t.Fatalf("pending after the replay: %v", p)
	}
}

// TestPassive: the standby of a high-availability pair is a staging
// server while Passive says so, and exports once it no longer does.
func TestPassive(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.conns["ad"].Put(user("a1", "u1", "u1@x", "", "employeeID", "1"))
	fullCycle(h, "ad")
	passive := true
	h.e.Passive = func() bool { return passive }
	if !h.e.InStaging() {
		t.Fatal("InStaging is false on a standby")
	}
	if _, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{}); !errors.Is(err, ErrStandby) {
		t.Fatalf("export on a standby: %v, want ErrStandby", err)
	}
	passive = false
	if r := h.run("cloud", Export); r.Counts.Adds != 1 || h.e.InStaging() {
		t.Fatalf("export once active: %+v", r.Counts)
	}
}
