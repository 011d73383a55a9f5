package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
	"github.com/idsync/idsync/store/internal/search"
)

// The metaverse search index (store.SearchMV): mv_search holds a row
// (attribute, folded value, object ID) for every distinct value of the
// attributes in search_attrs of every MV object. Apply maintains it in the
// batch's transaction, after the objects: an object put whose rows are
// those it has (read first, through mv_search_id) writes nothing, one whose
// rows changed has them deleted and inserted again; a deleted object's go
// with it. Apply reads search_attrs in its transaction, which holds the
// table's ACCESS SHARE lock until it ends; SetSearchAttrs takes the ACCESS
// EXCLUSIVE lock, so it waits for the batches that read the old attributes
// and the next ones wait for it: no object written meanwhile is missed, on
// this server or another on the same database.

// searchAttrsOf reads the attributes indexed for search.
func searchAttrsOf(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT attr FROM search_attrs`)
	if err != nil {
		return nil, fmt.Errorf("read the attributes indexed for search: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var a []byte
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("read the attributes indexed for search: %w", err)
		}
		out[string(a)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the attributes indexed for search: %w", err)
	}
	return out, nil
}

// applySearch maintains the search index for a batch (in Apply's
// transaction, after its objects are written).
func applySearch(ctx context.Context, tx pgx.Tx, b *store.Batch) error {
	if len(b.DeleteMV) == 0 && len(b.PutMV) == 0 {
		return nil
	}
	attrs, err := searchAttrsOf(ctx, tx)
	if err != nil || len(attrs) == 0 {
		return err // no attribute: no rows either
	}
	if len(b.DeleteMV) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM mv_search WHERE id = ANY($1::bytea[])`, byteSlices(b.DeleteMV)); err != nil {
			return fmt.Errorf("search index: delete the values of %d objects: %w", len(b.DeleteMV), err)
		}
	}
	if len(b.PutMV) == 0 {
		return nil
	}
	last := lastPuts(len(b.PutMV), func(i int) string { return b.PutMV[i].ID })
	ids := make([][]byte, len(last))
	for j, i := range last {
		ids[j] = []byte(b.PutMV[i].ID)
	}
	old := map[string][]search.Row{}
	err = inChunks(len(ids), func(lo, hi int) error {
		rows, err := tx.Query(ctx, `SELECT id, attr, value FROM mv_search WHERE id = ANY($1::bytea[])`, ids[lo:hi])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, attr, value []byte
			if err := rows.Scan(&id, &attr, &value); err != nil {
				return err
			}
			old[string(id)] = append(old[string(id)], search.Row{Attr: string(attr), Value: string(value), ID: string(id)})
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("search index: read the values of the objects put: %w", err)
	}
	var stale [][]byte
	var rows []search.Row
	for j, i := range last {
		o := b.PutMV[i]
		start := len(rows)
		rows = search.AppendRows(rows, o, attrs)
		had := old[o.ID]
		if search.Same(had, rows[start:]) {
			rows = rows[:start]
			continue
		}
		if len(had) > 0 {
			stale = append(stale, ids[j])
		}
	}
	if len(stale) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM mv_search WHERE id = ANY($1::bytea[])`, stale); err != nil {
			return fmt.Errorf("search index: delete the values of %d objects: %w", len(stale), err)
		}
	}
	if err := insertSearchRows(ctx, tx, rows); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	return nil
}

// insertSearchRows inserts rows, none of which is stored: the values of
// objects whose stored values were deleted or that had none, each value of
// an object once (store.SearchValues). Many rows are copied (COPY skips the
// per-row work of INSERT … ON CONFLICT: at 100,000 MV objects with a
// dozen indexed values it was the biggest statement of a first
// synchronization); a conflict, which only a concurrent writer of the same
// objects can cause, leaves them to the statement that ignores it.
func insertSearchRows(ctx context.Context, tx pgx.Tx, rows []search.Row) error {
	if len(rows) >= copyMin {
		copied, err := copyRows(ctx, tx, "put_search", "mv_search", searchCopyColumns, len(rows), func(i int) []any {
			r := &rows[i]
			return []any{[]byte(r.Attr), []byte(r.Value), []byte(r.ID)}
		})
		if err != nil {
			return fmt.Errorf("insert %d values: %w", len(rows), err)
		}
		if copied {
			return nil
		}
	}
	return inChunks(len(rows), func(lo, hi int) error {
		n := hi - lo
		attr, value, id := make([][]byte, n), make([][]byte, n), make([][]byte, n)
		for i, r := range rows[lo:hi] {
			attr[i], value[i], id[i] = []byte(r.Attr), []byte(r.Value), []byte(r.ID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mv_search (attr, value, id)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) ON CONFLICT DO NOTHING`, attr, value, id); err != nil {
			return fmt.Errorf("insert %d values: %w", n, err)
		}
		return nil
	})
}

// SearchAttrs returns the attributes indexed for search, sorted.
func (s *Store) SearchAttrs(ctx context.Context) ([]string, error) {
	attrs, err := searchAttrsOf(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(attrs)), nil
}

