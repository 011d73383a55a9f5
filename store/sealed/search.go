package sealed

import (
	"context"
	"fmt"

	"github.com/idsync/idsync/store"
)

// The metaverse search index holds values as the wrapped store keeps them:
// a secret attribute's would be sealed text, which no search can match and
// which has no place in an index. So secret attributes are never indexed,
// and a search by one is refused.

// SetSearchAttrs sets the attributes indexed for search, less the secret
// ones.
func (s *Store) SetSearchAttrs(ctx context.Context, attrs []string) error {
	var keep []string
	for _, a := range attrs {
		if !s.o.Policy.IsSecret(a) {
			keep = append(keep, a)
		}
	}
	if keep == nil {
		keep = []string{}
	}
	return s.Store.SetSearchAttrs(ctx, keep)
}

// SearchMV refuses a secret attribute (store.ErrNotSearchable), and
// otherwise is the wrapped store's: the values it returns are of attributes
// that are not secret.
func (s *Store) SearchMV(ctx context.Context, q store.MVQuery) ([]store.MVMatch, string, error) {
	if s.o.Policy.IsSecret(q.Attr) {
		return nil, "", fmt.Errorf("search the metaverse by %q: %w: it is a secret attribute, sealed in the store", q.Attr, store.ErrNotSearchable)
	}
	return s.Store.SearchMV(ctx, q)
}
