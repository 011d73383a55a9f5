package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/keyhash"
)

// Keys (store.Keys): an object's DN key is the column dn_key of
// cs_objects; cs_keys holds, for every CS object, the keys of its
// reference values (for the connectors in index_attrs, side "ref") and the
// value keys of the CS attributes in index_attrs; mv_keys the value keys
// of the MV attributes in index_attrs.
// Apply maintains them with the objects, in the same transaction: a put
// deletes the object's keys and inserts those of its new version (unless
// they hash the same as those it had: keys_hash), a delete deletes them,
// and a state-only put (Batch.PutCSState) leaves them alone.
//
// A key is stored as a 64-bit hash of the connector (or MV object type)
// and the key, with the rowid of its object: about 20 bytes a key, where
// the text would take a hundred, so that an import writes a few pages of
// keys, not as many as of objects. A lookup joins the rowids to the objects
// and keeps those of the connector (or type); the rare other object whose
// key hashes the same is one more the caller checks, as it checks all.
//
// What was declared with Index is kept in memory (idxMu):
// Apply holds the read lock while it computes and writes keys, so that a
// declaration, which builds the new attribute's keys from the stored
// objects under the write lock, never misses an object a concurrent Apply
// writes.

// Key statements (prepared with the others in prepare).
const (
	// deleteCSKeysOf deletes the keys of objects by ID, before they are
	// deleted; deleteCSKeys by rowid.
	deleteCSKeysOf = `DELETE FROM cs_keys WHERE crow IN (SELECT rowid FROM cs_objects WHERE id IN (VALUES `
	deleteCSKeys   = `DELETE FROM cs_keys WHERE crow IN (VALUES `
	insertCSKeys   = `INSERT OR IGNORE INTO cs_keys (key, crow) VALUES `
	deleteMVKeysOf = `DELETE FROM mv_keys WHERE mrow IN (SELECT rowid FROM mv_objects WHERE id IN (VALUES `
	deleteMVKeys   = `DELETE FROM mv_keys WHERE mrow IN (VALUES `
	insertMVKeys   = `INSERT OR IGNORE INTO mv_keys (key, mrow) VALUES `
	// Lookups by key (their plans are checked by TestTargetedQueriesUseIndexes).
	csByKeyQuery = `SELECT c.id FROM cs_keys k CROSS JOIN cs_objects c WHERE c.rowid = k.crow AND k.key = ? AND c.connector = ?`
	csByDNQuery  = `SELECT id FROM cs_objects WHERE connector = ? AND dn_key = ?`
	mvByKeyQuery = `SELECT m.id FROM mv_keys k CROSS JOIN mv_objects m WHERE m.rowid = k.mrow AND k.key = ? AND m.type = ?`
	// updateCSState writes what a state-only put changes: the columns of
	// the link and flags, and the blob (which holds them too). The key
	// columns must be those stored.
	updateCSState = `UPDATE cs_objects SET mvid = ?, sync_pending = ?, pending_state = ?, data = ?
		WHERE id = ? AND connector = ? AND anchor = ? AND dn = ?`
)

// keyRow is a key of an object (by ID) as stored: keyHash of its space
// (connector or MV object type) and key.
type keyRow struct {
	h  int64
	id string
}

func (s *Store) prepareKeys(ctx context.Context) error {
	for _, w := range []struct {
		dst          *rowStmts
		cols         int
		prefix, suff string
	}{
		{&s.delCSKeysOf, 1, deleteCSKeysOf, "))"},
		{&s.delCSKeys, 1, deleteCSKeys, ")"},
		{&s.insCSKeys, 2, insertCSKeys, ""},
		{&s.delMVKeysOf, 1, deleteMVKeysOf, "))"},
		{&s.delMVKeys, 1, deleteMVKeys, ")"},
		{&s.insMVKeys, 2, insertMVKeys, ""},
	} {
		var err error
		if *w.dst, err = prepareRows(ctx, s.w, w.cols, false, w.prefix, w.suff, w.prefix, w.suff); err != nil {
			return fmt.Errorf("prepare %q: %w", w.prefix, err)
		}
	}
	var err error
	if s.putCSState, err = s.w.PrepareContext(ctx, updateCSState); err != nil {
		return fmt.Errorf("prepare %q: %w", updateCSState, err)
	}
	reads := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.scanSyncPending, `SELECT data FROM cs_objects WHERE connector = ? AND sync_pending <> 0 AND id > ? ORDER BY id LIMIT ?`},
		{&s.scanExports, `SELECT data FROM cs_objects WHERE connector = ? AND pending_state IS NOT NULL AND id > ? ORDER BY id LIMIT ?`},
		// CROSS JOIN keeps the keys as the outer loop: a planner without
		// statistics would otherwise walk the connector's objects in ID
		// order. The few IDs are sorted by readIDs.
		{&s.csByKey, csByKeyQuery},
		{&s.csByDN, csByDNQuery},
		{&s.mvByKey, mvByKeyQuery},
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

