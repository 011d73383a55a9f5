package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idsync/idsync/store"
)

// The Sessions group: console sessions by the hash of their token, with an
// idle and an absolute expiry.

func session(hash, user string, created time.Time) *store.Session {
	return &store.Session{Hash: fmt.Sprintf("%064s", hash), User: user, Role: "operator", Created: created, Seen: created,
		IdleExpires: created.Add(30 * time.Minute), Expires: created.Add(12 * time.Hour)}
}

func putSession(t *testing.T, s store.Store, ss *store.Session) {
	t.Helper()
	if err := s.PutSession(t.Context(), ss); err != nil {
		t.Fatalf("PutSession(%s of %s): %v", ss.Hash, ss.User, err)
	}
}

func sameSession(t *testing.T, what string, got, want *store.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil session", what)
	}
	if got.Hash != want.Hash || got.User != want.User || got.Role != want.Role || got.Tenant != want.Tenant {
		t.Fatalf("%s = %s of %q (%s, tenant %q), want %s of %q (%s, tenant %q)", what, got.Hash, got.User, got.Role, got.Tenant,
			want.Hash, want.User, want.Role, want.Tenant)
	}
	checkTime(t, what+": Created", got.Created, want.Created)
	checkTime(t, what+": Seen", got.Seen, want.Seen)
	checkTime(t, what+": IdleExpires", got.IdleExpires, want.IdleExpires)
	checkTime(t, what+": Expires", got.Expires, want.Expires)
}

// liveHashes returns which of hashes GetSession finds at now.
func liveHashes(t *testing.T, s store.Store, now time.Time, hashes ...string) []string {
	t.Helper()
	var out []string
	for _, h := range hashes {
		_, err := s.GetSession(t.Context(), h, now)
		switch {
		case err == nil:
			out = append(out, h)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("GetSession(%s): %v", h, err)
		}
	}
	return out
}

