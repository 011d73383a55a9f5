package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
	"github.com/idsync/idsync/store/internal/scan"
)

// scanChunk is how many rows a scan reads per query. Scans page through the
// table by key (WHERE id > last ORDER BY id LIMIT scanChunk), so no
// transaction stays open while the callback runs, and the callback may
// write to the store.
const scanChunk = 2000

// readChunk runs the query of one chunk of a scan (WHERE id > last ORDER
// BY id LIMIT scanChunk) and reads its rows (readBlobs), with sorting
// disabled for the planner (enable_sort, in a transaction of its own),
// so that the rows come from walking an index in order and the query stops
// after scanChunk of them. Left to itself the planner sorts whenever it
// thinks few rows match: in tables written in bulk since their last
// ANALYZE (a first synchronization fills cs_exports with 100,000 rows in
// seconds) its estimates fall back to defaults (0.5 % of the rows for
// connector = $3, a third for id > $1), far below scanChunk, and it reads
// every remaining row of the connector through a bitmap, then sorts them,
// for each chunk: a scan of n rows read about n²/(2 × scanChunk) of them
// (at 100,000 pending exports, 3.7 s of the export's 12 s on this
// machine's PostgreSQL 15).
func readChunk(ctx context.Context, db *pgxpool.Pool, query string, args ...any) ([]string, error) {
	var blobs []string
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, chunkSettings); err != nil {
			return err
		}
		var err error
		blobs, err = readBlobs(tx.Query(ctx, query, args...))
		return err
	})
	return blobs, err
}

// chunkSettings are the planner settings of readChunk.
const chunkSettings = `SET LOCAL enable_sort = off`

// readBlobs reads the single bytea column of all rows and closes them. Each
// value is copied once, into a string the decoded object's strings share.
func readBlobs(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	blobs := make([]string, 0, 16)
	binary := len(rows.FieldDescriptions()) == 1 && rows.FieldDescriptions()[0].Format == pgx.BinaryFormatCode
	for rows.Next() {
		if binary {
			// A binary bytea is the bytes themselves, valid until Next.
			blobs = append(blobs, string(rows.RawValues()[0]))
			continue
		}
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		blobs = append(blobs, string(data))
	}
	return blobs, rows.Err()
}

