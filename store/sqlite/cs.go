package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/idsync/idsync/store"
)

// CS object queries select only the data column: the blob holds the whole
// object, and reading one column is much faster than reading seven.

// readBlobs reads the single blob column of all rows and closes them. Each
// blob is copied once, into a string the decoded object's strings share.
func readBlobs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	blobs := make([]string, 0, 16)
	for rows.Next() {
		var data sql.RawBytes
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		blobs = append(blobs, string(data))
	}
	return blobs, rows.Err()
}

// queryCS runs a CS object query on the read pool and decodes its rows.
func (s *Store) queryCS(ctx context.Context, query string, args ...any) ([]*store.CSObject, error) {
	blobs, err := readBlobs(s.r.QueryContext(ctx, query, args...))
	if err != nil {
		return nil, err
	}
	objs := make([]*store.CSObject, 0, len(blobs))
	for _, b := range blobs {
		o, err := decodeCS(b)
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
	return s.oneCS(ctx, id, `SELECT data FROM cs_objects WHERE id = ?`, id)
}

// GetCSByAnchor returns a CS object by connector and anchor
// (store.ErrNotFound when absent).
func (s *Store) GetCSByAnchor(ctx context.Context, connector, anchor string) (*store.CSObject, error) {
	return s.oneCS(ctx, fmt.Sprintf("%s/%q", connector, anchor),
		`SELECT data FROM cs_objects WHERE connector = ? AND anchor = ?`, connector, anchor)
}

// ScanCS calls fn for every CS object of connector ("" = all connectors), in
// ID order, and returns fn's first error unchanged. fn may write to the
// store: the scan reads in chunks (see scanChunk), so an object fn changes
// or adds with an ID after the current one may be seen in either state.
func (s *Store) ScanCS(ctx context.Context, connector string, fn func(*store.CSObject) error) error {
	fetch := func(ctx context.Context, after string) ([]string, string, bool, error) {
		var blobs []string
		var err error
		if connector == "" {
			blobs, err = readBlobs(s.scanCSAll.QueryContext(ctx, after, scanChunk))
		} else {
			blobs, err = readBlobs(s.scanCSConn.QueryContext(ctx, connector, after, scanChunk))
		}
		if err == nil && len(blobs) > 0 {
			after, err = blobID(blobs[len(blobs)-1], true)
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("scan cs objects of %q: %w", connector, err)
		}
		return blobs, after, len(blobs) == scanChunk, nil
	}
	decode := func(b string) (*store.CSObject, error) {
		o, err := decodeCS(b)
		if err != nil {
			return nil, fmt.Errorf("scan cs objects of %q: %w", connector, err)
		}
		return o, nil
	}
	return pipeline(ctx, fetch, decode, fn)
}

// CountCS returns the number of CS objects of connector ("" = all).
func (s *Store) CountCS(ctx context.Context, connector string) (int64, error) {
	var n int64
	var err error
	if connector == "" {
		err = s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM cs_objects`).Scan(&n)
	} else {
		err = s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM cs_objects WHERE connector = ?`, connector).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count cs objects of %q: %w", connector, err)
	}
	return n, nil
}

// CSForMV returns the CS objects joined to an MV object, in ID order. An
// empty mvid joins nothing.
func (s *Store) CSForMV(ctx context.Context, mvid string) ([]*store.CSObject, error) {
	if mvid == "" {
		return nil, nil
	}
	// The mvid <> '' term lets SQLite use the partial index cs_objects_mvid.
	objs, err := s.queryCS(ctx, `SELECT data FROM cs_objects WHERE mvid = ? AND mvid <> '' ORDER BY id`, mvid)
	if err != nil {
		return nil, fmt.Errorf("cs objects of mv object %s: %w", mvid, err)
	}
	return objs, nil
}
