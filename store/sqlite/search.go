package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/search"
)

// The metaverse search index (store.SearchMV): mv_search holds a row
// (attribute, folded value, object ID) for every distinct value of the
// attributes in search_attrs of every MV object, and mv_search_of, per
// object, the list of its rows (encodeRows). Apply maintains both in the
// batch's transaction, after the objects: an object put whose rows are
// those it has writes nothing; one whose rows changed has its old rows
// deleted by key and the new ones inserted; a deleted object's go with it.
// One mv_search_of row per object instead of an index on mv_search's ID
// (an entry per value, holding the value too) halves what a new object
// costs. The attributes are read in each Apply's transaction, under the
// write lock, so a change of them by another process is never missed.

const (
	insertSearch   = `INSERT OR IGNORE INTO mv_search (attr, value, id) VALUES `
	insertSearchOf = `INSERT OR REPLACE INTO mv_search_of (id, rows) VALUES `
	deleteSearchOf = `DELETE FROM mv_search_of WHERE id IN (VALUES `
	deleteSearch   = `DELETE FROM mv_search WHERE attr = ? AND value = ? AND id = ?`
)

func (s *Store) prepareSearch(ctx context.Context) error {
	var err error
	if s.insSearch, err = prepareRows(ctx, s.w, 3, false, insertSearch, "", insertSearch, ""); err != nil {
		return fmt.Errorf("prepare %q: %w", insertSearch, err)
	}
	if s.insSearchOf, err = prepareRows(ctx, s.w, 2, false, insertSearchOf, "", insertSearchOf, ""); err != nil {
		return fmt.Errorf("prepare %q: %w", insertSearchOf, err)
	}
	if s.delSearch, err = prepareRows(ctx, s.w, 1, false, deleteSearchOf, ")", deleteSearchOf, ")"); err != nil {
		return fmt.Errorf("prepare %q: %w", deleteSearchOf, err)
	}
	return nil
}

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

// encodeRows encodes an object's rows for mv_search_of: the attribute and
// the value of each, each as a uvarint length and its bytes.
func encodeRows(rows []search.Row) []byte {
	var b []byte
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(len(r.Attr)))
		b = append(b, r.Attr...)
		b = binary.AppendUvarint(b, uint64(len(r.Value)))
		b = append(b, r.Value...)
	}
	return b
}

// decodeRows decodes the rows of object id from mv_search_of.
func decodeRows(id string, b []byte) ([]search.Row, error) {
	var out []search.Row
	next := func() (string, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", fmt.Errorf("search index: the rows of %s are corrupt", id)
		}
		v := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return v, nil
	}
	for len(b) > 0 {
		attr, err := next()
		if err != nil {
			return nil, err
		}
		value, err := next()
		if err != nil {
			return nil, err
		}
		out = append(out, search.Row{Attr: attr, Value: value, ID: id})
	}
	return out, nil
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
	if len(b.DeleteMV) > 0 {
		old, err := storedSearchRows(ctx, tx, len(b.DeleteMV), func(j int) string { return b.DeleteMV[j] })
		if err != nil {
			return err
		}
		var gone []search.Row
		for _, id := range b.DeleteMV {
			gone = append(gone, old[id]...)
		}
		if err := s.dropSearchRows(ctx, tx, gone, b.DeleteMV); err != nil {
			return err
		}
	}
	// A few thousand objects at a time: the rows of a whole
	// synchronization's batch would take hundreds of megabytes at once.
	last := lastPuts(len(b.PutMV), func(i int) string { return b.PutMV[i].ID })
	for lo := 0; lo < len(last); lo += searchChunk {
		if err := s.putSearchRows(ctx, tx, b.PutMV, last[lo:min(lo+searchChunk, len(last))], attrs); err != nil {
			return err
		}
	}
	return nil
}

// searchChunk is how many objects' rows putSearchRows writes at a time.
const searchChunk = 5000

