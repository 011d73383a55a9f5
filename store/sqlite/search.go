package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
)

// The metaverse search index (store.SearchMV): mv_search holds a row
// (attribute, folded value, object ID) for every distinct value of the
// attributes in search_attrs of every MV object. Apply maintains it in the
// batch's transaction, after the objects: an object put whose rows are
// those it has (read first, through mv_search_id) writes nothing, one whose
// rows changed has them deleted and inserted again; a deleted object's go
// with it. The attributes are read in each Apply's transaction, under the
// write lock, so a change of them by another process is never missed.

const (
	insertSearch   = `INSERT OR IGNORE INTO mv_search (attr, value, id) VALUES `
	deleteSearchOf = `DELETE FROM mv_search WHERE id IN (VALUES `
)

func (s *Store) prepareSearch(ctx context.Context) error {
	var err error
	if s.insSearch, err = prepareRows(ctx, s.w, 3, false, insertSearch, "", insertSearch, ""); err != nil {
		return fmt.Errorf("prepare %q: %w", insertSearch, err)
	}
	if s.delSearch, err = prepareRows(ctx, s.w, 1, false, deleteSearchOf, ")", deleteSearchOf, ")"); err != nil {
		return fmt.Errorf("prepare %q: %w", deleteSearchOf, err)
	}
	return nil
}

// searchRow is a row of mv_search.
type searchRow struct{ attr, value, id string }

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// searchAttrsOf reads the attributes indexed for search.
func searchAttrsOf(ctx context.Context, q querier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT attr FROM search_attrs`)
	if err != nil {
		return nil, fmt.Errorf("read the attributes indexed for search: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("read the attributes indexed for search: %w", err)
		}
		out[a] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the attributes indexed for search: %w", err)
	}
	return out, nil
}

// searchRows returns the rows of an object for attrs.
func searchRows(out []searchRow, o *store.MVObject, attrs map[string]bool) []searchRow {
	for attr, vals := range store.SearchValues(o, attrs) {
		for _, v := range vals {
			out = append(out, searchRow{attr, v, o.ID})
		}
	}
	return out
}

// applySearch maintains the search index for a batch (in Apply's
// transaction, after its objects are written).
func (s *Store) applySearch(ctx context.Context, tx *sql.Tx, b *store.Batch) error {
	if len(b.DeleteMV) == 0 && len(b.PutMV) == 0 {
		return nil
	}
	attrs, err := searchAttrsOf(ctx, tx)
	if err != nil || len(attrs) == 0 {
		return err // no attribute: no rows either
	}
	if err := deleteKeys(ctx, tx, s.delSearch, b.DeleteMV); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	last := lastPuts(len(b.PutMV), func(i int) string { return b.PutMV[i].ID })
	old, err := storedSearchRows(ctx, tx, len(last), func(j int) string { return b.PutMV[last[j]].ID })
	if err != nil {
		return err
	}
	var stale []string
	var rows []searchRow
	for _, i := range last {
		o := b.PutMV[i]
		start := len(rows)
		rows = searchRows(rows, o, attrs)
		had := old[o.ID]
		if sameRows(had, rows[start:]) {
			rows = rows[:start]
			continue
		}
		if len(had) > 0 {
			stale = append(stale, o.ID)
		}
	}
	if err := deleteKeys(ctx, tx, s.delSearch, stale); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	return s.insSearch.exec(ctx, tx, len(rows), func(args []any, i int, _ bool) []any {
		return append(args, rows[i].attr, rows[i].value, rows[i].id)
	}, func(i int, err error) error {
		return fmt.Errorf("search index: insert a value of %s: %w", rows[i].id, err)
	})
}

// sameRows reports whether an object's stored rows (attribute \x00 value)
// are exactly rows.
func sameRows(had map[string]bool, rows []searchRow) bool {
	if len(had) != len(rows) {
		return false
	}
	for _, r := range rows {
		if !had[r.attr+"\x00"+r.value] {
			return false
		}
	}
	return true
}

// storedSearchRows reads the search rows of n objects by ID, as sets of
// "attribute \x00 value".
func storedSearchRows(ctx context.Context, tx *sql.Tx, n int, id func(int) string) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	const chunk = 500
	args := make([]any, 0, chunk)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		args = args[:0]
		for j := start; j < end; j++ {
			args = append(args, id(j))
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, attr, value FROM mv_search WHERE id IN (?`+strings.Repeat(", ?", end-start-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("search index: read the values of the objects put: %w", err)
		}
		for rows.Next() {
			var id, attr, value string
			if err := rows.Scan(&id, &attr, &value); err != nil {
				rows.Close()
				return nil, fmt.Errorf("search index: read the values of the objects put: %w", err)
			}
			if out[id] == nil {
				out[id] = map[string]bool{}
			}
			out[id][attr+"\x00"+value] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("search index: read the values of the objects put: %w", err)
		}
	}
	return out, nil
}

// SearchAttrs returns the attributes indexed for search, sorted.
func (s *Store) SearchAttrs(ctx context.Context) ([]string, error) {
	attrs, err := searchAttrsOf(ctx, s.r)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(attrs)), nil
}

