// Package postgres is the PostgreSQL backend of store.Store, for
// installations that keep idsync's state in a database server they already
// run and replicate (pgx v5, a pool of connections).
//
// Every write of Apply is one transaction. Rows are written with set-based
// statements (INSERT … SELECT FROM unnest of one array per column), so a
// batch of ten thousand objects costs a handful of round trips. Objects are
// kept as the bytes of package codec (the same as the SQLite backend's);
// their IDs, anchors and the other columns copied out of them for the
// indexes are bytea, compared byte by byte as Go compares strings. Texts of
// runs, users and the audit log are text COLLATE "C".
//
// The store is safe for concurrent use within a process. Several processes
// on one database are safe for reads and writes (PostgreSQL's transactions),
// but Index keeps what was declared in memory, and runs must not overlap:
// processes take the run lock (Locker with RunLockKey, a session-level
// advisory lock) around their runs, and a high-availability pair the
// active lease (ActiveLockKey, package ha).
package postgres

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idsync/idsync/store"
)

var (
	_ store.Store  = (*Store)(nil)
	_ store.Lister = (*Store)(nil)
)

// Store is a store.Store kept in a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// What was declared with Index (keys.go); Apply holds the read lock.
	idxMu                      sync.RWMutex
	csAttrs, mvAttrs, refConns map[string]bool
	closeOnce                  sync.Once
}

// Open connects to the database named by dsn (a postgres:// URL or
// key=value pairs, as libpq reads them) and brings its schema up to date.
// The DSN holds a password: errors never repeat it.
//
// A server that is not on this machine must be reached over TLS with its
// certificate verified: sslmode=verify-full (or verify-ca). Over loopback or
// a Unix socket any sslmode is accepted.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN: say what is wrong without it.
		return nil, fmt.Errorf("open postgres store: invalid DSN (%s): check the store's dsn", redactParseError(err))
	}
	where := Describe(dsn)
	if err := checkTLS(cfg, dsn); err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	cfg.MaxConns = int32(max(4, 2*runtime.GOMAXPROCS(0)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	s := &Store{pool: pool}
	if err := s.open(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := migrate(ctx, s.pool); err != nil {
		return err
	}
	if err := s.loadIndexAttrs(ctx); err != nil {
		return err
	}
	return s.loadSearch(ctx)
}

// Close closes the pool's connections; later calls do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// Describe returns user@host:port/database of a DSN, without its password,
// for messages and logs ("postgres" when it cannot be parsed).
func Describe(dsn string) string {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return "postgres"
	}
	c := cfg.ConnConfig
	host := c.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, fmt.Sprint(c.Port))
	}
	return fmt.Sprintf("%s@%s/%s", c.User, host, c.Database)
}

var secretInError = regexp.MustCompile(`(?i)(password\s*=\s*)\S+|(://[^:/@\s]*:)[^@\s]*@`)

// redactParseError removes a password from pgx's DSN parse error.
func redactParseError(err error) string {
	return secretInError.ReplaceAllString(err.Error(), "$1$2xxxxx@")
}

// checkTLS refuses a DSN that would reach a server on another machine
// without verifying its certificate.
func checkTLS(cfg *pgxpool.Config, dsn string) error {
	mode := sslMode(dsn)
	if mode == "verify-full" || mode == "verify-ca" {
		return nil
	}
	hosts := []string{cfg.ConnConfig.Host}
	for _, f := range cfg.ConnConfig.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if !localHost(h) {
			if mode == "" {
				mode = "prefer (the default)"
			}
			return fmt.Errorf("sslmode is %s but the server %s is not on this machine: set sslmode=verify-full in the DSN (with sslrootcert= the CA of the server's certificate when it is not in the system's trust store)", mode, h)
		}
	}
	return nil
}

// sslMode returns the sslmode a DSN asks for ("" when none: libpq's
// default, prefer, unless PGSSLMODE says otherwise).
func sslMode(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			if m := u.Query().Get("sslmode"); m != "" {
				return m
			}
		}
	} else if m := regexp.MustCompile(`(?:^|\s)sslmode\s*=\s*'?([a-z-]+)`).FindStringSubmatch(dsn); m != nil {
		return m[1]
	}
	return os.Getenv("PGSSLMODE")
}

// localHost reports whether h is a Unix socket directory or a loopback
// address or name.
func localHost(h string) bool {
	if strings.HasPrefix(h, "/") || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
