package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/store"
)

func TestSearchAttributes(t *testing.T) {
	var many []string
	for i := range maxSearchAttributes + 1 {
		many = append(many, fmt.Sprint("a", i))
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string // the attributes, when valid
		err        string
	}{
		{"unset: the defaults", "dataDir: x\n", store.DefaultSearchAttrs, ""},
		{"set", "store:\n  searchAttributes: [mail, department]\n", []string{"mail", "department"}, ""},
		{"empty: none", "store:\n  searchAttributes: []\n", []string{}, ""},
		{"blank", "store:\n  searchAttributes: [mail, \" \"]\n", nil, `store.searchAttributes[1] " ": an attribute name`},
		{"twice", "store:\n  searchAttributes: [mail, mail]\n", nil, `store.searchAttributes lists "mail" twice`},
		{"secret", "store:\n  searchAttributes: [badgePin]\nsecurity:\n  secretAttributes: [BadgePin]\n", nil, `"badgePin", a secret attribute`},
		{"too many", "store:\n  searchAttributes: [" + strings.Join(many, ", ") + "]\n", nil, "at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Store.SearchAttrs(); !slices.Equal(got, tc.want) {
				t.Fatalf("SearchAttrs = %q, want %q", got, tc.want)
			}
		})
	}
}
