package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
)

// Statements of Apply. Many rows are written with one statement whose
// parameters are one array per column (unnest); an object put is also
// written one row at a time (the VALUES form) to find which put fails.
const (
	csColumns  = `(id, connector, anchor, dn, dn_key, mvid, sync_pending, pending_state, keys_hash, data)`
	upsertCSOn = ` ON CONFLICT (id) DO UPDATE SET connector = excluded.connector, anchor = excluded.anchor,
		dn = excluded.dn, dn_key = excluded.dn_key, mvid = excluded.mvid, sync_pending = excluded.sync_pending,
		pending_state = excluded.pending_state, keys_hash = excluded.keys_hash, data = excluded.data`
	upsertCSMany = `INSERT INTO cs_objects ` + csColumns + ` SELECT * FROM unnest($1::bytea[], $2::bytea[],
		$3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::boolean[], $8::text[], $9::bigint[], $10::bytea[])` + upsertCSOn
	upsertCSOne = `INSERT INTO cs_objects ` + csColumns + ` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)` + upsertCSOn
	upsertMV    = `INSERT INTO mv_objects (id, type, keys_hash, data)
		SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bigint[], $4::bytea[])
		ON CONFLICT (id) DO UPDATE SET type = excluded.type, keys_hash = excluded.keys_hash, data = excluded.data`
	// updateCSState writes what a state-only put changes; the key columns
	// must be as stored.
	updateCSState = `UPDATE cs_objects c SET mvid = u.mvid, sync_pending = u.sync_pending,
		pending_state = u.pending_state, data = u.data
		FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::boolean[], $7::text[], $8::bytea[])
			AS u (id, connector, anchor, dn, mvid, sync_pending, pending_state, data)
		WHERE c.id = u.id AND c.connector = u.connector AND c.anchor = u.anchor AND c.dn = u.dn
		RETURNING c.id`
	upsertWM = `INSERT INTO watermarks (connector, partition, value)
		SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])
		ON CONFLICT (connector, partition) DO UPDATE SET value = excluded.value`
)

// csRow is a CS object put, as written.
type csRow struct {
	o                                 *store.CSObject
	id, conn, anchor, dn, dnKey, mvid []byte
	pending                           *string
	data                              []byte
	keys                              []int64 // cs_keys of the object
	hash                              int64   // keys_hash
}

type mvRow struct {
	o    *store.MVObject
	data []byte
	keys []int64
	hash int64
}

// Apply writes the batch in one transaction: all of it or none. Deletes are
// applied first (so a batch may delete an object and put another one with
// the same anchor), then CS puts, MV puts, state-only CS puts (which fail
// the batch with store.ErrNotFound for an object not stored) and
// watermarks, each with the result of upserting them one by one in slice
// order; the keys of the objects written are maintained with them
// (keys.go). Deleting an absent object is not an error. A CS put whose
// (connector, anchor) belongs to another CS object fails the batch with
// store.ErrAlreadyExists. A transaction that lost a deadlock to a
// concurrent one is retried.
func (s *Store) Apply(ctx context.Context, b *store.Batch) error {
	if b == nil || b.Empty() {
		return nil
	}
	if err := checkBatch(b); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	// Keys are computed with the declared attributes; a declaration waits
	// for the batch (see keys.go).
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	cs, mv := s.csRows(b.PutCS), s.mvRows(b.PutMV)
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.applyTx(ctx, tx, b, cs, mv) })
		if err == nil {
			return nil
		}
		if attempt < 5 && retryable(err) && ctx.Err() == nil {
			continue
		}
		return fmt.Errorf("apply batch: %w", err)
	}
}

// retryable reports whether a transaction failed only because of a
// concurrent one (a deadlock or serialization failure).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// isViolation reports whether err is PostgreSQL's error code on the
// constraint ("" = any).
func isViolation(err error, code, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code && (constraint == "" || pe.ConstraintName == constraint)
}

