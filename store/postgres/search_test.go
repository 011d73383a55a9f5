package postgres

import (
	"fmt"
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

// TestSearchRowsCopied: the values of many objects written at once are
// copied (insertSearchRows), when new and when changed. (A copy that
// conflicts, which only a concurrent writer of the same objects can cause,
// falls back to the INSERT that ignores conflicts, as every copyRows does.)
func TestSearchRowsCopied(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, peers.Postgres(t))
	objs := func(mail string) []*store.MVObject {
		out := make([]*store.MVObject, copyMin+10)
		for i := range out {
			out[i] = &store.MVObject{ID: fmt.Sprintf("mv-%04d", i), Type: "person", Attrs: model.Attrs{
				"displayName": model.Str(fmt.Sprintf("Person %04d", i)), "mail": model.Str(fmt.Sprintf("p%04d@%s", i, mail))}}
		}
		return out
	}
	count := func(step, attr, prefix string, want int) {
		t.Helper()
		ms, _, err := s.SearchMV(ctx, store.MVQuery{Attr: attr, Value: prefix, Prefix: true, Limit: 1000})
		if err != nil || len(ms) != want {
			t.Errorf("%s: %d objects with %s %q…, %v; want %d", step, len(ms), attr, prefix, err, want)
		}
	}
	rows := func() (n int) {
		t.Helper()
		if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM mv_search`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := s.Apply(ctx, &store.Batch{PutMV: objs("old.example")}); err != nil {
		t.Fatal(err)
	}
	count("new", "displayName", "person", copyMin+10)
	count("new", "mail", "p0", copyMin+10)
	n := rows()
	if err := s.Apply(ctx, &store.Batch{PutMV: objs("new.example")}); err != nil {
		t.Fatal(err)
	}
	count("changed", "displayName", "person", copyMin+10)
	count("changed", "mail", "p0003@new", 1)
	if got := rows(); got != n {
		t.Errorf("changed: %d value rows, want %d as before", got, n)
	}
	ms, _, err := s.SearchMV(ctx, store.MVQuery{Attr: "mail", Value: "p0005@old.example"})
	if err != nil || len(ms) != 0 {
		t.Errorf("old mail still found: %+v, %v", ms, err)
	}
}
