package postgres

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/internal/peers"
)

func newTestLocker(t *testing.T, dsn string, validity time.Duration) *Locker {
	t.Helper()
	l, err := NewLocker(dsn, LockerOptions{Key: RunLockKey, What: "run lock", Validity: validity, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// TestLockerExclusive: one lease at a time across connections (and within
// a Locker), the holder named in the refusal, the lock free after Release,
// and Acquire with a wait taking it as soon as it is released.
func TestLockerExclusive(t *testing.T) {
	dsn := peers.Postgres(t)
	a, b := newTestLocker(t, dsn, 2*time.Second), newTestLocker(t, dsn, 2*time.Second)
	ctx := t.Context()
	la, err := a.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx); err != nil {
		t.Fatalf("Check of a held lease: %v", err)
	}
	_, err = b.Acquire(ctx, 100*time.Millisecond)
	if !errors.Is(err, ErrLockHeld) || !strings.Contains(err.Error(), "idsync run lock (pid") {
		t.Fatalf("second Acquire: %v, want ErrLockHeld naming the holder", err)
	}
	if _, err := a.Acquire(ctx, 0); !errors.Is(err, ErrLockHeld) {
		t.Fatalf("Acquire on the holding Locker: %v, want ErrLockHeld", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		la.Release()
	}()
	start := time.Now()
	lb, err := b.Acquire(ctx, 5*time.Second)
	if err != nil {
		t.Fatalf("Acquire with a wait: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("Acquire with a wait took %s, want about 300ms", d)
	}
	if la.Context().Err() == nil {
		t.Error("a released lease's context is not done")
	}
	// The lease outlives several validity periods while its checks pass.
	time.Sleep(2500 * time.Millisecond)
	if err := lb.Context().Err(); err != nil {
		t.Fatalf("a healthy lease was lost: %v", context.Cause(lb.Context()))
	}
	lb.Release()
	la2, err := a.Acquire(ctx, 0) // the Locker's connection is reused
	if err != nil {
		t.Fatal(err)
	}
	la2.Release()
}

// TestLeaseLostWhenSessionEnds: a lease whose session the server ends
// (pg_terminate_backend, a database restart) is lost at its next check,
// and the lock is free for another session.
func TestLeaseLostWhenSessionEnds(t *testing.T) {
	dsn := peers.Postgres(t)
	a, b := newTestLocker(t, dsn, 900*time.Millisecond), newTestLocker(t, dsn, time.Second)
	ctx := t.Context()
	la, err := a.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'idsync run lock%' AND pid IN
		(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate the holder's session: %d sessions, %v", n, err)
	}
	select {
	case <-la.Context().Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the lease was not lost within 2s of its session's end")
	}
	if err := la.Check(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Check of a lost lease: %v, want ErrLeaseLost", err)
	}
	lb, err := b.Acquire(ctx, time.Second)
	if err != nil {
		t.Fatalf("the lock is not free after the holder's session ended: %v", err)
	}
	lb.Release()
}

// TestLeaseLostWhenNetworkBreaks: the holder's line to the database goes
// silent (a proxy stops forwarding, keeping both ends open): the lease is
// lost within its validity, without waiting for TCP to give up, and the
// session asks the server to drop it after twice that.
func TestLeaseLostWhenNetworkBreaks(t *testing.T) {
	dsn := peers.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := startBlackholeProxy(t, u.Host)
	u.Host = p.addr
	const validity = time.Second
	l := newTestLocker(t, u.String(), validity)
	ctx := t.Context()
	lease, err := l.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	var timeout string
	lease.mu.Lock() // the lease's checks use the connection too
	err = l.conn.QueryRow(ctx, `SHOW tcp_user_timeout`).Scan(&timeout)
	lease.mu.Unlock()
	if err != nil || timeout != "2000" {
		t.Errorf("tcp_user_timeout of the lock's session = %q ms (%v), want 2000", timeout, err)
	}
	time.Sleep(1500 * time.Millisecond) // several checks pass
	if lease.Context().Err() != nil {
		t.Fatalf("lost before the break: %v", context.Cause(lease.Context()))
	}
	broke := time.Now()
	p.silence()
	select {
	case <-lease.Context().Done():
		if d := time.Since(broke); d > validity+700*time.Millisecond {
			t.Errorf("lost %s after the break, want within the validity %s", d, validity)
		}
		if !errors.Is(context.Cause(lease.Context()), ErrLeaseLost) {
			t.Errorf("cause %v, want ErrLeaseLost", context.Cause(lease.Context()))
		}
	case <-time.After(3 * validity):
		t.Fatal("the lease outlived a silent connection")
	}
}

// blackholeProxy forwards TCP to a server until silenced; then it reads
// and drops what either side sends, leaving the connections open.
type blackholeProxy struct {
	addr   string
	silent atomic.Bool
}

func startBlackholeProxy(t *testing.T, target string) *blackholeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 && !p.silent.Load() {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			wg.Add(2)
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	return p
}

func (p *blackholeProxy) silence() { p.silent.Store(true) }
