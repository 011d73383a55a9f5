package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/ha"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sealed"
	"github.com/idsync/idsync/store/sqlite"

	// Connector types compiled into the binary.
	_ "github.com/idsync/idsync/connector/file"
	_ "github.com/idsync/idsync/connector/google"
	_ "github.com/idsync/idsync/connector/graph"
	_ "github.com/idsync/idsync/connector/ldap"
	_ "github.com/idsync/idsync/connector/memory"
	_ "github.com/idsync/idsync/connector/scim"
	_ "github.com/idsync/idsync/connector/sql"
	// The expression language of Expression flows.
	_ "github.com/idsync/idsync/expr"
)

// app is a loaded configuration with its store, connectors, rules and engine.
type app struct {
	cfg    *config.Config
	store  store.Store
	engine *engine.Engine
	rules  *rules.RuleSet
	// apps are the applications provisioned (nil without a provisioning
	// file): each is a connector of the engine with generated rules.
	apps *provisioning.File

	// With a PostgreSQL store: the run lock's Locker and the lease held
	// now (nil when none), and the high-availability role (idsync serve
	// with ha.enabled; nil otherwise).
	runLocker *postgres.Locker
	leaseMu   sync.Mutex
	runLease  *postgres.Lease
	role      *ha.Role

	// engineMu guards what reload replaces — the engine's rules, its
	// connectors' Conn and Partitions, cfg and rules — against the
	// console and lock, which read them outside the run lock
	// (web.Options.EngineMu).
	engineMu sync.RWMutex
}

// currentApps are the applications as now configured: reload replaces
// them (the console turns provisioning on or off, changes assignments).
func (a *app) currentApps() *provisioning.File {
	a.engineMu.RLock()
	defer a.engineMu.RUnlock()
	return a.apps
}

// appsPath is the provisioning file: --apps, env IDSYNC_PROVISIONING, or
// provisioning.yaml next to the configuration file.
func appsPath(g *globalFlags, cfg *config.Config) string {
	if g.apps != "" {
		return g.apps
	}
	if p := os.Getenv("IDSYNC_PROVISIONING"); p != "" {
		return p
	}
	return filepath.Join(filepath.Dir(cfg.Path), "provisioning.yaml")
}

// loadApps loads the provisioning file; nil when there is none (and none
// was asked for).
func loadApps(g *globalFlags, cfg *config.Config) (*provisioning.File, error) {
	p := appsPath(g, cfg)
	f, err := provisioning.Load(p)
	if errors.Is(err, os.ErrNotExist) {
		if g.apps != "" || os.Getenv("IDSYNC_PROVISIONING") != "" {
			return nil, fmt.Errorf("%w\n(define applications in %s; see docs/provisioning.md)", err, p)
		}
		return nil, nil
	}
	return f, err
}

// loadRules loads the configuration's rules with the applications'
// generated rules: the one rule set the engine runs.
func loadRules(g *globalFlags, cfg *config.Config) (*rules.RuleSet, error) {
	apps, err := loadApps(g, cfg)
	if err != nil {
		return nil, err
	}
	if apps == nil {
		return cfg.LoadRules()
	}
	rf, err := apps.RuleFile()
	if err != nil {
		return nil, err
	}
	return cfg.LoadRules(rf)
}

