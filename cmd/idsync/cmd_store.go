package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sqlite"
	"github.com/idsync/idsync/store/storecopy"
)

func newStoreCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "Move the store between SQLite and PostgreSQL"}
	cmd.AddCommand(newStoreMigrateCmd(g))
	return cmd
}

func newStoreMigrateCmd(g *globalFlags) *cobra.Command {
	var from, to string
	var intoNonEmpty bool
	var batch int
	cmd := &cobra.Command{
		Use:   "migrate --from STORE [--to STORE]",
		Short: "Copy a whole store into another one (SQLite to PostgreSQL, or back)",
		Long: `Copy everything idsync keeps — the connector spaces with their links and
pending exports, the metaverse, watermarks, runs with their errors, settings,
users, API tokens and the audit log — from one store into another, in
batches, then count both and check that the destination holds what the
source does.

A store is sqlite:PATH (a SQLite file, which must exist as a source) or a
PostgreSQL DSN (postgres://… or key=value pairs). ${NAME} references in it
are read from the environment, so that a password need not be on the
command line. --to defaults to the store of the configuration (--config):
point the configuration at the new store, then copy the old one into it.

The destination must be empty unless --into-non-empty is given. Secret
values stay sealed as they are (the same key opens them). Runs and audit
entries get new IDs, in the same order. Stop idsync while it copies (it
takes the run lock of a SQLite source and of the configuration's store);
after a failure, empty the destination and run it again.`,
		Example: `  idsync store migrate --from sqlite:/var/lib/idsync/idsync.db
  idsync store migrate --from sqlite:idsync.db --to 'postgres://idsync:${PGPASSWORD}@db.example.com/idsync?sslmode=verify-full'
  idsync store migrate --from 'postgres://idsync:${PGPASSWORD}@db.example.com/idsync?sslmode=verify-full' --to sqlite:back.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageError{errors.New("--from is required: the store to copy (sqlite:PATH or a postgres:// DSN)")}
			}
			return runStoreMigrate(cmd, g, from, to, storecopy.Options{IntoNonEmpty: intoNonEmpty, BatchSize: batch})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the store to copy: sqlite:PATH or a PostgreSQL DSN")
	cmd.Flags().StringVar(&to, "to", "", "the store to copy into (default: the configuration's store)")
	cmd.Flags().BoolVar(&intoNonEmpty, "into-non-empty", false, "copy even into a store that holds something (objects with the same IDs are overwritten)")
	cmd.Flags().IntVar(&batch, "batch-size", 5000, "objects written per transaction")
	return cmd
}

// storeSpec is a store named on the command line.
type storeSpec struct {
	sqlitePath string // sqlite:PATH
	dsn        string // PostgreSQL
}

func (s storeSpec) String() string {
	if s.sqlitePath != "" {
		return "sqlite:" + s.sqlitePath
	}
	return "postgres " + config.MaskDSN(s.dsn)
}

func parseStoreSpec(flag, v string) (storeSpec, error) {
	if path, ok := strings.CutPrefix(v, "sqlite:"); ok {
		if path == "" {
			return storeSpec{}, usageError{fmt.Errorf("%s sqlite: needs a path, e.g. sqlite:/var/lib/idsync/idsync.db", flag)}
		}
		return storeSpec{sqlitePath: path}, nil
	}
	dsn, err := config.ExpandDSN(v)
	if err != nil {
		return storeSpec{}, fmt.Errorf("%s: %w", flag, err)
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && !strings.Contains(dsn, "=") {
		return storeSpec{}, usageError{fmt.Errorf("%s %q is neither sqlite:PATH nor a PostgreSQL DSN (postgres://…)", flag, config.MaskDSN(v))}
	}
	if pw := config.DSNPassword(dsn); pw != "" {
		masker.Add(pw)
	}
	return storeSpec{dsn: dsn}, nil
}

// open opens the store and takes its run lock (a SQLite file's).
func (s storeSpec) open(ctx context.Context, source bool) (storecopy.Store, func(), error) {
	if s.dsn != "" {
		st, err := postgres.Open(ctx, s.dsn)
		if err != nil {
			return nil, nil, err
		}
		return st, func() { _ = st.Close() }, nil
	}
	if source {
		if _, err := os.Stat(s.sqlitePath); err != nil {
			return nil, nil, fmt.Errorf("the source store: %w", err)
		}
	}
	unlock, err := engine.Lock(s.sqlitePath+".lock", 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w (stop idsync first)", s, err)
	}
	st, err := openSQLite(ctx, s.sqlitePath)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return st.(*sqlite.Store), func() { _ = st.Close(); unlock() }, nil
}

func runStoreMigrate(cmd *cobra.Command, g *globalFlags, from, to string, opts storecopy.Options) error {
	ctx := cmd.Context()
	src, err := parseStoreSpec("--from", from)
	if err != nil {
		return err
	}
	var dst storeSpec
	if to != "" {
		if dst, err = parseStoreSpec("--to", to); err != nil {
			return err
		}
	} else {
		cfg, err := loadConfig(g)
		if err != nil {
			return fmt.Errorf("--to is not given and the configuration's store is unknown: %w", err)
		}
		if cfg.Store.Type == config.StorePostgres {
			dst = storeSpec{dsn: cfg.Store.DSN}
			masker.Add(config.DSNPassword(cfg.Store.DSN))
			// The configuration's run lock, in the database: no cycle
			// writes meanwhile.
			unlock, err := lockStore(cfg, 0)
			if err != nil {
				return fmt.Errorf("the configuration's store: %w (stop idsync first)", err)
			}
			defer unlock()
		} else {
			dst = storeSpec{sqlitePath: cfg.Store.Path}
		}
	}
	if src == dst {
		return usageError{fmt.Errorf("--from and --to are the same store (%s)", src)}
	}
	s, closeSrc, err := src.open(ctx, true)
	if err != nil {
		return err
	}
	defer closeSrc()
	d, closeDst, err := dst.open(ctx, false)
	if err != nil {
		return err
	}
	defer closeDst()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "copying %s into %s\n", src, dst)
	start := time.Now()
	last := time.Now()
	opts.Progress = func(what string, n int64) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(out, "  %s: %d\n", what, n)
		}
	}
	counts, err := storecopy.Copy(ctx, s, d, opts)
	if errors.Is(err, storecopy.ErrNotEmpty) {
		return fmt.Errorf("%w\n(copy into an empty database, or give --into-non-empty to overwrite objects with the same IDs and append runs and audit entries)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "copied and verified in %s: %s\n", time.Since(start).Round(time.Millisecond), counts)
	return nil
}
