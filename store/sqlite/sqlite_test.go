package sqlite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/conformance"
)

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "idsync.db"))
	})
}

func TestMigrationsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	versions := func() []int {
		s := openTest(t, path)
		rows, err := s.r.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var vs []int
		for rows.Next() {
			var v int
			var at string
			if err := rows.Scan(&v, &at); err != nil {
				t.Fatal(err)
			}
			if _, err := parseTime(at); err != nil {
				t.Fatalf("applied_at of version %d: %v", v, err)
			}
			vs = append(vs, v)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return vs
	}
	first := versions()
	if len(first) != schemaVersion || first[len(first)-1] != schemaVersion {
		t.Fatalf("versions after first open = %v, want 1..%d", first, schemaVersion)
	}
	second := versions() // reopening applies nothing
	if len(second) != len(first) {
		t.Fatalf("versions after reopen = %v, want %v", second, first)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	s := openTest(t, path)
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, '')`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(t.Context(), path); err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer version succeeded")
	}
}

// writeSample writes one of everything; checkSample checks it is there.
func writeSample(t *testing.T, s *Store) *store.Run {
	t.Helper()
	o := &store.CSObject{ID: "cs-1", Connector: "ad", Object: model.Object{Anchor: "a",
		Attrs: model.Attrs{"guid": {Type: model.Binary, Values: []string{"\x00\xff"}}}}}
	err := s.Apply(t.Context(), &store.Batch{
		PutCS:      []*store.CSObject{o},
		PutMV:      []*store.MVObject{{ID: "mv-1", Type: "person"}},
		Watermarks: []store.Watermark{{Connector: "ad", Value: "w"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Run{Connector: "ad", Profile: "p", Status: store.RunRunning}
	if err := s.StartRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUser(t.Context(), &store.User{Name: "Ann", Role: "admin", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAPIToken(t.Context(), &store.APIToken{ID: "t1", User: "ann", Hash: "th"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAudit(t.Context(), &store.AuditEntry{User: "cli", Action: "user-add", Target: "Ann", Outcome: store.AuditOK}); err != nil {
		t.Fatal(err)
	}
	return r
}

func checkSample(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetCS(ctx, "cs-1")
	if err != nil || got.Object.Attrs.First("guid") != "\x00\xff" {
		t.Fatalf("GetCS after reopen = %+v, %v", got, err)
	}
	if _, err := s.GetMV(ctx, "mv-1"); err != nil {
		t.Fatalf("GetMV after reopen: %v", err)
	}
	if w, err := s.Watermark(ctx, "ad", ""); err != nil || w != "w" {
		t.Fatalf("Watermark after reopen = %q, %v", w, err)
	}
	if v, err := s.Setting(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("Setting after reopen = %q, %v", v, err)
	}
	if runs, err := s.Runs(ctx, store.RunFilter{}); err != nil || len(runs) != 1 {
		t.Fatalf("Runs after reopen = %v, %v", runs, err)
	}
	if u, err := s.GetUser(ctx, "ann"); err != nil || u.PasswordHash != "h" {
		t.Fatalf("GetUser after reopen = %+v, %v", u, err)
	}
	if tok, err := s.APITokenByHash(ctx, "th"); err != nil || tok.User != "Ann" {
		t.Fatalf("APITokenByHash after reopen = %+v, %v", tok, err)
	}
	if es, err := s.Audit(ctx, store.AuditFilter{}); err != nil || len(es) != 1 || es[0].Target != "Ann" {
		t.Fatalf("Audit after reopen = %v, %v", es, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	s := openTest(t, path)
	r := writeSample(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	checkSample(t, s)
	// A new run after reopening gets a higher ID.
	r2 := &store.Run{Connector: "ad", Profile: "p", Status: store.RunRunning}
	if err := s.StartRun(t.Context(), r2); err != nil || r2.ID <= r.ID {
		t.Fatalf("StartRun after reopen: ID %d (previous %d), %v", r2.ID, r.ID, err)
	}
}

// crashEnv names the database the child process of TestKillKeepsCommitted
// writes to before it kills itself.
const crashEnv = "IDSYNC_SQLITE_CRASH_DB"

// TestKillKeepsCommitted checks that committed transactions survive the
// process being killed (SIGKILL on Unix) without Close.
func TestKillKeepsCommitted(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		writeSample(t, s)
		fmt.Println("child: committed")
		p, err := os.FindProcess(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		p.Kill()
		select {}
	}
	path := filepath.Join(t.TempDir(), "idsync.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillKeepsCommitted$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "child: committed") {
		t.Fatalf("child process: %v, want it killed after committing; output:\n%s", err, out)
	}
	checkSample(t, openTest(t, path))
}

// TestWriterCacheSize: the writer's page cache is given in pages (a
// positive cache_size) and is 128 MiB of the database's pages, on a new
// database and on one opened again. A size in KiB would be turned into
// pages with the page size before the file's was read (see
// writerCachePages); the pages SQLite then holds are not visible through
// SQL, so this checks the setting.
func TestWriterCacheSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	for _, when := range []string{"new", "reopened"} {
		s := openTest(t, path)
		var pageSz, cache int
		if err := s.w.QueryRowContext(t.Context(), `PRAGMA page_size`).Scan(&pageSz); err != nil {
			t.Fatal(err)
		}
		if err := s.w.QueryRowContext(t.Context(), `PRAGMA cache_size`).Scan(&cache); err != nil {
			t.Fatal(err)
		}
		if pageSz != pageSize || cache != writerCachePages || cache*pageSz != 128<<20 {
			t.Errorf("%s database: page_size %d, cache_size %d; want %d pages of %d bytes (128 MiB)", when, pageSz, cache, writerCachePages, pageSize)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