// checkBatch rejects objects that cannot be stored.
func checkBatch(b *store.Batch) error {
	for i, o := range b.PutCS {
		if o == nil || o.ID == "" {
			return fmt.Errorf("put cs object #%d: missing object or id", i)
		}
	}
	for i, o := range b.PutCSState {
		if o == nil || o.ID == "" {
			return fmt.Errorf("put cs object state #%d: missing object or id", i)
		}
	}
	for i, o := range b.PutMV {
		if o == nil || o.ID == "" {
			return fmt.Errorf("put mv object #%d: missing object or id", i)
		}
	}
	return nil
}

func pendingState(o *store.CSObject) *string {
	if o.Pending == nil {
		return nil
	}
	st := string(o.Pending.State)
	return &st
}

func (s *Store) csRows(objs []*store.CSObject) []csRow {
	rows := make([]csRow, len(objs))
	specs := map[string]connSpec{}
	for i, o := range objs {
		sp, ok := specs[o.Connector]
		if !ok {
			sp = s.connSpec(o.Connector)
			specs[o.Connector] = sp
		}
		keys := csKeys(o, sp)
		rows[i] = csRow{o: o, id: []byte(o.ID), conn: []byte(o.Connector), anchor: []byte(o.Object.Anchor),
			dn: []byte(o.Object.DN), dnKey: []byte(dnKey(o.Object.DN)), mvid: []byte(o.MVID),
			pending: pendingState(o), data: codec.EncodeCS(nil, o), keys: keys, hash: hashKeys(sp.seed, keys)}
	}
	return rows
}

func (s *Store) mvRows(objs []*store.MVObject) []mvRow {
	rows := make([]mvRow, len(objs))
	seed := s.mvSeed()
	for i, o := range objs {
		keys := mvKeys(o, s.mvAttrs)
		rows[i] = mvRow{o: o, data: codec.EncodeMV(nil, o), keys: keys, hash: hashKeys(seed, keys)}
	}
	return rows
}

func (s *Store) applyTx(ctx context.Context, tx pgx.Tx, b *store.Batch, cs []csRow, mv []mvRow) error {
	if len(b.DeleteCS) > 0 {
		ids := byteSlices(b.DeleteCS)
		if _, err := tx.Exec(ctx, `DELETE FROM cs_keys WHERE id = ANY($1::bytea[])`, ids); err != nil {
			return fmt.Errorf("delete keys of %d cs objects: %w", len(ids), err)
		}
		for _, table := range flagTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` f USING cs_objects c
				WHERE c.id = ANY($1::bytea[]) AND f.connector = c.connector AND f.id = c.id`, ids); err != nil {
				return fmt.Errorf("delete %s of %d cs objects: %w", table, len(ids), err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM cs_objects WHERE id = ANY($1::bytea[])`, ids); err != nil {
			return fmt.Errorf("delete %d cs objects: %w", len(ids), err)
		}
	}
	if len(b.DeleteMV) > 0 {
		ids := byteSlices(b.DeleteMV)
		if _, err := tx.Exec(ctx, `DELETE FROM mv_keys WHERE id = ANY($1::bytea[])`, ids); err != nil {
			return fmt.Errorf("delete keys of %d mv objects: %w", len(ids), err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mv_objects WHERE id = ANY($1::bytea[])`, ids); err != nil {
			return fmt.Errorf("delete %d mv objects: %w", len(ids), err)
		}
	}
	if err := s.putCS(ctx, tx, cs); err != nil {
		return err
	}
	if err := s.putMV(ctx, tx, mv); err != nil {
		return err
	}
	if err := applySearch(ctx, tx, b); err != nil {
		return err
	}
	if err := applyCSState(ctx, tx, b.PutCSState); err != nil {
		return err
	}
	return putWatermarks(ctx, tx, b.Watermarks)
}

