// Package engine is idsync's synchronization engine: it runs the run profiles
// (Full Import, Delta Import, Full Synchronization, Delta Synchronization,
// Export) of each connector against the store, applying the sync rules.
//
// The engine is level-based: a synchronization recomputes the desired
// metaverse and target state from the connector spaces, and pending exports
// are the difference between the desired target state and the target's last
// confirmed state. Replaying any step after a crash reaches the same result.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// Profile is a run profile.
type Profile string

// Run profiles.
const (
	FullImport  Profile = "full-import"
	DeltaImport Profile = "delta-import"
	FullSync    Profile = "full-sync"
	DeltaSync   Profile = "delta-sync"
	Export      Profile = "export"
)

// Profiles lists the run profiles in cycle order.
var Profiles = []Profile{FullImport, DeltaImport, FullSync, DeltaSync, Export}

// ParseProfile parses a profile name.
func ParseProfile(s string) (Profile, error) {
	for _, p := range Profiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown run profile %q (want one of full-import, delta-import, full-sync, delta-sync, export)", s)
}

// Connector is a configured connector as the engine sees it.
type Connector struct {
	Name string
	Conn connector.Connector
	// Partitions selected for synchronization (domain-based filtering);
	// empty = every partition the connector reports.
	Partitions []string
	// Parameters for rule expressions (Domain.FQDN …).
	Parameters map[string]string
	// DeleteThreshold for the accidental-delete guard; < 0 = guard off.
	DeleteThreshold int
	// DeletePercent also stops an export whose deletes (disables included)
	// exceed this percentage of the connector's objects, once they number
	// more than DeleteMinimum; 0 = no percentage, only the count.
	DeletePercent int
	DeleteMinimum int
	// GuardHoldsDeletes makes the accidental-delete guard hold back only
	// the deletes and disables: the export sends the rest and ends
	// stopped by the guard (applications, as Entra provisioning does),
	// instead of writing nothing (directories, as Azure AD Connect does).
	GuardHoldsDeletes bool
	// Shrink is the import-shrink guard of this connector's imports.
	Shrink ShrinkGuard
	// Unique lists attributes whose values must be unique among the
	// connector's objects (a cloud directory's userPrincipalName, mail,
	// proxyAddresses): an export that would duplicate one is an error on
	// that object.
	Unique []string
	// Limits bound the values of the connector's objects, checked at
	// import and before export (validate.go).
	Limits Limits
}

// Engine runs run profiles.
type Engine struct {
	Store      store.Store
	Rules      *rules.RuleSet
	Connectors map[string]*Connector
	Log        *slog.Logger
	// Progress, when set, is called as a run advances.
	Progress func(r *store.Run)
	// BatchSize is the number of objects written per store transaction during
	// imports and per export call (default 1,000).
	BatchSize int
	// Staging makes this a staging server (the passive one of an
	// active/passive pair): it imports and synchronizes, its pending exports
	// can be previewed, but it never exports.
	Staging bool
	// Passive, when set, reports whether this process is now the standby
	// of a high-availability pair (package ha): while it is, the engine
	// is a staging server as with Staging.
	Passive func() bool
	// Fence, when set, is asked before each export batch whether this
	// process may still export (it holds the run lock's and the active
	// role's leases, package ha): it returns the context the batch is
	// sent under, cancelled as soon as that right ends, or an error that
	// stops the export before the batch is journaled. A batch whose
	// context ends while it is sent records nothing: it stays journaled
	// as being sent, and whoever exports next replays it, as after a crash.
	Fence func(ctx context.Context) (context.Context, context.CancelFunc, error)
	// Loading says how synchronizations read the store (LoadAuto: targeted
	// for a delta synchronization of few objects, see Loading).
	Loading Loading
	// WholeSyncLimit: a full synchronization loads the store whole only
	// when it holds at most this many objects (connector space and
	// metaverse); above it, it runs in parts of SyncChunk objects, so that
	// its memory does not grow with the store (chunked.go). 0: the
	// default, DefaultWholeSyncLimit; negative: no limit.
	WholeSyncLimit int64
	// SyncChunk is the number of objects of each part of a full
	// synchronization run in parts (0: DefaultSyncChunk).
	SyncChunk int
	// OnExport, when set, is called once for every export operation whose
	// outcome the engine records (success or error), after the result is
	// applied, from the goroutine running the export (calls are not concurrent).
	// Applied means recorded in the store: the events of a batch follow its
	// commit; an outcome the store failed to record is not reported (the
	// export is replayed). The call holds up the export while it runs.
	OnExport func(ExportEvent)

	mu sync.Mutex // one run at a time in this process (see Lock for processes)
	// importFlushed, set by tests, is told at each flush of an import how
	// many objects the import holds (before it lets go of those stored).
	importFlushed func(held int)
}

