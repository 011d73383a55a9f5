// Package storecopy copies a whole store into another, of any backend: the
// connector spaces with their links and pending exports, the metaverse,
// watermarks, runs with their per-object errors, settings, users, API
// tokens and the audit log. idsync store migrate moves an installation
// from SQLite to PostgreSQL (or back) with it.
//
// Both stores are the backends themselves, not the sealing wrapper: sealed
// secret values are copied as sealed text, byte for byte, and stay
// readable with the same key.
package storecopy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/idsync/idsync/store"
)

// Store is what Copy reads and writes: a backend.
type Store interface {
	store.Store
	store.Lister
}

// Options configure Copy.
type Options struct {
	// BatchSize is the number of objects per Apply (default 5000).
	BatchSize int
	// IntoNonEmpty lets Copy write into a store that already holds
	// something: objects with the same IDs are overwritten, runs and
	// audit entries appended. Without it a non-empty destination is an
	// error, and nothing is written.
	IntoNonEmpty bool
	// Progress, when set, is called after each batch of objects.
	Progress func(what string, done int64)
}

// Counts are how many of each thing a store holds (or Copy copied).
type Counts struct {
	CS, MV, PendingExports, Watermarks, Runs, RunErrors, Settings, Users, APITokens, Audit, Tenants, Domains int64
}

// Empty reports whether there is nothing.
func (c Counts) Empty() bool { return c == Counts{} }

func (c Counts) String() string {
	return fmt.Sprintf("%d cs objects (%d with a pending export), %d mv objects, %d watermarks, %d runs (%d run errors), %d settings, %d users, %d API tokens, %d audit entries, %d tenants (%d domains)",
		c.CS, c.PendingExports, c.MV, c.Watermarks, c.Runs, c.RunErrors, c.Settings, c.Users, c.APITokens, c.Audit, c.Tenants, c.Domains)
}

// ErrNotEmpty is returned when the destination holds something and
// Options.IntoNonEmpty is not set.
var ErrNotEmpty = errors.New("the destination store is not empty")

// Count counts what s holds.
func Count(ctx context.Context, s Store) (Counts, error) {
	var c Counts
	var err error
	if c.CS, err = s.CountCS(ctx, ""); err != nil {
		return c, err
	}
	if c.MV, err = s.CountMV(ctx); err != nil {
		return c, err
	}
	if err := s.ScanCS(ctx, "", func(o *store.CSObject) error {
		if o.Pending != nil {
			c.PendingExports++
		}
		return nil
	}); err != nil {
		return c, err
	}
	wms, err := s.Watermarks(ctx)
	if err != nil {
		return c, err
	}
	c.Watermarks = int64(len(wms))
	runs, err := s.Runs(ctx, store.RunFilter{})
	if err != nil {
		return c, err
	}
	c.Runs = int64(len(runs))
	for _, r := range runs {
		errs, err := s.RunErrors(ctx, r.ID)
		if err != nil {
			return c, err
		}
		c.RunErrors += int64(len(errs))
	}
	settings, err := s.Settings(ctx)
	if err != nil {
		return c, err
	}
	c.Settings = int64(len(settings))
	users, err := s.Users(ctx)
	if err != nil {
		return c, err
	}
	c.Users = int64(len(users))
	tokens, err := s.APITokens(ctx, "")
	if err != nil {
		return c, err
	}
	c.APITokens = int64(len(tokens))
	audit, err := s.Audit(ctx, store.AuditFilter{Limit: -1})
	if err != nil {
		return c, err
	}
	c.Audit = int64(len(audit))
	tenants, err := s.Tenants(ctx)
	if err != nil {
		return c, err
	}
	c.Tenants = int64(len(tenants))
	for _, t := range tenants {
		ds, err := s.Domains(ctx, t.ID)
		if err != nil {
			return c, err
		}
		c.Domains += int64(len(ds))
	}
	return c, nil
}

