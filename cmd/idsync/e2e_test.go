package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
)

// e2eDir holds the browser test of the console (testdata/e2e): its Node
// script and the pinned playwright-core that scripts/test-all installs.
const e2eDir = "../../testdata/e2e"

// TestConsoleInBrowser walks the web console of `idsync serve` in a real
// browser: testdata/e2e/console.mjs drives a headless Chromium with
// playwright-core through sign-in (a wrong password first), the dashboard,
// a full-import and a full-sync started from contoso's page and seen in the
// run history, a metaverse search by mail, the object's lineage and its
// connector space object, cloud's pending exports and their CSV download,
// disabling the scheduler, turning an application's provisioning on and
// off, signing out, what a browse user may not do, and
// a tenant's page.
// It saves a PNG screenshot of each page into $IDSYNC_SCREENSHOTS (a new
// temporary directory when unset; the test logs which).
//
// It needs node, Chromium (chromium on PATH, or $CHROMIUM) and the npm
// packages of testdata/e2e (npm ci): without them it is skipped, unless
// IDSYNC_PEERS=require (scripts/test-all), when it fails.
func TestConsoleInBrowser(t *testing.T) {
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
	shots := os.Getenv("IDSYNC_SCREENSHOTS")
	if shots == "" {
		var err error
		if shots, err = os.MkdirTemp("", "idsync-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else {
		// Only this run's pictures.
		old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	if abs, err := filepath.Abs(shots); err == nil {
		shots = abs
	}
	t.Logf("screenshots: %s", shots)

	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	adminPw, browsePw := randomPassword(t), randomPassword(t)
	addUser(t, cfg, "ann", "admin", adminPw)
	addUser(t, cfg, "bob", "browse", browsePw)
	// A tenant, for the tenant pages.
	mustIdsync(t, "--config", cfg, "tenant", "add", "northwind", "--name", "Northwind Traders")
	// An application whose provisioning is off (nothing assigned either):
	// the browser turns it on and off again.
	scim := peers.SCIM(t)
	t.Setenv("IDSYNC_E2E_SCIM_TOKEN", scim.Token)
	writeFile(t, filepath.Join(dir, "provisioning.yaml"), fmt.Sprintf(`applications:
  - name: crm
    provisioning: off
    scim: {url: %q, auth: {token: "${IDSYNC_E2E_SCIM_TOKEN}"}}
    mappings: [{target: userName, source: mail, matching: true}]
`, scim.URL))

	cmd := exec.Command(bin, "--config", cfg, "--log-level", "info", "serve", "--listen", "127.0.0.1:0")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return context.DeadlineExceeded
		}
	}
	t.Cleanup(func() { _ = stop() })

	// serve's first sync cycle has ended: from then on, until the next in
	// 30 minutes, only what the browser starts runs.
	var url string
	deadline := time.Now().Add(20 * time.Second)
	for {
		if url == "" {
			if m := regexp.MustCompile(`msg="web console" url=(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String()); m != nil {
				url = m[1]
			}
		}
		if url != "" {
			if out, _, _ := idsync(t, "--config", cfg, "scheduler", "status"); strings.Contains(out, "LastCycleResult:  success") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not finish its first sync cycle within 20s:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A change in contoso for the browser to import and synchronize: Grace
	// Kim's new title becomes a pending export to cloud.
	ldif := filepath.Join(dir, "forest-a.ldif")
	data, err := os.ReadFile(ldif)
	if err != nil {
		t.Fatal(err)
	}
	changed := regexp.MustCompile(`(?m)(^dn: CN=Grace Kim,(?:.+\n)*?)title: Account Executive$`).ReplaceAllString(string(data), "${1}title: Sales Director")
	if changed == string(data) {
		t.Fatal("the demo's forest-a.ldif has no Grace Kim with title Account Executive")
	}
	writeFile(t, ldif, changed)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	script := exec.CommandContext(ctx, node, "console.mjs", "--url", url, "--user", "ann", "--browse-user", "bob",
		"--screenshots", shots, "--chromium", browser)
	script.Dir = e2eDir
	script.Env = append(os.Environ(), "IDSYNC_E2E_PASSWORD="+adminPw, "IDSYNC_E2E_BROWSE_PASSWORD="+browsePw)
	script.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := script.CombinedOutput()
	t.Logf("console.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		t.Fatalf("the browser test failed (%v); screenshots, failure.png among them, in %s\nserve's log:\n%s", err, shots, stderr.String())
	}
	if err := stop(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, stderr.String())
	}
	// What the browser did reached the store.
	status := mustIdsync(t, "--config", cfg, "scheduler", "status")
	if !strings.Contains(status, "SyncCycleEnabled: false") {
		t.Errorf("the scheduler is not disabled after the browser disabled it:\n%s", status)
	}
	for _, want := range []string{`msg="run finished" run=`, `connector=contoso profile=full-import`, `connector=contoso profile=full-sync`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve's log lacks %q:\n%s", want, stderr.String())
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	if len(pngs) < 10 {
		t.Errorf("%d screenshots in %s, want at least 10", len(pngs), shots)
	}
}

// addUser adds a console account with idsync user add --password-stdin.
func addUser(t *testing.T, cfg, name, role, password string) {
	t.Helper()
	cmd := exec.Command(bin, "--config", cfg, "user", "add", name, "--role", role, "--password-stdin")
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("idsync user add %s: %v\n%s", name, err, out)
	}
}

func randomPassword(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
