package peers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// SCIMServer is a running SCIM 2.0 server (testdata/scim-server: scimmy, an
// implementation independent of idsync) with in-memory Users (with the
// enterprise extension) and Groups.
type SCIMServer struct {
	// URL is the SCIM base URL, http://127.0.0.1:PORT/scim/v2.
	URL string
	// Token is the bearer token the server accepts (random per server).
	Token string
}

// SCIMOptions tune a SCIM server.
type SCIMOptions struct {
	// NoPatch makes the server advertise no PATCH support and answer PATCH
	// with 501, so that clients must update with PUT.
	NoPatch bool
}

// SCIM starts a SCIM server for the test and stops it when the test ends.
// It needs node and npm; the server's npm packages are installed (npm ci)
// into testdata/scim-server/node_modules on first use.
func SCIM(t testing.TB) *SCIMServer { return StartSCIM(t, SCIMOptions{}) }

// StartSCIM is SCIM with options.
func StartSCIM(t testing.TB, opts SCIMOptions) *SCIMServer {
	t.Helper()
	paths := Need(t, "node", "npm")
	node, npm := paths[0], paths[1]
	dir, err := SCIMServerDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := installSCIMModules(npm, dir); err != nil {
		t.Fatal(err)
	}

	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	port := FreePort(t)
	logPath := filepath.Join(t.TempDir(), "scim-server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "SCIM_TOKEN="+token, "NODE_ENV=production")
	if opts.NoPatch {
		cmd.Env = append(cmd.Env, "SCIM_PATCH=off")
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test binary, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start the SCIM server: %v", err)
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

	s := &SCIMServer{URL: fmt.Sprintf("http://127.0.0.1:%d/scim/v2", port), Token: token}
	if err := s.wait(exited, 30*time.Second); err != nil {
		t.Fatalf("SCIM server: %v\n%s", err, tail(logPath, 2000))
	}
	return s
}

// wait polls the server's /ServiceProviderConfig until it answers 200.
func (s *SCIMServer) wait(exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/ServiceProviderConfig", nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /ServiceProviderConfig: %s", resp.Status)
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

// SCIMServerDir returns the directory of the SCIM server's sources
// (testdata/scim-server in the module root).
func SCIMServerDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source of package peers")
	}
	dir := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "scim-server"))
	if _, err := os.Stat(filepath.Join(dir, "server.mjs")); err != nil {
		return "", fmt.Errorf("SCIM server sources: %w", err)
	}
	return dir, nil
}

// scimModulesReady reports whether npm ci completed in dir.
func scimModulesReady(dir string) bool {
	for _, f := range []string{".package-lock.json", "scimmy/package.json", "scimmy-routers/package.json", "express/package.json"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", f)); err != nil {
			return false
		}
	}
	return true
}

// installSCIMModules runs npm ci in dir unless node_modules is complete.
// Test binaries of several packages may start at once: a lock file in the
// temporary directory serializes them.
func installSCIMModules(npm, dir string) error {
	if scimModulesReady(dir) {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(dir))
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("idsync-scim-npm-%x.lock", h.Sum64())), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock for npm ci: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if scimModulesReady(dir) {
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