func (s *Store) queryCS(ctx context.Context, query string, args ...any) ([]*store.CSObject, error) {
	blobs, err := readBlobs(s.pool.Query(ctx, query, args...))
	if err != nil {
		return nil, err
	}
	objs := make([]*store.CSObject, 0, len(blobs))
	for _, b := range blobs {
		o, err := codec.DecodeCS(b)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func (s *Store) oneCS(ctx context.Context, what, query string, args ...any) (*store.CSObject, error) {
	objs, err := s.queryCS(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("get cs object %s: %w", what, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("get cs object %s: %w", what, store.ErrNotFound)
	}
	return objs[0], nil
}

// GetCS returns a CS object by ID (store.ErrNotFound when absent).
func (s *Store) GetCS(ctx context.Context, id string) (*store.CSObject, error) {
	return s.oneCS(ctx, id, `SELECT data FROM cs_objects WHERE id = $1`, []byte(id))
}

// GetCSByAnchor returns a CS object by connector and anchor
// (store.ErrNotFound when absent).
func (s *Store) GetCSByAnchor(ctx context.Context, connector, anchor string) (*store.CSObject, error) {
	return s.oneCS(ctx, fmt.Sprintf("%s/%q", connector, anchor),
		`SELECT data FROM cs_objects WHERE connector = $1 AND anchor = $2`, []byte(connector), []byte(anchor))
}

// ScanCS calls fn for every CS object of connector ("" = all connectors), in
// ID order, and returns fn's first error unchanged. fn may write to the
// store: the scan reads in chunks, so an object fn changes or adds with an
// ID after the current one may be seen in either state.
func (s *Store) ScanCS(ctx context.Context, connector string, fn func(*store.CSObject) error) error {
	if connector == "" {
		return s.scanCS(ctx, scanCSQuery, nil, "", fn)
	}
	return s.scanCS(ctx, scanConnQuery, []byte(connector), "", fn)
}

// The queries of the chunks of scans (readChunk): $1 the last ID read, $2
// scanChunk, $3 the connector. The joins bound the ID of cs_objects too,
// so that a merge join starts its walk of cs_objects there.
const (
	scanCSQuery   = `SELECT data FROM cs_objects WHERE id > $1 ORDER BY id LIMIT $2`
	scanConnQuery = `SELECT data FROM cs_objects WHERE connector = $3 AND id > $1 ORDER BY id LIMIT $2`
	scanSyncQuery = `SELECT c.data FROM cs_sync_pending f JOIN cs_objects c ON c.id = f.id
		WHERE f.connector = $3 AND f.id > $1 AND c.id > $1 ORDER BY f.id LIMIT $2`
	scanExportsQuery = `SELECT c.data FROM cs_exports f JOIN cs_objects c ON c.id = f.id
		WHERE f.connector = $3 AND f.id > $1 AND c.id > $1 ORDER BY f.id LIMIT $2`
	scanMVQuery = `SELECT data FROM mv_objects WHERE id > $1 ORDER BY id LIMIT $2`
)

// ScanCSSyncPending calls fn for every CS object of connector marked
// SyncPending, in ID order, through the table of them (cs_sync_pending).
func (s *Store) ScanCSSyncPending(ctx context.Context, connector string, fn func(*store.CSObject) error) error {
	return s.scanCS(ctx, scanSyncQuery, []byte(connector), "sync-pending ", fn)
}

// ScanCSExports calls fn for every CS object of connector with a pending
// export, in ID order, through the table of them (cs_exports).
func (s *Store) ScanCSExports(ctx context.Context, connector string, fn func(*store.CSObject) error) error {
	return s.scanCS(ctx, scanExportsQuery, []byte(connector), "pending-export ", fn)
}

// scanCS pages through query ($1: the last ID, $2: the chunk size, $3,
// when conn is not nil: the connector).
func (s *Store) scanCS(ctx context.Context, query string, conn []byte, what string, fn func(*store.CSObject) error) error {
	fetch := func(ctx context.Context, after string) ([]string, string, bool, error) {
		args := []any{[]byte(after), scanChunk}
		if conn != nil {
			args = append(args, conn)
		}
		blobs, err := readChunk(ctx, s.pool, query, args...)
		if err == nil && len(blobs) > 0 {
			after, err = codec.BlobID(blobs[len(blobs)-1], true)
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("scan %scs objects of %q: %w", what, conn, err)
		}
		return blobs, after, len(blobs) == scanChunk, nil
	}
	decode := func(b string) (*store.CSObject, error) {
		o, err := codec.DecodeCS(b)
		if err != nil {
			return nil, fmt.Errorf("scan %scs objects of %q: %w", what, conn, err)
		}
		return o, nil
	}
	return scan.Pipeline(ctx, fetch, decode, fn)
}

// CountCS returns the number of CS objects of connector ("" = all).
func (s *Store) CountCS(ctx context.Context, connector string) (int64, error) {
	var n int64
	var err error
	if connector == "" {
		err = s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM cs_objects`).Scan(&n)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM cs_objects WHERE connector = $1`, []byte(connector)).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count cs objects of %q: %w", connector, err)
	}
	return n, nil
}

// CountCSExports counts the objects of connector with a pending export
// (the table cs_exports).
func (s *Store) CountCSExports(ctx context.Context, connector string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM cs_exports WHERE connector = $1`,
		[]byte(connector)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending exports of %q: %w", connector, err)
	}
	return n, nil
}

// CSForMV returns the CS objects joined to an MV object, in ID order. An
// empty mvid joins nothing.
func (s *Store) CSForMV(ctx context.Context, mvid string) ([]*store.CSObject, error) {
	if mvid == "" {
		return nil, nil
	}
	objs, err := s.queryCS(ctx, `SELECT data FROM cs_objects WHERE mvid = $1 AND mvid <> '' ORDER BY id`, []byte(mvid))
	if err != nil {
		return nil, fmt.Errorf("cs objects of mv object %s: %w", mvid, err)
	}
	return objs, nil
}

// GetMV returns an MV object by ID (store.ErrNotFound when absent).
func (s *Store) GetMV(ctx context.Context, id string) (*store.MVObject, error) {
	blobs, err := readBlobs(s.pool.Query(ctx, `SELECT data FROM mv_objects WHERE id = $1`, []byte(id)))
	if err == nil && len(blobs) == 0 {
		err = store.ErrNotFound
	}
	var o *store.MVObject
	if err == nil {
		o, err = codec.DecodeMV(blobs[0])
	}
	if err != nil {
		return nil, fmt.Errorf("get mv object %s: %w", id, err)
	}
	return o, nil
}

// ScanMV calls fn for every MV object in ID order, and returns fn's first
// error unchanged. Like ScanCS it reads in chunks, so fn may write to the
// store.
func (s *Store) ScanMV(ctx context.Context, fn func(*store.MVObject) error) error {
	fetch := func(ctx context.Context, after string) ([]string, string, bool, error) {
		blobs, err := readChunk(ctx, s.pool, scanMVQuery, []byte(after), scanChunk)
		if err == nil && len(blobs) > 0 {
			after, err = codec.BlobID(blobs[len(blobs)-1], false)
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("scan mv objects: %w", err)
		}
		return blobs, after, len(blobs) == scanChunk, nil
	}
	decode := func(b string) (*store.MVObject, error) {
		o, err := codec.DecodeMV(b)
		if err != nil {
			return nil, fmt.Errorf("scan mv objects: %w", err)
		}
		return o, nil
	}
	return scan.Pipeline(ctx, fetch, decode, fn)
}

// CountMV returns the number of MV objects.
func (s *Store) CountMV(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM mv_objects`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count mv objects: %w", err)
	}
	return n, nil
}

// Watermark returns the stored delta watermark of a connector partition, ""
// when none was stored.
func (s *Store) Watermark(ctx context.Context, connector, partition string) (string, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM watermarks WHERE connector = $1 AND partition = $2`,
		[]byte(connector), []byte(partition)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("watermark of %s/%q: %w", connector, partition, err)
	}
	return string(v), nil
}

// Setting returns a stored setting (store.ErrNotFound when unset).
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, text(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("setting %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("setting %q: %w", key, err)
	}
	return string(v), nil
}

// SetSetting stores a setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, text(key), []byte(value)); err != nil {
		return fmt.Errorf("set setting %q: %w", key, err)
	}
	return nil
}

// Settings returns every stored setting.
func (s *Store) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("list settings: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("list settings: %w", err)
		}
		out[k] = string(v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list settings: %w", err)
	}
	return out, nil
}

// Watermarks returns every stored watermark, by connector and partition.
func (s *Store) Watermarks(ctx context.Context) ([]store.Watermark, error) {
	rows, err := s.pool.Query(ctx, `SELECT connector, partition, value FROM watermarks ORDER BY connector, partition`)
	if err != nil {
		return nil, fmt.Errorf("list watermarks: %w", err)
	}
	defer rows.Close()
	var out []store.Watermark
	for rows.Next() {
		var c, p, v []byte
		if err := rows.Scan(&c, &p, &v); err != nil {
			return nil, fmt.Errorf("list watermarks: %w", err)
		}
		out = append(out, store.Watermark{Connector: string(c), Partition: string(p), Value: string(v)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list watermarks: %w", err)
	}
	return out, nil
}