// SetSearchAttrs sets the attributes indexed for search, in one
// transaction: the rows of the attributes no longer named are deleted, the
// stored objects' values of the new ones inserted.
func (s *Store) SetSearchAttrs(ctx context.Context, attrs []string) error {
	want := map[string]bool{}
	for _, a := range attrs {
		if a = strings.TrimSpace(a); a != "" {
			want[a] = true
		}
	}
	// Most calls (every start of idsync) change nothing: found out without
	// taking the write lock, which a running synchronization may hold.
	if have, err := searchAttrsOf(ctx, s.r); err == nil && maps.Equal(have, want) {
		var built int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_built`).Scan(&built); err == nil && built > 0 {
			return nil
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set the attributes indexed for search: %w", err)
	}
	defer tx.Rollback()
	have, err := searchAttrsOf(ctx, tx)
	if err != nil {
		return err
	}
	var built int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_built`).Scan(&built); err != nil {
		return fmt.Errorf("set the attributes indexed for search: %w", err)
	}
	if built > 0 && maps.Equal(have, want) {
		return nil
	}
	for a := range have {
		if want[a] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mv_search WHERE attr = ?`, a); err != nil {
			return fmt.Errorf("set the attributes indexed for search: drop %q: %w", a, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM search_attrs WHERE attr = ?`, a); err != nil {
			return fmt.Errorf("set the attributes indexed for search: drop %q: %w", a, err)
		}
	}
	added := map[string]bool{}
	for a := range want {
		if have[a] {
			continue
		}
		added[a] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_attrs (attr) VALUES (?)`, a); err != nil {
			return fmt.Errorf("set the attributes indexed for search: add %q: %w", a, err)
		}
	}
	if err := s.buildSearch(ctx, tx, added); err != nil {
		return fmt.Errorf("set the attributes indexed for search: index the stored objects: %w", err)
	}
	if built == 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_built (version) VALUES (1)`); err != nil {
			return fmt.Errorf("set the attributes indexed for search: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set the attributes indexed for search: commit: %w", err)
	}
	s.ck.written()
	return nil
}

// buildSearch inserts the rows of attrs of every stored MV object.
func (s *Store) buildSearch(ctx context.Context, tx *sql.Tx, attrs map[string]bool) error {
	if len(attrs) == 0 {
		return nil
	}
	after := ""
	for {
		blobs, err := readBlobs(tx.QueryContext(ctx, `SELECT data FROM mv_objects WHERE id > ? ORDER BY id LIMIT ?`, after, scanChunk))
		if err != nil {
			return err
		}
		var rows []searchRow
		for _, b := range blobs {
			o, err := decodeMV(b)
			if err != nil {
				return err
			}
			rows = searchRows(rows, o, attrs)
			after = o.ID
		}
		if err := s.insSearch.exec(ctx, tx, len(rows), func(args []any, i int, _ bool) []any {
			return append(args, rows[i].attr, rows[i].value, rows[i].id)
		}, func(i int, err error) error { return fmt.Errorf("insert a value of %s: %w", rows[i].id, err) }); err != nil {
			return err
		}
		if len(blobs) < scanChunk {
			return nil
		}
	}
}

// loadSearch indexes store.DefaultSearchAttrs in a store whose search
// attributes were never set (new, or migrated to step 11): the objects
// stored before are indexed now, once.
func (s *Store) loadSearch(ctx context.Context) error {
	var built int
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_built`).Scan(&built); err != nil {
		return fmt.Errorf("read the search index state: %w", err)
	}
	if built > 0 {
		return nil
	}
	return s.SetSearchAttrs(ctx, store.DefaultSearchAttrs)
}

// SearchMV returns a page of the matches of q through mv_search.
func (s *Store) SearchMV(ctx context.Context, q store.MVQuery) ([]store.MVMatch, string, error) {
	attrs, err := searchAttrsOf(ctx, s.r)
	if err != nil {
		return nil, "", err
	}
	if !attrs[q.Attr] {
		return nil, "", notSearchable(q.Attr, attrs)
	}
	where := []string{"s.attr = ?"}
	args := []any{q.Attr}
	v := store.SearchFold(q.Value)
	switch {
	case !q.Prefix:
		where = append(where, "s.value = ?")
		args = append(args, v)
	case v != "":
		where = append(where, "s.value >= ?")
		args = append(args, v)
		if end, ok := store.PrefixEnd(v); ok {
			where = append(where, "s.value < ?")
			args = append(args, end)
		}
	}
	if q.After != "" {
		av, aid, err := store.ParseSearchCursor(q.After)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "s.value >= ?", "(s.value > ? OR s.id > ?)")
		args = append(args, av, av, aid)
	}
	if q.Type != "" {
		where = append(where, "m.type = ?")
		args = append(args, q.Type)
	}
	limit := q.PageSize()
	// CROSS JOIN: the index rows lead, in order; each finds its object by ID.
	rows, err := s.r.QueryContext(ctx, `SELECT s.value, s.id, m.type FROM mv_search s CROSS JOIN mv_objects m ON m.id = s.id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY s.attr, s.value, s.id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("search the metaverse by %s: %w", q.Attr, err)
	}
	defer rows.Close()
	var out []store.MVMatch
	for rows.Next() {
		var m store.MVMatch
		if err := rows.Scan(&m.Value, &m.ID, &m.Type); err != nil {
			return nil, "", fmt.Errorf("search the metaverse by %s: %w", q.Attr, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("search the metaverse by %s: %w", q.Attr, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = store.SearchCursor(out[limit-1])
	}
	return out, next, nil
}

// notSearchable is SearchMV's error for an attribute not indexed.
func notSearchable(attr string, attrs map[string]bool) error {
	list := "none"
	if len(attrs) > 0 {
		list = strings.Join(slices.Sorted(maps.Keys(attrs)), ", ")
	}
	return fmt.Errorf("search the metaverse by %q: %w (indexed: %s; store.searchAttributes sets them)", attr, store.ErrNotSearchable, list)
}