var sessionTests = []testCase{
	{"PutGet", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("Ann", "admin"))
		ss := session("a1", "Ann", ts)
		ss.Tenant = "contoso"
		putSession(t, s, ss)
		got, err := s.GetSession(t.Context(), ss.Hash, ts.Add(time.Minute))
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		sameSession(t, "GetSession", got, ss)
		if _, err := s.GetSession(t.Context(), fmt.Sprintf("%064s", "nope"), ts); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetSession of an unknown hash: %v, want store.ErrNotFound", err)
		}
	}},
	{"NoLocalUser", func(t *testing.T, s store.Store) {
		// A person signed in through OpenID Connect, with no local record.
		ss := session("a1", "ada@example.org", ts)
		putSession(t, s, ss)
		got, err := s.GetSession(t.Context(), ss.Hash, ts)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		sameSession(t, "GetSession of a user with no local record", got, ss)
		if n, err := s.DeleteUserSessions(t.Context(), "ADA@example.org"); err != nil || n != 1 {
			t.Fatalf("DeleteUserSessions = %d, %v; want 1", n, err)
		}
	}},
	{"DuplicateHash", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		putUser(t, s, consoleUser("bob", "browse"))
		putSession(t, s, session("a1", "ann", ts))
		if err := s.PutSession(t.Context(), session("a1", "bob", ts)); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("PutSession with another session's hash: %v, want store.ErrAlreadyExists", err)
		}
		got, err := s.GetSession(t.Context(), fmt.Sprintf("%064s", "a1"), ts)
		if err != nil || got.User != "ann" {
			t.Fatalf("the first session after the refused put: %+v, %v", got, err)
		}
	}},
	{"Expiry", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		ss := session("a1", "ann", ts)
		putSession(t, s, ss)
		for _, c := range []struct {
			at   time.Duration
			live bool
		}{
			{0, true},
			{30*time.Minute - time.Microsecond, true},
			{30 * time.Minute, false}, // idle expiry
			{13 * time.Hour, false},
		} {
			if got := len(liveHashes(t, s, ts.Add(c.at), ss.Hash)) == 1; got != c.live {
				t.Errorf("session alive %s after sign-in = %v, want %v", c.at, got, c.live)
			}
		}
		// Used now and then, it lives until its absolute expiry.
		for at := 20 * time.Minute; at < 12*time.Hour; at += 20 * time.Minute {
			if err := s.TouchSession(t.Context(), ss.Hash, ts.Add(at), ts.Add(at+30*time.Minute)); err != nil {
				t.Fatalf("TouchSession: %v", err)
			}
			if live := liveHashes(t, s, ts.Add(at+time.Minute), ss.Hash); len(live) != 1 {
				t.Fatalf("a session used %s after sign-in has expired", at)
			}
		}
		if live := liveHashes(t, s, ts.Add(12*time.Hour), ss.Hash); len(live) != 0 {
			t.Fatalf("a session is alive at its absolute expiry")
		}
	}},
	{"TouchMovesForward", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		ss := session("a1", "ann", ts)
		putSession(t, s, ss)
		if err := s.TouchSession(t.Context(), ss.Hash, ts.Add(10*time.Minute), ts.Add(40*time.Minute)); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		// A touch recorded late (a concurrent request) moves nothing back.
		if err := s.TouchSession(t.Context(), ss.Hash, ts.Add(5*time.Minute), ts.Add(35*time.Minute)); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		got, err := s.GetSession(t.Context(), ss.Hash, ts.Add(39*time.Minute))
		if err != nil {
			t.Fatalf("GetSession 39 minutes after sign-in, touched at 10: %v", err)
		}
		checkTime(t, "Seen", got.Seen, ts.Add(10*time.Minute))
		checkTime(t, "IdleExpires", got.IdleExpires, ts.Add(40*time.Minute))
		checkTime(t, "Created", got.Created, ts)
		if err := s.TouchSession(t.Context(), fmt.Sprintf("%064s", "nope"), ts, ts); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TouchSession of an unknown hash: %v, want store.ErrNotFound", err)
		}
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		a, b := session("a1", "ann", ts), session("a2", "ann", ts)
		putSession(t, s, a)
		putSession(t, s, b)
		if err := s.DeleteSession(t.Context(), a.Hash); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if live := liveHashes(t, s, ts, a.Hash, b.Hash); len(live) != 1 || live[0] != b.Hash {
			t.Fatalf("after deleting one of two sessions, live: %v", live)
		}
		if err := s.DeleteSession(t.Context(), a.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteSession again: %v, want store.ErrNotFound", err)
		}
	}},
	{"DeleteUserSessions", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("Ann", "admin"))
		putUser(t, s, consoleUser("bob", "browse"))
		a1, a2, b1 := session("a1", "Ann", ts), session("a2", "ann", ts), session("b1", "bob", ts)
		for _, ss := range []*store.Session{a1, a2, b1} {
			putSession(t, s, ss)
		}
		n, err := s.DeleteUserSessions(t.Context(), "ANN")
		if err != nil || n != 2 {
			t.Fatalf("DeleteUserSessions(ANN) = %d, %v; want 2", n, err)
		}
		if live := liveHashes(t, s, ts, a1.Hash, a2.Hash, b1.Hash); len(live) != 1 || live[0] != b1.Hash {
			t.Fatalf("after deleting Ann's sessions, live: %v", live)
		}
		if n, err := s.DeleteUserSessions(t.Context(), "ann"); err != nil || n != 0 {
			t.Fatalf("DeleteUserSessions again = %d, %v; want 0", n, err)
		}
	}},
	{"GoWithTheirUser", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		ss := session("a1", "ann", ts)
		putSession(t, s, ss)
		if err := s.DeleteUser(t.Context(), "ann"); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		putUser(t, s, consoleUser("ann", "admin")) // a new user of the same name
		if live := liveHashes(t, s, ts, ss.Hash); len(live) != 0 {
			t.Fatalf("a deleted user's session signs its namesake in")
		}
	}},
	{"Purge", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		idle := session("idle", "ann", ts)                       // idle since ts
		used := session("used", "ann", ts.Add(-11*time.Hour))    // touched recently, absolute expiry at ts+1h
		old := session("old", "ann", ts.Add(-12*time.Hour))      // absolute expiry at ts
		fresh := session("fresh", "ann", ts.Add(20*time.Minute)) // alive
		used.IdleExpires = ts.Add(50 * time.Minute)
		old.IdleExpires = ts.Add(time.Hour)
		for _, ss := range []*store.Session{idle, used, old, fresh} {
			putSession(t, s, ss)
		}
		now := ts.Add(30 * time.Minute)
		n, err := s.PurgeSessions(t.Context(), now)
		if err != nil || n != 2 {
			t.Fatalf("PurgeSessions = %d, %v; want 2 (idle and old)", n, err)
		}
		// Purged, they are gone even to a clock set back.
		if live := liveHashes(t, s, ts.Add(25*time.Minute), idle.Hash, used.Hash, old.Hash, fresh.Hash); len(live) != 2 || live[0] != used.Hash || live[1] != fresh.Hash {
			t.Fatalf("after the purge, live: %v; want used and fresh", live)
		}
		if n, err := s.PurgeSessions(t.Context(), now); err != nil || n != 0 {
			t.Fatalf("PurgeSessions again = %d, %v; want 0", n, err)
		}
	}},
}
