package conformance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// scanSize is larger than common page sizes of paging implementations.
const scanSize = 12_345

var csScanTests = []testCase{
	{"OrderAndConnectorFilter", func(t *testing.T, s store.Store) {
		var ad, hr, all []string
		var objs []*store.CSObject
		for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(300) {
			conn := "ad"
			if i%3 == 0 {
				conn = "hr"
			}
			o := user(id("cs", i), conn, fmt.Sprint(i))
			objs = append(objs, o)
			all = append(all, o.ID)
			if conn == "ad" {
				ad = append(ad, o.ID)
			} else {
				hr = append(hr, o.ID)
			}
		}
		putCS(t, s, objs...)
		for _, ids := range [][]string{ad, hr, all} {
			slices.Sort(ids)
		}
		for _, c := range []struct {
			conn string
			want []string
		}{{"ad", ad}, {"hr", hr}, {"", all}, {"unknown", nil}} {
			if got := scanIDs(t, s, c.conn); !slices.Equal(got, c.want) {
				t.Fatalf("ScanCS(%q) visited %d objects %.5q…, want %d in ID order", c.conn, len(got), got, len(c.want))
			}
		}
	}},
	{"ByteOrder", func(t *testing.T, s store.Store) {
		// ID order is byte order, whatever a locale's collation says.
		want := []string{"A-2", "B", "Z", "_", "a", "a-1", "a1", "b", "é"}
		for i, id := range []string{"b", "a1", "Z", "é", "_", "A-2", "a", "a-1", "B"} {
			putCS(t, s, user(id, "ad", fmt.Sprint(i)))
			putMV(t, s, &store.MVObject{ID: id, Type: "x"})
		}
		if got := scanIDs(t, s, ""); !slices.Equal(got, want) {
			t.Fatalf("ScanCS order = %q, want %q", got, want)
		}
		var got []string
		if err := s.ScanMV(t.Context(), func(o *store.MVObject) error {
			got = append(got, o.ID)
			return nil
		}); err != nil || !slices.Equal(got, want) {
			t.Fatalf("ScanMV order = %q, %v; want %q", got, err, want)
		}
	}},
	{"Large", func(t *testing.T, s store.Store) {
		var objs []*store.CSObject
		var want []string
		for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(scanSize) {
			o := &store.CSObject{ID: id("cs", i), Connector: "ad",
				Object: model.Object{Anchor: fmt.Sprint(i), Attrs: model.Attrs{"n": model.Str(fmt.Sprint(i))}}}
			objs = append(objs, o)
			want = append(want, o.ID)
		}
		putCS(t, s, objs...)
		slices.Sort(want)
		for _, conn := range []string{"ad", ""} {
			var got []string
			err := s.ScanCS(t.Context(), conn, func(o *store.CSObject) error {
				if v := o.Object.Attrs.First("n"); o.Object.Anchor != v {
					return fmt.Errorf("object %s has n=%q, want %q", o.ID, v, o.Object.Anchor)
				}
				got = append(got, o.ID)
				return nil
			})
			if err != nil {
				t.Fatalf("ScanCS(%q): %v", conn, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ScanCS(%q) visited %d objects, want %d in ID order", conn, len(got), len(want))
			}
		}
		wantCount(t, s, "ad", scanSize)
	}},
	{"StopsAtError", func(t *testing.T, s store.Store) {
		for i := range 10 {
			putCS(t, s, user(id("cs", i), "ad", fmt.Sprint(i)))
		}
		stop := errors.New("stop")
		for _, conn := range []string{"ad", ""} {
			n := 0
			err := s.ScanCS(t.Context(), conn, func(*store.CSObject) error {
				n++
				if n == 3 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || n != 3 {
				t.Fatalf("ScanCS(%q) = %v after %d calls, want fn's error after 3", conn, err, n)
			}
		}
	}},
	{"ApplyFromCallback", func(t *testing.T, s store.Store) {
		const n = 50
		for i := range n {
			o := user(id("cs", i), "ad", fmt.Sprint(i))
			o.SyncPending = true
			putCS(t, s, o)
		}
		done := make(chan error, 1)
		go func() {
			done <- s.ScanCS(t.Context(), "ad", func(o *store.CSObject) error {
				// What a delta sync does: clear the flag, write other objects.
				o.SyncPending = false
				mv := &store.MVObject{ID: "mv-" + o.ID, Type: "person"}
				o.MVID = mv.ID
				return s.Apply(t.Context(), &store.Batch{
					PutCS: []*store.CSObject{o, user("hr-"+o.ID, "hr", o.ID)},
					PutMV: []*store.MVObject{mv},
				})
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ScanCS with Apply inside: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("ScanCS with Apply inside did not finish: deadlock?")
		}
		for i := range n {
			if o := getCS(t, s, id("cs", i)); o.SyncPending || o.MVID == "" {
				t.Fatalf("object %s not updated from the callback: %+v", o.ID, o)
			}
		}
		wantCount(t, s, "hr", n)
		if m, err := s.CountMV(t.Context()); err != nil || m != n {
			t.Fatalf("CountMV = %d, %v; want %d", m, err, n)
		}
	}},
}