// Copy copies everything from src into dst, then counts both and checks
// that dst holds what src does (exactly when dst was empty, at least as
// much when IntoNonEmpty let Copy write into a non-empty store). It returns
// src's counts. Runs and audit entries get new IDs in dst, in the same
// order; a run's errors follow it. The copy is not one transaction: stop
// idsync while it runs, and run it again (into an emptied destination)
// after a failure.
func Copy(ctx context.Context, src, dst Store, opts Options) (Counts, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	before, err := Count(ctx, dst)
	if err != nil {
		return Counts{}, fmt.Errorf("count the destination: %w", err)
	}
	if !before.Empty() && !opts.IntoNonEmpty {
		return Counts{}, fmt.Errorf("%w: it holds %s", ErrNotEmpty, before)
	}
	for _, step := range []struct {
		what string
		copy func(context.Context, Store, Store, Options) error
	}{
		{"cs objects", copyCS}, {"mv objects", copyMV}, {"watermarks", copyWatermarks}, {"runs", copyRuns},
		{"settings", copySettings}, {"users and API tokens", copyUsers}, {"audit log", copyAudit},
		{"tenants and domains", copyTenants},
	} {
		if err := step.copy(ctx, src, dst, opts); err != nil {
			return Counts{}, fmt.Errorf("copy %s: %w", step.what, err)
		}
	}
	want, err := Count(ctx, src)
	if err != nil {
		return Counts{}, fmt.Errorf("count the source: %w", err)
	}
	got, err := Count(ctx, dst)
	if err != nil {
		return want, fmt.Errorf("count the destination: %w", err)
	}
	if before.Empty() && got != want {
		return want, fmt.Errorf("verify: the source holds %s, but the destination %s", want, got)
	}
	if !before.Empty() && !covers(got, want) {
		return want, fmt.Errorf("verify: the source holds %s, but the destination only %s", want, got)
	}
	return want, nil
}

func covers(got, want Counts) bool {
	g := []int64{got.CS, got.MV, got.PendingExports, got.Watermarks, got.Runs, got.RunErrors, got.Settings, got.Users, got.APITokens, got.Audit, got.Tenants, got.Domains}
	w := []int64{want.CS, want.MV, want.PendingExports, want.Watermarks, want.Runs, want.RunErrors, want.Settings, want.Users, want.APITokens, want.Audit, want.Tenants, want.Domains}
	for i := range g {
		if g[i] < w[i] {
			return false
		}
	}
	return true
}

func copyCS(ctx context.Context, src, dst Store, opts Options) error {
	var batch []*store.CSObject
	var done int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.Apply(ctx, &store.Batch{PutCS: batch}); err != nil {
			return err
		}
		done += int64(len(batch))
		batch = batch[:0]
		if opts.Progress != nil {
			opts.Progress("cs objects", done)
		}
		return nil
	}
	err := src.ScanCS(ctx, "", func(o *store.CSObject) error {
		batch = append(batch, o)
		if len(batch) >= opts.BatchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func copyMV(ctx context.Context, src, dst Store, opts Options) error {
	var batch []*store.MVObject
	var done int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.Apply(ctx, &store.Batch{PutMV: batch}); err != nil {
			return err
		}
		done += int64(len(batch))
		batch = batch[:0]
		if opts.Progress != nil {
			opts.Progress("mv objects", done)
		}
		return nil
	}
	err := src.ScanMV(ctx, func(o *store.MVObject) error {
		batch = append(batch, o)
		if len(batch) >= opts.BatchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func copyWatermarks(ctx context.Context, src, dst Store, _ Options) error {
	wms, err := src.Watermarks(ctx)
	if err != nil || len(wms) == 0 {
		return err
	}
	return dst.Apply(ctx, &store.Batch{Watermarks: wms})
}

// copyRuns copies the runs oldest first, so that their new IDs increase in
// the same order, each with its errors.
func copyRuns(ctx context.Context, src, dst Store, _ Options) error {
	runs, err := src.Runs(ctx, store.RunFilter{})
	if err != nil {
		return err
	}
	slices.Reverse(runs)
	for _, r := range runs {
		errs, err := src.RunErrors(ctx, r.ID)
		if err != nil {
			return err
		}
		old := r.ID
		if err := dst.StartRun(ctx, r); err != nil {
			return fmt.Errorf("run %d: %w", old, err)
		}
		for i := range errs {
			errs[i].RunID = r.ID
		}
		if err := dst.AddRunErrors(ctx, errs); err != nil {
			return fmt.Errorf("errors of run %d: %w", old, err)
		}
	}
	return nil
}

func copySettings(ctx context.Context, src, dst Store, _ Options) error {
	settings, err := src.Settings(ctx)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if err := dst.SetSetting(ctx, k, settings[k]); err != nil {
			return err
		}
	}
	return nil
}

func copyUsers(ctx context.Context, src, dst Store, _ Options) error {
	users, err := src.Users(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := dst.PutUser(ctx, u); err != nil {
			return err
		}
	}
	tokens, err := src.APITokens(ctx, "")
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if err := dst.PutAPIToken(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// copyTenants copies the tenants and their domains.
func copyTenants(ctx context.Context, src, dst Store, _ Options) error {
	tenants, err := src.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := dst.PutTenant(ctx, t); err != nil {
			return err
		}
		ds, err := src.Domains(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := dst.PutDomain(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyAudit copies the audit log oldest first, keeping each entry's time.
func copyAudit(ctx context.Context, src, dst Store, _ Options) error {
	entries, err := src.Audit(ctx, store.AuditFilter{Limit: -1})
	if err != nil {
		return err
	}
	slices.Reverse(entries)
	for _, e := range entries {
		if err := dst.AddAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
