package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

var mvTests = []testCase{
	{"RoundTrip", func(t *testing.T, s store.Store) {
		want := mvUser("mv-1")
		bare := &store.MVObject{ID: "mv-2", Type: "group"}
		putMV(t, s, want, bare)
		for _, w := range []*store.MVObject{want, bare} {
			got, err := s.GetMV(t.Context(), w.ID)
			if err != nil {
				t.Fatalf("GetMV(%s): %v", w.ID, err)
			}
			sameMV(t, "GetMV", got, w)
		}
		err := s.ScanMV(t.Context(), func(o *store.MVObject) error {
			if o.ID == want.ID {
				sameMV(t, "ScanMV", o, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ScanMV: %v", err)
		}
	}},
	{"OverwriteAndDelete", func(t *testing.T, s store.Store) {
		putMV(t, s, mvUser("mv-1"), mvUser("mv-2"))
		want := &store.MVObject{ID: "mv-1", Type: "contact", Attrs: model.Attrs{"cn": model.Str("x")}, Modified: ts}
		putMV(t, s, want)
		got, err := s.GetMV(t.Context(), "mv-1")
		if err != nil {
			t.Fatalf("GetMV: %v", err)
		}
		sameMV(t, "after overwrite", got, want)
		apply(t, s, &store.Batch{DeleteMV: []string{"mv-2", "never-existed"}})
		_, err = s.GetMV(t.Context(), "mv-2")
		wantNotFound(t, "GetMV(deleted)", err)
		_, err = s.GetMV(t.Context(), "nope")
		wantNotFound(t, "GetMV(unknown)", err)
		if n, err := s.CountMV(t.Context()); err != nil || n != 1 {
			t.Fatalf("CountMV = %d, %v; want 1", n, err)
		}
	}},
	{"ScanOrderAndStop", func(t *testing.T, s store.Store) {
		var objs []*store.MVObject
		var want []string
		for i := range 200 {
			o := &store.MVObject{ID: id("mv", (i*37)%200), Type: "person"}
			objs = append(objs, o)
			want = append(want, o.ID)
		}
		putMV(t, s, objs...)
		slices.Sort(want)
		var got []string
		if err := s.ScanMV(t.Context(), func(o *store.MVObject) error {
			got = append(got, o.ID)
			return nil
		}); err != nil {
			t.Fatalf("ScanMV: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("ScanMV visited %d objects, want %d in ID order", len(got), len(want))
		}
		stop := errors.New("stop")
		n := 0
		err := s.ScanMV(t.Context(), func(o *store.MVObject) error {
			n++
			if n == 5 {
				return fmt.Errorf("wrapped: %w", stop)
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 5 {
			t.Fatalf("ScanMV = %v after %d calls, want fn's error after 5", err, n)
		}
	}},
	{"ApplyFromCallback", func(t *testing.T, s store.Store) {
		for i := range 20 {
			putMV(t, s, &store.MVObject{ID: id("mv", i), Type: "person"})
		}
		err := s.ScanMV(t.Context(), func(o *store.MVObject) error {
			if o.ID == id("mv", 3) {
				return s.Apply(t.Context(), &store.Batch{DeleteMV: []string{id("mv", 2)}})
			}
			o.Type = "updated"
			return s.Apply(t.Context(), &store.Batch{PutMV: []*store.MVObject{o}})
		})
		if err != nil {
			t.Fatalf("ScanMV with Apply inside: %v", err)
		}
		if n, _ := s.CountMV(t.Context()); n != 19 {
			t.Fatalf("CountMV = %d, want 19", n)
		}
		if o, err := s.GetMV(t.Context(), id("mv", 19)); err != nil || o.Type != "updated" {
			t.Fatalf("GetMV = %+v, %v; want type updated", o, err)
		}
	}},
}
