package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/idsync/idsync/store"
)

// BenchmarkApplyMVSearch writes 100,000 metaverse users (benchUser's
// attributes: 7 of them in the default search set) in batches of 10,000,
// new and then again unchanged, with the default search attributes and
// with none: what the search index costs the metaverse writes of a
// synchronization. objects/cpu-s is the figure to compare on a busy
// machine.
func BenchmarkApplyMVSearch(b *testing.B) {
	const n, batch = 100_000, 10_000
	objs := make([]*store.MVObject, n)
	for i := range objs {
		c := benchUser(i, uuid.NewString)
		objs[i] = &store.MVObject{ID: c.ID, Type: "person", Attrs: c.Object.Attrs, Modified: c.Modified}
	}
	applyMV := func(b *testing.B, s *Store) {
		for i := 0; i < n; i += batch {
			if err := s.Apply(b.Context(), &store.Batch{PutMV: objs[i:min(i+batch, n)]}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, search := range []struct {
		name  string
		attrs []string
	}{{"default", store.DefaultSearchAttrs}, {"none", []string{}}} {
		for _, phase := range []string{"new", "unchanged"} {
			b.Run(fmt.Sprintf("search=%s/%s", search.name, phase), func(b *testing.B) {
				var m meter
				for i := range b.N {
					s := openTest(b, filepath.Join(b.TempDir(), fmt.Sprint("mv", i, ".db")))
					if err := s.SetSearchAttrs(b.Context(), search.attrs); err != nil {
						b.Fatal(err)
					}
					if phase == "unchanged" {
						applyMV(b, s)
					}
					m.start()
					applyMV(b, s)
					m.stop()
				}
				m.report(b, n*b.N)
			})
		}
	}
}
