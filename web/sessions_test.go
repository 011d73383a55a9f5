package web

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sqlite"
)

// console is a bare console over a store: what `idsync serve` starts, as
// often as a test restarts it.
type console struct {
	t   *testing.T
	st  store.Store
	now func() time.Time
}

func (c *console) start() *httptest.Server {
	c.t.Helper()
	srv, err := New(c.t.Context(), Options{Store: c.st, Engine: &engine.Engine{Store: c.st}, Version: "test", Now: c.now})
	if err != nil {
		c.t.Fatal(err)
	}
	h := httptest.NewServer(srv.Handler())
	c.t.Cleanup(h.Close)
	return h
}

// browser is a browser signed in to a console: its cookie and the CSRF
// token of its pages.
type browser struct {
	t      *testing.T
	cookie *http.Cookie
	csrf   string
}

func (b *browser) do(h *httptest.Server, method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		if b.csrf != "" {
			form.Set("csrf", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, h.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			b.cookie = ck
		}
	}
	return resp.StatusCode, readResp(resp)
}

// signIn signs in as ann on h.
func signIn(t *testing.T, h *httptest.Server) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(h.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	m := csrfField.FindStringSubmatch(readResp(resp))
	if m == nil {
		t.Fatal("no form token on the sign-in page")
	}
	resp, err = c.PostForm(h.URL+"/login", url.Values{"user": {"ann"}, "password": {testPassword}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	readResp(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	b := &browser{t: t}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			b.cookie = ck
		}
	}
	if b.cookie == nil {
		t.Fatal("no session cookie after sign-in")
	}
	code, body := b.do(h, "GET", "/", nil)
	m = csrfField.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("dashboard after sign-in: %d, CSRF token found: %v", code, m != nil)
	}
	b.csrf = m[1]
	return b
}

