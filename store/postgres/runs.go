package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/store"
)

// text makes s storable in a text column: PostgreSQL's text holds neither
// NUL nor invalid UTF-8, which a target's error message or an audit detail
// may carry. Both become U+FFFD. Object data, anchors and IDs are bytea
// and kept exactly.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8Valid(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// utc returns t in UTC; PostgreSQL keeps microseconds.
func utc(t time.Time) time.Time { return t.UTC() }

func optUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
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

// StartRun records a new run and sets r.ID (IDs increase).
func (s *Store) StartRun(ctx context.Context, r *store.Run) error {
	c := &r.Counts
	stats, err := encodeSyncStats(r.Sync)
	if err != nil {
		return fmt.Errorf("start run of %s/%s: %w", r.Connector, r.Profile, err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO runs (connector, profile, partition, started, finished,
		status, message, adds, updates, deletes, renames, no_change, errors, done, total, sync_stats)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		text(r.Connector), text(r.Profile), text(r.Partition), r.Started, r.Finished,
		text(r.Status), text(r.Message), c.Adds, c.Updates, c.Deletes, c.Renames, c.NoChange, c.Errors, r.Done, r.Total, stats).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("start run of %s/%s: %w", r.Connector, r.Profile, err)
	}
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
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET finished = $1, status = $2, message = $3, adds = $4,
		updates = $5, deletes = $6, renames = $7, no_change = $8, errors = $9, done = $10, total = $11, sync_stats = $12
		WHERE id = $13`,
		r.Finished, text(r.Status), text(r.Message), c.Adds, c.Updates, c.Deletes, c.Renames,
		c.NoChange, c.Errors, r.Done, r.Total, stats, r.ID)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update run %d: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

// Runs lists runs, newest first.
func (s *Store) Runs(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprint("$", len(args))
	}
	if f.ID != 0 {
		where = append(where, "id = "+arg(f.ID))
	}
	if f.Connector != "" {
		where = append(where, "connector = "+arg(text(f.Connector)))
	}
	if f.OnlyErrors {
		where = append(where, fmt.Sprintf("(errors > 0 OR status IN (%s, %s, %s))",
			arg(store.RunFailed), arg(store.RunStopped), arg(store.RunStoppedShrink)))
	}
	q := `SELECT id, connector, profile, partition, started, finished, status, message,
		adds, updates, deletes, renames, no_change, errors, done, total, sync_stats FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
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

func readRun(rows pgx.Rows) (*store.Run, error) {
	r := &store.Run{}
	c := &r.Counts
	var stats string
	if err := rows.Scan(&r.ID, &r.Connector, &r.Profile, &r.Partition, &r.Started, &r.Finished, &r.Status,
		&r.Message, &c.Adds, &c.Updates, &c.Deletes, &c.Renames, &c.NoChange, &c.Errors,
		&r.Done, &r.Total, &stats); err != nil {
		return nil, err
	}
	r.Started, r.Finished = utc(r.Started), optUTC(r.Finished)
	if stats != "" {
		r.Sync = &store.SyncStats{}
		if err := json.Unmarshal([]byte(stats), r.Sync); err != nil {
			return nil, fmt.Errorf("run %d: synchronization statistics: %w", r.ID, err)
		}
	}
	return r, nil
}

// AddRunErrors appends per-object errors to their runs, in one statement.
func (s *Store) AddRunErrors(ctx context.Context, errs []store.RunError) error {
	if len(errs) == 0 {
		return nil
	}
	n := len(errs)
	run, times := make([]int64, n), make([]time.Time, n)
	object, csid, message := make([]string, n), make([]string, n), make([]string, n)
	for i, e := range errs {
		run[i], object[i], csid[i], message[i], times[i] = e.RunID, text(e.Object), text(e.CSID), text(e.Message), e.Time
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO run_errors (run_id, object, csid, message, time)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`,
		run, object, csid, message, times)
	if isViolation(err, "23503", "") {
		// Name a run that does not exist.
		var missing int64
		if s.pool.QueryRow(ctx, `SELECT r FROM unnest($1::bigint[]) r WHERE NOT EXISTS (SELECT 1 FROM runs WHERE id = r) LIMIT 1`,
			run).Scan(&missing) == nil {
			return fmt.Errorf("add run errors: run %d: no such run: %w", missing, store.ErrNotFound)
		}
		return fmt.Errorf("add run errors: no such run: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("add %d run errors: %w", n, err)
	}
	return nil
}

// PruneRuns deletes old runs and their errors (see store.Store).
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs WHERE status <> $1 AND started < $2
		AND id NOT IN (SELECT max(id) FROM runs GROUP BY connector, profile)`, store.RunRunning, before)
	if err != nil {
		return 0, fmt.Errorf("prune runs started before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(tag.RowsAffected()), nil
}

// RunErrors returns the per-object errors of a run in insertion order.
func (s *Store) RunErrors(ctx context.Context, runID int64) ([]store.RunError, error) {
	rows, err := s.pool.Query(ctx, `SELECT object, csid, message, time FROM run_errors WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
	}
	defer rows.Close()
	var errs []store.RunError
	for rows.Next() {
		e := store.RunError{RunID: runID}
		if err := rows.Scan(&e.Object, &e.CSID, &e.Message, &e.Time); err != nil {
			return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
		}
		e.Time = utc(e.Time)
		errs = append(errs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run errors of run %d: %w", runID, err)
	}
	return errs, nil
}
