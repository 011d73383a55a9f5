package main

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/sample"
	"github.com/idsync/idsync/store/postgres"
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

// TestStoreMigrate moves the demo's SQLite store to PostgreSQL: the next
// cycle on PostgreSQL changes nothing (links, pending exports, watermarks
// and runs arrived), a second copy is refused, and the store can be copied
// back to a new SQLite file.
func TestStoreMigrate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	runsBefore := strings.Count(mustIdsync(t, "--config", cfg, "runs", "--limit", "0"), "run ")
	dsn := usePostgres(t, dir, "IDSYNC_TEST_STORE_DSN")
	u, _ := url.Parse(dsn)
	password, _ := u.User.Password()

	out := mustIdsync(t, "--config", cfg, "store", "migrate", "--from", "sqlite:"+filepath.Join(dir, "idsync.db"))
	if !strings.Contains(out, "copied and verified in") || !strings.Contains(out, fmt.Sprintf("%d runs", runsBefore)) ||
		!strings.Contains(out, "postgres postgres://"+u.User.Username()+":xxxxx@") || strings.Contains(out, password) {
		t.Fatalf("store migrate:\n%s", out)
	}
	if n := strings.Count(mustIdsync(t, "--config", cfg, "runs", "--limit", "0"), "run "); n != runsBefore {
		t.Errorf("runs on PostgreSQL: %d, want %d", n, runsBefore)
	}
	if err := os.Rename(filepath.Join(dir, "idsync.db"), filepath.Join(dir, "old.db")); err != nil {
		t.Fatal(err)
	}
	out = mustIdsync(t, "demo", "--dir", dir)
	if !strings.Contains(out, "export to cloud: 0 adds, 0 updates, 0 renames, 0 deletes, 0 errors") {
		t.Errorf("the cycle after the migration exported changes:\n%s", out)
	}
	// A second copy into the now non-empty database is refused.
	stdout, stderr, code := idsync(t, "--config", cfg, "store", "migrate", "--from", "sqlite:"+filepath.Join(dir, "old.db"))
	if code == 0 || !strings.Contains(stderr, "the destination store is not empty") || !strings.Contains(stderr, "--into-non-empty") {
		t.Errorf("a copy into a non-empty store: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// And back, the DSN given as a reference.
	back := filepath.Join(t.TempDir(), "back.db")
	out = mustIdsync(t, "store", "migrate", "--from", "${IDSYNC_TEST_STORE_DSN}", "--to", "sqlite:"+back)
	if !strings.Contains(out, "copied and verified in") || strings.Contains(out, password) {
		t.Fatalf("store migrate back:\n%s", out)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"store", "migrate", "--to", "sqlite:" + back},
		{"store", "migrate", "--from", "mysql://x", "--to", "sqlite:" + back},
		{"store", "migrate", "--from", "sqlite:" + back, "--to", "sqlite:" + back},
	} {
		if _, stderr, code := idsync(t, args...); code != 2 {
			t.Errorf("idsync %s: exit %d, want 2 (usage)\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	if _, stderr, code := idsync(t, "store", "migrate", "--from", "sqlite:"+filepath.Join(dir, "missing.db"), "--to", "sqlite:"+back+"2"); code == 0 || !strings.Contains(stderr, "no such file") {
		t.Errorf("a missing source: exit %d\n%s", code, stderr)
	}
}

// TestRunLockOnPostgres: with the store in PostgreSQL the run lock is an
// advisory lock in the database, not a file: a run (exit 4) and store
// migrate into the store are refused while another session holds it,
// naming the holder, and go ahead once it is released.
func TestRunLockOnPostgres(t *testing.T) {
	var src bytes.Buffer
	if err := sample.Generate(&src, sample.GenOptions{Seed: 3, Users: 20, Groups: 2, MembersPerGroup: 3}); err != nil {
		t.Fatal(err)
	}
	cfg := crashDir(t, src.Bytes())
	dsn := usePostgres(t, filepath.Dir(cfg), "IDSYNC_TEST_STORE_DSN")
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	l, err := postgres.NewLocker(dsn, postgres.LockerOptions{Key: postgres.RunLockKey, What: "run lock"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lease, err := l.Acquire(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	holder := fmt.Sprintf("idsync run lock (pid %d on", os.Getpid())
	_, stderr, code := idsync(t, "--config", cfg, "run", "src", "full-sync")
	if code != 4 || !strings.Contains(stderr, "another idsync run is in progress") || !strings.Contains(stderr, holder) {
		t.Errorf("a run while the lock is held: exit %d, %s", code, stderr)
	}
	_, stderr, code = idsync(t, "--config", cfg, "store", "migrate", "--from", "sqlite:"+filepath.Join(t.TempDir(), "old.db"))
	if code == 0 || !strings.Contains(stderr, "the configuration's store: another idsync run is in progress") {
		t.Errorf("store migrate while the lock is held: exit %d, %s", code, stderr)
	}
	lease.Release()
	mustIdsync(t, "--config", cfg, "run", "src", "full-sync")
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "idsync.db.lock")); err == nil {
		t.Error("a run on PostgreSQL took the SQLite file lock")
	}
}
