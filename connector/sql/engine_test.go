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

const tenantRules = `rules:
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
`

// tenantSync is one tenant's synchronization: its own store, HR source
// and scoped sql connector on the shared table.
type tenantSync struct {
	t     *testing.T
	st    store.Store
	e     *engine.Engine
	hr    *memory.Connector
	pbx   *lostAnswer
	count func() int // live CS objects of pbx
}

func newTenantSync(t *testing.T, b backend, dsn string, anchor Anchor, tenant string) *tenantSync {
	t.Helper()
	ctx := context.Background()
	pbx := newConn(t, Config{Driver: b.driver, DSN: dsn, Table: "subscribers", ObjectType: "subscriber",
		Anchor:  anchor,
		Columns: map[string]Column{"email": {Attribute: "mail"}, "display_name": {Attribute: "displayName"}}, DeltaColumn: "version",
		Scope: []Scope{{Column: "tenant_id", Value: tenant}, {Column: "site", Value: "1"}}})
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), tenant+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := rules.Parse("rules.yaml", []byte(tenantRules))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tenantSync{t: t, st: st, hr: memory.New("hr"), pbx: &lostAnswer{Connector: pbx}}
	ts.e = &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{
		"hr":  {Name: "hr", Conn: ts.hr, DeleteThreshold: -1},
		"pbx": {Name: "pbx", Conn: ts.pbx, DeleteThreshold: -1},
	}}
	ts.count = func() int {
		n := 0
		if err := st.ScanCS(ctx, "pbx", func(o *store.CSObject) error {
			if !o.Deleted && !o.Placeholder {
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return ts
}

func (ts *tenantSync) user(mail, name string) {
	ts.hr.Put(&model.Object{Anchor: "hr-" + mail, Type: "user", Attrs: model.Attrs{"mail": model.Str(mail), "displayName": model.Str(name)}})
}

// run runs a profile and returns the run's object errors.
func (ts *tenantSync) run(conn string, p engine.Profile) []string {
	ts.t.Helper()
	ctx := context.Background()
	runs, err := ts.e.Run(ctx, conn, p, engine.RunOptions{})
	if err != nil {
		ts.t.Fatalf("%s of %s: %v", p, conn, err)
	}
	var errs []string
	for _, r := range runs {
		es, err := ts.st.RunErrors(ctx, r.ID)
		if err != nil {
			ts.t.Fatal(err)
		}
		for _, e := range es {
			errs = append(errs, e.Object+": "+e.Message)
		}
	}
	return errs
}

// cycle imports and syncs HR, exports to the table, and confirms the
// export with an import of the table.
func (ts *tenantSync) cycle() []string {
	ts.t.Helper()
	var errs []string
	for _, s := range []struct {
		conn string
		p    engine.Profile
	}{{"hr", engine.FullImport}, {"hr", engine.FullSync}, {"pbx", engine.Export}, {"pbx", engine.FullImport}, {"pbx", engine.FullSync}} {
		errs = append(errs, ts.run(s.conn, s.p)...)
	}
	return errs
}

// TestEngineTenants runs two tenants' synchronizations, each with its own
// store and a sql connector scoped to its tenant, on one subscriber table
// (e-mails unique per tenant), on SQLite and PostgreSQL, with anchors the
// database makes (unique across the table) and with the e-mail as anchor
// (the same anchor in both tenants): the same person
// in both tenants has a row in each; each tenant's confirming import sees
// its rows only; a leaver of one tenant is deleted from that tenant only;
// an add of one tenant whose answer was lost is replayed onto its own row
// (by matchColumns), never onto the other tenant's row with the same
// e-mail.
func TestEngineTenants(t *testing.T) {
	anchors := map[string]Anchor{
		"database":  {Column: "id", Source: SourceDatabase, MatchColumns: []string{"email"}},
		"attribute": {Column: "email"},
	}
	for _, b := range backends() {
		for _, an := range []string{"database", "attribute"} {
			t.Run(b.driver+"/"+an, func(t *testing.T) {
				testEngineTenants(t, b, anchors[an])
			})
		}
	}
}

func testEngineTenants(t *testing.T, b backend, anchor Anchor) {
	dsn := b.dsn(t)
	db := newTestDB(t, b, dsn)
	db.exec(tenantDDL(b.driver, true))
	contoso, fabrikam := newTenantSync(t, b, dsn, anchor, "contoso"), newTenantSync(t, b, dsn, anchor, "fabrikam")
	rows := func(tenant, mail string) string {
		t.Helper()
		return strings.Join(db.rows(tenant, 1, mail), " ")
	}

	// 1. Ada works for both tenants: a row in each.
	contoso.user("ada@example.test", "Ada (contoso)")
	contoso.user("bob@example.test", "Bob")
	fabrikam.user("ada@example.test", "Ada (fabrikam)")
	fabrikam.user("cy@example.test", "Cy")
	for _, ts := range []*tenantSync{contoso, fabrikam} {
		if errs := ts.cycle(); len(errs) > 0 {
			t.Fatalf("first cycle: %v", errs)
		}
		if n := ts.count(); n != 2 {
			t.Fatalf("%d CS objects after the confirming import, want the tenant's 2 rows", n)
		}
	}
	if a, f := rows("contoso", "ada@example.test"), rows("fabrikam", "ada@example.test"); a != "Ada (contoso)/live" || f != "Ada (fabrikam)/live" {
		t.Fatalf("Ada's rows: contoso %q, fabrikam %q", a, f)
	}

	// 2. Ada leaves fabrikam: fabrikam's row is deleted, contoso's
	// stays.
	fabrikam.hr.Remove("hr-ada@example.test")
	if errs := fabrikam.cycle(); len(errs) > 0 {
		t.Fatalf("fabrikam's cycle after Ada left: %v", errs)
	}
	if a, f := rows("contoso", "ada@example.test"), rows("fabrikam", "ada@example.test"); a != "Ada (contoso)/live" || f != "" {
		t.Fatalf("after Ada left fabrikam: contoso %q, fabrikam %q", a, f)
	}

	// 3. Bob joins fabrikam too; the add's answer is lost. The
	// replay finds fabrikam's new row by e-mail, not contoso's.
	fabrikam.user("bob@example.test", "Bob (fabrikam)")
	fabrikam.pbx.lose = true
	if errs := fabrikam.cycle(); len(errs) != 1 || !strings.Contains(errs[0], "answer was lost") {
		t.Fatalf("fabrikam's export with a lost answer: %v", errs)
	}
	if errs := fabrikam.cycle(); len(errs) > 0 {
		t.Fatalf("fabrikam's replay: %v", errs)
	}
	if a, f := rows("contoso", "bob@example.test"), rows("fabrikam", "bob@example.test"); a != "Bob/live" || f != "Bob (fabrikam)/live" {
		t.Fatalf("Bob's rows after the replay: contoso %q, fabrikam %q", a, f)
	}
	fabID := "bob@example.test"
	if anchor.Source == SourceDatabase {
		fabID = db.value("SELECT id FROM subscribers WHERE tenant_id = ? AND email = ?", "fabrikam", "bob@example.test")
	}
	if _, err := fabrikam.st.GetCSByAnchor(context.Background(), "pbx", fabID); err != nil {
		t.Fatalf("fabrikam's Bob row %s is not the anchor of fabrikam's CS object: %v", fabID, err)
	}
	if n := fabrikam.count(); n != 2 {
		t.Fatalf("fabrikam: %d CS objects, want 2 (Cy, Bob)", n)
	}

	// 4. Contoso renames Bob: its row only.
	contoso.user("bob@example.test", "Robert")
	if errs := contoso.cycle(); len(errs) > 0 {
		t.Fatalf("contoso's cycle: %v", errs)
	}
	if a, f := rows("contoso", "bob@example.test"), rows("fabrikam", "bob@example.test"); a != "Robert/live" || f != "Bob (fabrikam)/live" {
		t.Fatalf("Bob's rows after contoso's rename: contoso %q, fabrikam %q", a, f)
	}
	if n := db.value("SELECT COUNT(*) FROM subscribers"); n != "4" {
		t.Fatalf("%s rows, want 4", n)
	}
}
