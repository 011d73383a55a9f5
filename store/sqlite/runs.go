package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/idsync/idsync/store"
)

// formatTime stores times as RFC 3339 text in UTC with nanoseconds.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func formatFinished(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// StartRun records a new run and sets r.ID (IDs increase).
func (s *Store) StartRun(ctx context.Context, r *store.Run) error {
	c := &r.Counts
	stats, err := encodeSyncStats(r.Sync)
	if err != nil {
		return fmt.Errorf("start run of %s/%s: %w", r.Connector, r.Profile, err)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO runs (connector, profile, partition, started, finished,
		status, message, adds, updates, deletes, renames, no_change, errors, done, total, sync_stats)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Connector, r.Profile, r.Partition, formatTime(r.Started), formatFinished(r.Finished),
		r.Status, r.Message, c.Adds, c.Updates, c.Deletes, c.Renames, c.NoChange, c.Errors, r.Done, r.Total, stats)
	if err != nil {
		return fmt.Errorf("start run of %s/%s: %w", r.Connector, r.Profile, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("start run of %s/%s: %w", r.Connector, r.Profile, err)
	}
	r.ID = id
	s.ck.written()
	return nil
}

// UpdateRun saves a run's status, message, finish time, counts and progress
// (store.ErrNotFound for an unknown run). Connector, profile, partition and
// start time are fixed by StartRun.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	c := &r.Counts
	stats, err := encodeSyncStats(r.Sync)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET finished = ?, status = ?, message = ?, adds = ?,
		updates = ?, deletes = ?, renames = ?, no_change = ?, errors = ?, done = ?, total = ?, sync_stats = ? WHERE id = ?`,
		formatFinished(r.Finished), r.Status, r.Message, c.Adds, c.Updates, c.Deletes, c.Renames,
		c.NoChange, c.Errors, r.Done, r.Total, stats, r.ID)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("update run %d: %w", r.ID, store.ErrNotFound)
	}
	s.ck.written()
	return nil
}

// Runs lists runs, newest first.
func (s *Store) Runs(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	var where []string
	var args []any
	if f.ID != 0 {
		where = append(where, "id = ?")
		args = append(args, f.ID)
	}
	if f.Connector != "" {
		where = append(where, "connector = ?")
		args = append(args, f.Connector)
	}
	if f.OnlyErrors {
		where = append(where, "(errors > 0 OR status IN (?, ?, ?))")
		args = append(args, store.RunFailed, store.RunStopped, store.RunStoppedShrink)
	}
	q := `SELECT id, connector, profile, partition, started, finished, status, message,
		adds, updates, deletes, renames, no_change, errors, done, total, sync_stats FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []*store.Run
	for rows.Next() {
		r, err := readRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

func readRun(rows *sql.Rows) (*store.Run, error) {
	r := &store.Run{}
	c := &r.Counts
	var started, stats string
	var finished sql.NullString
	if err := rows.Scan(&r.ID, &r.Connector, &r.Profile, &r.Partition, &started, &finished, &r.Status,
		&r.Message, &c.Adds, &c.Updates, &c.Deletes, &c.Renames, &c.NoChange, &c.Errors,
		&r.Done, &r.Total, &stats); err != nil {
		return nil, err
	}
	var err error
	if stats != "" {
		r.Sync = &store.SyncStats{}
		if err := json.Unmarshal([]byte(stats), r.Sync); err != nil {
			return nil, fmt.Errorf("run %d: synchronization statistics: %w", r.ID, err)
		}
	}
	if r.Started, err = parseTime(started); err != nil {
		return nil, fmt.Errorf("run %d: %w", r.ID, err)
	}
	if finished.Valid {
		t, err := parseTime(finished.String)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", r.ID, err)
		}
		r.Finished = &t
	}
	return r, nil
}

// AddRunErrors appends per-object errors to their runs, in one transaction.
func (s *Store) AddRunErrors(ctx context.Context, errs []store.RunError) error {
	if len(errs) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add run errors: begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO run_errors (run_id, object, csid, message, time) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("add run errors: %w", err)
	}
	defer st.Close()
	for _, e := range errs {
		if _, err := st.ExecContext(ctx, e.RunID, e.Object, e.CSID, e.Message, formatTime(e.Time)); err != nil {
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
				err = fmt.Errorf("no such run: %w", store.ErrNotFound)
			}
			return fmt.Errorf("add run errors: run %d, object %q: %w", e.RunID, e.Object, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add run errors: commit: %w", err)
	}
	s.ck.written()
	return nil
}

// PruneRuns deletes old runs and their errors (see store.Store). Started
// times are compared as times (julianday), not as text: RFC 3339 with
// trimmed fractional seconds does not sort as text within a second.
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM runs WHERE status <> ? AND julianday(started) < julianday(?)
		AND id NOT IN (SELECT max(id) FROM runs GROUP BY connector, profile)`, store.RunRunning, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("prune runs started before %s: %w", formatTime(before), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune runs started before %s: %w", formatTime(before), err)
	}
	if n > 0 {
		s.ck.written()
	}
	return int(n), nil
}

// RunErrors returns the per-object errors of a run in insertion order.
func (s *Store) RunErrors(ctx context.Context, runID int64) ([]store.RunError, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT object, csid, message, time FROM run_errors WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
	}
	defer rows.Close()
	var errs []store.RunError
	for rows.Next() {
		e := store.RunError{RunID: runID}
		var t string
		if err := rows.Scan(&e.Object, &e.CSID, &e.Message, &t); err != nil {
			return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
		}
		errs = append(errs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
	}
	return errs, nil
}

// encodeSyncStats encodes a synchronization's statistics for the
// sync_stats column ("" for none).
func encodeSyncStats(st *store.SyncStats) (string, error) {
	if st == nil {
		return "", nil
	}
	b, err := json.Marshal(st)
	return string(b), err
}
