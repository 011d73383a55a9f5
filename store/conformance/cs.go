package conformance

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

var csTests = []testCase{
	{"RoundTripAllFields", func(t *testing.T, s store.Store) {
		want := fullUser("cs-1", "ad", "anchor-1")
		putCS(t, s, want)
		sameCS(t, "GetCS", getCS(t, s, "cs-1"), want)
		got, err := s.GetCSByAnchor(t.Context(), "ad", "anchor-1")
		if err != nil {
			t.Fatalf("GetCSByAnchor: %v", err)
		}
		sameCS(t, "GetCSByAnchor", got, want)
		linked, err := s.CSForMV(t.Context(), want.MVID)
		if err != nil || len(linked) != 1 {
			t.Fatalf("CSForMV = %v, %v; want 1 object", linked, err)
		}
		sameCS(t, "CSForMV", linked[0], want)
		n := 0
		err = s.ScanCS(t.Context(), "ad", func(o *store.CSObject) error {
			n++
			sameCS(t, "ScanCS", o, want)
			return nil
		})
		if err != nil || n != 1 {
			t.Fatalf("ScanCS visited %d objects, err %v; want 1, nil", n, err)
		}
	}},
	{"RoundTripMinimal", func(t *testing.T, s store.Store) {
		want := &store.CSObject{ID: "cs-min", Connector: "hr", Object: model.Object{Anchor: "1"}}
		putCS(t, s, want)
		got := getCS(t, s, "cs-min")
		sameCS(t, "GetCS", got, want)
		if got.Pending != nil || !got.Modified.IsZero() || got.Object.Attrs.Has("cn") {
			t.Fatalf("GetCS = %+v, want an empty object", got)
		}
	}},
	{"PendingNilVersusEmpty", func(t *testing.T, s store.Store) {
		none := user("cs-none", "ad", "a1")
		empty := user("cs-empty", "ad", "a2")
		empty.Pending = &store.PendingExport{}
		putCS(t, s, none, empty)
		if p := getCS(t, s, "cs-none").Pending; p != nil {
			t.Fatalf("nil Pending came back as %+v", p)
		}
		sameCS(t, "empty Pending", getCS(t, s, "cs-empty"), empty)
	}},
	{"Timestamps", func(t *testing.T, s store.Store) {
		o := user("cs-t", "ad", "a")
		o.Modified = time.Date(2031, 12, 31, 23, 59, 59, 999999499, time.FixedZone("X", -7*3600))
		o.Pending = &store.PendingExport{ID: "p", State: store.ExportPending, Created: time.Unix(1, 1)}
		putCS(t, s, o)
		sameCS(t, "GetCS", getCS(t, s, "cs-t"), o) // within 1µs, in UTC
	}},
	{"Overwrite", func(t *testing.T, s store.Store) {
		putCS(t, s, fullUser("cs-1", "ad", "a"))
		want := user("cs-1", "ad", "a")
		delete(want.Object.Attrs, "mail")
		want.Object.Attrs["title"] = model.Str("CTO")
		putCS(t, s, want)
		sameCS(t, "after overwrite", getCS(t, s, "cs-1"), want)
		wantCount(t, s, "ad", 1)
		if l, err := s.CSForMV(t.Context(), "mv-cs-1"); err != nil || len(l) != 0 {
			t.Fatalf("CSForMV of the old link = %v, %v; want none", l, err)
		}
	}},
	{"AnchorChange", func(t *testing.T, s store.Store) {
		o := user("cs-1", "ad", "proposed")
		o.Placeholder = true
		putCS(t, s, o)
		o = user("cs-1", "ad", "real-guid")
		putCS(t, s, o)
		sameCS(t, "GetCS", getCS(t, s, "cs-1"), o)
		_, err := s.GetCSByAnchor(t.Context(), "ad", "proposed")
		wantNotFound(t, "GetCSByAnchor(old anchor)", err)
		got, err := s.GetCSByAnchor(t.Context(), "ad", "real-guid")
		if err != nil {
			t.Fatalf("GetCSByAnchor(new anchor): %v", err)
		}
		sameCS(t, "GetCSByAnchor(new anchor)", got, o)
		putCS(t, s, user("cs-2", "ad", "proposed")) // the old anchor is free again
		wantCount(t, s, "ad", 2)
	}},
	{"AnchorUniquePerConnector", func(t *testing.T, s store.Store) {
		putCS(t, s, user("cs-1", "ad", "same"), user("cs-2", "ldap", "same"))
		for _, c := range []struct{ conn, id string }{{"ad", "cs-1"}, {"ldap", "cs-2"}} {
			o, err := s.GetCSByAnchor(t.Context(), c.conn, "same")
			if err != nil || o.ID != c.id {
				t.Fatalf("GetCSByAnchor(%s) = %v, %v; want %s", c.conn, o, err, c.id)
			}
		}
		err := s.Apply(t.Context(), &store.Batch{PutCS: []*store.CSObject{user("cs-3", "ad", "same")}})
		if !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("put of a taken anchor: got %v, want store.ErrAlreadyExists", err)
		}
	}},
	{"AnchorIsExactBytes", func(t *testing.T, s store.Store) {
		// Anchors are compared byte for byte: raw binary (an objectGUID),
		// case and trailing bytes all matter.
		anchors := []string{binaryValue, binaryValue + "\x00", "ABC", "abc", "abc "}
		for i, a := range anchors {
			putCS(t, s, user(id("cs", i), "ad", a))
		}
		for i, a := range anchors {
			o, err := s.GetCSByAnchor(t.Context(), "ad", a)
			if err != nil || o.ID != id("cs", i) || o.Object.Anchor != a {
				t.Fatalf("GetCSByAnchor(%q) = %+v, %v; want %s", a, o, err, id("cs", i))
			}
		}
	}},
	{"NotFound", func(t *testing.T, s store.Store) {
		putCS(t, s, user("cs-1", "ad", "a"))
		_, err := s.GetCS(t.Context(), "nope")
		wantNotFound(t, "GetCS", err)
		_, err = s.GetCSByAnchor(t.Context(), "ad", "nope")
		wantNotFound(t, "GetCSByAnchor(unknown anchor)", err)
		_, err = s.GetCSByAnchor(t.Context(), "ldap", "a")
		wantNotFound(t, "GetCSByAnchor(other connector)", err)
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		putCS(t, s, user("cs-1", "ad", "a"), user("cs-2", "ad", "b"))
		apply(t, s, &store.Batch{DeleteCS: []string{"cs-1", "never-existed"}})
		_, err := s.GetCS(t.Context(), "cs-1")
		wantNotFound(t, "GetCS(deleted)", err)
		_, err = s.GetCSByAnchor(t.Context(), "ad", "a")
		wantNotFound(t, "GetCSByAnchor(deleted)", err)
		wantCount(t, s, "ad", 1)
		apply(t, s, &store.Batch{DeleteCS: []string{"cs-1"}}) // again: no error
		putCS(t, s, user("cs-3", "ad", "a"))                  // anchor reusable
	}},
	{"CSForMV", func(t *testing.T, s store.Store) {
		objs := []*store.CSObject{
			user("cs-3", "ad", "a3"), user("cs-1", "hr", "a1"), user("cs-2", "ad", "a2"),
			user("cs-4", "ad", "a4"), user("cs-5", "ad", "a5"),
		}
		for i, mv := range []string{"mv-1", "mv-1", "mv-2", "", "mv-1"} {
			objs[i].MVID = mv
		}
		putCS(t, s, objs...)
		check := func(mvid string, want ...string) {
			t.Helper()
			got, err := s.CSForMV(t.Context(), mvid)
			if err != nil {
				t.Fatalf("CSForMV(%q): %v", mvid, err)
			}
			var ids []string
			for _, o := range got {
				ids = append(ids, o.ID)
				if o.MVID != mvid {
					t.Fatalf("CSForMV(%q) returned %s joined to %q", mvid, o.ID, o.MVID)
				}
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("CSForMV(%q) = %v, want %v (in ID order)", mvid, ids, want)
			}
		}
		check("mv-1", "cs-1", "cs-3", "cs-5")
		check("mv-2", "cs-2")
		check("mv-unknown")
		check("")             // disconnectors are joined to nothing
		objs[0].MVID = "mv-2" // rejoin cs-3
		objs[4].MVID = ""     // disconnect cs-5
		putCS(t, s, objs[0], objs[4])
		check("mv-1", "cs-1")
		check("mv-2", "cs-2", "cs-3")
	}},
	{"Count", func(t *testing.T, s store.Store) {
		wantCount(t, s, "ad", 0)
		wantCount(t, s, "", 0)
		putCS(t, s, user("1", "ad", "1"), user("2", "ad", "2"), user("3", "hr", "3"))
		wantCount(t, s, "ad", 2)
		wantCount(t, s, "hr", 1)
		wantCount(t, s, "other", 0)
		wantCount(t, s, "", 3)
	}},
}
