package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

// noScan is a store whose ScanMV fails: a search that reads the whole
// metaverse fails with it.
type noScan struct{ store.Store }

var errScanned = errors.New("the whole metaverse was read")

func (noScan) ScanMV(context.Context, func(*store.MVObject) error) error { return errScanned }

// TestMVSearchThroughIndex: idsync mv search finds through the search index
// what a scan of the metaverse finds, when a condition is an exact value or
// a prefix on an indexed attribute, and reads the whole metaverse otherwise.
func TestMVSearchThroughIndex(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b store.Batch
	for i := range 1500 { // more than one page of the index
		b.PutMV = append(b.PutMV, &store.MVObject{ID: fmt.Sprintf("mv-%04d", i), Type: []string{"person", "group"}[i%2],
			Attrs: model.Attrs{"displayName": model.Str(fmt.Sprintf("User %d", i), fmt.Sprintf("Alias %d", i%7)),
				"department": model.Str([]string{"Sales", "IT", "HR"}[i%3])}})
	}
	if err := st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	collect := func(s store.Store, typ string, conds map[string]string) ([]string, error) {
		var ids []string
		err := scanMVFor(ctx, s, typ, conds, func(m *store.MVObject) error {
			if typ != "" && m.Type != typ {
				return nil
			}
			for k, v := range conds {
				if !anyMatch(m.Attrs[k].Values, v) {
					return nil
				}
			}
			ids = append(ids, m.ID)
			return nil
		})
		slices.Sort(ids)
		return ids, err
	}
	for _, tc := range []struct {
		typ     string
		conds   map[string]string
		indexed bool
	}{
		{"", map[string]string{"displayName": "user 12*"}, true},
		{"", map[string]string{"displayName": "user*"}, true}, // 1,500: two pages
		{"person", map[string]string{"displayName": "user 12*", "department": "sales"}, true},
		{"", map[string]string{"displayName": "alias 3"}, true},
		{"", map[string]string{"displayName": "*3"}, false},
		{"", map[string]string{"department": "it"}, false},
	} {
		t.Run(fmt.Sprint(tc.typ, tc.conds), func(t *testing.T) {
			want, err := collect(st, tc.typ, tc.conds)
			if err != nil {
				t.Fatal(err)
			}
			got, err := collect(noScan{st}, tc.typ, tc.conds)
			if !tc.indexed {
				if !errors.Is(err, errScanned) {
					t.Fatalf("a condition no index answers did not read the metaverse: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("through the index: %v", err)
			}
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("through the index %d objects, by a scan %d", len(got), len(want))
			}
		})
	}
}