// putSearchRows writes the rows of the objects objs[i] for i in last.
func (s *Store) putSearchRows(ctx context.Context, tx *sql.Tx, objs []*store.MVObject, last []int, attrs map[string]bool) error {
	old, err := storedSearchRows(ctx, tx, len(last), func(j int) string { return objs[last[j]].ID })
	if err != nil {
		return err
	}
	var gone, rows []search.Row
	var stale []string
	type objRows struct {
		id   string
		rows []byte
	}
	var of []objRows
	for _, i := range last {
		o := objs[i]
		start := len(rows)
		rows = search.AppendRows(rows, o, attrs)
		had := old[o.ID]
		if search.Same(had, rows[start:]) {
			rows = rows[:start]
			continue
		}
		if len(had) > 0 {
			gone = append(gone, had...)
			stale = append(stale, o.ID)
		}
		if len(rows) > start {
			of = append(of, objRows{o.ID, encodeRows(rows[start:])})
		}
	}
	if err := s.dropSearchRows(ctx, tx, gone, stale); err != nil {
		return err
	}
	// In key order: the B-trees take them a page at a time instead of a
	// page per row, which matters once the index outgrows the page cache.
	slices.SortFunc(rows, func(a, b search.Row) int {
		return cmp.Or(strings.Compare(a.Attr, b.Attr), strings.Compare(a.Value, b.Value), strings.Compare(a.ID, b.ID))
	})
	slices.SortFunc(of, func(a, b objRows) int { return strings.Compare(a.id, b.id) })
	err = s.insSearch.exec(ctx, tx, len(rows), func(args []any, i int, _ bool) []any {
		return append(args, rows[i].Attr, rows[i].Value, rows[i].ID)
	}, func(i int, err error) error {
		return fmt.Errorf("search index: insert a value of %s: %w", rows[i].ID, err)
	})
	if err != nil {
		return err
	}
	return s.insSearchOf.exec(ctx, tx, len(of), func(args []any, i int, _ bool) []any {
		return append(args, of[i].id, of[i].rows)
	}, func(i int, err error) error {
		return fmt.Errorf("search index: record the values of %s: %w", of[i].id, err)
	})
}

// dropSearchRows deletes rows of mv_search, and the mv_search_of rows of
// ids.
func (s *Store) dropSearchRows(ctx context.Context, tx *sql.Tx, rows []search.Row, ids []string) error {
	if len(rows) > 0 {
		del, err := tx.PrepareContext(ctx, deleteSearch)
		if err != nil {
			return fmt.Errorf("search index: %w", err)
		}
		defer del.Close()
		for _, r := range rows {
			if _, err := del.ExecContext(ctx, r.Attr, r.Value, r.ID); err != nil {
				return fmt.Errorf("search index: delete a value of %s: %w", r.ID, err)
			}
		}
	}
	if err := deleteKeys(ctx, tx, s.delSearch, ids); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	return nil
}

// storedSearchRows reads the search rows of n objects by ID from
// mv_search_of.
func storedSearchRows(ctx context.Context, tx *sql.Tx, n int, id func(int) string) (map[string][]search.Row, error) {
	out := map[string][]search.Row{}
	const chunk = 500
	args := make([]any, 0, chunk)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		args = args[:0]
		for j := start; j < end; j++ {
			args = append(args, id(j))
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, rows FROM mv_search_of WHERE id IN (?`+strings.Repeat(", ?", end-start-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("search index: read the values of the objects written: %w", err)
		}
		for rows.Next() {
			var id string
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("search index: read the values of the objects written: %w", err)
			}
			if out[id], err = decodeRows(id, b); err != nil {
				rows.Close()
				return nil, err
			}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("search index: read the values of the objects written: %w", err)
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
// transaction: when they change, the index is built again from the stored
// objects.
func (s *Store) SetSearchAttrs(ctx context.Context, attrs []string) error {
	want := search.AttrSet(attrs)
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
	// Any change rebuilds the whole index (an object's mv_search_of row
	// lists all its rows): a rare event, in one transaction.
	for _, q := range []string{`DELETE FROM mv_search`, `DELETE FROM mv_search_of`, `DELETE FROM search_attrs`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("set the attributes indexed for search: %w", err)
		}
	}
	for a := range want {
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_attrs (attr) VALUES (?)`, a); err != nil {
			return fmt.Errorf("set the attributes indexed for search: add %q: %w", a, err)
		}
	}
	if err := s.buildSearch(ctx, tx, want); err != nil {
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
		var rows []search.Row
		var ofID []string
		var ofRows [][]byte
		for _, b := range blobs {
			o, err := decodeMV(b)
			if err != nil {
				return err
			}
			start := len(rows)
			rows = search.AppendRows(rows, o, attrs)
			if len(rows) > start {
				ofID, ofRows = append(ofID, o.ID), append(ofRows, encodeRows(rows[start:]))
			}
			after = o.ID
		}
		if err := s.insSearch.exec(ctx, tx, len(rows), func(args []any, i int, _ bool) []any {
			return append(args, rows[i].Attr, rows[i].Value, rows[i].ID)
		}, func(i int, err error) error { return fmt.Errorf("insert a value of %s: %w", rows[i].ID, err) }); err != nil {
			return err
		}
		if err := s.insSearchOf.exec(ctx, tx, len(ofID), func(args []any, i int, _ bool) []any {
			return append(args, ofID[i], ofRows[i])
		}, func(i int, err error) error { return fmt.Errorf("record the values of %s: %w", ofID[i], err) }); err != nil {
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
		return nil, "", search.NotSearchable(q.Attr, attrs)
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
	out, next := search.Page(out, limit)
	return out, next, nil
}
