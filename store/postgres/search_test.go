package postgres

import (
	"testing"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// TestSearchBackfill: a database of before the search index (schema step
// 6) with metaverse objects gets them indexed at its first open by this
// version, once.
func TestSearchBackfill(t *testing.T) {
	dsn := peers.Postgres(t)
	s := openTest(t, dsn)
	if err := s.Apply(t.Context(), &store.Batch{PutMV: []*store.MVObject{
		{ID: "mv-1", Type: "person", Attrs: model.Attrs{"displayName": model.Str("Ada Lovelace"), "mail": model.Str("ada@example.org")}},
		{ID: "mv-2", Type: "person", Attrs: model.Attrs{"displayName": model.Str("Alan Turing")}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `DROP TABLE mv_search; DROP TABLE search_attrs; DROP TABLE search_built;
		DELETE FROM schema_migrations WHERE version = 7`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dsn)
	ms, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "displayName", Value: "a", Prefix: true})
	if err != nil || len(ms) != 2 || ms[0].ID != "mv-1" || ms[1].ID != "mv-2" {
		t.Fatalf("search after the migration = %+v, %v; want both objects", ms, err)
	}
	if err := s.SetSearchAttrs(t.Context(), []string{"mail"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dsn)
	if got, err := s.SearchAttrs(t.Context()); err != nil || len(got) != 1 || got[0] != "mail" {
		t.Fatalf("SearchAttrs after reopening = %q, %v; want [mail]", got, err)
	}
}
