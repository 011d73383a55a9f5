package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
)

// TestUserAddNoPassword: idsync user add --no-password stores a user with
// no password (the local record of a person who signs in through the
// console's OpenID Connect provider), audited as such.
func TestUserAddNoPassword(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "store:\n  path: users.db\n")
	out, errs, code := idsyncStdin(t, "", "--config", cfg, "user", "add", "ines@example.com", "--role", "admin", "--tenant", "contoso", "--no-password")
	if code != 0 || !strings.Contains(out, "user ines@example.com added (role admin, tenant contoso, no password)") {
		t.Fatalf("user add --no-password: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	_, errs, code = idsyncStdin(t, "a long enough password\n", "--config", cfg, "user", "add", "rui", "--role", "browse", "--no-password", "--password-stdin")
	if code != 2 || !strings.Contains(errs, "--no-password or --password-stdin, not both") {
		t.Fatalf("--no-password with --password-stdin: exit %d, stderr %q; want a usage error", code, errs)
	}
	withStore(t, filepath.Join(dir, "users.db"), func(st store.Store) {
		u, err := st.GetUser(t.Context(), "Ines@Example.com")
		if err != nil || u.PasswordHash != "" || u.Tenant != "contoso" || u.Role != "admin" {
			t.Fatalf("stored user %+v, %v: want no password hash", u, err)
		}
		if _, err := st.GetUser(t.Context(), "rui"); err == nil {
			t.Error("the refused user was added")
		}
		es, err := st.Audit(t.Context(), store.AuditFilter{Action: "user-add"})
		if err != nil || len(es) != 1 || !strings.Contains(es[0].Detail, "no password") {
			t.Fatalf("audit: %+v, %v", es, err)
		}
	})
}

// oidcServe is idsync serve with console.oidc, against a real provider.
type oidcServe struct {
	dir, cfg, base string
	prov           *peers.OIDCProvider
	stderr         *syncBuffer
	cmd            *exec.Cmd
}

// oidcAccount is an account of the provider in the groups given, with the
// username claim name and the password name-Pw-2026.
func oidcAccount(name string, groups ...string) peers.OIDCAccount {
	return peers.OIDCAccount{Password: name + "-Pw-2026", Claims: map[string]any{"preferred_username": name, "groups": groups}}
}

// newOIDCServe starts the provider with accounts and writes a configuration
// whose console, at http://host:PORT, signs in through it (admins: the
// group idsync-admins); start runs serve.
func newOIDCServe(t *testing.T, host string, accounts map[string]peers.OIDCAccount) *oidcServe {
	t.Helper()
	dir := t.TempDir()
	port := peers.FreePort(t)
	s := &oidcServe{dir: dir, cfg: filepath.Join(dir, "idsync.yaml"), base: fmt.Sprintf("http://%s:%d", host, port), stderr: &syncBuffer{}}
	s.prov = peers.OIDC(t, peers.OIDCOptions{RedirectURIs: []string{s.base + "/login/oidc/callback"}, Accounts: accounts})
	writeFile(t, s.cfg, fmt.Sprintf(`store:
  path: idsync.db
console:
  oidc:
    issuer: %s
    clientId: %s
    clientSecret: ${IDSYNC_TEST_OIDC_SECRET}
    redirectURL: %s/login/oidc/callback
    scopes: [openid, profile, groups]
    roles: {admin: [idsync-admins]}
    displayName: Test SSO
`, s.prov.Issuer, s.prov.ClientID, s.base))
	return s
}

func (s *oidcServe) listen() string { return "127.0.0.1:" + s.base[strings.LastIndex(s.base, ":")+1:] }

// start runs idsync serve with the client secret in the environment, and
// waits until the console answers.
func (s *oidcServe) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(bin, "--config", s.cfg, "--log-level", "debug", "serve", "--listen", s.listen())
	s.cmd.Env = append(os.Environ(), "IDSYNC_TEST_OIDC_SECRET="+s.prov.ClientSecret)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	if err := peers.WaitTCP(s.listen(), 20*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s", err, s.stderr.String())
	}
}

// stop ends serve and checks that its log never shows the client secret.
func (s *oidcServe) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	if strings.Contains(s.stderr.String(), s.prov.ClientSecret) {
		t.Error("the serve log shows the client secret")
	}
}

