package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store/postgres"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := pgDatabases.dropAll(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// pgDatabases lends the tests PostgreSQL databases when
// IDSYNC_ENGINE_STORE=postgres (openTestStore). A test gets a new database,
// or one a test before gave back emptied (emptyDatabase); TestMain drops
// them all at the end. A database created and dropped for each test made
// the suite several times slower (each of PostgreSQL 15's DROP DATABASE
// forces a checkpoint), and migrating each store anew made its open take
// 0.7-2.8 s instead of 0.1-0.2 s on the loaded two-core machine.
var pgDatabases lender

type lender struct {
	mu      sync.Mutex
	free    []string       // DSNs of emptied databases
	drops   []func() error // every database's, for dropAll
	checked bool           // emptiedIsNew passed
}

// get returns the DSN of an empty database for t, given back at t's
// cleanup (after the cleanups t registers later, such as closing its
// store).
func (l *lender) get(t testing.TB) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var dsn string
	if n := len(l.free); n > 0 {
		dsn, l.free = l.free[n-1], l.free[:n-1]
	} else {
		var drop func() error
		var err error
		if dsn, drop, err = peers.PostgresDB(); err != nil {
			if peers.Required() {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		l.drops = append(l.drops, drop)
		if !l.checked {
			if err := emptiedIsNew(dsn); err != nil {
				t.Fatal(err)
			}
			l.checked = true
		}
	}
	t.Cleanup(func() {
		if err := emptyDatabase(dsn); err != nil {
			t.Logf("PostgreSQL: not lent again: %v", err)
			return
		}
		l.mu.Lock()
		l.free = append(l.free, dsn)
		l.mu.Unlock()
	})
	return dsn
}

// emptyDatabase empties every table of a store's database but
// schema_migrations, and restarts its identity columns: the store then
// opens it as a new one, without migrating it again. That a new database
// holds no other row after its migrations is emptiedIsNew's check.
func emptyDatabase(dsn string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DO $$ BEGIN
		EXECUTE (SELECT COALESCE('TRUNCATE ' || string_agg(format('%I', tablename), ', ') || ' RESTART IDENTITY', 'SELECT 1')
			FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations');
	END $$`)
	return err
}

// emptiedIsNew checks, on a new database, that a store opened on it holds
// the same rows as one opened on it emptied: it fails when a migration
// seeds a table, whose rows emptyDatabase would take from the next tests.
// The database is left emptied.
func emptiedIsNew(dsn string) error {
	ctx := context.Background()
	rows := func() (map[string]int64, error) {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		_ = st.Close()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		var tables []string
		r, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
		if err != nil {
			return nil, err
		}
		if tables, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
			return nil, err
		}
		n := map[string]int64{}
		for _, tb := range tables {
			var c int64
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{tb}.Sanitize()).Scan(&c); err != nil {
				return nil, err
			}
			n[tb] = c
		}
		return n, nil
	}
	fresh, err := rows()
	if err == nil {
		err = emptyDatabase(dsn)
	}
	var emptied map[string]int64
	if err == nil {
		emptied, err = rows()
	}
	if err == nil {
		err = emptyDatabase(dsn)
	}
	if err != nil {
		return fmt.Errorf("PostgreSQL: check that an emptied database is as new: %w", err)
	}
	if !maps.Equal(fresh, emptied) {
		return fmt.Errorf("PostgreSQL: a store's new database holds rows %v, emptied %v: emptyDatabase must keep what the migrations write", fresh, emptied)
	}
	return nil
}

// dropAll drops every database lent.
func (l *lender) dropAll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, drop := range l.drops {
		errs = append(errs, drop())
	}
	l.free, l.drops = nil, nil
	return errors.Join(errs...)
}
