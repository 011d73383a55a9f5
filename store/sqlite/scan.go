package sqlite

import (
	"context"

	"github.com/idsync/idsync/store/internal/scan"
)

// scanChunk is how many rows a scan reads per query. Scans page through the
// table by key (WHERE id > last ORDER BY id LIMIT scanChunk), so no read
// transaction stays open while the callback runs, and the callback may write
// to the store.
const scanChunk = 2000

// pipeline is scan.Pipeline (shared with the postgres backend).
func pipeline[R, O any](ctx context.Context, fetch scan.FetchFunc[R], decode func(R) (O, error),
	visit func(O) error) error {
	return scan.Pipeline(ctx, fetch, decode, visit)
}
