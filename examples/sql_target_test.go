package examples_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/idsync/idsync/connector/sql" // the sql connector type
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store"
)

// TestSQLTarget runs examples/sql-target: the HR CSV's three workers
// become rows of the SQLite subscriber table made from schema.sql, with
// their extensions; a worker leaving the CSV has its row soft-deleted.
func TestSQLTarget(t *testing.T) {
	dir := copyDir(t, "sql-target")
	ddl, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "subscribers.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(string(ddl)); err != nil {
		t.Fatal(err)
	}
	s := openSiteAt(t, dir)
	cycle := func() {
		t.Helper()
		for _, step := range []struct {
			conn string
			p    engine.Profile
		}{{"hr", engine.FullImport}, {"hr", engine.FullSync}, {"pbx", engine.Export}, {"pbx", engine.FullImport}, {"pbx", engine.FullSync}} {
			runs, err := s.e.Run(s.ctx, step.conn, step.p, engine.RunOptions{AllowDeletes: true})
			if err != nil {
				t.Fatalf("%s of %s: %v", step.p, step.conn, err)
			}
			for _, r := range runs {
				if es, _ := s.st.RunErrors(s.ctx, r.ID); len(es) > 0 {
					t.Fatalf("%s of %s: %s: %s", step.p, step.conn, es[0].Object, es[0].Message)
				}
			}
		}
	}
	cycle()
	var got string
	if err := db.QueryRow(`SELECT group_concat(email || '=' || extension || '/' || enabled, ' ') FROM (SELECT * FROM subscribers WHERE tenant_id = 'contoso' ORDER BY id)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "ada@example.test=2001/1 bob@example.test=2002/1 cy@example.test=2003/1"; got != want {
		t.Fatalf("subscribers: %s, want %s", got, want)
	}
	csv := "employeeID,mail,displayName,extension\n1001,ada@example.test,Ada Lovelace,2001\n1003,cy@example.test,Cy Young,2003\n"
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	cycle()
	if err := db.QueryRow(`SELECT group_concat(email || '/' || deleted, ' ') FROM (SELECT * FROM subscribers WHERE tenant_id = 'contoso' ORDER BY id)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "ada@example.test/0 bob@example.test/1 cy@example.test/0"; got != want {
		t.Fatalf("after Bob left: %s, want %s", got, want)
	}
	// Fabrikam's row, outside the connector's scope, was neither changed
	// nor imported (no connector space object of pbx has its id).
	if err := db.QueryRow(`SELECT group_concat(id || ':' || email || '=' || display_name || '/' || extension || '/' || deleted, ' ') FROM subscribers WHERE tenant_id <> 'contoso'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "1:ada@example.test=Ada (Fabrikam)/2001/0"; got != want {
		t.Fatalf("fabrikam's rows: %s, want %s", got, want)
	}
	n := 0
	if err := s.st.ScanCS(s.ctx, "pbx", func(o *store.CSObject) error {
		if o.Object.Anchor == "1" {
			t.Errorf("fabrikam's row was imported: %+v", o)
		}
		if !o.Deleted && !o.Placeholder {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d CS objects of pbx, want contoso's 2 live rows (Ada, Cy)", n)
	}
}
