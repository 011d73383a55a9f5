package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// TestChunkPlans: the chunks of every scan walk an index in order and stop
// at scanChunk rows, in tables written in bulk and never analyzed, where
// the planner, left to itself, reads every remaining row through a bitmap
// and sorts them (readChunk).
func TestChunkPlans(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, peers.Postgres(t))
	var b store.Batch
	for _, conn := range []string{"ad", "hr"} {
		for i := range 3 * scanChunk {
			id := fmt.Sprintf("%s-%05d", conn, i)
			b.PutCS = append(b.PutCS, &store.CSObject{ID: id, Connector: conn, MVID: "mv-" + id, SyncPending: true,
				Pending: &store.PendingExport{ID: "x-" + id, State: store.ExportPending},
				Object:  model.Object{Anchor: "a-" + id, DN: "CN=" + id}})
			b.PutMV = append(b.PutMV, &store.MVObject{ID: "mv-" + id, Type: "person"})
		}
	}
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{"ScanCS": scanCSQuery, "ScanCS(connector)": scanConnQuery,
		"ScanCSSyncPending": scanSyncQuery, "ScanCSExports": scanExportsQuery, "ScanMV": scanMVQuery} {
		args := []any{[]byte("ad-00100"), scanChunk}
		if strings.Contains(q, "$3") {
			args = append(args, []byte("ad"))
		}
		if name == "ScanMV" {
			args[0] = []byte("mv-ad-00100")
		}
		plan := func(settings string) string {
			var lines []string
			err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if settings != "" {
					if _, err := tx.Exec(ctx, settings); err != nil {
						return err
					}
				}
				rows, err := tx.Query(ctx, "EXPLAIN "+q, args...)
				if err != nil {
					return err
				}
				lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
			if err != nil {
				t.Fatalf("%s: explain: %v", name, err)
			}
			return strings.Join(lines, "\n")
		}
		t.Logf("%s, the planner left to itself:\n%s", name, plan(""))
		if p := plan(chunkSettings); strings.Contains(p, "Sort") || strings.Contains(p, "Bitmap") {
			t.Errorf("%s reads and sorts more than a chunk:\n%s", name, p)
		}
	}
}
