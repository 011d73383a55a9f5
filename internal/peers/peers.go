// Package peers starts the real servers that idsync's integration tests run
// against: OpenLDAP slapd, Samba as an Active Directory domain controller,
// an independent SCIM 2.0 server (scimmy) and an OpenID Connect provider
// (oidc-provider). Each server listens on loopback only, runs from a
// temporary directory, and is stopped when the test (or, for shared
// servers, the test binary) ends.
//
// When a server's programs are not installed, the test is skipped, unless
// IDSYNC_PEERS=require is set (scripts/test-all sets it after installing
// them): then a missing server fails the test, so CI can never pass by
// skipping the integration tests.
package peers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Required reports whether missing peers fail tests instead of skipping them.
func Required() bool { return os.Getenv("IDSYNC_PEERS") == "require" }

// Need finds each program on PATH (or in /usr/sbin and /sbin, where Debian
// installs servers) and returns their paths. A missing program skips the
// test, or fails it when Required.
func Need(t testing.TB, programs ...string) []string {
	t.Helper()
	paths := make([]string, len(programs))
	for i, p := range programs {
		path, err := LookPath(p)
		if err != nil {
			msg := fmt.Sprintf("%s is not installed (scripts/test-all installs it): %v", p, err)
			if Required() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		paths[i] = path
	}
	return paths
}

// LookPath finds a program on PATH, or in /usr/sbin or /sbin.
func LookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin", program)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// WaitTCP waits until addr accepts TCP connections, or timeout passes.
func WaitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections within %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the last n bytes of a log file, for failure messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return strings.TrimSpace(string(b[:k]))
}
