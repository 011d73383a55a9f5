package conformance

import (
	"errors"
	"fmt"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// Large batches: backends write big batches differently from small ones
// (multi-row statements), so these use a few hundred objects.
var largeBatchTests = []testCase{
	{"MixedInsertsUpdatesDuplicates", func(t *testing.T, s store.Store) {
		var old []*store.CSObject
		for i := range 100 {
			old = append(old, user(id("cs", 2*i), "ad", fmt.Sprint("a", 2*i)))
		}
		putCS(t, s, old...)
		// Updates of the even IDs interleaved with new odd IDs; every tenth
		// object is put twice, the second put wins.
		want := map[string]*store.CSObject{}
		var batch []*store.CSObject
		for i := range 200 {
			o := user(id("cs", i), "ad", fmt.Sprint("a", i))
			o.Object.Attrs["title"] = model.Str(fmt.Sprint("v1-", i))
			batch = append(batch, o)
			if i%10 == 0 {
				o2 := user(id("cs", i), "ad", fmt.Sprint("b", i))
				o2.Object.Attrs["title"] = model.Str(fmt.Sprint("v2-", i))
				batch = append(batch, o2)
				o = o2
			}
			want[o.ID] = o
		}
		putCS(t, s, batch...)
		wantCount(t, s, "ad", 200)
		for id, w := range want {
			sameCS(t, "GetCS("+id+")", getCS(t, s, id), w)
		}
		_, err := s.GetCSByAnchor(t.Context(), "ad", "a10")
		wantNotFound(t, "GetCSByAnchor(replaced anchor)", err)
	}},
	{"AnchorConflictRollsBackAll", func(t *testing.T, s store.Store) {
		putCS(t, s, user("taken", "ad", "x"))
		var batch []*store.CSObject
		for i := range 150 {
			anchor := fmt.Sprint("n", i)
			if i == 100 {
				anchor = "x"
			}
			batch = append(batch, user(id("cs", i), "ad", anchor))
		}
		err := s.Apply(t.Context(), &store.Batch{PutCS: batch})
		if !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("Apply = %v, want store.ErrAlreadyExists", err)
		}
		wantCount(t, s, "ad", 1)
	}},
	{"AnchorMovesWithinBatch", func(t *testing.T, s store.Store) {
		// The import learns that x now belongs to a new object and the old
		// holder got anchor y; in slice order the move comes first.
		putCS(t, s, user("old", "ad", "x"))
		batch := []*store.CSObject{user("old", "ad", "y"), user("new", "ad", "x")}
		for i := range 100 {
			batch = append(batch, user(id("cs", i), "ad", fmt.Sprint("n", i)))
		}
		putCS(t, s, batch...)
		for anchor, want := range map[string]string{"x": "new", "y": "old"} {
			if o, err := s.GetCSByAnchor(t.Context(), "ad", anchor); err != nil || o.ID != want {
				t.Fatalf("GetCSByAnchor(%s) = %v, %v; want %s", anchor, o, err, want)
			}
		}
	}},
	{"MVAndDeletes", func(t *testing.T, s store.Store) {
		var mvs []*store.MVObject
		var csDel, mvDel []string
		for i := range 200 {
			mvs = append(mvs, &store.MVObject{ID: id("mv", i), Type: "person"})
			putCS(t, s, user(id("cs", i), "ad", fmt.Sprint(i)))
			csDel = append(csDel, id("cs", i), id("gone", i))
			mvDel = append(mvDel, id("mv", i))
		}
		// Some exist already; duplicates: the last put of an ID wins.
		putMV(t, s, mvs[100:110]...)
		last, updated := mvUser(id("mv", 7)), mvUser(id("mv", 105))
		mvs[20], mvs[120] = last, updated
		putMV(t, s, mvs...)
		for _, want := range []*store.MVObject{last, updated} {
			got, err := s.GetMV(t.Context(), want.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameMV(t, "GetMV", got, want)
		}
		apply(t, s, &store.Batch{DeleteCS: csDel[:300], DeleteMV: mvDel[:150]})
		wantCount(t, s, "ad", 50)
		if n, _ := s.CountMV(t.Context()); n != 50 {
			t.Fatalf("CountMV = %d, want 50", n)
		}
	}},
}
