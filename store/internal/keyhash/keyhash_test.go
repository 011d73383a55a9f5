package keyhash

import (
	"slices"
	"testing"
)

func TestGroup(t *testing.T) {
	// Stores hold these hashes: the function must never change.
	if got := Of("ad", "k"); got != -3933724383558787879 {
		t.Fatalf(`Of("ad", "k") = %d: the stored form of keys changed, and every store's keys with it`, got)
	}
	if Of("ad", "k") == Of("hr", "k") {
		t.Fatal("a key's hash must depend on its space")
	}
	hashes, byHash := Group("ad", []string{"b", "a", "b", "c", "a"})
	want := []int64{Of("ad", "b"), Of("ad", "a"), Of("ad", "c")}
	if !slices.Equal(hashes, want) {
		t.Errorf("hashes = %v, want %v", hashes, want)
	}
	for _, k := range []string{"a", "b", "c"} {
		if got := byHash[Of("ad", k)]; !slices.Equal(got, []string{k}) {
			t.Errorf("byHash[%s] = %v", k, got)
		}
	}
	if h, m := Group("ad", nil); len(h) != 0 || len(m) != 0 {
		t.Errorf("Group(nil) = %v, %v", h, m)
	}
}
