package sealed_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/conformance"
	"github.com/idsync/idsync/store/sealed"
	"github.com/idsync/idsync/store/sqlite"
)

// TestConformance runs the whole store suite through the sealing layer:
// it must be invisible to the engine.
func TestConformance(t *testing.T) {
	sl, err := secret.NewSealer(bytes.Repeat([]byte{9}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	conformance.RunTests(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return sealed.Wrap(s, sealed.Options{Sealer: sl, Policy: secret.NewPolicy("mail"), Masker: secret.NewMasker()})
	})
}

// noBatch hides the batch reads of the store it holds (store.BatchReader).
type noBatch struct{ store.Store }

// TestConformanceWithoutBatchReads runs the suite through the sealing layer
// over a store without batch reads: the layer's batch reads then read one
// object (or one MV object's links) at a time, with the same results.
func TestConformanceWithoutBatchReads(t *testing.T) {
	sl, err := secret.NewSealer(bytes.Repeat([]byte{9}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	conformance.RunTests(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return sealed.Wrap(noBatch{s}, sealed.Options{Sealer: sl, Policy: secret.NewPolicy("mail"), Masker: secret.NewMasker()})
	})
}
