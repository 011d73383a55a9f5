package sample

import (
	"strings"
	"testing"
)

// TestNameLists checks what accountName relies on: folded names are
// distinct, short enough and free of dots.
func TestNameLists(t *testing.T) {
	for _, l := range []struct {
		name  string
		list  []string
		limit int
	}{{"first", firstNames, 8}, {"last", lastNames, 9}} {
		seen := map[string]string{}
		for _, n := range l.list {
			f := fold(n)
			if f == "" || len(f) > l.limit || strings.Contains(f, ".") {
				t.Errorf("%s name %q folds to %q: empty, longer than %d or with a dot", l.name, n, f, l.limit)
			}
			for _, r := range f {
				if (r < 'a' || r > 'z') && r != '-' {
					t.Errorf("%s name %q folds to %q: not plain ASCII", l.name, n, f)
				}
			}
			if prev, dup := seen[f]; dup {
				t.Errorf("%s names %q and %q both fold to %q", l.name, prev, n, f)
			}
			seen[f] = n
		}
	}
}

func TestAccountNameFallback(t *testing.T) {
	u := userRef{first: 0, last: 0, dup: 1}
	if got := accountName(u, "100001"); got != "james.smith" {
		t.Errorf("got %q", got)
	}
	u.dup = 7
	if got := accountName(u, "100001"); got != "james.smith7" {
		t.Errorf("got %q", got)
	}
	u.dup = 1000000000 // does not fit 20 characters
	if got := accountName(u, "100001"); got != "u100001" {
		t.Errorf("got %q", got)
	}
}
