package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// TestSearchBackfill: a database of before the search index (schema step
// 10) with metaverse objects gets them indexed at its first open by this
// version, once.
func TestSearchBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idsync.db")
	s := openTest(t, path)
	if err := s.Apply(t.Context(), &store.Batch{PutMV: []*store.MVObject{
		{ID: "mv-1", Type: "person", Attrs: model.Attrs{"displayName": model.Str("Ada Lovelace"), "mail": model.Str("ada@example.org")}},
		{ID: "mv-2", Type: "person", Attrs: model.Attrs{"displayName": model.Str("Alan Turing")}},
	}}); err != nil {
		t.Fatal(err)
	}
	// Back to step 10: the objects without their index.
	if _, err := s.w.Exec(`DROP TABLE mv_search; DROP TABLE mv_search_of; DROP TABLE search_attrs; DROP TABLE search_built;
		DELETE FROM schema_migrations WHERE version = 11`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, path)
	ms, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "displayName", Value: "a", Prefix: true})
	if err != nil || len(ms) != 2 || ms[0].ID != "mv-1" || ms[1].ID != "mv-2" {
		t.Fatalf("search after the migration = %+v, %v; want both objects", ms, err)
	}
	// Attributes set since are kept at the next open.
	if err := s.SetSearchAttrs(t.Context(), []string{"mail"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, path)
	if got, err := s.SearchAttrs(t.Context()); err != nil || len(got) != 1 || got[0] != "mail" {
		t.Fatalf("SearchAttrs after reopening = %q, %v; want [mail]", got, err)
	}
}

// TestSearchLargeBatch: a batch of more objects than putSearchRows writes
// at a time indexes them all, and putting them again changed or not keeps
// exactly their current values.
func TestSearchLargeBatch(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "idsync.db"))
	n := 2*searchChunk + 17
	objs := func(suffix string) []*store.MVObject {
		out := make([]*store.MVObject, n)
		for i := range out {
			out[i] = &store.MVObject{ID: fmt.Sprintf("mv-%06d", i), Type: "person",
				Attrs: model.Attrs{"cn": model.Str(fmt.Sprintf("user %06d%s", i, suffix))}}
		}
		return out
	}
	count := func(value string) int {
		t.Helper()
		total := 0
		q := store.MVQuery{Attr: "cn", Value: value, Prefix: true, Limit: store.MaxSearchLimit}
		for {
			ms, next, err := s.SearchMV(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			total += len(ms)
			if next == "" {
				return total
			}
			q.After = next
		}
	}
	for _, suffix := range []string{"", "", "x"} {
		if err := s.Apply(t.Context(), &store.Batch{PutMV: objs(suffix)}); err != nil {
			t.Fatal(err)
		}
		if got := count("user"); got != n {
			t.Fatalf("after putting %d objects (suffix %q), %d match", n, suffix, got)
		}
	}
	if got := count("user 000000x"); got != 1 {
		t.Fatalf("the changed value of the first object: %d matches", got)
	}
}
