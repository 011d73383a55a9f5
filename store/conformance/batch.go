package conformance

import (
	"context"
	"errors"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

var batchTests = []testCase{
	{"Empty", func(t *testing.T, s store.Store) {
		apply(t, s, &store.Batch{})
		wantCount(t, s, "", 0)
	}},
	{"AllKinds", func(t *testing.T, s store.Store) {
		apply(t, s, &store.Batch{
			PutCS:      []*store.CSObject{user("cs-1", "ad", "a"), user("cs-2", "ad", "b")},
			PutMV:      []*store.MVObject{mvUser("mv-1"), mvUser("mv-2")},
			Watermarks: []store.Watermark{{Connector: "ad", Value: "usn:1"}},
		})
		apply(t, s, &store.Batch{
			PutCS:      []*store.CSObject{user("cs-3", "ad", "c")},
			DeleteCS:   []string{"cs-1"},
			PutMV:      []*store.MVObject{mvUser("mv-3")},
			DeleteMV:   []string{"mv-1"},
			Watermarks: []store.Watermark{{Connector: "ad", Value: "usn:2"}},
		})
		wantCount(t, s, "ad", 2)
		if n, _ := s.CountMV(t.Context()); n != 2 {
			t.Fatalf("CountMV = %d, want 2", n)
		}
		if w, _ := s.Watermark(t.Context(), "ad", ""); w != "usn:2" {
			t.Fatalf("Watermark = %q, want usn:2", w)
		}
	}},
	{"AnchorConflictRollsBackAll", func(t *testing.T, s store.Store) {
		orig := user("cs-1", "ad", "taken")
		putCS(t, s, orig, user("cs-9", "ad", "other"))
		apply(t, s, &store.Batch{Watermarks: []store.Watermark{{Connector: "ad", Value: "w1"}}})
		changed := user("cs-1", "ad", "taken")
		changed.Object.Attrs["title"] = model.Str("CEO")
		err := s.Apply(t.Context(), &store.Batch{
			DeleteCS:   []string{"cs-9"},
			PutCS:      []*store.CSObject{user("cs-2", "ad", "fresh"), changed, user("cs-3", "ad", "taken")},
			PutMV:      []*store.MVObject{mvUser("mv-1")},
			Watermarks: []store.Watermark{{Connector: "ad", Value: "w2"}},
		})
		if !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("Apply with a taken anchor: got %v, want store.ErrAlreadyExists", err)
		}
		sameCS(t, "cs-1 after the failed batch", getCS(t, s, "cs-1"), orig)
		getCS(t, s, "cs-9") // the delete was rolled back
		for _, id := range []string{"cs-2", "cs-3"} {
			_, err := s.GetCS(t.Context(), id)
			wantNotFound(t, "GetCS("+id+") of the failed batch", err)
		}
		if _, err := s.GetMV(t.Context(), "mv-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MV object of the failed batch: %v, want not found", err)
		}
		if w, _ := s.Watermark(t.Context(), "ad", ""); w != "w1" {
			t.Fatalf("Watermark = %q after the failed batch, want w1", w)
		}
		wantCount(t, s, "", 2)
	}},
	{"DeletesBeforePuts", func(t *testing.T, s store.Store) {
		// A placeholder whose real anchor arrives: the import put the real
		// object under a second ID; the batch frees the anchor first.
		putCS(t, s, user("cs-old", "ad", "x"))
		apply(t, s, &store.Batch{
			DeleteCS: []string{"cs-old"},
			PutCS:    []*store.CSObject{user("cs-new", "ad", "x")},
		})
		o, err := s.GetCSByAnchor(t.Context(), "ad", "x")
		if err != nil || o.ID != "cs-new" {
			t.Fatalf("GetCSByAnchor = %v, %v; want cs-new (deletes apply before puts)", o, err)
		}
	}},
	{"CanceledContextWritesNothing", func(t *testing.T, s store.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Apply(ctx, &store.Batch{PutCS: []*store.CSObject{user("cs-1", "ad", "a")}})
		if err == nil {
			t.Fatal("Apply with a canceled context succeeded")
		}
		_, err = s.GetCS(t.Context(), "cs-1")
		wantNotFound(t, "GetCS after a canceled Apply", err)
	}},
}

var watermarkTests = []testCase{
	{"AbsentIsEmpty", func(t *testing.T, s store.Store) {
		if w, err := s.Watermark(t.Context(), "ad", "DC=x"); err != nil || w != "" {
			t.Fatalf("Watermark of nothing = %q, %v; want \"\", nil", w, err)
		}
	}},
	{"PerConnectorAndPartition", func(t *testing.T, s store.Store) {
		apply(t, s, &store.Batch{Watermarks: []store.Watermark{
			{Connector: "ad", Partition: "DC=a", Value: "1"},
			{Connector: "ad", Partition: "DC=b", Value: "2"},
			{Connector: "ad", Value: "3"},
			{Connector: "hr", Partition: "DC=a", Value: "4"},
		}})
		apply(t, s, &store.Batch{Watermarks: []store.Watermark{{Connector: "ad", Partition: "DC=b", Value: "2b"}}})
		for _, c := range []struct{ conn, part, want string }{
			{"ad", "DC=a", "1"}, {"ad", "DC=b", "2b"}, {"ad", "", "3"}, {"hr", "DC=a", "4"}, {"hr", "", ""},
		} {
			if w, err := s.Watermark(t.Context(), c.conn, c.part); err != nil || w != c.want {
				t.Errorf("Watermark(%s, %q) = %q, %v; want %q", c.conn, c.part, w, err, c.want)
			}
		}
	}},
}

var settingTests = []testCase{
	{"GetSet", func(t *testing.T, s store.Store) {
		_, err := s.Setting(t.Context(), "k")
		wantNotFound(t, "Setting(unset)", err)
		for _, v := range []string{"v1", "v2", ""} {
			if err := s.SetSetting(t.Context(), "k", v); err != nil {
				t.Fatalf("SetSetting: %v", err)
			}
			if got, err := s.Setting(t.Context(), "k"); err != nil || got != v {
				t.Fatalf("Setting = %q, %v; want %q", got, err, v)
			}
		}
		if err := s.SetSetting(t.Context(), "other", "x"); err != nil {
			t.Fatalf("SetSetting: %v", err)
		}
		if got, _ := s.Setting(t.Context(), "k"); got != "" {
			t.Fatalf("Setting(k) = %q after setting another key, want \"\"", got)
		}
	}},
}
