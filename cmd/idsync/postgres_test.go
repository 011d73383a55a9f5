package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/peers"
)

// usePostgres points the configuration in dir at a new PostgreSQL database
// through the environment variable env (the DSN stays out of the file), and
// returns the DSN.
func usePostgres(t *testing.T, dir, env string) string {
	t.Helper()
	dsn := peers.Postgres(t)
	t.Setenv(env, dsn)
	cfg := filepath.Join(dir, "idsync.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, string(data)+"store:\n  type: postgres\n  dsn: ${"+env+"}\n")
	return dsn
}

// TestDemoOnPostgres runs the demo's cycles with the store in PostgreSQL:
// the same result as on SQLite, nothing written to a SQLite file, and the
// DSN's password in no output, even in an error.
func TestDemoOnPostgres(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	if err := writeDemoFiles(dir, false); err != nil {
		t.Fatal(err)
	}
	dsn := usePostgres(t, dir, "IDSYNC_TEST_STORE_DSN")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	out := mustIdsync(t, "demo", "--dir", dir)
	for _, want := range []string{"joined: Sofia Alvarez (contoso user + fabrikam contact)", "pending exports left: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "errors:") || strings.Contains(out, password) {
		t.Errorf("demo reported errors or showed the password:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "idsync.db")); err == nil {
		t.Error("the demo on PostgreSQL wrote idsync.db")
	}
	// The same cloud directory as the demo on SQLite.
	sqliteDir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", sqliteDir)
	if a, b := target(t, filepath.Join(dir, "idsync.yaml")), target(t, filepath.Join(sqliteDir, "idsync.yaml")); a != b {
		t.Errorf("the demo on PostgreSQL and on SQLite exported different directories:\n%s\n---\n%s", a, b)
	}
	// A second cycle over the same store exports nothing.
	out = mustIdsync(t, "demo", "--dir", dir)
	if !strings.Contains(out, "export to cloud: 0 adds, 0 updates, 0 renames, 0 deletes, 0 errors") {
		t.Errorf("second demo run exported changes:\n%s", out)
	}
	cfg := filepath.Join(dir, "idsync.yaml")
	if out := mustIdsync(t, "--config", cfg, "mv", "search", "mail=sofia.alvarez@contoso.test"); strings.Count(out, "\n") != 1 {
		t.Errorf("mv search: want exactly one object:\n%s", out)
	}
	if out := mustIdsync(t, "--config", cfg, "runs", "--limit", "3"); strings.Count(out, "run ") != 3 {
		t.Errorf("runs --limit 3:\n%s", out)
	}
	// A wrong password: an error that says so, without the password.
	bad := *u
	bad.User = url.UserPassword(u.User.Username(), "Wr0ngPassw0rd")
	t.Setenv("IDSYNC_TEST_STORE_DSN", bad.String())
	stdout, stderr, code := idsync(t, "--config", cfg, "runs")
	if code == 0 || !strings.Contains(stderr, "password authentication failed") || strings.Contains(stdout+stderr, "Wr0ngPassw0rd") {
		t.Errorf("runs with a wrong password: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
