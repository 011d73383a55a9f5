package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/idsync/idsync/store"
)

// Apply writes the batch in one transaction: all of it or none. Deletes are
// applied first (so a batch may delete an object and put another one with
// the same anchor), then CS puts, MV puts, state-only CS puts (which fail
// the batch with store.ErrNotFound for an object not stored) and
// watermarks, each with the result of upserting them one by one in slice
// order; the keys of the objects written are maintained with them (keys.go). Deleting an absent
// object is not an error. A CS put whose (connector, anchor) belongs to
// another CS object fails the batch with store.ErrAlreadyExists.
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply batch: begin: %w", err)
	}
	defer tx.Rollback()
	if err := s.applyTx(ctx, tx, b); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply batch: commit: %w", err)
	}
	s.ck.written()
	return nil
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

func (s *Store) applyTx(ctx context.Context, tx *sql.Tx, b *store.Batch) error {
	if err := s.deleteKeysOf(ctx, tx, b); err != nil {
		return err
	}
	err := s.delCS.exec(ctx, tx, len(b.DeleteCS),
		func(args []any, i int, _ bool) []any { return append(args, b.DeleteCS[i]) },
		func(i int, err error) error { return fmt.Errorf("delete cs object %s: %w", b.DeleteCS[i], err) })
	if err != nil {
		return err
	}
	err = s.delMV.exec(ctx, tx, len(b.DeleteMV),
		func(args []any, i int, _ bool) []any { return append(args, b.DeleteMV[i]) },
		func(i int, err error) error { return fmt.Errorf("delete mv object %s: %w", b.DeleteMV[i], err) })
	if err != nil {
		return err
	}
	// The keys of the objects put, and the hashes of the keys they had
	// (read before they are overwritten).
	ck, err := s.planCSKeys(ctx, tx, b.PutCS)
	if err != nil {
		return err
	}
	mk, err := s.planMVKeys(ctx, tx, b.PutMV)
	if err != nil {
		return err
	}
	// The encoded objects of a statement share buf, reset at the statement's
	// first row: the driver copies bound blobs.
	var buf []byte
	err = s.putCS.exec(ctx, tx, len(b.PutCS), func(args []any, i int, first bool) []any {
		if first {
			buf = buf[:0]
		}
		o := b.PutCS[i]
		var pending any // NULL without a pending export
		if o.Pending != nil {
			pending = string(o.Pending.State)
		}
		start := len(buf)
		buf = encodeCS(buf, o)
		return append(args, o.ID, o.Connector, o.Object.Anchor, o.Object.DN, o.MVID, o.SyncPending,
			pending, buf[start:len(buf):len(buf)], ck.hash[i], dnKey(o.Object.DN))
	}, func(i int, err error) error { return putCSError(ctx, tx, b.PutCS[i], err) })
	if err != nil {
		return err
	}
	err = s.putMV.exec(ctx, tx, len(b.PutMV), func(args []any, i int, first bool) []any {
		if first {
			buf = buf[:0]
		}
		o := b.PutMV[i]
		start := len(buf)
		buf = encodeMV(buf, o)
		return append(args, o.ID, o.Type, buf[start:len(buf):len(buf)], mk.hash[i])
	}, func(i int, err error) error { return fmt.Errorf("put mv object %s: %w", b.PutMV[i].ID, err) })
	if err != nil {
		return err
	}
	if err := s.applyCSState(ctx, tx, b.PutCSState); err != nil {
		return err
	}
	if err := s.applyKeys(ctx, tx, b, ck, mk); err != nil {
		return err
	}
	if err := s.applySearch(ctx, tx, b); err != nil {
		return err
	}
	return s.putWM.exec(ctx, tx, len(b.Watermarks), func(args []any, i int, _ bool) []any {
		w := b.Watermarks[i]
		return append(args, w.Connector, w.Partition, w.Value)
	}, func(i int, err error) error {
		w := b.Watermarks[i]
		return fmt.Errorf("put watermark %s/%q: %w", w.Connector, w.Partition, err)
	})
}

// putCSError turns a failed put into an error, naming the object holding the
// anchor when the (connector, anchor) uniqueness was violated.
func putCSError(ctx context.Context, tx *sql.Tx, o *store.CSObject, err error) error {
	if !isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("put cs object %s: %w", o.ID, err)
	}
	holder := "another object"
	var id string
	if tx.QueryRowContext(ctx, `SELECT id FROM cs_objects WHERE connector = ? AND anchor = ?`,
		o.Connector, o.Object.Anchor).Scan(&id) == nil {
		holder = id
	}
	return fmt.Errorf("put cs object %s: anchor %q of connector %q belongs to %s: %w",
		o.ID, o.Object.Anchor, o.Connector, holder, store.ErrAlreadyExists)
}

// isConstraint reports whether err is the SQLite extended error code.
func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}
