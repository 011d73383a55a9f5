package scheduler

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// scanCounter counts the objects a store's whole-space scans give back.
type scanCounter struct {
	store.Store
	scanned atomic.Int64
}

func (c *scanCounter) ScanCS(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return c.Store.ScanCS(ctx, conn, func(o *store.CSObject) error { c.scanned.Add(1); return fn(o) })
}

func (c *scanCounter) ScanMV(ctx context.Context, fn func(*store.MVObject) error) error {
	return c.Store.ScanMV(ctx, func(o *store.MVObject) error { c.scanned.Add(1); return fn(o) })
}

// TestLiveTickReadsOnlyTheChange: in live mode (scheduler.liveInterval),
// one change in a store of 3,000 users is imported, synchronized and
// exported without scanning a connector space or the metaverse: a tick
// costs what changed, not what the store holds.
func TestLiveTickReadsOnlyTheChange(t *testing.T) {
	t.Setenv("IDSYNC_SYNC_LOADING", "") // as configured
	s, src, dst := newScheduler(t)
	ctx := context.Background()
	for i := range 3000 {
		src.Put(&model.Object{Anchor: fmt.Sprint("u", i), DN: fmt.Sprintf("cn=u%d,dc=src", i), Type: "user", Attrs: model.Attrs{"cn": model.Str(fmt.Sprint("u", i))}})
	}
	if _, err := s.Cycle(ctx, false, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cycle(ctx, false, engine.RunOptions{}); err != nil { // confirms the exports
		t.Fatal(err)
	}
	if dst.Len() != 3001 {
		t.Fatalf("the target holds %d objects after the cycles, want 3001", dst.Len())
	}
	counter := &scanCounter{Store: s.Engine.Store}
	s.Engine.Store = counter
	src.Put(&model.Object{Anchor: "u7", DN: "cn=u7,dc=src", Type: "user", Attrs: model.Attrs{"cn": model.Str("u7-renamed")}})
	if err := s.liveTick(ctx); err != nil {
		t.Fatal(err)
	}
	if o := dst.GetByDN("cn=u7-renamed,dc=dst"); o == nil || o.Attrs.First("cn") != "u7-renamed" {
		t.Fatalf("the live tick did not carry the change (a rename) to the target: %v", o)
	}
	if n := counter.scanned.Load(); n != 0 {
		t.Fatalf("the live tick scanned %d objects; want none (targeted reads only)", n)
	}
}