// RunOptions tune one run.
type RunOptions struct {
	// AllowDeletes lets an export exceed the accidental-delete threshold once.
	AllowDeletes bool
	// AllowShrink lets an import apply deletions the import-shrink guard
	// would refuse, once.
	AllowShrink bool
	// Partition restricts an import to one partition ("" = all selected).
	Partition string
	// Only restricts an export to these MV objects (on-demand provisioning
	// of a user): their objects' pending exports go out whole, and of the
	// other objects' pending exports only the reference values naming
	// them (the user's group memberships); the rest stays pending (only.go).
	Only []string
	// OnExport, when set, observes this export run's outcomes instead of
	// Engine.OnExport (a caller sharing the engine with a scheduler).
	OnExport func(ExportEvent)
	// Reapply, in a synchronization, applies again the applyOnce outbound
	// flows into these attributes of these MV objects' existing target
	// objects (MV object ID → attribute names): a password reset.
	Reapply map[string][]string
	// Quiet leaves an import that found nothing to do out of the run
	// history, and makes a delta import without a watermark do nothing
	// instead of a full import (live mode polls every few seconds).
	Quiet bool
}

// ErrDeleteThreshold is returned (wrapped) when an export stops because its
// pending deletes exceed the accidental-delete threshold.
var ErrDeleteThreshold = errors.New("pending deletes exceed the accidental-delete threshold")

// ErrImportShrink is returned (wrapped) when an import stops because it
// would delete more of the connector space than the import-shrink guard
// allows: the source looks emptied, truncated or misread.
var ErrImportShrink = errors.New("stopped by the import-shrink guard")

// ShrinkGuard refuses an import (full or delta) that would delete much of a
// connector space partition: all of its objects, or more than Percent
// percent of them once they number more than Minimum. A source file
// emptied or cut short, an emptied LDAP base, or a SCIM or Graph endpoint
// answering an empty list looks to an import exactly like every object
// having been deleted; this guard makes it a stop with a message instead
// of deletions in every target. Percent 0 turns the guard off.
type ShrinkGuard struct {
	Percent int
	Minimum int
}

// String describes the guard as its message states it.
func (g ShrinkGuard) String() string {
	return fmt.Sprintf("all of them, or more than %d%% once more than %d", g.Percent, g.Minimum)
}

