package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

// idsyncStdin runs the binary with stdin and returns stdout, stderr and the
// exit code.
func idsyncStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run idsync %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// withStore opens the store of a test's configuration, for checks.
func withStore(t *testing.T, path string, fn func(store.Store)) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "store:\n  path: users.db\n")
	db := filepath.Join(dir, "users.db")
	const annPw, annPw2 = "correct horse battery", "another long passphrase"
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return idsyncStdin(t, stdin, append([]string{"--config", cfg, "user"}, args...)...)
	}
	must := func(stdin string, args ...string) (string, string) {
		t.Helper()
		out, errs, code := run(stdin, args...)
		if code != 0 {
			t.Fatalf("idsync user %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
		}
		return out, errs
	}
	fails := func(wantCode int, wantErr, stdin string, args ...string) {
		t.Helper()
		out, errs, code := run(stdin, args...)
		if code != wantCode || !strings.Contains(errs, wantErr) {
			t.Fatalf("idsync user %s: exit %d, stderr %q; want exit %d with %q (stdout %q)", strings.Join(args, " "), code, errs, wantCode, wantErr, out)
		}
	}

	out, _ := must(annPw+"\n", "add", "Ann", "--role", "admin", "--password-stdin")
	if !strings.Contains(out, "user Ann added (role admin)") {
		t.Fatalf("user add printed %q", out)
	}
	must("bob's passphrase\r\n", "add", "bob@contoso.test", "--role", "browse", "--tenant", "contoso", "--password-stdin")

	fails(1, "already exists", annPw, "add", "ANN", "--role", "browse", "--password-stdin")
	fails(1, "too short: 5 characters, at least 12", "short", "add", "carol", "--role", "browse", "--password-stdin")
	fails(1, "more than one line", "line one is long\nline two\n", "add", "carol", "--role", "browse", "--password-stdin")
	fails(2, "--role must be one of admin, operator, browse", annPw, "add", "carol", "--role", "root", "--password-stdin")
	fails(2, "--role is required", annPw, "add", "carol", "--password-stdin")
	fails(2, "reserved", annPw, "add", "CLI", "--role", "admin", "--password-stdin")
	fails(2, "character ' '", annPw, "add", "carol smith", "--role", "admin", "--password-stdin")
	fails(2, "standard input is not a terminal", annPw, "add", "carol", "--role", "admin")

	withStore(t, db, func(st store.Store) {
		u, err := st.GetUser(t.Context(), "ann")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "Ann" || u.Role != auth.RoleAdmin || u.Disabled || u.Created.IsZero() {
			t.Fatalf("stored user %+v", u)
		}
		if ok, err := auth.VerifyPassword(u.PasswordHash, annPw); err != nil || !ok {
			t.Fatalf("the stored hash %q does not verify the password: %v", u.PasswordHash, err)
		}
		b, err := st.GetUser(t.Context(), "BOB@contoso.test")
		if err != nil || b.Tenant != "contoso" || b.Role != auth.RoleBrowse {
			t.Fatalf("stored user bob = %+v, %v", b, err)
		}
		if ok, err := auth.VerifyPassword(b.PasswordHash, "bob's passphrase"); err != nil || !ok {
			t.Fatalf("bob's password (CRLF-terminated on stdin) does not verify: %v", err)
		}
	})

	// Passwords: the old one stops working.
	must(annPw2, "passwd", "ann", "--password-stdin")
	fails(1, "not found", annPw2, "passwd", "nobody", "--password-stdin")
	withStore(t, db, func(st store.Store) {
		u, _ := st.GetUser(t.Context(), "Ann")
		if ok, _ := auth.VerifyPassword(u.PasswordHash, annPw); ok {
			t.Fatal("the old password still verifies")
		}
		if ok, _ := auth.VerifyPassword(u.PasswordHash, annPw2); !ok {
			t.Fatal("the new password does not verify")
		}
	})

	// Tokens: printed once, alone on stdout; only the hash is stored.
	tok, errs := must("", "token", "ann", "--name", "nightly report", "--expires", "30d")
	tok = strings.TrimSuffix(tok, "\n")
	if !regexp.MustCompile(`^idsync_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Fatalf("token output %q: want the token alone", tok)
	}
	m := regexp.MustCompile(`API token ([0-9a-f]{16}) for Ann \(nightly report\), expires (\S+)\.`).FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("token stderr %q", errs)
	}
	id := m[1]
	if exp, err := time.Parse(time.RFC3339, m[2]); err != nil || time.Until(exp) < 29*24*time.Hour || time.Until(exp) > 31*24*time.Hour {
		t.Fatalf("expiry %q (%v): want 30 days from now", m[2], err)
	}
	never, _ := must("", "token", "Ann", "--name", "forever", "--expires", "never")
	withStore(t, db, func(st store.Store) {
		got, err := st.APITokenByHash(t.Context(), auth.TokenHash(tok))
		if err != nil || got.ID != id || got.User != "Ann" || got.Name != "nightly report" || got.Expires == nil {
			t.Fatalf("stored token = %+v, %v", got, err)
		}
		got, err = st.APITokenByHash(t.Context(), auth.TokenHash(strings.TrimSpace(never)))
		if err != nil || got.Expires != nil {
			t.Fatalf("token with --expires never = %+v, %v", got, err)
		}
	})
	fails(2, "exactly one of", "", "token", "ann")
	fails(2, "exactly one of", "", "token", "ann", "--name", "x", "--list")
	fails(2, "--expires", "", "token", "ann", "--name", "x", "--expires", "0d")
	fails(2, "--expires goes with --name", "", "token", "ann", "--list", "--expires", "1d")
	fails(1, "not found", "", "token", "nobody", "--name", "x")
	out, _ = must("", "token", "ann", "--list")
	if !strings.Contains(out, id) || !strings.Contains(out, "nightly report") || strings.Contains(out, tok) {
		t.Fatalf("token --list:\n%s", out)
	}
	out, _ = must("", "token", "ann", "--list", "-o", "json")
	var toks []map[string]any
	if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks) != 2 || toks[0]["id"] != id || toks[0]["hash"] != nil {
		t.Fatalf("token --list -o json: %v\n%s", err, out)
	}
	fails(1, "not found", "", "token", "bob@contoso.test", "--revoke", id) // another user's token
	must("", "token", "ann", "--revoke", id)
	fails(1, "not found", "", "token", "ann", "--revoke", id)

	// Disable, enable, list.
	must("", "disable", "bob@contoso.test")
	out, _ = must("", "list")
	for _, want := range []string{"Ann  ", "admin", "bob@contoso.test", "contoso", "disabled"} {
		if !strings.Contains(out, want) {
			t.Fatalf("user list lacks %q:\n%s", want, out)
		}
	}
	must("", "enable", "bob@contoso.test")
	out, _ = must("", "list", "-o", "json")
	var users []map[string]any
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 2 {
		t.Fatalf("user list -o json: %v\n%s", err, out)
	}
	if users[0]["name"] != "Ann" || users[0]["tokens"] != 1.0 || users[0]["passwordHash"] != nil || users[1]["disabled"] != nil {
		t.Fatalf("user list -o json: %v", users)
	}
	if strings.Contains(out, "argon2id") {
		t.Fatalf("user list -o json shows a password hash:\n%s", out)
	}

	// Delete takes the tokens along.
	out, _ = must("", "delete", "ANN")
	if !strings.Contains(out, "user Ann deleted, with 1 API token(s)") {
		t.Fatalf("user delete printed %q", out)
	}
	fails(1, "not found", "", "delete", "ann")

	withStore(t, db, func(st store.Store) {
		if toks, err := st.APITokens(t.Context(), ""); err != nil || len(toks) != 0 {
			t.Fatalf("tokens left after deleting their user: %v, %v", toks, err)
		}
		es, err := st.Audit(t.Context(), store.AuditFilter{User: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			if e.Outcome != store.AuditOK || e.Remote != "local" || !strings.Contains(e.Detail, "os user ") {
				t.Errorf("audit entry %+v", e)
			}
			if strings.Contains(e.Detail, tok) || strings.Contains(e.Detail, annPw) {
				t.Errorf("audit entry holds a secret: %+v", e)
			}
			actions = append(actions, e.Action+" "+e.Target)
		}
		slices.Reverse(actions)
		want := []string{"user-add Ann", "user-add bob@contoso.test", "user-passwd Ann", "token-add Ann", "token-add Ann",
			"token-revoke Ann", "user-disable bob@contoso.test", "user-enable bob@contoso.test", "user-delete Ann"}
		if !slices.Equal(actions, want) {
			t.Fatalf("audit log:\n%q\nwant\n%q", actions, want)
		}
	})
}
