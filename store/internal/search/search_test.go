package search

import (
	"errors"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// The search index's behaviour is the store conformance group Search, on
// both backends; these check the shared pieces alone.

func TestRowsAndSame(t *testing.T) {
	o := &store.MVObject{ID: "m1", Attrs: model.Attrs{"mail": model.Str("A@x", "a@X"), "cn": model.Str("Al"), "photo": {Type: model.Binary, Values: []string{"\xff"}}}}
	rows := AppendRows(nil, o, map[string]bool{"mail": true, "cn": true, "photo": true, "sn": true})
	want := []Row{{"cn", "al", "m1"}, {"mail", "a@x", "m1"}}
	if !Same(want, rows) || !Same(rows, []Row{want[1], want[0]}) {
		t.Fatalf("AppendRows = %v, want %v in any order", rows, want)
	}
	if Same(want[:1], rows) || Same([]Row{{"cn", "al", "m1"}, {"mail", "b@x", "m1"}}, rows) {
		t.Fatal("Same accepted other rows")
	}
}

func TestAttrSetPageError(t *testing.T) {
	if got := AttrSet([]string{" mail ", "", "cn", "mail"}); len(got) != 2 || !got["mail"] || !got["cn"] {
		t.Fatalf("AttrSet = %v", got)
	}
	ms := []store.MVMatch{{ID: "1", Value: "a"}, {ID: "2", Value: "b"}, {ID: "3", Value: "c"}}
	if out, next := Page(ms, 3); len(out) != 3 || next != "" {
		t.Fatalf("Page(3 of 3) = %v, %q", out, next)
	}
	if out, next := Page(ms, 2); len(out) != 2 || next != store.SearchCursor(ms[1]) {
		t.Fatalf("Page(2 of 3) = %v, %q", out, next)
	}
	err := NotSearchable("sn", map[string]bool{"mail": true, "cn": true})
	if !errors.Is(err, store.ErrNotSearchable) || !strings.Contains(err.Error(), "indexed: cn, mail") {
		t.Fatalf("NotSearchable = %v", err)
	}
}