// TestServeOIDC: idsync serve with console.oidc signs people in through a
// real OpenID Connect provider (the client secret from the environment,
// never in the log), binds a local user added with --no-password, and
// audits the sign-ins.
func TestServeOIDC(t *testing.T) {
	s := newOIDCServe(t, "127.0.0.1", map[string]peers.OIDCAccount{
		"alice": oidcAccount("alice", "staff", "idsync-admins"), "ines": oidcAccount("ines@example.com", "idsync-admins")})
	cfg, base, prov := s.cfg, s.base, s.prov
	if out, errs, code := idsyncStdin(t, "", "--config", cfg, "user", "add", "ines@example.com", "--role", "admin", "--tenant", "contoso", "--no-password"); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errs)
	}
	// Without the secret's variable, serve says so and does not start.
	if _, errs, code := idsyncStdin(t, "", "--config", cfg, "serve", "--listen", s.listen()); code == 0 ||
		!strings.Contains(errs, "console.oidc.clientSecret: environment variable IDSYNC_TEST_OIDC_SECRET is not set") {
		t.Fatalf("serve without IDSYNC_TEST_OIDC_SECRET: exit %d, stderr %q", code, errs)
	}
	s.start(t)

	signIn := func(login, password string) (*http.Client, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		// get answers the status, the Location header and the body.
		get := func(u string) (int, string, string) {
			t.Helper()
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("Location"), string(b)
		}
		if _, _, body := get(base + "/login"); !strings.Contains(body, "Sign in with Test SSO") {
			t.Fatalf("the sign-in page has no OIDC button:\n%s", body)
		}
		_, loc, _ := get(base + "/login/oidc?next=/")
		cb, err := prov.Authorize(c, loc, login, password, base+"/login/oidc/callback")
		if err != nil {
			t.Fatalf("sign-in of %s at the provider: %v", login, err)
		}
		if code, _, body := get(cb); code != http.StatusOK {
			t.Fatalf("callback of %s: %d %s", login, code, body)
		}
		code, _, body := get(base + "/")
		return c, fmt.Sprintf("%d %s", code, body)
	}
	if _, page := signIn("alice", "alice-Pw-2026"); !strings.HasPrefix(page, "200 ") || !strings.Contains(page, "alice (admin)") {
		t.Errorf("alice after signing in: %.300s", page)
	}
	if _, page := signIn("ines", "ines@example.com-Pw-2026"); !strings.HasPrefix(page, "403 ") || !strings.Contains(page, "limited to the tenant contoso") {
		t.Errorf("ines (local user of tenant contoso) after signing in: %.300s", page)
	}
	s.stop(t)
	withStore(t, filepath.Join(s.dir, "idsync.db"), func(st store.Store) {
		es, err := st.Audit(t.Context(), store.AuditFilter{Action: "login"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.User+" "+e.Role+" "+e.Target)
		}
		slices.Sort(got)
		want := []string{"alice admin " + prov.Issuer, "ines@example.com admin " + prov.Issuer}
		if !slices.Equal(got, want) {
			t.Errorf("audited sign-ins %q, want %q", got, want)
		}
	})
}

// TestConsoleOIDCInBrowser signs in through the provider in a real browser
// (testdata/e2e/oidc.mjs, headless Chromium): the console at
// http://localhost:PORT and the provider at http://127.0.0.1:PORT2 are two
// sites, so the provider's redirect back is a cross-site navigation as in
// production — the SameSite=Lax sign-in cookie must come along and the
// SameSite=Strict session cookie must work after the callback's hop page.
// An admin by her groups disables the scheduler; a person in no mapped
// group is refused.
func TestConsoleOIDCInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	node := peers.Need(t, "node")[0]
	browser := os.Getenv("CHROMIUM")
	if browser == "" {
		browser = peers.Need(t, "chromium")[0]
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json")); err != nil {
		msg := "the npm packages of testdata/e2e are not installed (scripts/test-all runs npm ci there): " + err.Error()
		if peers.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// oidc-login.png, oidc-signed-in.png and oidc-refused.png go to the
	// folder oidc of TestConsoleInBrowser's (which empties its own).
	shots := t.TempDir()
	if dir := os.Getenv("IDSYNC_SCREENSHOTS"); dir != "" {
		shots = filepath.Join(dir, "oidc")
		if err := os.RemoveAll(shots); err != nil {
			t.Fatal(err)
		}
	}
	s := newOIDCServe(t, "localhost", map[string]peers.OIDCAccount{
		"alice": oidcAccount("alice", "staff", "idsync-admins"), "carol": oidcAccount("carol", "staff")})
	s.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	script := exec.CommandContext(ctx, node, "oidc.mjs", "--url", s.base, "--user", "alice", "--refused-user", "carol",
		"--provider", "Test SSO", "--screenshots", shots, "--chromium", browser)
	script.Dir = e2eDir
	script.Env = append(os.Environ(), "IDSYNC_E2E_PASSWORD=alice-Pw-2026", "IDSYNC_E2E_REFUSED_PASSWORD=carol-Pw-2026")
	script.WaitDelay = 5 * time.Second
	out, err := script.CombinedOutput()
	t.Logf("oidc.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed (%v); screenshots in %s\nserve's log:\n%s", err, shots, s.stderr.String())
	}
	s.stop(t)
	if status := mustIdsync(t, "--config", s.cfg, "scheduler", "status"); !strings.Contains(status, "SyncCycleEnabled: false") {
		t.Errorf("the scheduler is not disabled after alice disabled it:\n%s", status)
	}
}
