package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Statements of the hot paths, prepared once per store. Puts are pairs of a
// one-row upsert and a multi-row INSERT OR IGNORE (see rows.go).
const (
	csColumnList = `(id, connector, anchor, dn, mvid, sync_pending, pending_state, data, keys_hash, dn_key)`
	upsertCS     = `INSERT INTO cs_objects ` + csColumnList + ` VALUES `
	upsertCSSet  = ` ON CONFLICT (id) DO UPDATE SET connector = excluded.connector, anchor = excluded.anchor,
		dn = excluded.dn, mvid = excluded.mvid, sync_pending = excluded.sync_pending,
		pending_state = excluded.pending_state, data = excluded.data, keys_hash = excluded.keys_hash,
		dn_key = excluded.dn_key`
	insertCS = `INSERT OR IGNORE INTO cs_objects ` + csColumnList + ` VALUES `
	// updateCS rewrites an existing row whose indexed key columns stay as
	// they are (a link, a pending export, new attribute values): SQLite then
	// leaves the indexes on them alone, where the upsert, which sets every
	// column, rewrites four index entries per row. Its parameters are those
	// of csColumnList, by number.
	updateCS = `UPDATE cs_objects SET mvid = ?5, sync_pending = ?6, pending_state = ?7, data = ?8, keys_hash = ?9
		WHERE id = ?1 AND connector = ?2 AND anchor = ?3 AND dn = ?4`
	upsertMV    = `INSERT INTO mv_objects (id, type, data, keys_hash) VALUES `
	upsertMVSet = ` ON CONFLICT (id) DO UPDATE SET type = excluded.type, data = excluded.data, keys_hash = excluded.keys_hash`
	insertMV    = `INSERT OR IGNORE INTO mv_objects (id, type, data, keys_hash) VALUES `
	upsertWM    = `INSERT INTO watermarks (connector, partition, value) VALUES `
	upsertWMSet = ` ON CONFLICT (connector, partition) DO UPDATE SET value = excluded.value`
	insertWM    = `INSERT OR IGNORE INTO watermarks (connector, partition, value) VALUES `
	deleteCS    = `DELETE FROM cs_objects WHERE id IN (VALUES `
	deleteMV    = `DELETE FROM mv_objects WHERE id IN (VALUES `
)

// prepare prepares the statements of the hot paths.
func (s *Store) prepare(ctx context.Context) error {
	writes := []struct {
		dst                                          *rowStmts
		cols                                         int
		redo                                         bool
		onePrefix, oneSuffix, manyPrefix, manySuffix string
	}{
		{&s.putCS, 10, true, upsertCS, upsertCSSet, insertCS, ""},
		{&s.putMV, 4, true, upsertMV, upsertMVSet, insertMV, ""},
		{&s.putWM, 3, true, upsertWM, upsertWMSet, insertWM, ""},
		{&s.delCS, 1, false, deleteCS, ")", deleteCS, ")"},
		{&s.delMV, 1, false, deleteMV, ")", deleteMV, ")"},
	}
	for _, w := range writes {
		var err error
		*w.dst, err = prepareRows(ctx, s.w, w.cols, w.redo, w.onePrefix, w.oneSuffix, w.manyPrefix, w.manySuffix)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", w.onePrefix, err)
		}
	}
	var err error
	if s.putCS.update, err = s.w.PrepareContext(ctx, updateCS); err != nil {
		return fmt.Errorf("prepare %q: %w", updateCS, err)
	}
	reads := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.scanCSAll, `SELECT data FROM cs_objects WHERE id > ? ORDER BY id LIMIT ?`},
		{&s.scanCSConn, `SELECT data FROM cs_objects WHERE connector = ? AND id > ? ORDER BY id LIMIT ?`},
		{&s.scanMV, `SELECT data FROM mv_objects WHERE id > ? ORDER BY id LIMIT ?`},
	}
	for _, r := range reads {
		st, err := s.r.PrepareContext(ctx, r.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", r.query, err)
		}
		*r.dst = st
	}
	return nil
}

// closeStmts closes the prepared statements.
func (s *Store) closeStmts() error {
	var errs []error
	for _, st := range append([]rowStmts{s.putCS, s.putMV, s.putWM, s.delCS, s.delMV, s.insSearch, s.insSearchOf, s.delSearch}, s.keyStmts()...) {
		errs = append(errs, st.close())
	}
	for _, st := range append([]*sql.Stmt{s.scanCSAll, s.scanCSConn, s.scanMV}, s.keyReads()...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
