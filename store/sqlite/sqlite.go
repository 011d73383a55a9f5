// Package sqlite is the embedded backend of store.Store: one SQLite database
// file, accessed through the pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode with synchronous=NORMAL. In WAL mode a
// transaction is committed once its frames are appended to the WAL file with
// write(2); NORMAL only skips the fsync at commit (it still syncs at
// checkpoints). A process crash, kill -9 included, therefore never loses a
// committed transaction: the written frames are in the operating system's
// page cache and are recovered from the WAL on the next open. Only a power
// loss or kernel crash may roll back the last few transactions, and even then
// the database stays consistent (never corrupt, never half a transaction).
//
// Writes go through a single connection (database/sql pool of one), so
// concurrent writers queue in Go instead of failing with SQLITE_BUSY; reads
// use a separate pool of read-only connections and never block on writers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/idsync/idsync/store"
)

var (
	_ store.Store  = (*Store)(nil)
	_ store.Lister = (*Store)(nil)
)

// Store is a store.Store kept in one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	w  *sql.DB // the single writer connection
	r  *sql.DB // read-only connections
	ck *checkpointer
	// Prepared statements of the hot paths (stmts.go).
	putCS, putMV, putWM, delCS, delMV rowStmts
	scanCSAll, scanCSConn, scanMV     *sql.Stmt
	// Keys and targeted reads (keys.go).
	delCSKeysOf, delCSKeys, insCSKeys, delMVKeysOf, delMVKeys, insMVKeys rowStmts
	putCSState, scanSyncPending, scanExports, csByKey, csByDN, mvByKey   *sql.Stmt
	idxMu                                                                sync.RWMutex
	csAttrs, mvAttrs, refConns                                           map[string]bool
	// The metaverse search index (search.go).
	insSearch, insSearchOf, delSearch rowStmts

	closeOnce sync.Once
	closeErr  error
}

// pageSize is the page size of new databases. Larger pages make bulk writes
// much faster (fewer page splits and write calls) at some cost to small
// writes, which write whole pages to the WAL.
const pageSize = 16384

// writerCachePages is the size of the writer's page cache, in pages: 128 MiB
// of 16 KiB pages. It is given in pages, not in KiB (a negative cache_size),
// because SQLite turns KiB into pages with the page size the connection has
// when the setting is made — the default 4 KiB, before the database's header
// is read — and keeps that number of pages once the pages are 16 KiB:
// cache_size(-131072) held up to 31,400 pages, 490 MiB, which the C
// allocator (modernc.org/memory: 20 KiB resident for each 16 KiB page) made
// some 600 MiB of resident memory by the middle of a 1M-object import.
// writerPragmas spells it out (TestWriterCacheSize checks they agree).
const writerCachePages = 128 << 20 / pageSize

// Per-connection settings, as DSN parameters. busy_timeout (ms) covers the
// rare waits for a lock (another process, a checkpoint). The writer gets a
// large page cache (writerCachePages; it only grows as pages are used), as
// imports touch many index pages per transaction.
// wal_autocheckpoint (in pages) is only a safety net: checkpoints normally
// run in the background (see checkpoint.go); journal_size_limit (bytes)
// truncates a WAL file that a big transaction made large. Readers map up to
// 256 MiB of the database file into memory (mmap_size), which makes the rowid
// lookups of scans cheap; mapping more made no measurable difference to a
// 100k-user full synchronization but counted every mapped page in the
// process's resident memory.
const (
	commonPragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=temp_store(memory)"
	writerPragmas = commonPragmas + "&_pragma=synchronous(NORMAL)&_pragma=cache_size(8192)&_pragma=wal_autocheckpoint(8192)&_pragma=journal_size_limit(67108864)&_txlock=immediate"
	readerPragmas = commonPragmas + "&_pragma=query_only(1)&_pragma=mmap_size(268435456)"
)

// Open opens (creating it if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, errors.New("invalid path")
	}
	s := &Store{}
	var err error
	if s.w, err = sql.Open("sqlite", path+"?"+writerPragmas); err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		_ = s.Close()
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	// page_size only takes effect on a new database, before WAL mode is set;
	// journal_mode=WAL is persistent.
	for _, p := range []string{fmt.Sprint("PRAGMA page_size = ", pageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := s.w.ExecContext(ctx, p); err != nil {
			return fail(fmt.Errorf("%s: %w", p, err))
		}
	}
	if err := migrate(ctx, s.w); err != nil {
		return fail(err)
	}
	if s.r, err = sql.Open("sqlite", path+"?"+readerPragmas); err != nil {
		return fail(err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if err := s.prepare(ctx); err != nil {
		return fail(err)
	}
	if err := s.prepareKeys(ctx); err != nil {
		return fail(err)
	}
	if err := s.loadIndexAttrs(ctx); err != nil {
		return fail(err)
	}
	if err := s.prepareSearch(ctx); err != nil {
		return fail(err)
	}
	if s.ck, err = startCheckpointer(path + "?" + commonPragmas + "&_pragma=synchronous(NORMAL)"); err != nil {
		return fail(err)
	}
	if err := s.loadSearch(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// Close closes the store; later calls return the first call's result. The
// last connection to close checkpoints the WAL into the database file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	var errs []error
	if s.ck != nil {
		errs = append(errs, s.ck.close())
	}
	errs = append(errs, s.closeStmts())
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}
