package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// The Search group: the metaverse search index (SearchMV), kept with the
// objects by Apply, over the attributes SetSearchAttrs names.

func person(id, typ string, attrs model.Attrs) *store.MVObject {
	return &store.MVObject{ID: id, Type: typ, Attrs: attrs, Modified: ts}
}

// search runs a query to its last page (pages of q.Limit) and returns
// the matches as "id=value", in order.
func search(t *testing.T, s store.Store, q store.MVQuery) []string {
	t.Helper()
	var out []string
	for page := 0; ; page++ {
		ms, next, err := s.SearchMV(t.Context(), q)
		if err != nil {
			t.Fatalf("SearchMV(%+v): %v", q, err)
		}
		if q.Limit > 0 && len(ms) > q.Limit {
			t.Fatalf("SearchMV(%+v) returned %d matches, more than the limit", q, len(ms))
		}
		for _, m := range ms {
			out = append(out, m.ID+"="+m.Value)
		}
		if next == "" {
			return out
		}
		if len(ms) == 0 || page > 1000 {
			t.Fatalf("SearchMV(%+v): an empty page with a next cursor", q)
		}
		q.After = next
	}
}

func wantSearch(t *testing.T, s store.Store, q store.MVQuery, want ...string) {
	t.Helper()
	if got := search(t, s, q); !slices.Equal(got, want) {
		t.Fatalf("SearchMV(%+v) = %q, want %q", q, got, want)
	}
}

func people() []*store.MVObject {
	return []*store.MVObject{
		person("mv-1", "person", model.Attrs{"displayName": model.Str("Ada Lovelace"), "userPrincipalName": model.Str("ada@example.org", "ADA@lovelace.example")}),
		person("mv-2", "person", model.Attrs{"displayName": model.Str("ada lovelace")}),
		person("mv-3", "person", model.Attrs{"displayName": model.Str("Adam Smith")}),
		person("mv-4", "contact", model.Attrs{"displayName": model.Str("Adalbert")}),
		person("mv-5", "person", model.Attrs{"displayName": model.Str("ÅDNE Øster"), "sn": model.Str("Øster")}),
		person("mv-6", "person", model.Attrs{"displayName": model.Str("Alan Turing"), "department": model.Str("Codebreaking")}),
		person("mv-7", "person", model.Attrs{"cn": {Type: model.Binary, Values: []string{"ada\xff\x00"}}}),
	}
}

