// Package search is the part of the metaverse search index (store.SearchMV)
// that the store backends share: the rows of an object, whether an object's
// stored rows are its current ones, the set of indexed attributes asked
// for, and SearchMV's page and error. How the rows are stored and queried
// is each backend's own (mv_search in both, mv_search_of in sqlite).
package search

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
)

// Row is a row of mv_search: an attribute, one of its folded values, and
// the ID of the MV object that has it.
type Row struct{ Attr, Value, ID string }

// AppendRows appends the rows of object o for the attributes attrs to out.
func AppendRows(out []Row, o *store.MVObject, attrs map[string]bool) []Row {
	for attr, vals := range store.SearchValues(o, attrs) {
		for _, v := range vals {
			out = append(out, Row{attr, v, o.ID})
		}
	}
	return out
}

// Same reports whether an object's stored rows are exactly rows (both
// without duplicates, in any order).
func Same(had, rows []Row) bool {
	if len(had) != len(rows) {
		return false
	}
	set := make(map[Row]bool, len(had))
	for _, r := range had {
		set[r] = true
	}
	for _, r := range rows {
		if !set[r] {
			return false
		}
	}
	return true
}

// AttrSet is the set of attributes SetSearchAttrs is asked to index: the
// names trimmed, the empty ones left out.
func AttrSet(attrs []string) map[string]bool {
	want := map[string]bool{}
	for _, a := range attrs {
		if a = strings.TrimSpace(a); a != "" {
			want[a] = true
		}
	}
	return want
}

// Page cuts SearchMV's matches, read up to limit+1, to a page of limit and
// returns the cursor of the next page ("" when this one is the last).
func Page(out []store.MVMatch, limit int) ([]store.MVMatch, string) {
	if len(out) <= limit {
		return out, ""
	}
	out = out[:limit]
	return out, store.SearchCursor(out[limit-1])
}

// NotSearchable is SearchMV's error for an attribute that is not indexed:
// it lists those that are.
func NotSearchable(attr string, attrs map[string]bool) error {
	list := "none"
	if len(attrs) > 0 {
		list = strings.Join(slices.Sorted(maps.Keys(attrs)), ", ")
	}
	return fmt.Errorf("search the metaverse by %q: %w (indexed: %s; store.searchAttributes sets them)", attr, store.ErrNotSearchable, list)
}
