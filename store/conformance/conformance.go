// Package conformance is the behavioural test suite every store.Store
// backend must pass. A backend's tests call RunTests with a constructor that
// returns a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		conformance.RunTests(t, func(t *testing.T) store.Store {
//			s, err := mybackend.Open(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite pins the contract documented in package store, plus a few
// choices the interface leaves open that callers rely on: Apply applies
// deletes before puts; CountCS("") counts every connector; CSForMV("")
// returns nothing; UpdateRun of an unknown run wraps store.ErrNotFound.
// Timestamps must round-trip to the microsecond and come back in UTC.
package conformance

import (
	"testing"

	"github.com/idsync/idsync/store"
)

// testCase is one subtest; run gets a fresh, empty store.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// RunTests runs the whole suite, each subtest against a new store from
// newStore. newStore should register the store's Close with t.Cleanup.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"CS", csTests},
		{"CSScan", csScanTests},
		{"MV", mvTests},
		{"Batch", batchTests},
		{"Watermark", watermarkTests},
		{"Runs", runTests},
		{"Settings", settingTests},
		{"Concurrency", concurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newStore(t))
				})
			}
		})
	}
}
