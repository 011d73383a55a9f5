package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Keys of the session-level advisory locks idsync takes (migrateLock, the
// schema's, is a transaction-level one).
const (
	// RunLockKey is the run lock: one process at a time runs run profiles
	// against the store (the PostgreSQL form of engine.Lock's file).
	RunLockKey int64 = 0x1d5f_c0de_0002
	// ActiveLockKey is the active role of a high-availability pair
	// (package ha): the process holding it exports, the others stand by.
	ActiveLockKey int64 = 0x1d5f_c0de_0003
)

// ErrLockHeld is returned by Locker.Acquire when another session holds
// the lock after the wait.
var ErrLockHeld = errors.New("another idsync process holds the lock")

// ErrLeaseLost is the cause of a lease's context when the lease was lost:
// its connection failed or did not answer within the lease's validity.
var ErrLeaseLost = errors.New("the lock's connection to PostgreSQL was lost")

// Locker takes one session-level advisory lock (pg_try_advisory_lock) on a
// connection of its own, kept open between acquisitions. A lease is valid
// while its connection answers: it is checked every Validity/3, and a
// lease whose last successful check is older than Validity is lost (its
// context is cancelled) before PostgreSQL can end the session and give the
// lock to another process: the connection asks the server to drop it
// after 2×Validity without an answer from this side (tcp_user_timeout,
// keepalives). Over a Unix socket the session ends when the process dies.
//
// A Locker holds at most one lease at a time; Acquire waits for a lease of
// this Locker held in this process as for one held elsewhere.
type Locker struct {
	cfg      *pgx.ConnConfig
	key      int64
	validity time.Duration
	poll     time.Duration
	what     string // for messages: "run lock", "active lease"

	sem  chan struct{} // held from Acquire to Release
	conn *pgx.Conn     // guarded by sem (and the lease's mu while held)
}

// LockerOptions tune a Locker.
type LockerOptions struct {
	// Key is the advisory lock's key (RunLockKey, ActiveLockKey).
	Key int64
	// What names the lock in messages ("run lock").
	What string
	// Validity is how long a lease stays valid after its last successful
	// check (default 5s); the server ends a silent session after twice
	// that.
	Validity time.Duration
	// Poll is how often Acquire retries while the lock is held elsewhere
	// (default 200ms).
	Poll time.Duration
}

// NewLocker returns a Locker of the database named by dsn; it connects on
// first use. Like Open, it refuses a remote server reached without a
// verified certificate.
func NewLocker(dsn string, o LockerOptions) (*Locker, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres lock: invalid DSN (%s): check the store's dsn", redactParseError(err))
	}
	if err := checkTLS(pc, dsn); err != nil {
		return nil, fmt.Errorf("postgres lock %s: %w", Describe(dsn), err)
	}
	if o.Validity <= 0 {
		o.Validity = 5 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.What == "" {
		o.What = "lock"
	}
	cfg := pc.ConnConfig
	host, _ := os.Hostname()
	// The server drops the session after 2×Validity of silence from this
	// side: tcp_user_timeout for unanswered data, keepalives for an idle
	// line (the checks keep it busy every Validity/3). Both only apply to
	// TCP; a Unix socket closes with the process.
	drop := 2 * o.Validity
	cfg.RuntimeParams["application_name"] = fmt.Sprintf("idsync %s (pid %d on %s)", o.What, os.Getpid(), host)
	cfg.RuntimeParams["tcp_user_timeout"] = strconv.FormatInt(drop.Milliseconds(), 10)
	cfg.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(max(1, int(drop.Seconds()/2)))
	cfg.RuntimeParams["tcp_keepalives_interval"] = strconv.Itoa(max(1, int(drop.Seconds()/6)))
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	d := &net.Dialer{Timeout: max(o.Validity, 5*time.Second), KeepAlive: max(time.Second, o.Validity/2)}
	cfg.DialFunc = d.DialContext
	return &Locker{cfg: cfg, key: o.Key, validity: o.Validity, poll: o.Poll, what: o.What, sem: make(chan struct{}, 1)}, nil
}

// Validity is how long a lease stays valid after its last check.
func (l *Locker) Validity() time.Duration { return l.validity }

// Close closes the Locker's connection (releasing a lease still held).
func (l *Locker) Close() {
	select {
	case l.sem <- struct{}{}:
	case <-time.After(l.validity):
		return // a lease is held and its owner has not released it: its connection dies with the process
	}
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.conn.Close(ctx)
		cancel()
		l.conn = nil
	}
	<-l.sem
}

