package postgres

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"context"
	"github.com/idsync/idsync/model"
	"testing"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/conformance"
)

func openTest(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T) store.Store {
		return openTest(t, peers.Postgres(t))
	})
}

func TestMigrationsRecorded(t *testing.T) {
	dsn := peers.Postgres(t)
	versions := func() []int {
		s := openTest(t, dsn)
		defer s.Close()
		rows, err := s.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var vs []int
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		return vs
	}
	first := versions()
	if len(first) != schemaVersion || first[len(first)-1] != schemaVersion {
		t.Fatalf("versions after first open = %v, want 1..%d", first, schemaVersion)
	}
	if second := versions(); len(second) != len(first) {
		t.Fatalf("versions after reopen = %v, want %v", second, first)
	}
}

// TestConcurrentOpen opens one new database from several goroutines at
// once: the migrations are applied once, and every open succeeds.
func TestConcurrentOpen(t *testing.T) {
	dsn := peers.Postgres(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dsn := peers.Postgres(t)
	s := openTest(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES ($1)`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(t.Context(), dsn)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer version succeeded")
	}
	if want := fmt.Sprintf("database schema version %d is newer than this program's %d", schemaVersion+1, schemaVersion); !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v, want %q", err, want)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dsn := peers.Postgres(t)
	ctx := t.Context()
	s := openTest(t, dsn)
	o := &store.CSObject{ID: "cs-1", Connector: "ad", Object: model.Object{Anchor: "\x00a\xff",
		Attrs: model.Attrs{"guid": {Type: model.Binary, Values: []string{"\x00\xff"}}}}}
	if err := s.Apply(ctx, &store.Batch{PutCS: []*store.CSObject{o}, Watermarks: []store.Watermark{{Connector: "ad", Value: "\x00w"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Index(ctx, store.IndexSpec{CS: map[string][]string{"ad": {"guid"}}}); err != nil {
		t.Fatal(err)
	}
	r := &store.Run{Connector: "ad", Profile: "p", Status: store.RunRunning, Message: "bad \x00 bytes \xff"}
	if err := s.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dsn)
	if got, err := s.GetCSByAnchor(ctx, "ad", "\x00a\xff"); err != nil || got.Object.Attrs.First("guid") != "\x00\xff" {
		t.Fatalf("GetCSByAnchor after reopen = %+v, %v", got, err)
	}
	if w, err := s.Watermark(ctx, "ad", ""); err != nil || w != "\x00w" {
		t.Fatalf("Watermark after reopen = %q, %v", w, err)
	}
	// What was declared is still keyed after reopening.
	if ids, err := s.CSByKey(ctx, "ad", store.ValueKey("guid", "\x00\xff")); err != nil || len(ids) != 1 {
		t.Fatalf("CSByKey after reopen = %v, %v", ids, err)
	}
	// Run messages are text: NUL and invalid UTF-8 become U+FFFD.
	if runs, err := s.Runs(ctx, store.RunFilter{}); err != nil || len(runs) != 1 || runs[0].Message != "bad \uFFFD bytes \uFFFD" {
		t.Fatalf("Runs after reopen = %+v, %v", runs, err)
	}
	r2 := &store.Run{Connector: "ad", Profile: "p", Status: store.RunRunning}
	if err := s.StartRun(ctx, r2); err != nil || r2.ID <= r.ID {
		t.Fatalf("StartRun after reopen: ID %d (previous %d), %v", r2.ID, r.ID, err)
	}
}

// TestTLSRequiredForRemote: a server on another machine must be reached
// with its certificate verified; the refusal comes before any connection
// and does not repeat the password.
func TestTLSRequiredForRemote(t *testing.T) {
	for _, tc := range []struct {
		dsn string
		ok  bool
	}{
		{"postgres://u:s3cret@db.example.test:5432/idsync", false},
		{"postgres://u:s3cret@db.example.test/idsync?sslmode=require", false},
		{"postgres://u:s3cret@db.example.test/idsync?sslmode=disable", false},
		{"host=db.example.test user=u password=s3cret sslmode=prefer", false},
		{"postgres://u:s3cret@127.0.0.1:1/idsync?sslmode=disable", true},
		{"postgres://u:s3cret@localhost:1/idsync", true},
		{"host=/var/run/postgresql port=1 user=u password=s3cret", true},
		{"postgres://u:s3cret@db.example.test:1/idsync?sslmode=verify-full", true},
		{"host=db.example.test port=1 user=u password=s3cret sslmode=verify-ca", true},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			t.Setenv("PGSSLMODE", "")
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, tc.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a closed port")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error shows the password: %v", err)
			}
			refused := strings.Contains(err.Error(), "set sslmode=verify-full")
			if refused == tc.ok {
				t.Fatalf("Open = %v; want refused for TLS: %v", err, !tc.ok)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://idsync:pw@db.example.test:5433/idsync?sslmode=verify-full": "idsync@db.example.test:5433/idsync",
		"host=/var/run/postgresql user=ann password=pw dbname=x":               "ann@/var/run/postgresql/x",
		"postgres://%zz": "postgres",
	} {
		if got := Describe(dsn); got != want {
			t.Errorf("Describe(%q) = %q, want %q", dsn, got, want)
		}
	}
	err := redactParseError(errors.New(`cannot parse "postgres://u:pw@h/x": bad` + " password=pw2 x"))
	if strings.Contains(err, "pw@") || strings.Contains(err, "pw2") {
		t.Errorf("redactParseError left a password: %s", err)
	}
}
