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
// The suite pins the contract documented in package store, plus choices the
// interface leaves open that callers rely on:
//
//   - Apply applies deletes before puts, and puts with the result of
//     upserting them one by one in slice order (the last put of an ID wins);
//   - "ID order" is byte order, as Go compares strings (a PostgreSQL backend
//     needs COLLATE "C");
//   - anchors, and Binary attribute values, are arbitrary bytes (NUL,
//     invalid UTF-8) compared exactly;
//   - CountCS("") counts every connector, CSForMV("") returns nothing;
//   - UpdateRun of an unknown run wraps store.ErrNotFound;
//   - user names compare case-insensitively (store.UserKey) and keep the
//     spelling of their last put; tokens read back with their user's;
//   - audit IDs increase in the order entries are added, and Audit lists
//     newest first by ID;
//   - timestamps round-trip to the microsecond and come back in UTC; nil and
//     empty slices and maps may come back either way, but a nil Pending stays
//     nil and a non-nil one non-nil;
//   - sessions are found by hash while neither expiry has passed (an
//     expiry equal to now has passed), and go with their user;
//   - the search index folds values with store.SearchFold, returns
//     matches in byte order of folded value then ID, one per distinct
//     value, and follows Apply and SetSearchAttrs at once; a new store
//     indexes store.DefaultSearchAttrs;
//   - under store/sealed (the Sealed group), secret values reach the backend
//     only as sealed text, which it keeps exactly: reading the backend
//     directly never gives a clear password.
package conformance

import (
	"testing"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sealed"
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
		{"LargeBatch", largeBatchTests},
		{"Watermark", watermarkTests},
		{"Runs", runTests},
		{"Settings", settingTests},
		{"Concurrency", concurrencyTests},
		{"Targeted", targetedTests},
		{"BatchRead", batchReadTests},
		{"Users", userTests},
		{"Audit", auditTests},
		{"Sessions", sessionTests},
		{"Search", searchTests},
		{"Tenants", tenantTests},
		{"Sealed", sealedTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					s := newStore(t)
					if _, ok := s.(*sealed.Store); ok && g.name == "Sealed" {
						t.Skip("the store is already a sealing store")
					}
					tc.run(t, s)
				})
			}
		})
	}
}