var searchTests = []testCase{
	{"Defaults", func(t *testing.T, s store.Store) {
		got, err := s.SearchAttrs(t.Context())
		if want := slices.Sorted(slices.Values(store.DefaultSearchAttrs)); err != nil || !slices.Equal(got, want) {
			t.Fatalf("SearchAttrs of a new store = %q, %v; want %q", got, err, want)
		}
	}},
	{"ExactAndPrefix", func(t *testing.T, s store.Store) {
		putMV(t, s, people()...)
		for _, c := range []struct {
			q    store.MVQuery
			want []string
		}{
			{store.MVQuery{Attr: "displayName", Value: "ADA LOVELACE"}, []string{"mv-1=ada lovelace", "mv-2=ada lovelace"}},
			{store.MVQuery{Attr: "displayName", Value: "Ada"}, nil},
			{store.MVQuery{Attr: "displayName", Value: "ada", Prefix: true},
				[]string{"mv-1=ada lovelace", "mv-2=ada lovelace", "mv-4=adalbert", "mv-3=adam smith"}},
			{store.MVQuery{Attr: "displayName", Value: "ada", Prefix: true, Type: "person"},
				[]string{"mv-1=ada lovelace", "mv-2=ada lovelace", "mv-3=adam smith"}},
			{store.MVQuery{Attr: "displayName", Value: "åd", Prefix: true}, []string{"mv-5=ådne øster"}},
			{store.MVQuery{Attr: "sn", Value: "øSTER"}, []string{"mv-5=øster"}},
			{store.MVQuery{Attr: "userPrincipalName", Value: "ADA", Prefix: true}, []string{"mv-1=ada@example.org", "mv-1=ada@lovelace.example"}},
			{store.MVQuery{Attr: "userPrincipalName", Value: "ada@lovelace.example"}, []string{"mv-1=ada@lovelace.example"}},
			{store.MVQuery{Attr: "displayName", Value: "", Prefix: true, Type: "contact"}, []string{"mv-4=adalbert"}},
			{store.MVQuery{Attr: "displayName", Value: "zz", Prefix: true}, nil},
			{store.MVQuery{Attr: "cn", Value: "ada", Prefix: true}, nil}, // a Binary attribute is not searched
		} {
			wantSearch(t, s, c.q, c.want...)
		}
		ms, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "displayName", Value: "Adalbert"})
		if err != nil || len(ms) != 1 || ms[0] != (store.MVMatch{ID: "mv-4", Type: "contact", Value: "adalbert"}) {
			t.Fatalf("SearchMV(Adalbert) = %+v, %v", ms, err)
		}
	}},
	{"Paging", func(t *testing.T, s store.Store) {
		var objs []*store.MVObject
		var want []string
		for i := range 25 {
			// Pairs of objects share a value: the cursor goes by value and ID.
			v := fmt.Sprintf("user %02d", i/2)
			objs = append(objs, person(id("mv", 24-i), "person", model.Attrs{"cn": model.Str(strings.ToUpper(v))}))
			want = append(want, id("mv", 24-i)+"="+v)
		}
		putMV(t, s, objs...)
		slices.SortFunc(want, func(a, b string) int {
			ai, av, _ := strings.Cut(a, "=")
			bi, bv, _ := strings.Cut(b, "=")
			if c := strings.Compare(av, bv); c != 0 {
				return c
			}
			return strings.Compare(ai, bi)
		})
		for _, limit := range []int{1, 2, 10, 25, 0} {
			wantSearch(t, s, store.MVQuery{Attr: "cn", Value: "user", Prefix: true, Limit: limit}, want...)
		}
		ms, next, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "cn", Value: "user", Prefix: true, Limit: 10})
		if err != nil || len(ms) != 10 || next == "" {
			t.Fatalf("first page of 10 of 25: %d matches, next %q, %v", len(ms), next, err)
		}
		if ms, next, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "cn", Value: "user", Prefix: true, Limit: 25}); err != nil || len(ms) != 25 || next != "" {
			t.Fatalf("a page of exactly all 25: %d matches, next %q, %v; want no next page", len(ms), next, err)
		}
		for _, bad := range []string{"not a cursor!", "_w"} {
			if _, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "cn", Value: "user", Prefix: true, After: bad}); !errors.Is(err, store.ErrBadSearchCursor) {
				t.Fatalf("SearchMV with a cursor it never returned (%q): %v, want store.ErrBadSearchCursor", bad, err)
			}
		}
	}},
	{"MaintainedByApply", func(t *testing.T, s store.Store) {
		putMV(t, s, people()...)
		q := store.MVQuery{Attr: "displayName", Value: "ada", Prefix: true}
		// A value changed, an object deleted, one put again unchanged,
		// one put twice in the batch (the last put counts).
		ada := person("mv-1", "person", model.Attrs{"displayName": model.Str("Augusta Ada King"), "userPrincipalName": model.Str("ada@example.org")})
		apply(t, s, &store.Batch{
			DeleteMV: []string{"mv-2"},
			PutMV: []*store.MVObject{ada, people()[2],
				person("mv-4", "contact", model.Attrs{"displayName": model.Str("Adalbert Stifter")}),
				person("mv-4", "contact", model.Attrs{"displayName": model.Str("Adalberta")})},
		})
		wantSearch(t, s, q, "mv-4=adalberta", "mv-3=adam smith")
		wantSearch(t, s, store.MVQuery{Attr: "displayName", Value: "augusta ada king"}, "mv-1=augusta ada king")
		wantSearch(t, s, store.MVQuery{Attr: "userPrincipalName", Value: "ada", Prefix: true}, "mv-1=ada@example.org")
		// Deleted and put again in one batch; an attribute removed.
		apply(t, s, &store.Batch{DeleteMV: []string{"mv-3", "mv-4"}, PutMV: []*store.MVObject{
			person("mv-3", "person", model.Attrs{"displayName": model.Str("Adam Smith")}),
			person("mv-1", "person", model.Attrs{"displayName": model.Str("Augusta Ada King")}),
		}})
		wantSearch(t, s, q, "mv-3=adam smith")
		wantSearch(t, s, store.MVQuery{Attr: "userPrincipalName", Value: "", Prefix: true})
	}},
	{"NotSearchable", func(t *testing.T, s store.Store) {
		putMV(t, s, people()...)
		_, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "department", Value: "codebreaking"})
		if !errors.Is(err, store.ErrNotSearchable) || !strings.Contains(err.Error(), "displayName") {
			t.Fatalf("SearchMV by an attribute not indexed: %v; want store.ErrNotSearchable naming the indexed ones", err)
		}
		if _, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "DisplayName", Value: "x"}); !errors.Is(err, store.ErrNotSearchable) {
			t.Fatalf("SearchMV by a misspelled attribute: %v; want store.ErrNotSearchable", err)
		}
	}},
	{"SetSearchAttrs", func(t *testing.T, s store.Store) {
		putMV(t, s, people()...)
		if err := s.SetSearchAttrs(t.Context(), []string{"displayName", "department", " ", "department"}); err != nil {
			t.Fatalf("SetSearchAttrs: %v", err)
		}
		if got, err := s.SearchAttrs(t.Context()); err != nil || !slices.Equal(got, []string{"department", "displayName"}) {
			t.Fatalf("SearchAttrs = %q, %v", got, err)
		}
		// Objects stored before are indexed by the new attribute.
		wantSearch(t, s, store.MVQuery{Attr: "department", Value: "CODE", Prefix: true}, "mv-6=codebreaking")
		if _, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "userPrincipalName", Value: "ada", Prefix: true}); !errors.Is(err, store.ErrNotSearchable) {
			t.Fatalf("SearchMV by an attribute no longer indexed: %v", err)
		}
		// Objects put from now on are indexed by the new set only.
		putMV(t, s, person("mv-8", "person", model.Attrs{"department": model.Str("Codebreaking"), "userPrincipalName": model.Str("ada@x")}))
		wantSearch(t, s, store.MVQuery{Attr: "department", Value: "codebreaking"}, "mv-6=codebreaking", "mv-8=codebreaking")
		// Back: userPrincipalName is indexed again from the stored objects, once.
		if err := s.SetSearchAttrs(t.Context(), []string{"userPrincipalName", "displayName"}); err != nil {
			t.Fatalf("SetSearchAttrs: %v", err)
		}
		if err := s.SetSearchAttrs(t.Context(), []string{"displayName", "userPrincipalName"}); err != nil {
			t.Fatalf("SetSearchAttrs again: %v", err)
		}
		wantSearch(t, s, store.MVQuery{Attr: "userPrincipalName", Value: "ada", Prefix: true}, "mv-1=ada@example.org", "mv-1=ada@lovelace.example", "mv-8=ada@x")
		if err := s.SetSearchAttrs(t.Context(), nil); err != nil {
			t.Fatalf("SetSearchAttrs(none): %v", err)
		}
		putMV(t, s, people()...)
		if _, _, err := s.SearchMV(t.Context(), store.MVQuery{Attr: "displayName", Value: "ada", Prefix: true}); !errors.Is(err, store.ErrNotSearchable) {
			t.Fatalf("SearchMV with nothing indexed: %v", err)
		}
	}},
}
