package scheduler

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

const testRules = `rules:
  - name: in
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows: [{type: Direct, source: cn, target: cn}]
  - name: out
    connector: dst
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 2
    dn: "cn={cn},dc=dst"
    flows: [{type: Direct, source: cn, target: cn}]
`

func newScheduler(t *testing.T) (*Scheduler, *memory.Connector, *memory.Connector) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := rules.Parse("r.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	if errs := rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"src": nil, "dst": nil}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	src, dst := memory.New("src"), memory.New("dst")
	src.Put(&model.Object{Anchor: "1", DN: "cn=a,dc=src", Type: "user", Attrs: model.Attrs{"cn": model.Str("a")}})
	e := &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{
		"src": {Name: "src", Conn: src, DeleteThreshold: 500}, "dst": {Name: "dst", Conn: dst, DeleteThreshold: 500}}}
	return &Scheduler{Engine: e, Store: st, Interval: 20 * time.Millisecond, Order: []string{"src", "dst"}}, src, dst
}

func TestCycleRunsEveryStepInOrder(t *testing.T) {
	s, _, dst := newScheduler(t)
	res, err := s.Cycle(context.Background(), false, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s %s: %v", r.Connector, r.Profile, r.Err)
		}
		got = append(got, r.Connector+" "+string(r.Profile))
	}
	want := []string{"src delta-import", "dst delta-import", "src delta-sync", "dst delta-sync", "src export", "dst export"}
	if len(got) != len(want) {
		t.Fatalf("steps = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("steps = %v, want %v", got, want)
		}
	}
	if dst.GetByDN("cn=a,dc=dst") == nil {
		t.Fatal("the cycle did not export")
	}
}

func TestDisabledSchedulerSkipsCycles(t *testing.T) {
	s, _, dst := newScheduler(t)
	ctx := context.Background()
	if on, _ := Enabled(ctx, s.Store); !on {
		t.Fatal("the scheduler must be enabled by default")
	}
	if err := SetEnabled(ctx, s.Store, false); err != nil {
		t.Fatal(err)
	}
	runFor(t, s, 100*time.Millisecond)
	runs, err := s.Store.Runs(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 0 || dst.Len() != 0 {
		t.Fatalf("a disabled scheduler ran %d runs", len(runs))
	}
	if err := SetEnabled(ctx, s.Store, true); err != nil {
		t.Fatal(err)
	}
	// The first cycle runs at once: wait for it to end (not for a fixed
	// window, which a loaded machine overruns).
	runUntil(t, s, func() bool {
		_, err := s.Store.Setting(ctx, KeyLastState)
		return err == nil
	}, 30*time.Second)
	if dst.Len() != 1 {
		t.Fatal("the re-enabled scheduler did not run a cycle")
	}
	if v, err := s.Store.Setting(ctx, KeyLastState); err != nil || v != "success" {
		t.Fatalf("last cycle result = %q, %v", v, err)
	}
}

// runUntil runs the scheduler until done reports true (checked every 10
// ms), failing after timeout.
func runUntil(t *testing.T, s *Scheduler, done func() bool, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Start(ctx) }()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			cancel()
			<-errc
			t.Fatalf("the scheduler did not get there within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func runFor(t *testing.T, s *Scheduler, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCyclePrunesRunHistory: a cycle deletes the runs older than the
// retention, keeping the newest of each connector and profile and every
// run of the cycle itself.
func TestCyclePrunesRunHistory(t *testing.T) {
	s, _, _ := newScheduler(t)
	ctx := context.Background()
	old := time.Now().Add(-10 * 24 * time.Hour)
	for range 3 {
		fin := old.Add(time.Minute)
		r := &store.Run{Connector: "src", Profile: string(engine.DeltaImport), Started: old, Finished: &fin, Status: store.RunSuccess}
		if err := s.Store.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.Store.UpdateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		runs, err := s.Store.Runs(ctx, store.RunFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}
	if _, err := s.Cycle(ctx, false, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3+6 {
		t.Fatalf("runs without a retention = %d, want all 9 kept", n)
	}
	s.RunRetention = 7 * 24 * time.Hour
	if _, err := s.Cycle(ctx, false, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 6+6 {
		t.Fatalf("runs after a cycle with a 7-day retention = %d, want the 12 of the two cycles (the 3 old ones pruned)", n)
	}
}

// TestState: the state shows the stored switch and cycle times, whether a
// cycle is in progress, and when the last cycle without a failed step ended.
func TestState(t *testing.T) {
	s, _, _ := newScheduler(t)
	ctx := context.Background()
	st, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enabled || st.Running || !st.LastCycleEnd.IsZero() || !st.LastSuccess.IsZero() || !st.NextCycle.IsZero() ||
		st.LastCycleResult != "" || st.Interval != s.Interval {
		t.Fatalf("state before any cycle = %+v", st)
	}

	var during State
	s.Lock = func() (func(), error) {
		var err error
		during, err = s.State(ctx)
		return func() {}, err
	}
	before := time.Now().Add(-time.Second)
	if _, err := s.Cycle(ctx, false, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if !during.Running || during.RunningSince.Before(before) {
		t.Fatalf("state during a cycle = %+v, want running", during)
	}
	ok, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Running || ok.LastCycleResult != "success" || ok.LastCycleEnd.Before(before.Truncate(time.Second)) ||
		!ok.LastSuccess.Equal(ok.LastCycleEnd) || ok.LastCycleStart.After(ok.LastCycleEnd) {
		t.Fatalf("state after a successful cycle = %+v", ok)
	}

	// A failed step: the last cycle's result says so, the last success stays.
	if err := s.Store.SetSetting(ctx, KeyLastSuccess, "2001-02-03T04:05:06Z"); err != nil {
		t.Fatal(err)
	}
	s.Order = append(s.Order, "unknown")
	if _, err := s.Cycle(ctx, false, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	bad, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bad.LastCycleResult != "2 step(s) failed" || !bad.LastSuccess.Equal(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)) {
		t.Fatalf("state after a failed cycle = %+v", bad)
	}

	if err := SetEnabled(ctx, s.Store, false); err != nil {
		t.Fatal(err)
	}
	runFor(t, s, 50*time.Millisecond)
	off, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if off.Enabled || off.NextCycle.IsZero() {
		t.Fatalf("state of a disabled scheduler after Start = %+v", off)
	}

	if err := s.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.State(ctx); err == nil {
		t.Fatal("State on a closed store: no error")
	}
}

// TestWake: Wake runs the next cycle at once instead of at its time, and
// a standby's cycles (engine.Passive) do not export until it is active.
func TestWake(t *testing.T) {
	s, _, dst := newScheduler(t)
	s.Interval = time.Hour
	passive := atomic.Bool{}
	passive.Store(true)
	s.Engine.Passive = passive.Load
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first cycle", func() bool {
		_, err := s.Store.Setting(ctx, KeyNext)
		return err == nil
	})
	if dst.Len() != 0 {
		t.Fatal("a standby's cycle exported")
	}
	passive.Store(false)
	s.Wake()
	waitFor("the cycle after Wake to export", func() bool { return dst.Len() == 1 })
}