// Acquire takes the lock, retrying every Poll for up to wait while another
// session holds it (wait 0: one try). It returns an error wrapping
// ErrLockHeld when the lock stayed held, with who holds it.
func (l *Locker) Acquire(ctx context.Context, wait time.Duration) (*Lease, error) {
	deadline := time.Now().Add(wait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case l.sem <- struct{}{}:
	default:
		select {
		case l.sem <- struct{}{}:
		case <-timer.C:
			return nil, fmt.Errorf("%w: this process holds the %s: wait for its run to finish", ErrLockHeld, l.what)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for {
		ok, err := l.try(ctx)
		if err != nil {
			<-l.sem
			return nil, err
		}
		if ok {
			return l.newLease(), nil
		}
		if !time.Now().Before(deadline) {
			holder := l.holder(ctx)
			<-l.sem
			return nil, fmt.Errorf("%w (%s holds the %s in database %s): wait for it to finish, or stop it",
				ErrLockHeld, holder, l.what, l.cfg.Database)
		}
		select {
		case <-ctx.Done():
			<-l.sem
			return nil, ctx.Err()
		case <-time.After(min(l.poll, time.Until(deadline))):
		}
	}
}

// try connects when needed and tries the lock once. A kept connection
// that fails (its server restarted, or the database failed over to
// another server since the last try) is replaced by a new one at once.
func (l *Locker) try(ctx context.Context) (bool, error) {
	for {
		kept := l.conn != nil
		if !kept {
			cctx, cancel := context.WithTimeout(ctx, max(l.validity, 5*time.Second))
			c, err := pgx.ConnectConfig(cctx, l.cfg)
			cancel()
			if err != nil {
				hint := "check that the database server is up"
				if len(l.cfg.Fallbacks) > 0 {
					hint = "check that one of the DSN's servers is up and is the primary (target_session_attrs=read-write skips standbys; during a database failover, until the new primary is promoted, none is)"
				}
				return false, fmt.Errorf("take the %s in PostgreSQL %s@%s/%s: %w: %s", l.what, l.cfg.User, l.cfg.Host, l.cfg.Database, err, hint)
			}
			l.conn = c
		}
		qctx, cancel := context.WithTimeout(ctx, l.validity)
		// A standby grants advisory locks of its own, which no session on
		// the primary sees: the lock is taken on a primary only (NULL on a
		// server in recovery).
		var ok *bool
		err := l.conn.QueryRow(qctx, `SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_try_advisory_lock($1) END`, l.key).Scan(&ok)
		cancel()
		if err == nil && ok == nil {
			host := l.conn.PgConn().Conn().RemoteAddr().String()
			l.dropConn()
			return false, fmt.Errorf("take the %s in PostgreSQL %s@%s/%s: the server %s is a standby (in recovery, read-only), whose locks the primary does not see: "+
				"point the DSN at the primary, or list every server with target_session_attrs=read-write", l.what, l.cfg.User, l.cfg.Host, l.cfg.Database, host)
		}
		if err == nil {
			return *ok, nil
		}
		l.dropConn()
		if !kept || ctx.Err() != nil {
			return false, fmt.Errorf("take the %s in PostgreSQL: %w", l.what, err)
		}
	}
}

// holder describes the session holding the lock, for messages.
func (l *Locker) holder(ctx context.Context) string {
	if l.conn == nil {
		return "another session"
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var name, addr string
	var pid int32
	err := l.conn.QueryRow(qctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local')
		FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid
		WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1 AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND ((k.classid::bigint << 32) | k.objid::bigint) = $1 LIMIT 1`, l.key).Scan(&pid, &name, &addr)
	if err != nil {
		return "another session"
	}
	return fmt.Sprintf("%q from %s (server process %d)", name, addr, pid)
}

// dropConn closes the connection (the server ends the session and frees
// its locks).
func (l *Locker) dropConn() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = l.conn.Close(ctx)
	cancel()
	l.conn = nil
}

// Lease is a lock held. Its context is cancelled when the lease is lost;
// the owner calls Release in any case.
type Lease struct {
	l        *Locker
	ctx      context.Context
	cancel   context.CancelCauseFunc
	acquired time.Time
	stop     chan struct{}
	stopped  chan struct{}

	mu       sync.Mutex // the connection's use; lost, released, expiry
	lost     bool
	released bool
	expiry   *time.Timer
	once     sync.Once
}

func (l *Locker) newLease() *Lease {
	s := &Lease{l: l, acquired: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.expiry = time.AfterFunc(l.validity, func() {
		s.lose(fmt.Errorf("%w: no answer for %s", ErrLeaseLost, l.validity))
	})
	go s.watch()
	return s
}

// Context is cancelled when the lease is lost (context.Cause says why).
func (s *Lease) Context() context.Context { return s.ctx }

// Acquired is when the lease was taken.
func (s *Lease) Acquired() time.Time { return s.acquired }

// watch checks the lease every Validity/3 until it is released or lost.
func (s *Lease) watch() {
	defer close(s.stopped)
	t := time.NewTicker(s.l.validity / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Check(context.Background()); err != nil {
			return
		}
	}
}

// Check asks the server, now, whether this session still holds the lock,
// and renews the lease's validity when it does. An error means the lease
// is lost: stop what it guards.
func (s *Lease) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost || s.l.conn == nil {
		return s.err()
	}
	start := time.Now()
	// Never longer than the validity left: the lease ends then anyway.
	cctx, cancel := context.WithDeadline(ctx, start.Add(s.l.validity))
	defer cancel()
	var held bool
	err := s.l.conn.QueryRow(cctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND pid = pg_backend_pid() AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1)`, s.l.key).Scan(&held)
	switch {
	case err != nil:
		// Also when the caller gave up: pgx closes a connection whose
		// query is cancelled, which frees the lock.
		s.loseLocked(fmt.Errorf("%w: %w", ErrLeaseLost, err))
		return s.err()
	case !held:
		s.loseLocked(fmt.Errorf("%w: the session no longer holds the %s (a connection pooler in transaction mode between idsync and PostgreSQL?)", ErrLeaseLost, s.l.what))
		return s.err()
	}
	if !s.expiry.Stop() {
		return s.err() // expired meanwhile
	}
	s.expiry.Reset(time.Until(start.Add(s.l.validity)))
	return nil
}

func (s *Lease) err() error {
	if c := context.Cause(s.ctx); c != nil {
		return c
	}
	return fmt.Errorf("%w: released", ErrLeaseLost)
}

// lose ends the lease: its context is cancelled at once; the connection
// is closed (so that the server frees the lock) as soon as no check is
// using it.
func (s *Lease) lose(err error) {
	s.cancel(err)
	go func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.loseLocked(err)
	}()
}

func (s *Lease) loseLocked(err error) {
	if s.released {
		return // the connection is the Locker's again
	}
	s.cancel(err)
	s.lost = true
	s.expiry.Stop()
	s.l.dropConn()
}

// Release gives the lock back (or, when the lease was lost, closes what is
// left of it). It must be called exactly once.
func (s *Lease) Release() {
	s.once.Do(func() {
		close(s.stop)
		<-s.stopped
		s.mu.Lock()
		s.expiry.Stop()
		if s.lost || s.ctx.Err() != nil {
			s.l.dropConn()
		} else if s.l.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.l.validity)
			if _, err := s.l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, s.l.key); err != nil {
				s.l.dropConn()
			}
			cancel()
		}
		s.lost, s.released = true, true
		s.cancel(fmt.Errorf("%w: released", ErrLeaseLost))
		s.mu.Unlock()
		<-s.l.sem
	})
}
