// Package scheduler runs idsync's sync cycle: delta import, delta
// synchronization and export for every connector, every 30 minutes by default
// (R2.3). The scheduler can be disabled and re-enabled so that an admin can
// change configuration without an accidental export; the switch is stored,
// so it holds across restarts and between the CLI and `idsync serve`.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/snapshot"
	"github.com/idsync/idsync/store"
)

// Setting keys.
const (
	KeyEnabled   = "scheduler.enabled"
	KeyLastStart = "scheduler.lastCycleStart"
	KeyLastEnd   = "scheduler.lastCycleEnd"
	KeyLastState = "scheduler.lastCycleResult"
	KeyNext      = "scheduler.nextCycle"
	// KeyLastSuccess is when the last cycle without a failed step ended.
	KeyLastSuccess = "scheduler.lastSuccessfulCycleEnd"
)

// Scheduler runs cycles.
type Scheduler struct {
	Engine   *engine.Engine
	Store    store.Store
	Interval time.Duration
	// Order of connectors; empty = engine.ConnectorNames().
	Order []string
	// Lock takes the cross-process run lock; nil = none.
	Lock func() (func(), error)
	// TryLock takes the run lock without waiting (live mode); nil = none.
	TryLock func() (func(), error)
	// Config is the snapshot of the current configuration; when set, a
	// cycle compares it with that of the last cycle, runs the full imports
	// and synchronizations the changes call for, and records it after a
	// cycle without failed steps (R2.5).
	Config *snapshot.Snapshot
	// RunRetention is how long run history is kept: after each cycle the
	// runs older than that are pruned (store.PruneRuns). 0 keeps them.
	RunRetention time.Duration
	Log          *slog.Logger

	// cycleStart is when the cycle in progress started (Unix
	// nanoseconds), 0 when none is.
	cycleStart atomic.Int64
	wakeOnce   sync.Once
	wake       chan struct{}
}

func (s *Scheduler) wakeCh() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// Wake makes Start run its next cycle now, or as soon as the cycle in
// progress ends, instead of at its time: a standby that became the active
// server (package ha) exports what is pending without waiting for the
// interval.
func (s *Scheduler) Wake() {
	select {
	case s.wakeCh() <- struct{}{}:
	default: // a wake is pending already
	}
}

// State is the state of a scheduler: what is stored (the switch, the last
// and next cycle, shared with the CLI) and whether this scheduler is
// running a cycle now.
type State struct {
	Enabled  bool
	Interval time.Duration
	// Running: this scheduler is in a cycle (waiting for the run lock
	// included) since RunningSince.
	Running      bool
	RunningSince time.Time
	// The last cycle (zero when none ended yet); LastCycleResult is
	// "success" or "N step(s) failed".
	LastCycleStart  time.Time
	LastCycleEnd    time.Time
	LastCycleResult string
	// LastSuccess is when the last cycle without a failed step ended.
	LastSuccess time.Time
	// NextCycle is when Start runs the next cycle (zero before Start
	// finished its first one).
	NextCycle time.Time
}

// State returns the state of the scheduler. It reads the store's settings;
// a time that is not stored is zero.
func (s *Scheduler) State(ctx context.Context) (State, error) {
	st := State{Interval: s.interval()}
	if ns := s.cycleStart.Load(); ns != 0 {
		st.Running, st.RunningSince = true, time.Unix(0, ns).UTC()
	}
	var err error
	if st.Enabled, err = Enabled(ctx, s.Store); err != nil {
		return st, fmt.Errorf("read the scheduler switch: %w", err)
	}
	for _, k := range []struct {
		key string
		t   *time.Time
	}{{KeyLastStart, &st.LastCycleStart}, {KeyLastEnd, &st.LastCycleEnd}, {KeyLastSuccess, &st.LastSuccess}, {KeyNext, &st.NextCycle}} {
		v, err := s.setting(ctx, k.key)
		if err != nil {
			return st, err
		}
		if v == "" {
			continue
		}
		if *k.t, err = time.Parse(time.RFC3339, v); err != nil {
			return st, fmt.Errorf("setting %s: %w", k.key, err)
		}
	}
	st.LastCycleResult, err = s.setting(ctx, KeyLastState)
	return st, err
}

