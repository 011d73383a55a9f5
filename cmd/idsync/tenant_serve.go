package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/idsync/idsync/scheduler"
)

// serveTenants re-synchronizes every tenant whose onboarding was confirmed,
// every tenants.interval, while the scheduler is enabled (idsync serve):
// new directory users become subscribers (their passwords wait for the
// next spreadsheet), renamed ones are updated, removed ones disabled. Each
// tenant runs under its own store's run lock; a tenant whose lock is held
// (an onboarding step from the command line) is skipped until the next
// round.
//
// standby, when not nil, reports whether this server is the standby of a
// high-availability group: the active one runs the tenants' cycles.
func serveTenants(ctx context.Context, g *globalFlags, interval time.Duration, standby func() bool) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if standby != nil && standby() {
			slog.Debug("tenant cycles skipped: this server is a standby")
			continue
		}
		syncTenants(ctx, g)
	}
}

func syncTenants(ctx context.Context, g *globalFlags) {
	cfg, pst, err := openStore(ctx, g)
	if err != nil {
		slog.Error("tenant cycles", "err", err)
		return
	}
	tenants, err := pst.Tenants(ctx)
	on, serr := scheduler.Enabled(ctx, pst)
	pst.Close()
	switch {
	case err != nil || serr != nil:
		slog.Error("tenant cycles", "err", err, "schedulerErr", serr)
		return
	case !on:
		slog.Info("scheduler disabled: tenant cycles skipped")
		return
	case cfg.Tenants.Template == "":
		return
	}
	for _, tn := range tenants {
		if ctx.Err() != nil {
			return
		}
		s, err := openOnboarding(ctx, g, tn.ID, 0)
		if err != nil {
			slog.Error("tenant cycle", "tenant", tn.ID, "err", err)
			continue
		}
		res, err := s.ob.Cycle(ctx)
		switch {
		case err != nil:
			slog.Error("tenant cycle", "tenant", tn.ID, "err", err)
			_ = audit(ctx, s.provider, "tenant-cycle", tn.ID, errString(err))
		case res != nil:
			slog.Info("tenant cycle", "tenant", tn.ID, "created", res.Adds, "updated", res.Updates, "deleted", res.Deletes,
				"errors", res.Errors, "passwordsAwaitingDelivery", res.Passwords)
		}
		s.Close()
	}
}