// openApp loads the configuration, opens the store and every connector, and
// validates the rules against the connectors' schemas.
func openApp(ctx context.Context, g *globalFlags) (*app, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, err
	}
	apps, err := loadApps(g, cfg)
	if err != nil {
		return nil, err
	}
	var extra []*rules.File
	if apps != nil {
		rf, err := apps.RuleFile()
		if err != nil {
			return nil, err
		}
		extra = append(extra, rf)
	}
	rs, err := cfg.LoadRules(extra...)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, rules: rs, apps: apps}
	conns := map[string]*engine.Connector{}
	schemas := map[string]*model.Schema{}
	for _, cc := range cfg.Connectors {
		c, err := openConnector(ctx, cc)
		if err != nil {
			a.closeConns(conns)
			return nil, err
		}
		th := cfg.Threshold(cc.Name)
		if !cfg.Safety.DeletesGuarded() {
			th = -1
		}
		conns[cc.Name] = &engine.Connector{Name: cc.Name, Conn: c, Partitions: cc.Partitions, Parameters: cc.Parameters, DeleteThreshold: th,
			DeletePercent: cfg.DeletePercent(cc.Name), DeleteMinimum: cfg.Safety.DeleteThresholdMinimum,
			Shrink: engine.ShrinkGuard{Percent: cfg.ShrinkPercent(cc.Name), Minimum: cfg.Safety.ImportShrinkMinimum},
			Unique: cc.UniqueAttributes, Limits: engineLimits(cfg.LimitsFor(cc.Name))}
		schemas[cc.Name] = nil // schema unknown unless discovered on demand (rules validate --schema)
	}
	if apps != nil {
		for _, ap := range apps.Applications {
			if conns[ap.Name] != nil {
				a.closeConns(conns)
				return nil, fmt.Errorf("%s: application %q has the name of a connector of %s: rename one of them", apps.Path, ap.Name, cfg.Path)
			}
			ec, err := ap.Connector()
			if err != nil {
				a.closeConns(conns)
				return nil, err
			}
			ec.Shrink = engine.ShrinkGuard{Percent: cfg.ShrinkPercent(ap.Name), Minimum: cfg.Safety.ImportShrinkMinimum}
			ec.Limits = engineLimits(cfg.LimitsFor(ap.Name))
			conns[ap.Name] = ec
			schemas[ap.Name] = nil
		}
	}
	var errs []error
	for _, e := range rs.Validate(rules.ValidateEnv{Connectors: schemas}) {
		if !rules.IsWarning(e) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		a.closeConns(conns)
		return nil, fmt.Errorf("the sync rules have errors (run `idsync rules validate` for the full list):\n  %w", errors.Join(errs...))
	}
	raw, err := openBackend(ctx, cfg)
	if err != nil {
		a.closeConns(conns)
		return nil, err
	}
	st, err := sealStore(cfg, raw, true)
	if err != nil {
		_ = raw.Close()
		a.closeConns(conns)
		return nil, err
	}
	a.store = st
	a.engine = &engine.Engine{Store: st, Rules: rs, Connectors: conns, BatchSize: cfg.Engine.BatchSize,
		WholeSyncLimit: cfg.Engine.WholeSyncLimit, SyncChunk: cfg.Engine.SyncChunk,
		Staging: cfg.StagingMode}
	if cfg.Store.Type == config.StorePostgres {
		t := ha.TimingFor(cfg.HA.TakeoverAfter.Duration)
		a.runLocker, err = postgres.NewLocker(cfg.Store.DSN, postgres.LockerOptions{Key: postgres.RunLockKey, What: "run lock", Validity: t.Validity})
		if err != nil {
			a.Close()
			return nil, err
		}
		a.engine.Fence = a.fence
	}
	return a, nil
}

// fence is the engine's Fence on PostgreSQL: before each export batch it
// checks with the server that this process still holds the run lock and,
// in a high-availability group, the active lease; the batch is sent under
// a context that ends as soon as either is lost.
func (a *app) fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	var leases []*postgres.Lease
	if a.role != nil {
		l, err := a.role.Lease(ctx)
		if err != nil {
			return nil, nil, err
		}
		leases = append(leases, l)
	}
	a.leaseMu.Lock()
	rl := a.runLease
	a.leaseMu.Unlock()
	if rl != nil {
		if err := rl.Check(ctx); err != nil {
			return nil, nil, fmt.Errorf("this process no longer holds the run lock: %w", err)
		}
		leases = append(leases, rl)
	}
	c, cancel := ha.Bound(ctx, leases...)
	return c, cancel, nil
}

func (a *app) closeConns(conns map[string]*engine.Connector) {
	for _, c := range conns {
		_ = c.Conn.Close()
	}
}

func (a *app) Close() {
	if a.runLocker != nil {
		a.runLocker.Close()
	}
	if a.engine != nil {
		a.closeConns(a.engine.Connectors)
	}
	if a.store != nil {
		_ = a.store.Close()
	}
}