func (s *Store) keyStmts() []rowStmts {
	return []rowStmts{s.delCSKeysOf, s.delCSKeys, s.insCSKeys, s.delMVKeysOf, s.delMVKeys, s.insMVKeys}
}

func (s *Store) keyReads() []*sql.Stmt {
	return []*sql.Stmt{s.putCSState, s.scanSyncPending, s.scanExports, s.csByKey, s.csByDN, s.mvByKey}
}

// loadIndexAttrs reads the declared attributes, and builds the keys of the
// objects stored before the keys existed (a database migrated to step 7).
func (s *Store) loadIndexAttrs(ctx context.Context) error {
	s.csAttrs, s.mvAttrs, s.refConns = map[string]bool{}, map[string]bool{}, map[string]bool{}
	rows, err := s.w.QueryContext(ctx, `SELECT side, attr FROM index_attrs`)
	if err != nil {
		return fmt.Errorf("read indexed attributes: %w", err)
	}
	for rows.Next() {
		var side, attr string
		if err := rows.Scan(&side, &attr); err != nil {
			rows.Close()
			return fmt.Errorf("read indexed attributes: %w", err)
		}
		switch side {
		case "cs":
			s.csAttrs[attr] = true
		case "mv":
			s.mvAttrs[attr] = true
		case "ref":
			s.refConns[attr] = true
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read indexed attributes: %w", err)
	}
	var built int
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys_built`).Scan(&built); err != nil {
		return fmt.Errorf("read key state: %w", err)
	}
	if built > 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("build keys: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys_built`).Scan(&built); err != nil || built > 0 {
		return err // built by a concurrent opener
	}
	if err := s.buildKeys(ctx, tx, keySpec{cs: s.csAttrs, mv: s.mvAttrs, refs: s.refConns, dn: true}); err != nil { // cs: connector \x00 attribute
		return fmt.Errorf("build keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO keys_built (version) VALUES (1)`); err != nil {
		return fmt.Errorf("build keys: %w", err)
	}
	return tx.Commit()
}

// keySpec says which keys buildKeys builds: the value keys of cs (entries
// "connector \x00 attribute") and mv,
// the reference keys of the connectors in refs, and with dn the DN keys.
type keySpec struct {
	cs, mv, refs map[string]bool
	dn           bool
}

// buildKeys inserts the keys spec names of every stored object.
func (s *Store) buildKeys(ctx context.Context, tx *sql.Tx, spec keySpec) error {
	if spec.dn || len(spec.cs) > 0 || len(spec.refs) > 0 {
		byConn := map[string]map[string]bool{} // connAttrs, once per connector
		err := s.eachBlob(ctx, tx, `SELECT rowid, data FROM cs_objects WHERE id > ? ORDER BY id LIMIT ?`, true, func(row int64, b string) ([]keyRow, error) {
			o, err := decodeCS(b)
			if err != nil {
				return nil, err
			}
			if spec.dn && o.Object.DN != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE cs_objects SET dn_key = ? WHERE rowid = ?`, dnKey(o.Object.DN), row); err != nil {
					return nil, err
				}
			}
			attrs, ok := byConn[o.Connector]
			if !ok {
				attrs = connAttrs(spec.cs, o.Connector)
				byConn[o.Connector] = attrs
			}
			return csKeyRows(nil, o, attrs, spec.refs[o.Connector]), nil
		}, s.insCSKeys)
		if err != nil {
			return fmt.Errorf("cs objects: %w", err)
		}
	}
	if len(spec.mv) > 0 {
		err := s.eachBlob(ctx, tx, `SELECT rowid, data FROM mv_objects WHERE id > ? ORDER BY id LIMIT ?`, false, func(_ int64, b string) ([]keyRow, error) {
			o, err := decodeMV(b)
			if err != nil {
				return nil, err
			}
			return mvKeyRows(nil, o, spec.mv), nil
		}, s.insMVKeys)
		if err != nil {
			return fmt.Errorf("mv objects: %w", err)
		}
	}
	return nil
}

// eachBlob pages through a table in tx (query selects rowid and data),
// calls keys for each object once the page is read, and inserts the key
// rows it returns with ins.
func (s *Store) eachBlob(ctx context.Context, tx *sql.Tx, query string, cs bool, keys func(int64, string) ([]keyRow, error), ins rowStmts) error {
	after := ""
	for {
		rs, err := tx.QueryContext(ctx, query, after, scanChunk)
		if err != nil {
			return err
		}
		var rowids []int64
		var blobs []string
		for rs.Next() {
			var row int64
			var data sql.RawBytes
			if err := rs.Scan(&row, &data); err != nil {
				rs.Close()
				return err
			}
			rowids = append(rowids, row)
			blobs = append(blobs, string(data))
		}
		if err := rs.Close(); err != nil {
			return err
		}
		var kr []keyRow
		var rows []int64
		for i, b := range blobs {
			k, err := keys(rowids[i], b)
			if err != nil {
				return err
			}
			for range k {
				rows = append(rows, rowids[i])
			}
			kr = append(kr, k...)
		}
		if err := insertKeys(ctx, tx, ins, kr, func(i int) int64 { return rows[i] }); err != nil {
			return err
		}
		if len(blobs) < scanChunk {
			return nil
		}
		if after, err = blobID(blobs[len(blobs)-1], cs); err != nil {
			return err
		}
	}
}

// csKeyRows appends the key rows of a CS object in cs_keys: the value keys
// of attrs, with refs the keys of its reference values (its DN key is the
// column dn_key).
func csKeyRows(out []keyRow, o *store.CSObject, attrs map[string]bool, refs bool) []keyRow {
	for _, k := range store.CSKeys(o, attrs, refs) {
		out = append(out, keyRow{keyhash.Of(o.Connector, k), o.ID})
	}
	return out
}

// connAttrs returns the attributes declared for connector conn among all
// (entries "connector \x00 attribute").
func connAttrs(all map[string]bool, conn string) map[string]bool {
	out := map[string]bool{}
	for k := range all {
		if c, a, ok := strings.Cut(k, "\x00"); ok && c == conn {
			out[a] = true
		}
	}
	return out
}

// dnKeyPrefix starts every store.DNKey; dnKey is the dn_key of a DN.
var dnKeyPrefix = store.DNKey("")

func dnKey(dn string) string {
	if dn == "" {
		return ""
	}
	return store.DNKey(dn)
}

func mvKeyRows(out []keyRow, o *store.MVObject, attrs map[string]bool) []keyRow {
	for _, k := range store.MVKeys(o, attrs) {
		out = append(out, keyRow{keyhash.Of(o.Type, k), o.ID})
	}
	return out
}

// insertKeys inserts key rows, row(i) giving the rowid of rows[i]'s object.
func insertKeys(ctx context.Context, tx *sql.Tx, ins rowStmts, rows []keyRow, row func(int) int64) error {
	return ins.exec(ctx, tx, len(rows), func(args []any, i int, _ bool) []any {
		return append(args, rows[i].h, row(i))
	}, func(i int, err error) error { return fmt.Errorf("insert key of %s: %w", rows[i].id, err) })
}

// deleteKeys deletes the keys of objects, by ID (del: deleteCSKeysOf) or
// by rowid (deleteCSKeys).
func deleteKeys[T any](ctx context.Context, tx *sql.Tx, del rowStmts, objs []T) error {
	return del.exec(ctx, tx, len(objs), func(args []any, i int, _ bool) []any { return append(args, objs[i]) },
		func(i int, err error) error { return fmt.Errorf("delete keys of %v: %w", objs[i], err) })
}

// keyPlan is what Apply writes of the keys of a list of puts: each put's
// key rows and their hash, the last put of each ID, and the rowid and hash
// of the keys of each ID stored before.
type keyPlan struct {
	rows [][]keyRow
	hash []int64
	last []int
	old  map[string]rowHash
}

// rowHash is an object's rowid and keys_hash.
type rowHash struct{ row, hash int64 }

// hashKeys returns a hash of key rows, never 0 (the column's "unknown"),
// seeded with what was declared: after a declaration, every object's keys
// are written again at its next put (those the declaration built for it
// included), so none is left behind.
func hashKeys(seed string, rows []keyRow) int64 {
	keys := make([]int64, len(rows))
	for i, r := range rows {
		keys[i] = r.h
	}
	slices.Sort(keys)
	h := fnv.New64a()
	h.Write([]byte(seed))
	var b [8]byte
	for _, k := range keys {
		binary.LittleEndian.PutUint64(b[:], uint64(k))
		h.Write(b[:])
	}
	if v := int64(h.Sum64()); v != 0 {
		return v
	}
	return 1
}

func (s *Store) planCSKeys(ctx context.Context, tx *sql.Tx, objs []*store.CSObject) (keyPlan, error) {
	p := keyPlan{rows: make([][]keyRow, len(objs)), hash: make([]int64, len(objs))}
	type connSpec struct {
		attrs map[string]bool
		seed  string
	}
	specs := map[string]connSpec{}
	for i, o := range objs {
		cs, ok := specs[o.Connector]
		if !ok {
			cs.attrs = connAttrs(s.csAttrs, o.Connector)
			cs.seed = fmt.Sprint(s.refConns[o.Connector], strings.Join(slices.Sorted(maps.Keys(cs.attrs)), "\x00"))
			specs[o.Connector] = cs
		}
		p.rows[i] = csKeyRows(nil, o, cs.attrs, s.refConns[o.Connector])
		p.hash[i] = hashKeys(cs.seed, p.rows[i])
	}
	p.last = lastPuts(len(objs), func(i int) string { return objs[i].ID })
	var err error
	p.old, err = rowHashes(ctx, tx, "cs_objects", len(p.last), func(j int) string { return objs[p.last[j]].ID })
	return p, err
}

func (s *Store) planMVKeys(ctx context.Context, tx *sql.Tx, objs []*store.MVObject) (keyPlan, error) {
	p := keyPlan{rows: make([][]keyRow, len(objs)), hash: make([]int64, len(objs))}
	seed := strings.Join(slices.Sorted(maps.Keys(s.mvAttrs)), "\x00")
	for i, o := range objs {
		p.rows[i] = mvKeyRows(nil, o, s.mvAttrs)
		p.hash[i] = hashKeys(seed, p.rows[i])
	}
	p.last = lastPuts(len(objs), func(i int) string { return objs[i].ID })
	var err error
	p.old, err = rowHashes(ctx, tx, "mv_objects", len(p.last), func(j int) string { return objs[p.last[j]].ID })
	return p, err
}

// rowHashes reads the rowid and keys_hash of the stored objects among n IDs.
func rowHashes(ctx context.Context, tx *sql.Tx, table string, n int, id func(int) string) (map[string]rowHash, error) {
	out := make(map[string]rowHash, n)
	const chunk = 500
	args := make([]any, 0, chunk)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		args = args[:0]
		for j := start; j < end; j++ {
			args = append(args, id(j))
		}
		q := `SELECT id, rowid, keys_hash FROM ` + table + ` WHERE id IN (?` + strings.Repeat(", ?", end-start-1) + `)`
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("read key hashes: %w", err)
		}
		for rows.Next() {
			var id string
			var rh rowHash
			if err := rows.Scan(&id, &rh.row, &rh.hash); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read key hashes: %w", err)
			}
			out[id] = rh
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read key hashes: %w", err)
		}
	}
	return out, nil
}

// deleteKeysOf deletes the keys of the objects a batch deletes; Apply runs
// it before it deletes them (the keys are found by their rowids).
func (s *Store) deleteKeysOf(ctx context.Context, tx *sql.Tx, b *store.Batch) error {
	if err := deleteKeys(ctx, tx, s.delCSKeysOf, b.DeleteCS); err != nil {
		return err
	}
	return deleteKeys(ctx, tx, s.delMVKeysOf, b.DeleteMV)
}

// applyKeys writes the keys of a batch's puts, after the objects: those of
// each object put replace those it had, unless they hash the same.
func (s *Store) applyKeys(ctx context.Context, tx *sql.Tx, b *store.Batch, ck, mk keyPlan) error {
	if err := s.replaceKeys(ctx, tx, "cs_objects", ck, func(i int) string { return b.PutCS[i].ID }, s.delCSKeys, s.insCSKeys); err != nil {
		return err
	}
	return s.replaceKeys(ctx, tx, "mv_objects", mk, func(i int) string { return b.PutMV[i].ID }, s.delMVKeys, s.insMVKeys)
}

func (s *Store) replaceKeys(ctx context.Context, tx *sql.Tx, table string, p keyPlan, id func(int) string, del, ins rowStmts) error {
	var stale []int64
	var rows []keyRow
	var fresh []string // objects new in this batch: their rowids are read now
	for _, i := range p.last {
		old, stored := p.old[id(i)]
		if stored && old.hash == p.hash[i] {
			continue
		}
		if stored {
			stale = append(stale, old.row)
		} else {
			fresh = append(fresh, id(i))
		}
		rows = append(rows, p.rows[i]...)
	}
	if err := deleteKeys(ctx, tx, del, stale); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	rowOf, err := rowHashes(ctx, tx, table, len(fresh), func(j int) string { return fresh[j] })
	if err != nil {
		return err
	}
	for id, rh := range p.old {
		if _, ok := rowOf[id]; !ok {
			rowOf[id] = rh
		}
	}
	// In key order (see putSearchRows).
	slices.SortFunc(rows, func(a, b keyRow) int {
		return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(rowOf[a.id].row, rowOf[b.id].row))
	})
	return insertKeys(ctx, tx, ins, rows, func(i int) int64 { return rowOf[rows[i].id].row })
}

// lastPuts returns the indexes of the last put of each ID, in order.
func lastPuts(n int, id func(int) string) []int {
	seen := make(map[string]bool, n)
	out := make([]int, 0, n)
	for i := n - 1; i >= 0; i-- {
		if k := id(i); !seen[k] {
			seen[k] = true
			out = append(out, i)
		}
	}
	slices.Reverse(out)
	return out
}

// applyCSState writes the state-only puts of a batch.
func (s *Store) applyCSState(ctx context.Context, tx *sql.Tx, objs []*store.CSObject) error {
	if len(objs) == 0 {
		return nil
	}
	st := tx.StmtContext(ctx, s.putCSState)
	var buf []byte
	for _, o := range objs {
		var pending any
		if o.Pending != nil {
			pending = string(o.Pending.State)
		}
		buf = encodeCS(buf[:0], o)
		res, err := st.ExecContext(ctx, o.MVID, o.SyncPending, pending, buf, o.ID, o.Connector, o.Object.Anchor, o.Object.DN)
		if err != nil {
			return fmt.Errorf("put cs object state %s: %w", o.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return s.stateMismatch(ctx, tx, o)
		}
	}
	return nil
}

// stateMismatch explains a state-only put that changed no row.
func (s *Store) stateMismatch(ctx context.Context, tx *sql.Tx, o *store.CSObject) error {
	var conn, anchor, dn string
	err := tx.QueryRowContext(ctx, `SELECT connector, anchor, dn FROM cs_objects WHERE id = ?`, o.ID).Scan(&conn, &anchor, &dn)
	if err == sql.ErrNoRows {
		return fmt.Errorf("put cs object state %s: %w", o.ID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put cs object state %s: %w", o.ID, err)
	}
	return fmt.Errorf("put cs object state %s: stored as %s/%q (DN %q), not %s/%q (DN %q): a state-only put cannot change them",
		o.ID, conn, anchor, dn, o.Connector, o.Object.Anchor, o.Object.DN)
}

// ScanCSSyncPending calls fn for every CS object of connector marked
// SyncPending, in ID order, through the partial index on them.
func (s *Store) ScanCSSyncPending(ctx context.Context, connector string, fn func(*store.CSObject) error) error {
	return s.scanCSWith(ctx, s.scanSyncPending, connector, "sync-pending", fn)
}

// ScanCSExports calls fn for every CS object of connector with a pending
// export, in ID order, through the partial index on them.
func (s *Store) ScanCSExports(ctx context.Context, connector string, fn func(*store.CSObject) error) error {
	return s.scanCSWith(ctx, s.scanExports, connector, "pending-export", fn)
}

// CountCSExports counts the objects of connector with a pending export
// (the partial index cs_objects_exports).
func (s *Store) CountCSExports(ctx context.Context, connector string) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM cs_objects WHERE connector = ? AND pending_state IS NOT NULL`, connector).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending exports of %q: %w", connector, err)
	}
	return n, nil
}

func (s *Store) scanCSWith(ctx context.Context, q *sql.Stmt, connector, what string, fn func(*store.CSObject) error) error {
	fetch := func(ctx context.Context, after string) ([]string, string, bool, error) {
		blobs, err := readBlobs(q.QueryContext(ctx, connector, after, scanChunk))
		if err == nil && len(blobs) > 0 {
			after, err = blobID(blobs[len(blobs)-1], true)
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("scan %s cs objects of %q: %w", what, connector, err)
		}
		return blobs, after, len(blobs) == scanChunk, nil
	}
	decode := func(b string) (*store.CSObject, error) {
		o, err := decodeCS(b)
		if err != nil {
			return nil, fmt.Errorf("scan %s cs objects of %q: %w", what, connector, err)
		}
		return o, nil
	}
	return pipeline(ctx, fetch, decode, fn)
}

func readIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// CSByKey returns, sorted, the IDs of the CS objects of connector with key.
func (s *Store) CSByKey(ctx context.Context, connector, key string) ([]string, error) {
	var ids []string
	var err error
	if strings.HasPrefix(key, dnKeyPrefix) {
		ids, err = readIDs(s.csByDN.QueryContext(ctx, connector, key))
	} else {
		ids, err = readIDs(s.csByKey.QueryContext(ctx, keyhash.Of(connector, key), connector))
	}
	if err != nil {
		return nil, fmt.Errorf("look up cs objects of %q by key: %w", connector, err)
	}
	return ids, nil
}

// MVByKey returns, sorted, the IDs of the MV objects of mvType with key.
func (s *Store) MVByKey(ctx context.Context, mvType, key string) ([]string, error) {
	ids, err := readIDs(s.mvByKey.QueryContext(ctx, keyhash.Of(mvType, key), mvType))
	if err != nil {
		return nil, fmt.Errorf("look up mv objects of type %q by key: %w", mvType, err)
	}
	return ids, nil
}

// Index declares what to keep keys for, building the keys of what is
// declared for the first time from the stored objects, in one transaction.
func (s *Store) Index(ctx context.Context, spec store.IndexSpec) error {
	s.idxMu.RLock()
	news := s.newIndex(spec)
	s.idxMu.RUnlock()
	if news.empty() {
		return nil
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if news = s.newIndex(spec); news.empty() {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer tx.Rollback()
	for side, names := range map[string]map[string]bool{"cs": news.cs, "mv": news.mv, "ref": news.refs} {
		for n := range names {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO index_attrs (side, attr) VALUES (?, ?)`, side, n); err != nil {
				return fmt.Errorf("index: %w", err)
			}
		}
	}
	if err := s.buildKeys(ctx, tx, news); err != nil {
		return fmt.Errorf("index: build keys: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index: commit: %w", err)
	}
	s.ck.written()
	maps.Copy(s.csAttrs, news.cs)
	maps.Copy(s.mvAttrs, news.mv)
	maps.Copy(s.refConns, news.refs)
	return nil
}

// newIndex returns what spec declares that was not declared before.
func (s *Store) newIndex(spec store.IndexSpec) keySpec {
	var cs []string
	for conn, attrs := range spec.CS {
		for _, a := range attrs {
			if a != "" {
				cs = append(cs, conn+"\x00"+a)
			}
		}
	}
	return keySpec{cs: newAttrs(s.csAttrs, cs), mv: newAttrs(s.mvAttrs, spec.MV), refs: newAttrs(s.refConns, spec.RefConnectors)}
}

func (k keySpec) empty() bool { return len(k.cs) == 0 && len(k.mv) == 0 && len(k.refs) == 0 }

func newAttrs(have map[string]bool, want []string) map[string]bool {
	out := map[string]bool{}
	for _, a := range want {
		if a != "" && !have[a] {
			out[a] = true
		}
	}
	return out
}