// setting returns a stored setting, "" when unset.
func (s *Scheduler) setting(ctx context.Context, key string) (string, error) {
	v, err := s.Store.Setting(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

func (s *Scheduler) interval() time.Duration {
	if s.Interval <= 0 {
		return 30 * time.Minute
	}
	return s.Interval
}

// Enabled reports whether scheduled cycles are enabled (the default).
func Enabled(ctx context.Context, st store.Store) (bool, error) {
	v, err := st.Setting(ctx, KeyEnabled)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return strconv.ParseBool(v)
}

// SetEnabled enables or disables scheduled cycles.
func SetEnabled(ctx context.Context, st store.Store, on bool) error {
	return st.SetSetting(ctx, KeyEnabled, strconv.FormatBool(on))
}

// StepResult is the outcome of one run of a cycle.
type StepResult struct {
	Connector string
	Profile   engine.Profile
	Runs      []*store.Run
	Err       error
}

// Cycle runs one cycle: import every connector, then synchronize every
// connector, then export to every connector. A failing step is recorded and
// the cycle goes on with the other connectors. full runs full imports and
// full synchronizations instead of deltas.
func (s *Scheduler) Cycle(ctx context.Context, full bool, o engine.RunOptions) ([]StepResult, error) {
	s.cycleStart.Store(time.Now().UnixNano())
	defer s.cycleStart.Store(0)
	if s.Lock != nil {
		unlock, err := s.Lock()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	order := s.Order
	if len(order) == 0 {
		order = s.Engine.ConnectorNames()
	}
	var fullImport, fullSync map[string]bool
	if s.Config != nil {
		old, err := snapshot.Load(ctx, s.Store)
		if err != nil {
			return nil, err
		}
		changes := snapshot.Diff(old, s.Config)
		fullImport, fullSync = snapshot.Needs(changes, order)
		for _, ch := range changes {
			s.log().Info("configuration changed since the last cycle", "change", ch.String())
		}
	}
	profile := func(c string, p engine.Profile) engine.Profile {
		switch {
		case p == engine.DeltaImport && (full || fullImport[c]):
			return engine.FullImport
		case p == engine.DeltaSync && (full || fullSync[c]):
			return engine.FullSync
		}
		return p
	}
	start := time.Now().UTC()
	_ = s.Store.SetSetting(ctx, KeyLastStart, start.Format(time.RFC3339))
	var results []StepResult
	failed := 0
	for _, step := range []engine.Profile{engine.DeltaImport, engine.DeltaSync, engine.Export} {
		for _, c := range order {
			p := profile(c, step)
			if err := ctx.Err(); err != nil {
				return results, err
			}
			if p == engine.Export && !s.Engine.CanExport(c) {
				continue // a pure source: nothing is ever exported to it
			}
			if p == engine.Export && s.Engine.InStaging() {
				continue // a staging server never exports; `idsync preview` shows what it would
			}
			runs, err := s.Engine.Run(ctx, c, p, o)
			results = append(results, StepResult{Connector: c, Profile: p, Runs: runs, Err: err})
			if err != nil && ctx.Err() != nil {
				// Stopped (idsync serve shutting down), not failed: the
				// run history says where; the last cycle's result stays.
				return results, ctx.Err()
			}
			if err != nil {
				failed++
				s.log().Error("cycle step failed", "connector", c, "profile", p, "err", err)
			}
		}
	}
	state := "success"
	if failed > 0 {
		state = fmt.Sprintf("%d step(s) failed", failed)
	} else if s.Config != nil {
		// Recorded only when every step succeeded: otherwise the next cycle
		// runs the full runs the changes call for again.
		if err := s.Config.Save(context.WithoutCancel(ctx), s.Store); err != nil {
			s.log().Error("record the configuration snapshot", "err", err)
		}
	}
	// Recorded even when a stop signal arrives right after the last step.
	wctx := context.WithoutCancel(ctx)
	end := time.Now().UTC().Format(time.RFC3339)
	_ = s.Store.SetSetting(wctx, KeyLastEnd, end)
	_ = s.Store.SetSetting(wctx, KeyLastState, state)
	if failed == 0 {
		_ = s.Store.SetSetting(wctx, KeyLastSuccess, end)
	}
	s.pruneRuns(wctx)
	return results, nil
}

// pruneRuns deletes the run history older than RunRetention. A failure is
// logged: the cycle itself succeeded.
func (s *Scheduler) pruneRuns(ctx context.Context) {
	if s.RunRetention <= 0 {
		return
	}
	before := time.Now().Add(-s.RunRetention)
	n, err := s.Store.PruneRuns(ctx, before)
	if err != nil {
		s.log().Error("prune the run history", "err", err)
		return
	}
	if n > 0 {
		s.log().Info("pruned the run history", "runs", n, "startedBefore", before.UTC().Format(time.RFC3339), "retention", s.RunRetention)
	}
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Start runs a cycle every Interval until ctx is cancelled, skipping cycles
// while the scheduler is disabled. The first cycle is a full one when the
// store has never run one.
func (s *Scheduler) Start(ctx context.Context) error {
	interval := s.interval()
	for {
		on, err := Enabled(ctx, s.Store)
		switch {
		case err != nil:
			s.log().Error("read scheduler state", "err", err)
		case !on:
			s.log().Info("scheduler disabled: cycle skipped (enable with `idsync scheduler enable`)")
		default:
			_, never := s.Store.Setting(ctx, KeyLastEnd)
			full := errors.Is(never, store.ErrNotFound)
			s.log().Info("sync cycle starting", "full", full)
			if _, err := s.Cycle(ctx, full, engine.RunOptions{}); err != nil && ctx.Err() == nil {
				s.log().Error("sync cycle", "err", err)
			}
		}
		next := time.Now().Add(interval)
		_ = s.Store.SetSetting(context.WithoutCancel(ctx), KeyNext, next.UTC().Format(time.RFC3339))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		case <-s.wakeCh():
			s.log().Info("sync cycle due now (woken)")
		}
	}
}

// Live carries directory changes through within seconds, between cycles
// (live mode, for `idsync serve`): every interval it runs a quiet delta
// import of every connector (DirSync, RFC 4533 content synchronization …;
// polls that find nothing leave no run in the history), and when a
// connector imported changes, a delta synchronization of it and an export
// to every target. A tick is skipped while a cycle or another run holds the
// lock (TryLock), or while the scheduler is disabled.
func (s *Scheduler) Live(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if on, err := Enabled(ctx, s.Store); err != nil || !on {
			continue
		}
		if err := s.liveTick(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("live mode", "err", err)
		}
	}
}

func (s *Scheduler) liveTick(ctx context.Context) error {
	if s.TryLock != nil {
		unlock, err := s.TryLock()
		if err != nil {
			return nil //nolint:nilerr // a cycle or a manual run is busy: the next tick retries
		}
		defer unlock()
	}
	order := s.Order
	if len(order) == 0 {
		order = s.Engine.ConnectorNames()
	}
	var changed []string
	for _, c := range order {
		if !s.Engine.CanDeltaImport(c) {
			continue
		}
		runs, err := s.Engine.Run(ctx, c, engine.DeltaImport, engine.RunOptions{Quiet: true})
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.ID != 0 {
				changed = append(changed, c)
				break
			}
		}
	}
	if len(changed) == 0 {
		return nil
	}
	for _, c := range changed {
		if _, err := s.Engine.Run(ctx, c, engine.DeltaSync, engine.RunOptions{}); err != nil {
			return err
		}
	}
	if s.Engine.InStaging() {
		return nil
	}
	for _, c := range order {
		if !s.Engine.CanExport(c) {
			continue
		}
		if n, err := engine.PendingCounts(ctx, s.Store, c); err != nil || len(n) == 0 {
			continue
		}
		if _, err := s.Engine.Run(ctx, c, engine.Export, engine.RunOptions{}); err != nil {
			return err
		}
	}
	return nil
}