// lock takes the store's run lock, waiting up to wait, and marks runs that a
// killed process left "running" as interrupted.
//
// With SQLite the run lock is the file <store.path>.lock; with PostgreSQL
// it is a session-level advisory lock in the database (store/postgres's
// Locker), which every export batch checks (fence).
func (a *app) lock(wait time.Duration) (func(), error) {
	var unlock func()
	if a.runLocker != nil {
		lease, err := a.runLocker.Acquire(context.Background(), wait)
		if errors.Is(err, postgres.ErrLockHeld) {
			return nil, fmt.Errorf("%w: %w", engine.ErrLocked, err)
		}
		if err != nil {
			return nil, err
		}
		a.leaseMu.Lock()
		a.runLease = lease
		a.leaseMu.Unlock()
		unlock = func() {
			a.leaseMu.Lock()
			a.runLease = nil
			a.leaseMu.Unlock()
			lease.Release()
		}
	} else {
		// reload replaces a.cfg (the store's path stays: it takes a
		// restart).
		a.engineMu.RLock()
		path := a.cfg.Store.Path
		a.engineMu.RUnlock()
		var err error
		if unlock, err = engine.Lock(path+".lock", wait); err != nil {
			return nil, err
		}
	}
	if err := engine.RecoverInterrupted(context.Background(), a.store); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// lockStore takes the run lock of the configured store for a command that
// is not a run (secrets reseal, store migrate): the file next to a SQLite
// store, the advisory lock in a PostgreSQL one.
func lockStore(cfg *config.Config, wait time.Duration) (func(), error) {
	if cfg.Store.Type != config.StorePostgres {
		return engine.Lock(cfg.Store.Path+".lock", wait)
	}
	l, err := postgres.NewLocker(cfg.Store.DSN, postgres.LockerOptions{Key: postgres.RunLockKey, What: "run lock",
		Validity: ha.TimingFor(cfg.HA.TakeoverAfter.Duration).Validity})
	if err != nil {
		return nil, err
	}
	lease, err := l.Acquire(context.Background(), wait)
	if err != nil {
		l.Close()
		if errors.Is(err, postgres.ErrLockHeld) {
			err = fmt.Errorf("%w: %w", engine.ErrLocked, err)
		}
		return nil, err
	}
	return func() { lease.Release(); l.Close() }, nil
}

// openBackend opens the configured store: PostgreSQL, or the SQLite file.
// Every command opens its store through it.
func openBackend(ctx context.Context, cfg *config.Config) (store.Store, error) {
	var st store.Store
	var err error
	if cfg.Store.Type != config.StorePostgres {
		st, err = openSQLite(ctx, cfg.Store.Path)
	} else {
		// The DSN's password is masked in whatever idsync prints or logs.
		if pw := config.DSNPassword(cfg.Store.DSN); pw != "" {
			masker.Add(pw)
		}
		st, err = postgres.Open(ctx, cfg.Store.DSN)
	}
	if err != nil {
		return nil, err
	}
	// The search index follows store.searchAttributes: an attribute added
	// gets the stored objects' values now, once (a read when nothing
	// changed).
	if err := st.SetSearchAttrs(ctx, cfg.Store.SearchAttrs()); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("store.searchAttributes: %w", err)
	}
	return st, nil
}

// openSQLite opens (creating its directory) the SQLite store, readable by
// its owner only: it holds every identity idsync has seen.
func openSQLite(ctx context.Context, path string) (store.Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the store's directory: %w", err)
	}
	// Create the file 0600 before SQLite does (with the umask's mode):
	// SQLite gives its -wal and -shm files the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		_ = f.Close()
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = st.Close()
			return nil, fmt.Errorf("restrict access to the store: %w", err)
		}
	}
	return st, nil
}

// openStore opens only the store (for read-only commands). Secret values
// are opened with the configured key when read.
func openStore(ctx context.Context, g *globalFlags) (*config.Config, store.Store, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	st, err := openBackend(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	sst, _ := sealStore(cfg, st, false)
	return cfg, sst, nil
}

// openInspectStore opens the store for display (preview, mv get, cs get):
// a read-only view where secret values are [secret], without the key.
func openInspectStore(ctx context.Context, g *globalFlags) (*config.Config, store.Store, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	st, err := openBackend(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, sealed.Masked(st, secretPolicy(cfg)), nil
}