// SetSearchAttrs sets the attributes indexed for search, in one
// transaction: the rows of the attributes no longer named are deleted, the
// stored objects' values of the new ones inserted.
func (s *Store) SetSearchAttrs(ctx context.Context, attrs []string) error {
	want := search.AttrSet(attrs)
	// Most calls (every start of idsync) change nothing: found out without
	// the lock, which waits for running synchronizations.
	if have, err := searchAttrsOf(ctx, s.pool); err == nil && maps.Equal(have, want) {
		var built int
		if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM search_built`).Scan(&built); err == nil && built > 0 {
			return nil
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE search_attrs IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		have, err := searchAttrsOf(ctx, tx)
		if err != nil {
			return err
		}
		var built int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM search_built`).Scan(&built); err != nil {
			return err
		}
		if built > 0 && maps.Equal(have, want) {
			return nil
		}
		for a := range have {
			if want[a] {
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM mv_search WHERE attr = $1`, []byte(a)); err != nil {
				return fmt.Errorf("drop %q: %w", a, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM search_attrs WHERE attr = $1`, []byte(a)); err != nil {
				return fmt.Errorf("drop %q: %w", a, err)
			}
		}
		added := map[string]bool{}
		for a := range want {
			if have[a] {
				continue
			}
			added[a] = true
			if _, err := tx.Exec(ctx, `INSERT INTO search_attrs (attr) VALUES ($1)`, []byte(a)); err != nil {
				return fmt.Errorf("add %q: %w", a, err)
			}
		}
		if err := buildSearch(ctx, tx, added); err != nil {
			return fmt.Errorf("index the stored objects: %w", err)
		}
		if built == 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO search_built (version) VALUES (1)`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set the attributes indexed for search: %w", err)
	}
	return nil
}

// buildSearch inserts the rows of attrs of every stored MV object.
func buildSearch(ctx context.Context, tx pgx.Tx, attrs map[string]bool) error {
	if len(attrs) == 0 {
		return nil
	}
	after := ""
	for {
		blobs, err := readBlobs(tx.Query(ctx, `SELECT data FROM mv_objects WHERE id > $1 ORDER BY id LIMIT $2`, []byte(after), scanChunk))
		if err != nil {
			return err
		}
		var rows []search.Row
		for _, b := range blobs {
			o, err := codec.DecodeMV(b)
			if err != nil {
				return err
			}
			rows = search.AppendRows(rows, o, attrs)
			after = o.ID
		}
		if err := insertSearchRows(ctx, tx, rows); err != nil {
			return err
		}
		if len(blobs) < scanChunk {
			return nil
		}
	}
}

// loadSearch indexes store.DefaultSearchAttrs in a store whose search
// attributes were never set (new, or migrated to step 7): the objects
// stored before are indexed now, once.
func (s *Store) loadSearch(ctx context.Context) error {
	var built int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM search_built`).Scan(&built); err != nil {
		return fmt.Errorf("read the search index state: %w", err)
	}
	if built > 0 {
		return nil
	}
	return s.SetSearchAttrs(ctx, store.DefaultSearchAttrs)
}

// SearchMV returns a page of the matches of q through mv_search.
func (s *Store) SearchMV(ctx context.Context, q store.MVQuery) ([]store.MVMatch, string, error) {
	attrs, err := searchAttrsOf(ctx, s.pool)
	if err != nil {
		return nil, "", err
	}
	if !attrs[q.Attr] {
		return nil, "", search.NotSearchable(q.Attr, attrs)
	}
	where := []string{"s.attr = $1"}
	args := []any{[]byte(q.Attr)}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprint("$", len(args))
	}
	v := store.SearchFold(q.Value)
	switch {
	case !q.Prefix:
		where = append(where, "s.value = "+arg([]byte(v)))
	case v != "":
		where = append(where, "s.value >= "+arg([]byte(v)))
		if end, ok := store.PrefixEnd(v); ok {
			where = append(where, "s.value < "+arg([]byte(end)))
		}
	}
	if q.After != "" {
		av, aid, err := store.ParseSearchCursor(q.After)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(s.value, s.id) > ("+arg([]byte(av))+", "+arg([]byte(aid))+")")
	}
	if q.Type != "" {
		where = append(where, "m.type = "+arg([]byte(q.Type)))
	}
	limit := q.PageSize()
	rows, err := s.pool.Query(ctx, `SELECT s.value, s.id, m.type FROM mv_search s JOIN mv_objects m ON m.id = s.id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY s.attr, s.value, s.id LIMIT `+arg(limit+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("search the metaverse by %s: %w", q.Attr, err)
	}
	defer rows.Close()
	var out []store.MVMatch
	for rows.Next() {
		var value, id, typ []byte
		if err := rows.Scan(&value, &id, &typ); err != nil {
			return nil, "", fmt.Errorf("search the metaverse by %s: %w", q.Attr, err)
		}
		out = append(out, store.MVMatch{ID: string(id), Type: string(typ), Value: string(value)})
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("search the metaverse by %s: %w", q.Attr, err)
	}
	out, next := search.Page(out, limit)
	return out, next, nil
}
