package sqlite

import (
	"context"
	"fmt"

	"github.com/idsync/idsync/store"
)

// GetMV returns an MV object by ID (store.ErrNotFound when absent).
func (s *Store) GetMV(ctx context.Context, id string) (*store.MVObject, error) {
	blobs, err := readBlobs(s.r.QueryContext(ctx, `SELECT data FROM mv_objects WHERE id = ?`, id))
	if err == nil && len(blobs) == 0 {
		err = store.ErrNotFound
	}
	var o *store.MVObject
	if err == nil {
		o, err = decodeMV(blobs[0])
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
		blobs, err := readBlobs(s.scanMV.QueryContext(ctx, after, scanChunk))
		if err == nil && len(blobs) > 0 {
			after, err = blobID(blobs[len(blobs)-1], false)
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("scan mv objects: %w", err)
		}
		return blobs, after, len(blobs) == scanChunk, nil
	}
	decode := func(b string) (*store.MVObject, error) {
		o, err := decodeMV(b)
		if err != nil {
			return nil, fmt.Errorf("scan mv objects: %w", err)
		}
		return o, nil
	}
	return pipeline(ctx, fetch, decode, fn)
}

// CountMV returns the number of MV objects.
func (s *Store) CountMV(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM mv_objects`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count mv objects: %w", err)
	}
	return n, nil
}
