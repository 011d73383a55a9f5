package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// TestKeysBuiltForOlderDatabase: a database whose objects were stored
// before the keys existed (migrated to step 7) gets them at the next open,
// declared attributes included.
func TestKeysBuiltForOlderDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	s := openTest(t, path)
	o := &store.CSObject{ID: "cs-1", Connector: "ad", Object: model.Object{Anchor: "a", DN: "CN=A,DC=test", Type: "user",
		Attrs: model.Attrs{"mail": model.Str("a@test"), "manager": model.Ref("CN=Boss,DC=test")}}}
	m := &store.MVObject{ID: "mv-1", Type: "person", Attrs: model.Attrs{"mail": model.Str("a@test")}}
	if err := s.Index(t.Context(), store.IndexSpec{RefConnectors: []string{"ad"}, CS: map[string][]string{"ad": {"mail"}}, MV: []string{"mail"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), &store.Batch{PutCS: []*store.CSObject{o}, PutMV: []*store.MVObject{m}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM cs_keys`, `DELETE FROM mv_keys`, `DELETE FROM keys_built`, `UPDATE cs_objects SET dn_key = '', keys_hash = 0`} {
		if _, err := s.w.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	for _, k := range []string{store.DNKey("cn=a,dc=test"), store.RefKey("cn=boss,dc=test"), store.ValueKey("mail", "A@test")} {
		if ids, err := s.CSByKey(t.Context(), "ad", k); err != nil || !slices.Equal(ids, []string{"cs-1"}) {
			t.Errorf("CSByKey(%q) = %v, %v; want [cs-1]", k, ids, err)
		}
	}
	if ids, err := s.MVByKey(t.Context(), "person", store.ValueKey("mail", "a@test")); err != nil || !slices.Equal(ids, []string{"mv-1"}) {
		t.Errorf("MVByKey = %v, %v; want [mv-1]", ids, err)
	}
}

// TestTargetedQueriesUseIndexes: the reads a delta synchronization makes
// go through an index, never a scan of the table (which would make a
// delta cost what the store holds).
func TestTargetedQueriesUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "idsync.db"))
	// Each query's plan must search with the named index first, and never
	// walk a table or a connector's objects.
	for _, c := range []struct{ query, index string }{
		{`SELECT data FROM cs_objects WHERE connector = 'a' AND sync_pending <> 0 AND id > '' ORDER BY id LIMIT 10`, "SEARCH cs_objects USING INDEX cs_objects_sync_pending"},
		{`SELECT data FROM cs_objects WHERE connector = 'a' AND pending_state IS NOT NULL AND id > '' ORDER BY id LIMIT 10`, "SEARCH cs_objects USING INDEX cs_objects_exports"},
		{strings.ReplaceAll(strings.Replace(csByKeyQuery, "?", "1", 1), "?", "'a'"), "SEARCH k USING"},
		{strings.ReplaceAll(strings.Replace(mvByKeyQuery, "?", "1", 1), "?", "'a'"), "SEARCH k USING"},
		{strings.ReplaceAll(csByDNQuery, "?", "'a'"), "SEARCH cs_objects USING COVERING INDEX cs_objects_dn_key"},
		{`DELETE FROM cs_keys WHERE crow IN (SELECT rowid FROM cs_objects WHERE id IN (VALUES ('x')))`, "cs_keys_crow"},
		{`DELETE FROM cs_keys WHERE crow IN (VALUES (1))`, "cs_keys_crow"},
		{`DELETE FROM mv_keys WHERE mrow IN (SELECT rowid FROM mv_objects WHERE id IN (VALUES ('x')))`, "mv_keys_mrow"},
		{`SELECT id, rowid, keys_hash FROM cs_objects WHERE id IN ('x', 'y')`, "sqlite_autoindex_cs_objects_1"},
		{`SELECT data FROM cs_objects WHERE mvid = 'm' AND mvid <> '' ORDER BY id`, "cs_objects_mvid"},
	} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.ReplaceAll(strings.Join(plan, "; "), "SCAN CONSTANT ROW", "values")
		if len(plan) == 0 || !strings.Contains(all, c.index) || strings.Contains(all, "SCAN") || strings.Contains(all, "cs_objects_connector") {
			t.Errorf("%s\nplan: %s\nwant a search with %s", c.query, all, c.index)
		}
	}
}

// TestUpgradeFromVersion6: a database of the version before the keys
// (schema 6) with objects in it is migrated, and its objects get their DN
// keys, reference keys and value keys once declared.
func TestUpgradeFromVersion6(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	db, err := sql.Open("sqlite", path+"?"+writerPragmas)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, step := range migrations[:6] {
		if _, err := db.ExecContext(t.Context(), step); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if _, err := db.ExecContext(t.Context(), `INSERT INTO schema_migrations VALUES (?, '2026-11-01T00:00:00Z')`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	o := &store.CSObject{ID: "cs-1", Connector: "ad", Object: model.Object{Anchor: "a", DN: "CN=Ann,DC=test", Type: "user",
		Attrs: model.Attrs{"mail": model.Str("Ann@test"), "manager": model.Ref("CN=Boss,DC=test")}}, SyncPending: true}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO cs_objects (id, connector, anchor, dn, mvid, sync_pending, data) VALUES (?, ?, ?, ?, '', 1, ?)`,
		o.ID, o.Connector, o.Object.Anchor, o.Object.DN, encodeCS(nil, o)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path)
	if err := s.Index(t.Context(), store.IndexSpec{RefConnectors: []string{"ad"}, CS: map[string][]string{"ad": {"mail"}}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{store.DNKey("cn=ann,dc=test"), store.RefKey("cn=boss,dc=test"), store.ValueKey("mail", "ann@test")} {
		if ids, err := s.CSByKey(t.Context(), "ad", k); err != nil || !slices.Equal(ids, []string{"cs-1"}) {
			t.Errorf("CSByKey(%q) = %v, %v; want [cs-1]", k, ids, err)
		}
	}
	var n int
	if err := s.ScanCSSyncPending(t.Context(), "ad", func(*store.CSObject) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("ScanCSSyncPending found %d objects (%v), want 1", n, err)
	}
	// A put of the object as it is keeps its keys; one that changes its DN
	// moves its DN key.
	o.Object.DN = "CN=Ann B,DC=test"
	if err := s.Apply(t.Context(), &store.Batch{PutCS: []*store.CSObject{o}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.CSByKey(t.Context(), "ad", store.DNKey("cn=ann,dc=test")); len(ids) != 0 {
		t.Errorf("the old DN still finds %v", ids)
	}
	if ids, _ := s.CSByKey(t.Context(), "ad", store.DNKey("cn=ann b,dc=test")); !slices.Equal(ids, []string{"cs-1"}) {
		t.Errorf("the new DN finds %v", ids)
	}
}
