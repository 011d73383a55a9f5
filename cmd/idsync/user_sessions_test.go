package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/store"
)

// TestUserCommandsEndSessions: a password reset, disabling a user and
// deleting it end the user's console sessions, and only its; enabling
// does not.
func TestUserCommandsEndSessions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "store:\n  path: users.db\n")
	db := filepath.Join(dir, "users.db")
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, errs, code := idsyncStdin(t, stdin, append([]string{"--config", cfg, "user"}, args...)...)
		if code != 0 {
			t.Fatalf("idsync user %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	must("correct horse battery\n", "add", "ann", "--role", "admin", "--password-stdin")
	must("another long passphrase\n", "add", "bob", "--role", "browse", "--password-stdin")
	now := time.Now()
	n := 0
	signIn := func(user string) string {
		t.Helper()
		n++
		hash := auth.TokenHash(fmt.Sprint("token ", n))
		withStore(t, db, func(st store.Store) {
			if err := st.PutSession(t.Context(), &store.Session{Hash: hash, User: user, Created: now, Seen: now,
				IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		})
		return hash
	}
	live := func(hashes ...string) int {
		t.Helper()
		alive := 0
		withStore(t, db, func(st store.Store) {
			for _, h := range hashes {
				if _, err := st.GetSession(t.Context(), h, now); err == nil {
					alive++
				}
			}
		})
		return alive
	}
	for _, tc := range []struct {
		args    []string
		stdin   string
		out     string
		endsAnn bool
	}{
		{[]string{"passwd", "ann", "--password-stdin"}, "a third long passphrase", "password of ann changed; signed out of 2 console sessions", true},
		{[]string{"disable", "ann"}, "", "user ann disabled; signed out of 2 console sessions", true},
		{[]string{"enable", "ann"}, "", "user ann enabled\n", false},
		{[]string{"delete", "ann"}, "", "user ann deleted, with 0 API token(s); signed out of 2 console sessions", true},
	} {
		withStore(t, db, func(st store.Store) { // the sessions left by the case before
			if _, err := st.DeleteUserSessions(t.Context(), "ann"); err != nil {
				t.Fatal(err)
			}
		})
		a1, a2, b := signIn("ann"), signIn("ANN"), signIn("bob")
		out := must(tc.stdin, tc.args...)
		if !strings.Contains(out, tc.out) {
			t.Errorf("idsync user %s printed %q, want %q", strings.Join(tc.args, " "), out, tc.out)
		}
		want := 2
		if tc.endsAnn {
			want = 0
		}
		if got := live(a1, a2); got != want {
			t.Errorf("after idsync user %s, %d of ann's 2 sessions live, want %d", strings.Join(tc.args, " "), got, want)
		}
		if live(b) != 1 {
			t.Errorf("idsync user %s ended bob's session", strings.Join(tc.args, " "))
		}
	}
}
