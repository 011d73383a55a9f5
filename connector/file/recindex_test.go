package file

import (
	"math/rand/v2"
	"testing"
)

// TestRecIndex: inserts and removals, with hashes from a few values so that
// probes run long and wrap around the table's end, leave every record
// found under its hash and no other.
func TestRecIndex(t *testing.T) {
	for _, hashes := range []uint64{1, 5, 1 << 40} {
		rng := rand.New(rand.NewPCG(3, hashes))
		var x recIndex
		ref := map[uint32]uint64{} // record → hash
		for step := range 20000 {
			r := uint32(rng.IntN(300))
			h := rng.Uint64N(hashes)*0x9e3779b97f4a7c15 + 13 // tags ending near the table's end too
			if hr, ok := ref[r]; ok {
				x.remove(hr, r)
				delete(ref, r)
			} else {
				x.insert(h, r)
				ref[r] = h
			}
			if x.n != len(ref) {
				t.Fatalf("hashes %d step %d: %d records, want %d", hashes, step, x.n, len(ref))
			}
			if step%97 != 0 {
				continue
			}
			for r, h := range ref {
				if got, ok := x.find(h, func(c uint32) bool { return c == r }); !ok || got != r {
					t.Fatalf("hashes %d step %d: record %d not found", hashes, step, r)
				}
				if _, ok := x.find(h+1<<31, func(c uint32) bool { return c == r }); ok {
					t.Fatalf("hashes %d step %d: record %d found under another hash", hashes, step, r)
				}
			}
		}
	}
}