func addUser(t *testing.T, st store.Store, name, role string) {
	t.Helper()
	h, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUser(t.Context(), &store.User{Name: name, Role: role, PasswordHash: h, Created: time.Now(), Modified: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestSessionsSurviveRestart: a session opened on one console is alive on
// a console started afterwards on the same store (a restart, or the
// standby taking over), CSRF token included; signing out on one ends it on
// both; and the store never holds the session token, only its hash.
func TestSessionsSurviveRestart(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var st store.Store
			var err error
			dbFile := filepath.Join(t.TempDir(), "idsync.db")
			if backend == "sqlite" {
				st, err = sqlite.Open(t.Context(), dbFile)
			} else {
				st, err = postgres.Open(t.Context(), peers.Postgres(t))
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			addUser(t, st, "ann", auth.RoleAdmin)
			c := &console{t: t, st: st, now: time.Now}
			first := c.start()
			b := signIn(t, first)
			first.Close() // the process stops
			second := c.start()
			if code, _ := b.do(second, "GET", "/", nil); code != http.StatusOK {
				t.Fatalf("dashboard on the restarted console: %d, want 200 (still signed in)", code)
			}
			// A form of a page of the first console posts to the second.
			if code, body := b.do(second, "POST", "/scheduler", url.Values{"enabled": {"false"}}); code != http.StatusSeeOther {
				t.Fatalf("POST /scheduler on the restarted console with the first one's CSRF token: %d %s", code, body)
			}
			if backend == "sqlite" {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				files, _ := filepath.Glob(dbFile + "*")
				for _, f := range files {
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(raw, []byte(b.cookie.Value)) {
						t.Fatalf("%s holds the session token", filepath.Base(f))
					}
				}
				if st, err = sqlite.Open(t.Context(), dbFile); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
				c.st = st
			}
			third := c.start() // two consoles on one store: the pair of a failover
			if code, _ := b.do(third, "GET", "/", nil); code != http.StatusOK {
				t.Fatalf("dashboard on a third console: %d, want 200", code)
			}
			if code, _ := b.do(third, "POST", "/logout", url.Values{}); code != http.StatusSeeOther {
				t.Fatalf("sign-out: %d", code)
			}
			if code, _ := b.do(c.start(), "GET", "/", nil); code != http.StatusSeeOther {
				t.Fatalf("dashboard after sign-out on another console: %d, want a redirect to the sign-in page", code)
			}
		})
	}
}

// TestSessionTouchThrottled: requests within SessionTouch of the recorded
// use write nothing; the first one after writes Seen; the session's idle
// expiry counts from the recorded use.
func TestSessionTouchThrottled(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	addUser(t, st, "ann", auth.RoleAdmin)
	now := time.Now().UTC().Truncate(time.Second)
	start := now
	c := &console{t: t, st: st, now: func() time.Time { return now }}
	h := c.start()
	b := signIn(t, h)
	hash := auth.TokenHash(b.cookie.Value)
	seen := func() time.Time {
		t.Helper()
		ss, err := st.GetSession(t.Context(), hash, now)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		return ss.Seen
	}
	for _, step := range []struct {
		after    time.Duration // since the previous step
		wantSeen time.Duration // since sign-in
	}{
		{20 * time.Second, 0},
		{20 * time.Second, 0},
		{19 * time.Second, 0},
		{time.Second, time.Minute}, // a minute since the recorded use: written
		{30 * time.Second, time.Minute},
	} {
		now = now.Add(step.after)
		if code, _ := b.do(h, "GET", "/", nil); code != http.StatusOK {
			t.Fatalf("request %s after sign-in: %d", now.Sub(start), code)
		}
		if got := seen().Sub(start); got != step.wantSeen {
			t.Errorf("after a request %s after sign-in, Seen is %s after sign-in, want %s", now.Sub(start), got, step.wantSeen)
		}
	}
	// The last request (90 s) was not recorded: the session ends
	// SessionIdle after the recorded one (60 s).
	now = start.Add(time.Minute + SessionIdle)
	if code, _ := b.do(h, "GET", "/", nil); code != http.StatusSeeOther {
		t.Fatalf("request SessionIdle after the recorded use: %d, want a redirect to the sign-in page", code)
	}
}

// TestSessionEndsWithUser: a disabled or deleted user is signed out at
// their next request, and a role change applies at once.
func TestSessionEndsWithUser(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(ctx context.Context, st store.Store) error
		want   int
	}{
		{"disabled", func(ctx context.Context, st store.Store) error {
			u, err := st.GetUser(ctx, "ann")
			if err != nil {
				return err
			}
			u.Disabled = true
			return st.PutUser(ctx, u)
		}, http.StatusSeeOther},
		{"deleted", func(ctx context.Context, st store.Store) error { return st.DeleteUser(ctx, "ann") }, http.StatusSeeOther},
		{"sessions ended", func(ctx context.Context, st store.Store) error {
			_, err := st.DeleteUserSessions(ctx, "ann")
			return err
		}, http.StatusSeeOther},
		{"now browse", func(ctx context.Context, st store.Store) error {
			u, err := st.GetUser(ctx, "ann")
			if err != nil {
				return err
			}
			u.Role = auth.RoleBrowse
			return st.PutUser(ctx, u)
		}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			addUser(t, st, "ann", auth.RoleAdmin)
			h := (&console{t: t, st: st, now: time.Now}).start()
			b := signIn(t, h)
			if code, _ := b.do(h, "GET", "/audit", nil); code != http.StatusOK {
				t.Fatalf("audit page as admin: %d", code)
			}
			if err := tc.change(t.Context(), st); err != nil {
				t.Fatal(err)
			}
			if code, _ := b.do(h, "GET", "/audit", nil); code != tc.want {
				t.Fatalf("audit page after the change: %d, want %d", code, tc.want)
			}
		})
	}
}

// TestSessionWithoutLocalUser: a session opened for a person with no local
// user (an OpenID Connect sign-in) has the role it was opened with, on
// this console and on one started afterwards on the same store.
func TestSessionWithoutLocalUser(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv, err := New(t.Context(), Options{Store: st, Engine: &engine.Engine{Store: st}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := srv.sessions.start(t.Context(), &store.User{Name: "ada@idp.example", Role: auth.RoleOperator}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, cookie: &http.Cookie{Name: sessionCookie, Value: ss.id}}
	h := (&console{t: t, st: st, now: time.Now}).start()
	if code, body := b.do(h, "GET", "/", nil); code != http.StatusOK || !strings.Contains(body, "ada@idp.example") {
		t.Fatalf("dashboard as the OIDC operator: %d", code)
	}
	if code, _ := b.do(h, "GET", "/audit", nil); code != http.StatusForbidden {
		t.Fatalf("audit page as the OIDC operator: %d, want 403", code)
	}
}
