package sql

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

const engineRules = `rules:
  - name: hr-in
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: extension, target: extension}
  - name: pbx-out
    connector: pbx
    direction: outbound
    csObjectType: subscriber
    mvObjectType: person
    linkType: Provision
    precedence: 20
    flows:
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: extension, target: extension}
`

// lostAnswer is the sql connector whose next Export carries out the ops
// and then loses the answer (a crash, a timeout): the engine sees an
// error for every op.
type lostAnswer struct {
	*Connector
	lose bool
}

func (l *lostAnswer) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	res := l.Connector.Export(ctx, ops)
	if l.lose {
		l.lose = false
		for i := range res {
			res[i] = connector.ExportResult{ID: res[i].ID, Err: errors.New("connection reset by peer (the answer was lost)")}
		}
	}
	return res
}

// TestEngineExport runs the sync engine from an HR source to a subscriber
// table whose database generates the anchor (an identity column), on
// SQLite and PostgreSQL: the first export adds the rows and records their
// ids; an add whose answer was lost is replayed and finds its row by
// matchColumns (one row, not two); a row that was in the table before
// idsync sent the add is left alone and the add fails on that object; a
// user leaving HR is deleted from the table; a confirming import joins
// the rows without making new objects.
func TestEngineExport(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.driver, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			db := newTestDB(t, b, dsn)
			db.exec(b.ddl)
			pbx := newConn(t, Config{Driver: b.driver, DSN: dsn, Table: "subscribers", ObjectType: "subscriber",
				Anchor:  Anchor{Column: "id", Source: SourceDatabase, MatchColumns: []string{"email"}},
				Columns: subscriberColumns(), DeltaColumn: "version", PageSize: 2})
			lossy := &lostAnswer{Connector: pbx}

			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			f, err := rules.Parse("rules.yaml", []byte(engineRules))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := rules.Merge(f)
			if err != nil {
				t.Fatal(err)
			}
			schema, err := pbx.Schema(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"hr": nil, "pbx": schema}}) {
				if !rules.IsWarning(e) {
					t.Fatalf("rules: %v", e)
				}
			}
			hr := memory.New("hr")
			e := &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{
				"hr":  {Name: "hr", Conn: hr, DeleteThreshold: -1},
				"pbx": {Name: "pbx", Conn: lossy, DeleteThreshold: -1},
			}}
			run := func(conn string, p engine.Profile) []string {
				t.Helper()
				runs, err := e.Run(ctx, conn, p, engine.RunOptions{})
				if err != nil {
					t.Fatalf("%s of %s: %v", p, conn, err)
				}
				var errs []string
				for _, r := range runs {
					es, err := st.RunErrors(ctx, r.ID)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range es {
						errs = append(errs, e.Object+": "+e.Message)
					}
				}
				return errs
			}
			user := func(mail, name, ext string) {
				hr.Put(&model.Object{Anchor: "hr-" + mail, Type: "user", Attrs: model.Attrs{
					"mail": model.Str(mail), "displayName": model.Str(name), "extension": {Type: model.Integer, Values: []string{ext}}}})
			}
			cycle := func() []string {
				t.Helper()
				errs := run("hr", engine.FullImport)
				errs = append(errs, run("hr", engine.FullSync)...)
				return append(errs, run("pbx", engine.Export)...)
			}
			rowCount := func() string { return db.value("SELECT COUNT(*) FROM subscribers") }

			// 1. First export: three rows, their ids recorded as anchors.
			user("ada@example.test", "Ada", "2001")
			user("bob@example.test", "Bob", "2002")
			user("cy@example.test", "Cy", "2003")
			if errs := cycle(); len(errs) > 0 {
				t.Fatalf("first cycle: %v", errs)
			}
			if n := rowCount(); n != "3" {
				t.Fatalf("%s rows after the first export, want 3", n)
			}
			adaID := db.value("SELECT id FROM subscribers WHERE email = ?", "ada@example.test")
			cs, err := st.GetCSByAnchor(ctx, "pbx", adaID)
			if err != nil || cs.Object.Attrs.First("mail") != "ada@example.test" {
				t.Fatalf("CS object of anchor %s (Ada's row id): %+v, %v", adaID, cs, err)
			}

			// 2. An add whose answer is lost: the row exists, idsync
			// does not know. The replay finds it by email: one row.
			user("dee@example.test", "Dee", "2004")
			lossy.lose = true
			if errs := cycle(); len(errs) != 1 || !strings.Contains(errs[0], "answer was lost") {
				t.Fatalf("export with a lost answer: %v", errs)
			}
			if errs := run("pbx", engine.Export); len(errs) > 0 {
				t.Fatalf("replayed export: %v", errs)
			}
			if n := db.value("SELECT COUNT(*) FROM subscribers WHERE email = ?", "dee@example.test"); n != "1" {
				t.Fatalf("%s rows for Dee after the replay, want 1", n)
			}
			deeID := db.value("SELECT id FROM subscribers WHERE email = ?", "dee@example.test")
			if _, err := st.GetCSByAnchor(ctx, "pbx", deeID); err != nil {
				t.Fatalf("Dee's row id %s is not the anchor of a CS object: %v", deeID, err)
			}

			// 3. A row idsync did not create, where an add would go: left
			// alone, the add fails on that object.
			db.exec("INSERT INTO subscribers (email, display_name, extension) VALUES (?, ?, ?)", "eve@example.test", "Eve (PBX)", 3001)
			user("eve@example.test", "Eve", "2005")
			errs := cycle()
			if len(errs) != 1 || !strings.Contains(errs[0], "did not create") {
				t.Fatalf("add over a foreign row: %v", errs)
			}
			if v := db.value("SELECT display_name || '/' || extension FROM subscribers WHERE email = ?", "eve@example.test"); v != "Eve (PBX)/3001" {
				t.Fatalf("the foreign row was changed: %q", v)
			}

			// 4. Bob leaves HR: his row is deleted.
			hr.Remove("hr-bob@example.test")
			if errs := cycle(); len(errs) != 1 { // Eve's add is still refused
				t.Fatalf("cycle after Bob left: %v", errs)
			}
			if n := db.value("SELECT COUNT(*) FROM subscribers WHERE email = ?", "bob@example.test"); n != "0" {
				t.Fatal("Bob's row is still there")
			}

			// 5. A confirming import of the table: the exported rows are
			// the connector space's objects, confirmed; Eve's row is one
			// more (a disconnector).
			if errs := run("pbx", engine.FullImport); len(errs) > 0 {
				t.Fatalf("confirming import: %v", errs)
			}
			n := 0
			if err := st.ScanCS(ctx, "pbx", func(o *store.CSObject) error {
				if !o.Deleted && !o.Placeholder {
					n++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if rows := rowCount(); rows != "4" || n != 4 {
				t.Fatalf("%s rows and %d CS objects after the confirming import, want 4 and 4", rows, n)
			}
		})
	}
}
