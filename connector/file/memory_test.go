package file

import (
	"io"
	"runtime"
	"testing"
)

// TestImageMemory bounds the memory of an export to an LDIF target, which
// at 1,150,000 adds is what the export step of a 1M cycle peaks at: the
// heap the image holds per object of the bench's kind (a user with a dozen
// attributes: a 250-byte record, its string header and its slots in the
// two indexes), and the bytes a rewrite allocates per object (its sorted
// records, nothing per object decoded). Before 2026-12-08 they were about
// 610 and 1,300; now 300 and 32.
func TestImageMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap of 20,000 objects")
	}
	if raceEnabled {
		t.Skip("the race detector changes the heap")
	}
	const n = 20000
	img := newImage(testSettings(t, Config{Target: true, Anchor: "cloudAnchor"}))
	before := liveHeap()
	for i := 0; i < n; i += 1000 {
		for _, op := range benchAddsFrom(i, 1000) {
			if _, err := img.apply(op); err != nil {
				t.Fatal(err)
			}
		}
	}
	held := float64(liveHeap()-before) / n
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := img.write(io.Discard); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	written := float64(m1.TotalAlloc-m0.TotalAlloc) / n
	t.Logf("%.0f bytes of heap held per object, %.0f allocated per object by a rewrite", held, written)
	if held > 340 {
		t.Errorf("the image holds %.0f bytes per object, want at most 340", held)
	}
	if written > 64 {
		t.Errorf("a rewrite allocates %.0f bytes per object, want at most 64", written)
	}
	runtime.KeepAlive(img)
}

// liveHeap returns the bytes of heap in use after a garbage collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
