package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/idsync/idsync/store"
)

// Writing CS objects is the hot path of imports. A multi-row upsert (INSERT
// … ON CONFLICT DO UPDATE) makes SQLite keep a statement journal, a copy of
// every page the statement touches so that it can undo just that statement,
// which costs about as much as the insert itself. putCS avoids it: each
// group of rowsPerStmt objects is first written with one multi-row INSERT OR
// IGNORE, which cannot fail and so needs no journal. When every row was
// inserted (an import of new objects) the group is done. Otherwise some row
// was skipped (its ID exists, or its anchor is taken, or its ID occurs twice)
// and the whole group is upserted again one row at a time in slice order: the
// rows inserted by the first statement are rewritten unchanged, the others
// are updated or fail exactly as in a sequential application.

// insertCSPrefix starts the multi-row insert of putCS.
const insertCSPrefix = `INSERT OR IGNORE INTO cs_objects (id, connector, anchor, dn, mvid, sync_pending, pending_state, data) VALUES `

// csEncoder turns CS objects into statement arguments. The encoded blobs of
// one statement share a buffer, which is reset at the statement's first row
// (the driver copies bound blobs).
type csEncoder struct{ buf []byte }

func (e *csEncoder) appendArgs(args []any, o *store.CSObject, first bool) []any {
	if first {
		e.buf = e.buf[:0]
	}
	var pending any // NULL without a pending export
	if o.Pending != nil {
		pending = string(o.Pending.State)
	}
	start := len(e.buf)
	e.buf = encodeCS(e.buf, o)
	return append(args, o.ID, o.Connector, o.Object.Anchor, o.Object.DN, o.MVID, o.SyncPending,
		pending, e.buf[start:len(e.buf):len(e.buf)])
}

// putCS writes objs in tx, with the result of upserting them in slice order.
func (s *Store) putCS(ctx context.Context, tx *sql.Tx, objs []*store.CSObject) error {
	var enc csEncoder
	var args []any
	var many, one *sql.Stmt
	upsert := func(objs []*store.CSObject) error {
		if one == nil {
			one = tx.StmtContext(ctx, s.upsertCS)
		}
		for _, o := range objs {
			if _, err := one.ExecContext(ctx, enc.appendArgs(args[:0], o, true)...); err != nil {
				return putCSError(ctx, tx, o, err)
			}
		}
		return nil
	}
	i := 0
	for ; i+rowsPerStmt <= len(objs); i += rowsPerStmt {
		group := objs[i : i+rowsPerStmt]
		args = args[:0]
		for j, o := range group {
			args = enc.appendArgs(args, o, j == 0)
		}
		if many == nil {
			many = tx.StmtContext(ctx, s.insertCS)
		}
		res, err := many.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("insert cs objects %s…: %w", group[0].ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(group)) {
			if err := upsert(group); err != nil {
				return err
			}
		}
	}
	return upsert(objs[i:])
}