func byteSlices(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// putCS writes CS object puts and their keys. When every ID is put once,
// one statement writes them all; when an ID is put twice, or the statement
// finds an anchor taken, they are written one by one in order, which gives
// the result (or the error) of upserting them one by one.
func (s *Store) putCS(ctx context.Context, tx pgx.Tx, rows []csRow) error {
	if len(rows) == 0 {
		return nil
	}
	last := lastPuts(len(rows), func(i int) string { return rows[i].o.ID })
	old, err := keyHashes(ctx, tx, "cs_objects", "connector", len(last), func(j int) []byte { return rows[last[j]].id })
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT put_cs`); err != nil {
		return fmt.Errorf("put cs objects: %w", err)
	}
	oneByOne := len(last) < len(rows)
	copied := false
	if !oneByOne && len(old) == 0 && len(rows) >= copyMin {
		// None of the objects is stored: COPY them. A conflict (an anchor
		// taken, an object another transaction stored meanwhile) leaves
		// it to the statements below.
		if copied, err = copyRows(ctx, tx, "put_cs", "cs_objects", csCopyColumns, len(rows), func(i int) []any {
			r := &rows[i]
			return []any{r.id, r.conn, r.anchor, r.dn, r.dnKey, r.mvid, r.o.SyncPending, r.pending, r.hash, r.data}
		}); err != nil {
			return fmt.Errorf("put %d cs objects: %w", len(rows), err)
		}
	}
	if !oneByOne && !copied {
		n := len(rows)
		id, conn, anchor, dn, dnk, mvid := make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
		sync, pending, hash, data := make([]bool, n), make([]*string, n), make([]int64, n), make([][]byte, n)
		for i, r := range rows {
			id[i], conn[i], anchor[i], dn[i], dnk[i], mvid[i] = r.id, r.conn, r.anchor, r.dn, r.dnKey, r.mvid
			sync[i], pending[i], hash[i], data[i] = r.o.SyncPending, r.pending, r.hash, r.data
		}
		err := inChunks(n, func(lo, hi int) error {
			_, err := tx.Exec(ctx, upsertCSMany, id[lo:hi], conn[lo:hi], anchor[lo:hi], dn[lo:hi], dnk[lo:hi], mvid[lo:hi],
				sync[lo:hi], pending[lo:hi], hash[lo:hi], data[lo:hi])
			return err
		})
		switch {
		case isViolation(err, "23505", "cs_objects_anchor"):
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT put_cs`); err != nil {
				return fmt.Errorf("put cs objects: %w", err)
			}
			oneByOne = true
		case err != nil:
			return fmt.Errorf("put %d cs objects: %w", n, err)
		}
	}
	if oneByOne {
		if err := putCSOneByOne(ctx, tx, rows); err != nil {
			return err
		}
	}
	// Flags: the final state of each object put; an object that moved to
	// another connector leaves its flags there.
	var f flagRows
	for _, i := range last {
		r := &rows[i]
		if st, ok := old[r.o.ID]; ok && st.space != r.o.Connector {
			f.add(tableSync, []byte(st.space), r.id, false)
			f.add(tableExports, []byte(st.space), r.id, false)
		}
		f.add(tableSync, r.conn, r.id, r.o.SyncPending)
		f.add(tableExports, r.conn, r.id, r.pending != nil)
	}
	if err := f.write(ctx, tx, copied); err != nil {
		return err
	}
	// Keys: those of each object put replace those it had, unless they
	// hash the same.
	var stale [][]byte
	var keys []int64
	var keyIDs [][]byte
	for _, i := range last {
		r := &rows[i]
		if st, ok := old[r.o.ID]; ok {
			if st.hash == r.hash {
				continue
			}
			stale = append(stale, r.id)
		}
		for _, k := range r.keys {
			keys = append(keys, k)
			keyIDs = append(keyIDs, r.id)
		}
	}
	return replaceKeys(ctx, tx, "cs_keys", stale, keys, keyIDs, copied)
}

// The flag tables: which CS objects are marked for synchronization, which
// have a pending export (migration 5). A row (connector, id) is there
// exactly when the object of that connector has the flag: Apply writes
// them with the objects. An object's flags are not in an index of
// cs_objects, so that an update that changes only them and its data (a
// synchronization, an export, an import that confirms it) leaves the
// object's index entries alone (a HOT update).
const (
	tableSync    = 0 // cs_sync_pending
	tableExports = 1 // cs_exports
)

var flagTables = [2]string{"cs_sync_pending", "cs_exports"}

// flagRows are the flag rows to set and to clear, by table.
type flagRows struct {
	set, clear [2]struct{ conn, id [][]byte }
}

