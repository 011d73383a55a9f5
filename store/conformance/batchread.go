package conformance

import (
	"fmt"
	"slices"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// Batch reads (store.BatchReader): many objects, or the objects joined to
// many MV objects, in one call — across more IDs than one query of either
// backend takes, with absent IDs among them.
var batchReadTests = []testCase{
	{"ManyObjectsAndLinks", func(t *testing.T, s store.Store) {
		br, ok := s.(store.BatchReader)
		if !ok {
			t.Skipf("%T has no batch reads", s)
		}
		const n = 1203
		b := &store.Batch{}
		var csIDs, mvIDs []string
		for i := range n {
			m := mvUser(fmt.Sprintf("mv-%04d", i))
			b.PutMV = append(b.PutMV, m)
			mvIDs = append(mvIDs, m.ID)
			c := user(fmt.Sprintf("cs-%04d", i), "ad", fmt.Sprintf("a%04d", i))
			if i%3 != 0 { // every third one is a disconnector
				c.MVID = m.ID
			}
			b.PutCS = append(b.PutCS, c)
			csIDs = append(csIDs, c.ID)
		}
		apply(t, s, b)
		ctx := t.Context()

		ask := append(slices.Clone(csIDs), "cs-absent", "")
		got, err := br.GetCSMany(ctx, ask)
		if err != nil {
			t.Fatalf("GetCSMany: %v", err)
		}
		var ids []string
		for _, o := range got {
			ids = append(ids, o.ID)
			if want := b.PutCS[slices.Index(csIDs, o.ID)]; o.Object.Anchor != want.Object.Anchor || o.MVID != want.MVID {
				t.Errorf("GetCSMany: %s = %+v, want %+v", o.ID, o, want)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, csIDs) {
			t.Errorf("GetCSMany: %d objects, want %d", len(ids), len(csIDs))
		}

		mvs, err := br.GetMVMany(ctx, append(slices.Clone(mvIDs[:700]), "mv-absent"))
		if err != nil {
			t.Fatalf("GetMVMany: %v", err)
		}
		ids = ids[:0]
		for _, m := range mvs {
			ids = append(ids, m.ID)
			if want := mvUser(m.ID); !m.Lineage.Equal(want.Lineage) || m.Attrs.First("displayName") != want.Attrs.First("displayName") {
				t.Errorf("GetMVMany: %s = %+v", m.ID, m)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, mvIDs[:700]) {
			t.Errorf("GetMVMany: %d objects, want 700", len(ids))
		}

		linked, err := br.CSForMVs(ctx, append(slices.Clone(mvIDs), "mv-absent", ""))
		if err != nil {
			t.Fatalf("CSForMVs: %v", err)
		}
		ids = ids[:0]
		for _, o := range linked {
			ids = append(ids, o.ID)
		}
		slices.Sort(ids)
		var want []string
		for i, id := range csIDs {
			if i%3 != 0 {
				want = append(want, id)
			}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("CSForMVs: %d objects, want %d", len(ids), len(want))
		}
		if none, err := br.CSForMVs(ctx, nil); err != nil || len(none) != 0 {
			t.Errorf("CSForMVs(nil) = %d objects, %v", len(none), err)
		}
	}},
	{"KeysAtOnce", func(t *testing.T, s store.Store) {
		br, ok := s.(store.BatchReader)
		if !ok {
			t.Skipf("%T has no batch reads", s)
		}
		boss := user("cs-boss", "ad", "boss")
		a, b := user("cs-a", "ad", "a"), user("cs-b", "ad", "b")
		g := &store.CSObject{ID: "cs-g", Connector: "ad", Object: model.Object{Anchor: "g", DN: "CN=G,DC=test", Type: "group",
			Attrs: model.Attrs{"member": model.Ref(a.Object.DN, "anchor-of-b")}}}
		hr := user("cs-hr", "hr", "a")
		putCS(t, s, boss, a, b, g, hr)
		if err := s.Index(t.Context(), store.IndexSpec{RefConnectors: []string{"ad"}, CS: map[string][]string{"ad": {"mail"}}}); err != nil {
			t.Fatalf("Index: %v", err)
		}
		keys := []string{
			store.DNKey(a.Object.DN), store.DNKey("cn=A,ou=USERS,dc=contoso,dc=test"), store.DNKey("CN=nobody,DC=test"),
			store.RefKey(boss.Object.DN), store.RefKey(a.Object.DN), store.RefKey("ANCHOR-of-b"), store.RefKey("nobody"),
			store.ValueKey("mail", a.Object.Attrs.First("mail")), store.ValueKey("cn", "a"),
		}
		for i := range 700 { // more than one query's worth
			keys = append(keys, store.RefKey(fmt.Sprintf("cn=x%d,dc=test", i)), store.DNKey(fmt.Sprintf("cn=y%d,dc=test", i)))
		}
		for _, conn := range []string{"ad", "hr", "nowhere"} {
			got, err := br.CSByKeys(t.Context(), conn, keys)
			if err != nil {
				t.Fatalf("CSByKeys(%s): %v", conn, err)
			}
			with := map[string]bool{} // the keys with objects (two keys above are one)
			for _, k := range keys {
				want := csByKey(t, s, conn, k)
				if len(want) > 0 {
					with[k] = true
				}
				if !slices.Equal(got[k], want) {
					t.Errorf("CSByKeys(%s)[%q] = %v, CSByKey: %v", conn, k, got[k], want)
				}
			}
			if len(got) != len(with) {
				t.Errorf("CSByKeys(%s): %d keys in the answer, %d have objects", conn, len(got), len(with))
			}
		}
	}},
	{"MVKeysAtOnce", func(t *testing.T, s store.Store) {
		br, ok := s.(store.BatchReader)
		if !ok {
			t.Skipf("%T has no batch reads", s)
		}
		if err := s.Index(t.Context(), store.IndexSpec{MV: []string{"cn", "displayName"}}); err != nil {
			t.Fatalf("Index: %v", err)
		}
		b := &store.Batch{}
		for i := range 650 { // more than one query's worth of keys below
			m := mvUser(fmt.Sprintf("mv-%04d", i))
			m.Attrs["cn"] = model.Str(fmt.Sprintf("u%04d", i), "shared")
			b.PutMV = append(b.PutMV, m)
		}
		b.PutMV = append(b.PutMV, &store.MVObject{ID: "mv-g", Type: "group", Attrs: model.Attrs{
			"cn": model.Str("U0001"), "displayName": model.Str("Ann Example")}})
		apply(t, s, b)
		keys := []string{
			store.ValueKey("cn", "SHARED"), store.ValueKey("displayName", "ann example"),
			store.ValueKey("cn", "nobody"), store.ValueKey("sn", "ann example"),
			store.ValueKey("cn", "u0001"), store.ValueKey("cn", "u0001"), // twice
		}
		for i := range 650 {
			keys = append(keys, store.ValueKey("cn", fmt.Sprintf("U%04d", i)))
		}
		for _, typ := range []string{"person", "group", "nothing"} {
			got, err := br.MVByKeys(t.Context(), typ, keys)
			if err != nil {
				t.Fatalf("MVByKeys(%s): %v", typ, err)
			}
			with := map[string]bool{}
			for _, k := range keys {
				want := mvByKey(t, s, typ, k)
				if len(want) > 0 {
					with[k] = true
				}
				if !slices.Equal(got[k], want) {
					t.Errorf("MVByKeys(%s)[%q] = %v, MVByKey: %v", typ, k, got[k], want)
				}
			}
			if len(got) != len(with) {
				t.Errorf("MVByKeys(%s): %d keys in the answer, %d have objects", typ, len(got), len(with))
			}
		}
		if got := len(mvByKey(t, s, "person", store.ValueKey("cn", "shared"))); got != 650 {
			t.Errorf("MVByKey(shared cn) = %d objects, want 650", got)
		}
		if none, err := br.MVByKeys(t.Context(), "person", nil); err != nil || len(none) != 0 {
			t.Errorf("MVByKeys(nil) = %v, %v", none, err)
		}
	}},
}
