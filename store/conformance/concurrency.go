package conformance

import (
	"fmt"
	"sync"
	"testing"

	"github.com/idsync/idsync/store"
)

var concurrencyTests = []testCase{
	{"ParallelWritersAndReaders", func(t *testing.T, s store.Store) {
		const writers, batches, perBatch = 6, 15, 20
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range writers {
			wg.Go(func() {
				for b := range batches {
					var batch store.Batch
					for i := range perBatch {
						n := fmt.Sprintf("%d-%d-%d", w, b, i)
						batch.PutCS = append(batch.PutCS, user("cs-"+n, fmt.Sprint("c", w), n))
						batch.PutMV = append(batch.PutMV, &store.MVObject{ID: "mv-" + n, Type: "person"})
					}
					batch.Watermarks = []store.Watermark{{Connector: fmt.Sprint("c", w), Value: fmt.Sprint(b)}}
					if err := s.Apply(ctx, &batch); err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
				}
				r := &store.Run{Connector: fmt.Sprint("c", w), Profile: "p", Status: store.RunRunning}
				if err := s.StartRun(ctx, r); err != nil {
					errs <- err
				}
				if err := s.SetSetting(ctx, fmt.Sprint("k", w), "v"); err != nil {
					errs <- err
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 10 {
					if err := s.ScanCS(ctx, "", func(*store.CSObject) error { return nil }); err != nil {
						errs <- fmt.Errorf("reader: %w", err)
						return
					}
					if _, err := s.CountMV(ctx); err != nil {
						errs <- fmt.Errorf("reader: %w", err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		wantCount(t, s, "", writers*batches*perBatch)
		if n, _ := s.CountMV(ctx); n != writers*batches*perBatch {
			t.Fatalf("CountMV = %d, want %d", n, writers*batches*perBatch)
		}
		ids := runIDs(t, s, store.RunFilter{})
		seen := map[int64]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("duplicate run ID %d among %v", id, ids)
			}
			seen[id] = true
		}
		if len(ids) != writers {
			t.Fatalf("%d runs, want %d", len(ids), writers)
		}
		for w := range writers {
			if v, _ := s.Watermark(ctx, fmt.Sprint("c", w), ""); v != fmt.Sprint(batches-1) {
				t.Fatalf("watermark of writer %d = %q, want %d", w, v, batches-1)
			}
		}
	}},
}