func (f *flagRows) add(table int, conn, id []byte, on bool) {
	l := &f.clear[table]
	if on {
		l = &f.set[table]
	}
	l.conn, l.id = append(l.conn, conn), append(l.id, id)
}

// write clears and sets the flag rows; fresh says that the objects were
// not stored before (nothing to clear, nothing set).
func (f *flagRows) write(ctx context.Context, tx pgx.Tx, fresh bool) error {
	for t, table := range flagTables {
		if c := f.clear[t]; len(c.id) > 0 && !fresh {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` f USING unnest($1::bytea[], $2::bytea[]) AS u (connector, id)
				WHERE f.connector = u.connector AND f.id = u.id`, c.conn, c.id); err != nil {
				return fmt.Errorf("clear %s of %d cs objects: %w", table, len(c.id), err)
			}
		}
		st := f.set[t]
		if len(st.id) == 0 {
			continue
		}
		if fresh && len(st.id) >= copyMin {
			copied, err := copyRows(ctx, tx, "put_flags", table, flagCopyColumns, len(st.id), func(i int) []any {
				return []any{st.conn[i], st.id[i]}
			})
			if err != nil {
				return fmt.Errorf("set %s of %d cs objects: %w", table, len(st.id), err)
			}
			if copied {
				continue
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (connector, id) SELECT * FROM unnest($1::bytea[], $2::bytea[])
			ON CONFLICT DO NOTHING`, st.conn, st.id); err != nil {
			return fmt.Errorf("set %s of %d cs objects: %w", table, len(st.id), err)
		}
	}
	return nil
}

// putCSOneByOne upserts the rows one statement each, in order, sent in one
// round trip. A row whose anchor is taken fails the batch with
// store.ErrAlreadyExists, naming the holder.
func putCSOneByOne(ctx context.Context, tx pgx.Tx, rows []csRow) error {
	var batch pgx.Batch
	for _, r := range rows {
		batch.Queue(upsertCSOne, r.id, r.conn, r.anchor, r.dn, r.dnKey, r.mvid, r.o.SyncPending, r.pending, r.hash, r.data)
	}
	br := tx.SendBatch(ctx, &batch)
	failed, ferr := -1, error(nil)
	for i := range rows {
		if _, err := br.Exec(); err != nil {
			failed, ferr = i, err
			break
		}
	}
	if err := br.Close(); err != nil && ferr == nil {
		return fmt.Errorf("put cs objects: %w", err)
	}
	if ferr == nil {
		return nil
	}
	o := rows[failed].o
	if !isViolation(ferr, "23505", "cs_objects_anchor") {
		return fmt.Errorf("put cs object %s: %w", o.ID, ferr)
	}
	holder := "another object of this batch"
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT put_cs`); err == nil {
		var id []byte
		if tx.QueryRow(ctx, `SELECT id FROM cs_objects WHERE connector = $1 AND anchor = $2`,
			rows[failed].conn, rows[failed].anchor).Scan(&id) == nil {
			holder = string(id)
		}
	}
	return fmt.Errorf("put cs object %s: anchor %q of connector %q belongs to %s: %w",
		o.ID, o.Object.Anchor, o.Connector, holder, store.ErrAlreadyExists)
}

// putMV writes MV object puts (the last put of each ID) and their keys.
func (s *Store) putMV(ctx context.Context, tx pgx.Tx, rows []mvRow) error {
	if len(rows) == 0 {
		return nil
	}
	last := lastPuts(len(rows), func(i int) string { return rows[i].o.ID })
	n := len(last)
	id, typ, hash, data := make([][]byte, n), make([][]byte, n), make([]int64, n), make([][]byte, n)
	for j, i := range last {
		id[j], typ[j], hash[j], data[j] = []byte(rows[i].o.ID), []byte(rows[i].o.Type), rows[i].hash, rows[i].data
	}
	old, err := keyHashes(ctx, tx, "mv_objects", "type", n, func(j int) []byte { return id[j] })
	if err != nil {
		return err
	}
	copied := false
	if len(old) == 0 && n >= copyMin {
		if copied, err = copyRows(ctx, tx, "put_mv", "mv_objects", mvCopyColumns, n, func(j int) []any {
			return []any{id[j], typ[j], hash[j], data[j]}
		}); err != nil {
			return fmt.Errorf("put %d mv objects: %w", n, err)
		}
	}
	if !copied {
		if err := inChunks(n, func(lo, hi int) error {
			_, err := tx.Exec(ctx, upsertMV, id[lo:hi], typ[lo:hi], hash[lo:hi], data[lo:hi])
			return err
		}); err != nil {
			return fmt.Errorf("put %d mv objects: %w", n, err)
		}
	}
	var stale [][]byte
	var keys []int64
	var keyIDs [][]byte
	for j, i := range last {
		r := &rows[i]
		if st, ok := old[r.o.ID]; ok {
			if st.hash == r.hash {
				continue
			}
			stale = append(stale, id[j])
		}
		for _, k := range r.keys {
			keys = append(keys, k)
			keyIDs = append(keyIDs, id[j])
		}
	}
	return replaceKeys(ctx, tx, "mv_keys", stale, keys, keyIDs, copied)
}

// stored is what putCS and putMV read of an object before they write it:
// its keys_hash and its connector (CS objects) or type (MV objects).
type stored struct {
	hash  int64
	space string
}

// keyHashes reads the keys_hash and connector (or type: column space) of
// the stored objects among n IDs.
func keyHashes(ctx context.Context, tx pgx.Tx, table, space string, n int, id func(int) []byte) (map[string]stored, error) {
	ids := make([][]byte, n)
	for j := range ids {
		ids[j] = id(j)
	}
	rows, err := tx.Query(ctx, `SELECT id, keys_hash, `+space+` FROM `+table+` WHERE id = ANY($1::bytea[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("read key hashes: %w", err)
	}
	defer rows.Close()
	out := make(map[string]stored, n)
	for rows.Next() {
		var id, sp []byte
		var h int64
		if err := rows.Scan(&id, &h, &sp); err != nil {
			return nil, fmt.Errorf("read key hashes: %w", err)
		}
		out[string(id)] = stored{h, string(sp)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read key hashes: %w", err)
	}
	return out, nil
}

// replaceKeys deletes the keys of the stale objects and inserts the key
// rows (keys[i] of the object keyIDs[i]). fresh says that the objects were
// new (copied in this transaction): they have no keys yet, and theirs are
// copied.
func replaceKeys(ctx context.Context, tx pgx.Tx, table string, stale [][]byte, keys []int64, keyIDs [][]byte, fresh bool) error {
	if len(stale) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE id = ANY($1::bytea[])`, stale); err != nil {
			return fmt.Errorf("delete keys of %d objects: %w", len(stale), err)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if fresh && len(stale) == 0 && len(keys) >= copyMin {
		copied, err := copyRows(ctx, tx, "put_keys", table, keyCopyColumns, len(keys), func(i int) []any {
			return []any{keys[i], keyIDs[i]}
		})
		if err != nil {
			return fmt.Errorf("insert %d keys: %w", len(keys), err)
		}
		if copied {
			return nil
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (key, id) SELECT * FROM unnest($1::bigint[], $2::bytea[])
		ON CONFLICT DO NOTHING`, keys, keyIDs); err != nil {
		return fmt.Errorf("insert %d keys: %w", len(keys), err)
	}
	return nil
}

// stmtRows is the most objects one statement writes: a statement's
// parameters are one message, built whole in a buffer of the connection
// that the connection keeps for its next statements, and the server plans
// a join with a few thousand rows better than with a hundred thousand.
const stmtRows = 5000

// inChunks calls fn for [lo, hi) ranges of at most stmtRows of n rows, in
// order, and stops at its first error.
func inChunks(n int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += stmtRows {
		if err := fn(lo, min(lo+stmtRows, n)); err != nil {
			return err
		}
	}
	return nil
}

// copyMin is the smallest number of rows written with COPY rather than
// one INSERT … SELECT FROM unnest: below it the COPY's extra round trips
// (and its savepoint) cost more than they save.
const copyMin = 256

// Columns of the COPYs (the order of copyRows' values).
var (
	csCopyColumns     = []string{"id", "connector", "anchor", "dn", "dn_key", "mvid", "sync_pending", "pending_state", "keys_hash", "data"}
	mvCopyColumns     = []string{"id", "type", "keys_hash", "data"}
	keyCopyColumns    = []string{"key", "id"}
	flagCopyColumns   = []string{"connector", "id"}
	searchCopyColumns = []string{"attr", "value", "id"}
)

// copyRows inserts n new rows into table with COPY (row(i): the values of
// columns), under a savepoint. It returns false, with the transaction as
// before, when a row conflicts with a stored one (a unique violation): the
// caller then writes the rows with statements that handle the conflict.
// COPY writes a table's rows in multi-row WAL records and skips the
// per-row work of INSERT … ON CONFLICT.
func copyRows(ctx context.Context, tx pgx.Tx, savepoint, table string, columns []string, n int, row func(int) []any) (bool, error) {
	if _, err := tx.Exec(ctx, `SAVEPOINT `+savepoint); err != nil {
		return false, err
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
	if isViolation(err, "23505", "") {
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT `+savepoint); err != nil {
			return false, err
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// applyCSState writes the state-only puts of a batch (the last put of each
// ID).
func applyCSState(ctx context.Context, tx pgx.Tx, objs []*store.CSObject) error {
	if len(objs) == 0 {
		return nil
	}
	last := lastPuts(len(objs), func(i int) string { return objs[i].ID })
	n := len(last)
	id, conn, anchor, dn, mvid := make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
	sync, pending, data := make([]bool, n), make([]*string, n), make([][]byte, n)
	for j, i := range last {
		o := objs[i]
		id[j], conn[j], anchor[j], dn[j], mvid[j] = []byte(o.ID), []byte(o.Connector), []byte(o.Object.Anchor), []byte(o.Object.DN), []byte(o.MVID)
		sync[j], pending[j], data[j] = o.SyncPending, pendingState(o), codec.EncodeCS(nil, o)
	}
	done := make(map[string]bool, n)
	if err := inChunks(n, func(lo, hi int) error {
		rows, err := tx.Query(ctx, updateCSState, id[lo:hi], conn[lo:hi], anchor[lo:hi], dn[lo:hi], mvid[lo:hi],
			sync[lo:hi], pending[lo:hi], data[lo:hi])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				return err
			}
			done[string(id)] = true
		}
		return rows.Err()
	}); err != nil {
		return fmt.Errorf("put %d cs object states: %w", n, err)
	}
	if len(done) == n {
		var f flagRows
		for j := range n {
			f.add(tableSync, conn[j], id[j], sync[j])
			f.add(tableExports, conn[j], id[j], pending[j] != nil)
		}
		return f.write(ctx, tx, false)
	}
	for _, i := range last {
		if !done[objs[i].ID] {
			return stateMismatch(ctx, tx, objs[i])
		}
	}
	return nil
}

// stateMismatch explains a state-only put that changed no row.
func stateMismatch(ctx context.Context, tx pgx.Tx, o *store.CSObject) error {
	var conn, anchor, dn []byte
	err := tx.QueryRow(ctx, `SELECT connector, anchor, dn FROM cs_objects WHERE id = $1`, []byte(o.ID)).Scan(&conn, &anchor, &dn)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("put cs object state %s: %w", o.ID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put cs object state %s: %w", o.ID, err)
	}
	return fmt.Errorf("put cs object state %s: stored as %s/%q (DN %q), not %s/%q (DN %q): a state-only put cannot change them",
		o.ID, conn, anchor, dn, o.Connector, o.Object.Anchor, o.Object.DN)
}

func putWatermarks(ctx context.Context, tx pgx.Tx, wms []store.Watermark) error {
	if len(wms) == 0 {
		return nil
	}
	last := lastPuts(len(wms), func(i int) string { return wms[i].Connector + "\x00" + wms[i].Partition })
	n := len(last)
	conn, part, val := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	for j, i := range last {
		conn[j], part[j], val[j] = []byte(wms[i].Connector), []byte(wms[i].Partition), []byte(wms[i].Value)
	}
	if _, err := tx.Exec(ctx, upsertWM, conn, part, val); err != nil {
		return fmt.Errorf("put %d watermarks: %w", n, err)
	}
	return nil
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