// refuses reports whether deleting deletes of live objects is refused.
func (g ShrinkGuard) refuses(deletes, live int) bool {
	if g.Percent <= 0 || deletes == 0 || live == 0 {
		return false
	}
	return deletes >= live || (deletes > g.Minimum && deletes*100 > g.Percent*live)
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func (e *Engine) batchSize() int {
	if e.BatchSize > 0 {
		return e.BatchSize
	}
	return 1000
}

// ConnectorNames returns the configured connector names, sorted.
func (e *Engine) ConnectorNames() []string {
	n := make([]string, 0, len(e.Connectors))
	for k := range e.Connectors {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// CanExport reports whether the connector has the export capability.
func (e *Engine) CanExport(name string) bool {
	c, ok := e.Connectors[name]
	if !ok {
		return false
	}
	_, ok = c.Conn.(connector.Exporter)
	return ok
}

// CanDeltaImport reports whether a connector has a change feed (delta import).
func (e *Engine) CanDeltaImport(name string) bool {
	c, ok := e.Connectors[name]
	if !ok {
		return false
	}
	_, ok = c.Conn.(connector.DeltaImporter)
	return ok
}

func (e *Engine) connector(name string) (*Connector, error) {
	c, ok := e.Connectors[name]
	if !ok {
		return nil, fmt.Errorf("connector %q is not configured (configured: %v)", name, e.ConnectorNames())
	}
	return c, nil
}

// Run executes one run profile on a connector and returns its run records
// (one per partition step for imports).
func (e *Engine) Run(ctx context.Context, conn string, p Profile, o RunOptions) ([]*store.Run, error) {
	c, err := e.connector(conn)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch p {
	case FullImport, DeltaImport:
		return e.importRuns(ctx, c, p, o)
	case FullSync, DeltaSync:
		r, err := e.syncRun(ctx, c, p == FullSync, o)
		return []*store.Run{r}, err
	case Export:
		if e.Staging {
			return nil, ErrStaging
		}
		if e.Passive != nil && e.Passive() {
			return nil, ErrStandby
		}
		r, err := e.exportRun(ctx, c, o)
		return []*store.Run{r}, err
	}
	return nil, fmt.Errorf("unknown run profile %q", p)
}

// ErrStaging is returned for an export on a staging server.
var ErrStaging = errors.New("this server is in staging mode: it imports and synchronizes but never exports; " +
	"inspect what it would export with `idsync preview CONNECTOR`, and set stagingMode: false to make it the active server")

// ErrStandby is returned for an export on the standby of a
// high-availability pair.
var ErrStandby = errors.New("this server is the standby of a high-availability pair: it imports and synchronizes but does not export " +
	"while the active server holds the lease; it takes over when the active one stops (see docs/operations.md, High availability)")

// InStaging reports whether the engine exports nothing now: a staging
// server (Staging), or the standby of a high-availability pair (Passive).
func (e *Engine) InStaging() bool {
	return e.Staging || (e.Passive != nil && e.Passive())
}

// runRec tracks one run record: counts, progress and per-object errors.
type runRec struct {
	e    *Engine
	r    *store.Run
	errs []store.RunError
	// errSeen: the errors recorded, by object and message: an object a
	// run processes twice (a full synchronization in parts, chunked.go)
	// has each of its errors recorded once.
	errSeen map[string]bool
	last    time.Time
	// deferred: the run is recorded only when it finishes having done
	// something (RunOptions.Quiet).
	deferred bool
	// vals checks the values of the run's objects (validate.go).
	vals *valueCheck
	// onExport observes an export run's outcomes (export.go).
	onExport func(ExportEvent)
	// only restricts an export run to some MV objects (only.go).
	only *onlyExport
	// silent: the errors are collected, not logged (a preview, objpreview.go).
	silent bool
}

func (e *Engine) startRun(ctx context.Context, conn string, p Profile, partition string) (*runRec, error) {
	return e.startRunOpt(ctx, conn, p, partition, false)
}

func (e *Engine) startRunOpt(ctx context.Context, conn string, p Profile, partition string, quiet bool) (*runRec, error) {
	r := &store.Run{Connector: conn, Profile: string(p), Partition: partition, Started: time.Now().UTC(), Status: store.RunRunning}
	if quiet {
		return &runRec{e: e, r: r, deferred: true}, nil
	}
	if err := e.Store.StartRun(ctx, r); err != nil {
		return nil, fmt.Errorf("record %s run of %s: %w", p, conn, err)
	}
	e.log().Info("run started", "run", r.ID, "connector", conn, "profile", p, "partition", partition)
	return &runRec{e: e, r: r}, nil
}

// objectError records a per-object error; the run goes on.
func (rr *runRec) objectError(object, csid string, err error) {
	// Bad input may name the object with invalid UTF-8 or control
	// characters: the history shows them escaped (validate.go).
	object = plain(object)
	msg := strings.ToValidUTF8(err.Error(), "\uFFFD")
	k := object + "\x00" + msg
	if rr.errSeen[k] {
		return
	}
	if rr.errSeen == nil {
		rr.errSeen = map[string]bool{}
	}
	rr.errSeen[k] = true
	rr.r.Counts.Errors++
	rr.errs = append(rr.errs, store.RunError{RunID: rr.r.ID, Object: object, CSID: csid, Message: msg, Time: time.Now().UTC()})
	if rr.silent {
		return
	}
	rr.e.log().Warn("object error", "run", rr.r.ID, "object", object, "err", err)
}

// progress updates the progress counters, persisting at most every second.
func (rr *runRec) progress(ctx context.Context, done, total int64) {
	rr.r.Done, rr.r.Total = done, total
	if rr.e.Progress != nil {
		rr.e.Progress(rr.r)
	}
	if time.Since(rr.last) > time.Second && !rr.deferred {
		rr.last = time.Now()
		if err := rr.e.Store.UpdateRun(ctx, rr.r); err != nil {
			rr.e.log().Warn("update run progress", "run", rr.r.ID, "err", err)
		}
	}
}

// finish records the outcome. runErr is the error that ended the run (nil if
// it completed). The returned error is runErr.
func (rr *runRec) finish(ctx context.Context, runErr error) error {
	now := time.Now().UTC()
	rr.r.Finished = &now
	switch {
	case errors.Is(runErr, ErrDeleteThreshold):
		rr.r.Status = store.RunStopped
		rr.r.Message = runErr.Error()
	case errors.Is(runErr, ErrImportShrink):
		rr.r.Status = store.RunStoppedShrink
		rr.r.Message = runErr.Error()
	case runErr != nil:
		rr.r.Status = store.RunFailed
		rr.r.Message = runErr.Error()
	case rr.r.Counts.Errors > 0:
		rr.r.Status = store.RunWithError
	default:
		rr.r.Status = store.RunSuccess
	}
	// Use a fresh context so a cancelled run is still recorded.
	wctx := context.WithoutCancel(ctx)
	if rr.deferred {
		c := rr.r.Counts
		if runErr == nil && c.Adds+c.Updates+c.Deletes+c.Renames+c.Errors == 0 {
			return nil // nothing happened: not worth a line in the history
		}
		if err := rr.e.Store.StartRun(wctx, rr.r); err != nil {
			rr.e.log().Error("record run", "connector", rr.r.Connector, "err", err)
		}
		for i := range rr.errs {
			rr.errs[i].RunID = rr.r.ID
		}
	}
	if len(rr.errs) > 0 {
		if err := rr.e.Store.AddRunErrors(wctx, rr.errs); err != nil {
			rr.e.log().Error("record run errors", "run", rr.r.ID, "err", err)
		}
	}
	if err := rr.e.Store.UpdateRun(wctx, rr.r); err != nil {
		rr.e.log().Error("record run", "run", rr.r.ID, "err", err)
	}
	if rr.e.Progress != nil {
		rr.e.Progress(rr.r)
	}
	rr.e.log().Info("run finished", "run", rr.r.ID, "connector", rr.r.Connector, "profile", rr.r.Profile,
		"status", rr.r.Status, "adds", rr.r.Counts.Adds, "updates", rr.r.Counts.Updates,
		"deletes", rr.r.Counts.Deletes, "errors", rr.r.Counts.Errors)
	return runErr
}

// newID returns a new identifier for a CS object, MV object, pending export
// or proposed anchor: a UUIDv7, time-ordered, so that the store's indexes
// grow at their end instead of at random places (imports and scans are
// about 1.5 times faster than with random UUIDs).
func newID() string { return uuid.Must(uuid.NewV7()).String() }
