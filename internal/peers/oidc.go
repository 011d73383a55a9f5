package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OIDCProvider is a running OpenID Connect provider
// (testdata/oidc-provider: panva's oidc-provider, a certified
// implementation independent of idsync) with one confidential client and
// the accounts it was started with. Its sign-in page is a form with the
// fields login and password (posted to the action it names), then a
// consent form with one button.
type OIDCProvider struct {
	// Issuer is http://127.0.0.1:PORT.
	Issuer string
	// ClientID and ClientSecret are the registered client's (random per
	// provider).
	ClientID, ClientSecret string
}

// OIDCAccount is an account of the provider: the password its sign-in
// form checks, and the claims of its ID token (sub is the login).
type OIDCAccount struct {
	Password string         `json:"password"`
	Claims   map[string]any `json:"claims"`
}

// OIDCOptions configure an OIDC provider.
type OIDCOptions struct {
	// RedirectURIs are the client's registered redirect URIs.
	RedirectURIs []string
	// Accounts by login.
	Accounts map[string]OIDCAccount
}

// OIDC starts an OpenID Connect provider for the test and stops it when
// the test ends. It needs node and npm; the provider's npm packages are
// installed (npm ci) into testdata/oidc-provider/node_modules on first use.
func OIDC(t testing.TB, opts OIDCOptions) *OIDCProvider {
	t.Helper()
	paths := Need(t, "node", "npm")
	node, npm := paths[0], paths[1]
	// oidc-provider 9 needs Node.js 20 or later (crypto.hash, URL.parse,
	// the global WebCrypto): Debian 12's nodejs is 18.
	if out, err := exec.Command(node, "--version").Output(); err != nil || nodeMajor(string(out)) < 20 {
		msg := fmt.Sprintf("the OIDC provider (oidc-provider 9) needs Node.js 20 or later; node --version: %q %v", strings.TrimSpace(string(out)), err)
		if Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir, err := oidcProviderDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := npmCI(npm, dir, "oidc-provider/package.json", "jose/package.json", "koa/package.json"); err != nil {
		t.Fatal(err)
	}
	p := &OIDCProvider{ClientID: "idsync-console-" + randomHex(4), ClientSecret: randomHex(24)}
	type client struct {
		ID           string   `json:"client_id"`
		Secret       string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	conf, err := json.Marshal(map[string]any{
		"clients":  []client{{ID: p.ClientID, Secret: p.ClientSecret, RedirectURIs: opts.RedirectURIs}},
		"accounts": opts.Accounts,
	})
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	p.Issuer = fmt.Sprintf("http://127.0.0.1:%d", port)
	logPath := filepath.Join(t.TempDir(), "oidc-provider.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "OIDC_CONFIG="+string(conf))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The provider dies with the test binary, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start the OIDC provider: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	})
	if err := p.wait(exited, 30*time.Second); err != nil {
		t.Fatalf("OIDC provider: %v\n%s", err, tail(logPath, 2000))
	}
	return p
}

var oidcFormAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// Authorize drives the provider's pages as a browser with hc's cookie jar
// would: from the authorization request authURL it follows the redirects,
// posts the sign-in form with login and password and the consent form, and
// stops at the redirect to redirectURI, whose URL (with the code and
// state) it returns without requesting it.
func (p *OIDCProvider) Authorize(hc *http.Client, authURL, login, password, redirectURI string) (string, error) {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	method, target, form := http.MethodGet, authURL, url.Values(nil)
	posted := map[string]bool{}
	for range 20 {
		req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
		if err != nil {
			return "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		body := string(b)
		next := func(m, step string, f url.Values) error {
			if posted[step] {
				return fmt.Errorf("the provider showed its %s form again: %s", step, body)
			}
			posted[step] = true
			a := oidcFormAction.FindStringSubmatch(body)
			if a == nil {
				return fmt.Errorf("no form on the provider's %s page: %s", step, body)
			}
			u, err := resp.Request.URL.Parse(html.UnescapeString(a[1]))
			if err != nil {
				return err
			}
			method, target, form = m, u.String(), f
			return nil
		}
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			u, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(u.String(), redirectURI+"?") {
				return u.String(), nil
			}
			method, target, form = http.MethodGet, u.String(), nil
		case resp.StatusCode == http.StatusOK && strings.Contains(body, `name="password"`):
			err = next(http.MethodPost, "sign-in", url.Values{"login": {login}, "password": {password}})
		case resp.StatusCode == http.StatusOK && strings.Contains(body, "/confirm"):
			err = next(http.MethodPost, "consent", url.Values{})
		default:
			err = fmt.Errorf("%s %s: %s: %s", method, target, resp.Status, body)
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("the provider did not redirect to " + redirectURI)
}

// nodeMajor reads the major version of `node --version` (v20.20.2); 0
// when it is not one.
func nodeMajor(v string) int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

// wait polls the provider's discovery document until it answers 200.
func (p *OIDCProvider) wait(exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(p.Issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /.well-known/openid-configuration: %s", resp.Status)
		}
		select {
		case <-exited:
			return errors.New("node server.mjs exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer within %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// oidcProviderDir returns testdata/oidc-provider in the module root.
func oidcProviderDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source of package peers")
	}
	dir := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "oidc-provider"))
	if _, err := os.Stat(filepath.Join(dir, "server.mjs")); err != nil {
		return "", fmt.Errorf("OIDC provider sources: %w", err)
	}
	return dir, nil
}

// npmCI runs npm ci in dir unless node_modules holds every one of files.
// Test binaries of several packages may start at once: a lock file in the
// temporary directory serializes them.
func npmCI(npm, dir string, files ...string) error {
	ready := func() bool {
		for _, f := range append([]string{".package-lock.json"}, files...) {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", f)); err != nil {
				return false
			}
		}
		return true
	}
	if ready() {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(dir))
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("idsync-npm-%x.lock", h.Sum64())), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock for npm ci: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if ready() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s (scripts/test-all runs it; the npm registry must be reachable): %w\n%s", dir, err, out)
	}
	return nil
}
