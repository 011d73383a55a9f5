package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/peers"
)

// bin is the idsync binary built for the black-box tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idsync-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "idsync")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build idsync: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	peers.StopShared()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// idsync runs the binary and returns stdout, stderr and the exit code.
func idsync(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run idsync %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustIdsync runs the binary and fails the test unless it exits 0.
func mustIdsync(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := idsync(t, args...)
	if code != 0 {
		t.Fatalf("idsync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
