package main

import (
	"fmt"
	"io"
	"maps"
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

// TestServeOIDC: idsync serve with console.oidc signs people in through a
// real OpenID Connect provider (the client secret from the environment,
// never in the log), binds a local user added with --no-password, and
// audits the sign-ins.
func TestServeOIDC(t *testing.T) {
	dir := t.TempDir()
	port := peers.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	admins := map[string]any{"preferred_username": "", "groups": []string{"staff", "idsync-admins"}}
	acct := func(name string) peers.OIDCAccount {
		c := maps.Clone(admins)
		c["preferred_username"] = name
		return peers.OIDCAccount{Password: name + "-Pw-2026", Claims: c}
	}
	prov := peers.OIDC(t, peers.OIDCOptions{RedirectURIs: []string{base + "/login/oidc/callback"},
		Accounts: map[string]peers.OIDCAccount{"alice": acct("alice"), "ines": acct("ines@example.com")}})
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, fmt.Sprintf(`store:
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
`, prov.Issuer, prov.ClientID, base))
	if out, errs, code := idsyncStdin(t, "", "--config", cfg, "user", "add", "ines@example.com", "--role", "admin", "--tenant", "contoso", "--no-password"); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errs)
	}
	// Without the secret's variable, serve says so and does not start.
	if _, errs, code := idsyncStdin(t, "", "--config", cfg, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port)); code == 0 ||
		!strings.Contains(errs, "console.oidc.clientSecret: environment variable IDSYNC_TEST_OIDC_SECRET is not set") {
		t.Fatalf("serve without IDSYNC_TEST_OIDC_SECRET: exit %d, stderr %q", code, errs)
	}
	cmd := exec.Command(bin, "--config", cfg, "--log-level", "debug", "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "IDSYNC_TEST_OIDC_SECRET="+prov.ClientSecret)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := peers.WaitTCP(fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}

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
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if strings.Contains(stderr.String(), prov.ClientSecret) {
		t.Error("the serve log shows the client secret")
	}
	withStore(t, filepath.Join(dir, "idsync.db"), func(st store.Store) {
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
