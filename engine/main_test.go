package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/internal/peers"
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
// IDSYNC_ENGINE_STORE=postgres (openTestStore). A test gets an empty
// database and gives it back emptied for the next one; TestMain drops them
// all at the end. A database created and dropped for each test made the
// suite several times slower: each of PostgreSQL 15's DROP DATABASE forces
// a checkpoint.
var pgDatabases lender

type lender struct {
	mu    sync.Mutex
	free  []string       // DSNs of empty databases
	drops []func() error // every database's, for dropAll
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

// emptyDatabase drops everything the database's role owns in it: every
// table, index, sequence, function and type the store's migrations
// created. The database is then as new (it is its role's only one).
func emptyDatabase(dsn string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP OWNED BY CURRENT_USER`)
	return err
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
