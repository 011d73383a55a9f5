package conformance

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/store"
)

func startRun(t *testing.T, s store.Store, conn, profile string) *store.Run {
	t.Helper()
	r := &store.Run{Connector: conn, Profile: profile, Partition: "DC=p", Started: ts, Status: store.RunRunning}
	if err := s.StartRun(t.Context(), r); err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	return r
}

func finishRun(t *testing.T, s store.Store, r *store.Run, status string, errs int64) {
	t.Helper()
	r.Status = status
	r.Counts.Errors = errs
	fin := ts.Add(time.Minute)
	r.Finished = &fin
	if err := s.UpdateRun(t.Context(), r); err != nil {
		t.Fatalf("UpdateRun: %v", err)
	}
}

func runIDs(t *testing.T, s store.Store, f store.RunFilter) []int64 {
	t.Helper()
	runs, err := s.Runs(t.Context(), f)
	if err != nil {
		t.Fatalf("Runs(%+v): %v", f, err)
	}
	var ids []int64
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

func sameRun(t *testing.T, got, want *store.Run) {
	t.Helper()
	checkTime(t, "Run.Started", got.Started, want.Started)
	if (got.Finished == nil) != (want.Finished == nil) {
		t.Fatalf("Run.Finished = %v, want %v", got.Finished, want.Finished)
	}
	if want.Finished != nil {
		checkTime(t, "Run.Finished", *got.Finished, *want.Finished)
	}
	g, w := *got, *want
	if !reflect.DeepEqual(g.Sync, w.Sync) {
		t.Fatalf("Run.Sync = %+v, want %+v", g.Sync, w.Sync)
	}
	g.Started, w.Started, g.Finished, w.Finished, g.Sync, w.Sync = time.Time{}, time.Time{}, nil, nil, nil, nil
	if g != w {
		t.Fatalf("Run = %+v, want %+v", g, w)
	}
}

var runTests = []testCase{
	{"StartAndUpdate", func(t *testing.T, s store.Store) {
		r1 := startRun(t, s, "ad", "full-import")
		r2 := startRun(t, s, "ad", "delta-import")
		if r1.ID <= 0 || r2.ID <= r1.ID {
			t.Fatalf("run IDs %d, %d: want positive and increasing", r1.ID, r2.ID)
		}
		runs, err := s.Runs(t.Context(), store.RunFilter{})
		if err != nil || len(runs) != 2 {
			t.Fatalf("Runs = %v, %v; want 2 runs", runs, err)
		}
		sameRun(t, runs[1], r1)
		r1.Counts = store.RunCounts{Adds: 1, Updates: 2, Deletes: 3, Renames: 4, NoChange: 5, Errors: 6}
		r1.Done, r1.Total = 7, 8
		r1.Message = "stopped by user"
		finishRun(t, s, r1, store.RunStopped, 6)
		runs, _ = s.Runs(t.Context(), store.RunFilter{})
		sameRun(t, runs[1], r1)
		sameRun(t, runs[0], r2)
		// A synchronization's statistics, outbound figures included.
		r2.Sync = &store.SyncStats{Projections: 1, Joins: 2, FlowUpdates: 3, NoFlowUpdates: 4, Disconnectors: 5,
			DeletedConnectors: 6, MVDeletes: 7, Outbound: []store.OutboundStats{
				{Connector: "cloud", ProvisioningAdds: 8, ExportAttributeFlow: 9, Renames: 10, Deprovisioning: 11}}}
		finishRun(t, s, r2, store.RunSuccess, 0)
		runs, _ = s.Runs(t.Context(), store.RunFilter{})
		sameRun(t, runs[0], r2)
		if runs[1].Sync != nil {
			t.Errorf("a run without statistics reads back with %+v", runs[1].Sync)
		}
	}},
	{"Prune", func(t *testing.T, s store.Store) {
		day := 24 * time.Hour
		run := func(conn, profile string, age time.Duration, status string) *store.Run {
			t.Helper()
			r := &store.Run{Connector: conn, Profile: profile, Started: ts.Add(-age), Status: store.RunRunning}
			if err := s.StartRun(t.Context(), r); err != nil {
				t.Fatalf("StartRun: %v", err)
			}
			if status != store.RunRunning {
				fin := r.Started.Add(time.Minute)
				r.Status, r.Finished = status, &fin
				if err := s.UpdateRun(t.Context(), r); err != nil {
					t.Fatalf("UpdateRun: %v", err)
				}
			}
			return r
		}
		running := run("ad", "full-import", 20*day, store.RunRunning)
		oldFull := run("ad", "full-import", 10*day, store.RunSuccess)
		lastFull := run("ad", "full-import", 9*day, store.RunSuccess) // the newest of its kind
		oldDelta := run("ad", "delta-import", 8*day, store.RunWithError)
		newDelta := run("ad", "delta-import", time.Hour, store.RunSuccess)
		onlySync := run("hr", "full-sync", 30*day, store.RunFailed) // the only one of its kind
		// A run started on the whole second before the cut-off, which has a
		// fraction (…:07Z against …:07.123456Z): compared as times, not as
		// RFC 3339 text, where the shorter form sorts after.
		edge := run("hr", "export", 7*day+123456*time.Microsecond, store.RunSuccess)
		edgeKept := run("hr", "export", 7*day-time.Millisecond, store.RunSuccess)
		newestExport := run("hr", "export", time.Minute, store.RunSuccess)
		if err := s.AddRunErrors(t.Context(), []store.RunError{{RunID: oldDelta.ID, Object: "x", Message: "bad", Time: ts}}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneRuns(t.Context(), ts.Add(-7*day))
		if err != nil || n != 3 {
			t.Fatalf("PruneRuns = %d, %v; want 3 runs deleted", n, err)
		}
		want := []int64{newestExport.ID, edgeKept.ID, onlySync.ID, newDelta.ID, lastFull.ID, running.ID}
		if got := runIDs(t, s, store.RunFilter{}); !slices.Equal(got, want) {
			t.Fatalf("runs left = %v, want %v (deleted: %d %d %d)", got, want, oldFull.ID, oldDelta.ID, edge.ID)
		}
		if errs, err := s.RunErrors(t.Context(), oldDelta.ID); err != nil || len(errs) != 0 {
			t.Fatalf("errors of a pruned run = %v, %v; want none", errs, err)
		}
		if n, err := s.PruneRuns(t.Context(), ts.Add(-7*day)); err != nil || n != 0 {
			t.Fatalf("second PruneRuns = %d, %v; want 0", n, err)
		}
	}},
	{"UpdateUnknown", func(t *testing.T, s store.Store) {
		err := s.UpdateRun(t.Context(), &store.Run{ID: 12345, Status: store.RunSuccess})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UpdateRun(unknown) = %v, want store.ErrNotFound", err)
		}
	}},
	{"Filters", func(t *testing.T, s store.Store) {
		ok := startRun(t, s, "ad", "p")
		finishRun(t, s, ok, store.RunSuccess, 0)
		withErr := startRun(t, s, "hr", "p")
		finishRun(t, s, withErr, store.RunWithError, 2)
		failed := startRun(t, s, "ad", "p")
		finishRun(t, s, failed, store.RunFailed, 0)
		stopped := startRun(t, s, "hr", "p")
		finishRun(t, s, stopped, store.RunStopped, 0)
		shrunk := startRun(t, s, "ad", "full-import")
		finishRun(t, s, shrunk, store.RunStoppedShrink, 0)
		running := startRun(t, s, "ad", "p")
		for _, c := range []struct {
			f    store.RunFilter
			want []int64
		}{
			{store.RunFilter{}, []int64{running.ID, shrunk.ID, stopped.ID, failed.ID, withErr.ID, ok.ID}},
			{store.RunFilter{Connector: "ad"}, []int64{running.ID, shrunk.ID, failed.ID, ok.ID}},
			{store.RunFilter{OnlyErrors: true}, []int64{shrunk.ID, stopped.ID, failed.ID, withErr.ID}},
			{store.RunFilter{Connector: "hr", OnlyErrors: true}, []int64{stopped.ID, withErr.ID}},
			{store.RunFilter{ID: failed.ID}, []int64{failed.ID}},
			{store.RunFilter{ID: failed.ID, Connector: "hr"}, nil},
			{store.RunFilter{Limit: 2}, []int64{running.ID, shrunk.ID}},
			{store.RunFilter{Connector: "ad", OnlyErrors: true, Limit: 1}, []int64{shrunk.ID}},
			{store.RunFilter{Connector: "none"}, nil},
		} {
			if got := runIDs(t, s, c.f); !slices.Equal(got, c.want) {
				t.Errorf("Runs(%+v) = %v, want %v", c.f, got, c.want)
			}
		}
	}},
	{"Errors", func(t *testing.T, s store.Store) {
		r1 := startRun(t, s, "ad", "p")
		r2 := startRun(t, s, "ad", "p")
		e := func(run int64, obj string) store.RunError {
			return store.RunError{RunID: run, Object: obj, CSID: "cs-" + obj, Message: "bad " + obj, Time: ts}
		}
		batches := [][]store.RunError{
			{e(r1.ID, "z"), e(r2.ID, "x"), e(r1.ID, "a")},
			{e(r1.ID, "m")},
			{{RunID: r1.ID, Object: "CN=no csid", Message: "m", Time: ts.Add(time.Second)}},
		}
		for _, b := range batches {
			if err := s.AddRunErrors(t.Context(), b); err != nil {
				t.Fatalf("AddRunErrors: %v", err)
			}
		}
		want := []store.RunError{e(r1.ID, "z"), e(r1.ID, "a"), e(r1.ID, "m"), batches[2][0]}
		got, err := s.RunErrors(t.Context(), r1.ID)
		if err != nil || len(got) != len(want) {
			t.Fatalf("RunErrors = %v, %v; want %d errors", got, err, len(want))
		}
		for i := range want {
			checkTime(t, "RunError.Time", got[i].Time, want[i].Time)
			got[i].Time, want[i].Time = time.Time{}, time.Time{}
			if got[i] != want[i] {
				t.Fatalf("RunErrors[%d] = %+v, want %+v (insertion order)", i, got[i], want[i])
			}
		}
		if got, err := s.RunErrors(t.Context(), r2.ID); err != nil || len(got) != 1 || got[0].Object != "x" {
			t.Fatalf("RunErrors(r2) = %v, %v; want [x]", got, err)
		}
		if got, err := s.RunErrors(t.Context(), 9999); err != nil || len(got) != 0 {
			t.Fatalf("RunErrors(unknown) = %v, %v; want none", got, err)
		}
	}},
}
