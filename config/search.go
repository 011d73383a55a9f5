package config

import (
	"fmt"
	"strings"

	"github.com/idsync/idsync/store"
)

// maxSearchAttributes bounds store.searchAttributes: each attribute adds a
// row per value of every metaverse object to the store's search index,
// written with the objects.
const maxSearchAttributes = 32

// SearchAttrs returns the metaverse attributes the store indexes for
// search: store.searchAttributes, or store.DefaultSearchAttrs when unset.
func (s StoreConfig) SearchAttrs() []string {
	if s.SearchAttributes == nil {
		return store.DefaultSearchAttrs
	}
	return s.SearchAttributes
}

// validateSearch checks store.searchAttributes.
func (c *Config) validateSearch() []error {
	var errs []error
	seen := map[string]bool{}
	secret := map[string]bool{}
	for _, a := range c.Security.SecretAttributes {
		secret[strings.ToLower(a)] = true
	}
	if n := len(c.Store.SearchAttributes); n > maxSearchAttributes {
		errs = append(errs, fmt.Errorf("store.searchAttributes lists %d attributes, at most %d: each is written to the search index with every metaverse object", n, maxSearchAttributes))
	}
	for i, a := range c.Store.SearchAttributes {
		switch {
		case a == "" || strings.TrimSpace(a) != a || strings.ContainsAny(a, " \t\n"):
			errs = append(errs, fmt.Errorf("store.searchAttributes[%d] %q: an attribute name, without spaces", i, a))
		case seen[a]:
			errs = append(errs, fmt.Errorf("store.searchAttributes lists %q twice", a))
		case secret[strings.ToLower(a)]:
			errs = append(errs, fmt.Errorf("store.searchAttributes lists %q, a secret attribute (security.secretAttributes): its values are sealed in the store and cannot be searched", a))
		}
		seen[a] = true
	}
	return errs
}
