package sql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// TestSubscribers runs adds, replays, refusals, updates, imports and
// deletes against a real SQLite file and a real PostgreSQL database, for
// each source of the anchor, with soft and hard deletes.
func TestSubscribers(t *testing.T) {
	sources := []struct {
		name   string
		anchor Anchor
		// anchorOf is the anchor the add of mail is expected to get
		// ("" when the database generates it).
		anchorOf func(proposed, mail string) string
	}{
		{"attribute", Anchor{Column: "email"}, func(_, mail string) string { return mail }},
		{"idsync", Anchor{Column: "uid", Source: SourceIdsync}, func(p, _ string) string { return p }},
		{"database", Anchor{Column: "id", Source: SourceDatabase, MatchColumns: []string{"email"}}, func(string, string) string { return "" }},
	}
	for _, b := range backends() {
		for _, src := range sources {
			for _, soft := range []bool{true, false} {
				name := b.driver + "/" + src.name + "/hard"
				if soft {
					name = b.driver + "/" + src.name + "/soft"
				}
				t.Run(name, func(t *testing.T) {
					ctx := context.Background()
					dsn := b.dsn(t)
					db := newTestDB(t, b, dsn)
					db.exec(b.ddl)
					cfg := Config{Driver: b.driver, DSN: dsn, Table: "subscribers", ObjectType: "subscriber", Anchor: src.anchor,
						Columns: subscriberColumns(), DeltaColumn: "version", PageSize: 2}
					if soft {
						cfg.DeletedColumn = "deleted"
					}
					c := newConn(t, cfg)

					// Adds: three good ones, one refused by a CHECK
					// constraint, one with a value of the wrong type; the
					// batch goes on past the errors.
					ops := []connector.ExportOp{
						addOp("1", "p-ada", "ada@example.test", "Ada", "2001"),
						addOp("2", "p-bob", "bob@example.test", "Bob", "5"),
						addOp("3", "p-cy", "cy@example.test", "Cy", "x12"),
						addOp("4", "p-dee", "dee@example.test", "Dee", ""),
						addOp("5", "p-eve", "eve@example.test", "Eve", "2003"),
					}
					res := c.Export(ctx, ops)
					anchors := map[string]string{}
					for i, r := range res {
						if r.ID != ops[i].ID {
							t.Fatalf("result %d has ID %s", i, r.ID)
						}
						mail := ops[i].Changes[0].Values[0]
						switch r.ID {
						case "2", "3":
							if r.Err == nil {
								t.Fatalf("add %s: no error", mail)
							}
							if strings.Contains(r.Err.Error(), "s3cret") {
								t.Fatalf("the error shows the secret: %v", r.Err)
							}
							want := map[string]string{"2": "refused", "3": "holds integers"}[r.ID]
							if !strings.Contains(r.Err.Error(), want) {
								t.Fatalf("add %s: %v, want an error saying %q", mail, r.Err, want)
							}
							continue
						}
						if r.Err != nil {
							t.Fatalf("add %s: %v", mail, r.Err)
						}
						if w := src.anchorOf(ops[i].Anchor, mail); w != "" && r.Anchor != w || r.Anchor == "" {
							t.Fatalf("add %s: anchor %q, want %q", mail, r.Anchor, w)
						}
						anchors[mail] = r.Anchor
					}
					if n := db.value("SELECT COUNT(*) FROM subscribers"); n != "3" {
						t.Fatalf("%s rows, want 3", n)
					}
					if pw := db.value("SELECT sip_password FROM subscribers WHERE email = ?", "ada@example.test"); pw != "s3cret-1" {
						t.Fatalf("sip_password %q", pw)
					}

					// A replayed add meets its row: already exists, with
					// the row's anchor; an identity match for the anchor
					// idsync proposed.
					r := c.Export(ctx, ops[:1])[0]
					if !errors.Is(r.Err, connector.ErrAlreadyExists) || r.Anchor != anchors["ada@example.test"] {
						t.Fatalf("replayed add: %v, anchor %q", r.Err, r.Anchor)
					}
					if got := errors.Is(r.Err, connector.ErrIdentityMatch); got != (src.anchor.Source == SourceIdsync) {
						t.Fatalf("replayed add: identity match %v: %v", got, r.Err)
					}

					// Full import in pages of 2: no secret, typed values.
					got, wm := importAll(t, c, connector.ImportRequest{})
					if len(got) != 3 {
						t.Fatalf("imported %d objects, want 3", len(got))
					}
					ada := got[anchors["ada@example.test"]]
					want := model.Attrs{"mail": model.Str("ada@example.test"), "displayName": model.Str("Ada"),
						"extension": {Type: model.Integer, Values: []string{"2001"}}, "enabled": {Type: model.Boolean, Values: []string{"true"}}}
					if ada == nil || ada.Type != "subscriber" || !ada.Attrs.Equal(want) {
						t.Fatalf("imported %+v, want attrs %v", ada, want)
					}
					if wm == "" {
						t.Fatal("no watermark from a full import with a deltaColumn")
					}
					// Only the attributes asked for.
					some, _ := importAll(t, c, connector.ImportRequest{Attributes: []string{"displayName"}})
					if o := some[anchors["ada@example.test"]]; o == nil || len(o.Attrs.Names()) > 2 || o.Attrs.First("displayName") != "Ada" {
						t.Fatalf("import of displayName only: %+v", o)
					}

					// Update: only the changed column is written (the
					// password set behind idsync's back stays).
					db.exec("UPDATE subscribers SET sip_password = ? WHERE email = ?", "changed-by-pbx", "ada@example.test")
					upd := connector.ExportOp{ID: "u1", Op: connector.OpUpdate, Anchor: anchors["ada@example.test"], ObjectType: "subscriber",
						Changes: []connector.AttrChange{replace("displayName", model.String, "Ada L."), replace("enabled", model.Boolean, "false"),
							{Name: "extension", Mode: connector.DelVals, Values: []string{"9999"}}}}
					if r := c.Export(ctx, []connector.ExportOp{upd})[0]; r.Err != nil {
						t.Fatalf("update: %v", r.Err)
					}
					if v := db.value("SELECT display_name || '/' || sip_password || '/' || extension FROM subscribers WHERE email = ?", "ada@example.test"); v != "Ada L./changed-by-pbx/2001" {
						t.Fatalf("after the update: %q", v)
					}
					// An update with two values for one column is refused.
					two := upd
					two.Changes = []connector.AttrChange{replace("displayName", model.String, "a", "b")}
					if r := c.Export(ctx, []connector.ExportOp{two})[0]; r.Err == nil || !strings.Contains(r.Err.Error(), "holds one") {
						t.Fatalf("two values: %v", r.Err)
					}
					// An update of a missing row: not found.
					missing := upd
					missing.Anchor = map[bool]string{true: "424242", false: "nobody@example.test"}[src.anchor.Source == SourceDatabase]
					if r := c.Export(ctx, []connector.ExportOp{missing})[0]; !errors.Is(r.Err, connector.ErrNotFound) {
						t.Fatalf("update of a missing row: %v", r.Err)
					}

					// Delta import from the full import's watermark: the
					// updated row, and the row at the watermark again
					// (Eve's add, the last change before it).
					changes := delta(t, c, wm, anchors["eve@example.test"])
					if len(changes) != 1 || changes[0].Kind != connector.Upsert || changes[0].Object.Attrs.First("displayName") != "Ada L." {
						t.Fatalf("delta after the update: %+v", changes)
					}
					wm2, err := c.DeltaImport(ctx, connector.ImportRequest{}, wm, func(connector.Change) error { return nil })
					if err != nil {
						t.Fatal(err)
					}

					// Delete, twice: the second is not found (a replay).
					del := connector.ExportOp{ID: "d1", Op: connector.OpDelete, Anchor: anchors["dee@example.test"], ObjectType: "subscriber"}
					if r := c.Export(ctx, []connector.ExportOp{del})[0]; r.Err != nil {
						t.Fatalf("delete: %v", r.Err)
					}
					if r := c.Export(ctx, []connector.ExportOp{del})[0]; !errors.Is(r.Err, connector.ErrNotFound) {
						t.Fatalf("second delete: %v", r.Err)
					}
					rows := db.value("SELECT COUNT(*) FROM subscribers")
					got, _ = importAll(t, c, connector.ImportRequest{})
					changes = delta(t, c, wm2, anchors["ada@example.test"])
					if soft {
						if rows != "3" || db.value("SELECT deleted FROM subscribers WHERE email = ?", "dee@example.test") == db.value("SELECT deleted FROM subscribers WHERE email = ?", "ada@example.test") {
							t.Fatalf("soft delete: %s rows, or the row is not flagged", rows)
						}
						if len(changes) != 1 || changes[0].Kind != connector.Delete || changes[0].Object.Anchor != anchors["dee@example.test"] {
							t.Fatalf("delta after a soft delete: %+v", changes)
						}
						// An add of the soft-deleted key brings the row back.
						if src.anchor.Source != SourceIdsync {
							r := c.Export(ctx, []connector.ExportOp{addOp("6", "p-dee2", "dee@example.test", "Dee again", "2004")})[0]
							if r.Err != nil || r.Anchor != anchors["dee@example.test"] {
								t.Fatalf("add over a soft-deleted row: %v, anchor %q", r.Err, r.Anchor)
							}
							if v := db.value("SELECT display_name FROM subscribers WHERE email = ?", "dee@example.test"); v != "Dee again" {
								t.Fatalf("revived row: %q", v)
							}
						}
					} else {
						if rows != "2" {
							t.Fatalf("hard delete: %s rows, want 2", rows)
						}
						if len(changes) != 0 {
							t.Fatalf("a hard delete is not seen by a delta import: %+v", changes)
						}
					}
					if len(got) != 2 || got[anchors["dee@example.test"]] != nil {
						t.Fatalf("full import after the delete: %d objects", len(got))
					}
				})
			}
		}
	}
}

// delta runs a delta import from wm and returns its changes but the
// upsert of atWM, the row at the watermark, which a delta import reads
// again; it fails when that row is not read again.
func delta(t *testing.T, c *Connector, wm, atWM string) []connector.Change {
	t.Helper()
	var out []connector.Change
	again := false
	_, err := c.DeltaImport(context.Background(), connector.ImportRequest{}, wm, func(ch connector.Change) error {
		if ch.Kind == connector.Upsert && ch.Object.Anchor == atWM && !again {
			again = true
			return nil
		}
		out = append(out, ch)
		return nil
	})
	if !again {
		t.Errorf("the delta import from %s did not read the row at the watermark (%s) again", wm, atWM)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}
