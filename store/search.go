package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/idsync/idsync/model"
)

// Metaverse search (Store.SearchMV): the store keeps, in the same
// transaction as the MV objects, an index of the folded values of a
// configured set of attributes (SetSearchAttrs), so that the console finds
// objects by exact value or by prefix without reading the metaverse.

// DefaultSearchAttrs are the attributes a store indexes for search until
// SetSearchAttrs says otherwise: the names people look identities up by,
// as the out-of-box rules name them in the metaverse.
var DefaultSearchAttrs = []string{
	"accountName", "cn", "displayName", "employeeID", "givenName", "mail",
	"mailNickname", "sAMAccountName", "sn", "sourceAnchor", "userPrincipalName",
}

// ErrNotSearchable is wrapped by SearchMV for an attribute that is not
// indexed for search.
var ErrNotSearchable = errors.New("attribute not indexed for search")

// ErrBadSearchCursor is wrapped by SearchMV for a cursor it did not
// return.
var ErrBadSearchCursor = errors.New("not a cursor a search returned")

// DefaultSearchLimit is the page size of SearchMV when MVQuery.Limit is 0;
// MaxSearchLimit is the largest page.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 1000
)

// MVQuery selects metaverse objects by a value of a searchable attribute.
type MVQuery struct {
	// Attr is the attribute, as named in the metaverse (exact spelling).
	Attr string
	// Value is compared with the attribute's values folded (SearchFold):
	// equal to it, or with Prefix starting with it. An empty Value with
	// Prefix lists every object that has the attribute.
	Value  string
	Prefix bool
	// Type keeps the objects of that MV object type ("" = any).
	Type string
	// Limit is the most matches returned (0: DefaultSearchLimit; at most
	// MaxSearchLimit).
	Limit int
	// After is the cursor SearchMV returned with the previous page (""
	// for the first page).
	After string
}

// PageSize is the query's page size, bounded.
func (q *MVQuery) PageSize() int {
	switch {
	case q.Limit <= 0:
		return DefaultSearchLimit
	case q.Limit > MaxSearchLimit:
		return MaxSearchLimit
	}
	return q.Limit
}

// MVMatch is one value of an object that a search matched. An object with
// several matching values (a multi-valued attribute) is matched once per
// value. Matches come in order of folded value, then object ID.
type MVMatch struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Value is the matched value, folded (SearchFold).
	Value string `json:"value"`
}

// SearchFold is how search values are compared: case-insensitively, as the
// store's keys fold (strings.ToLower, Unicode), cut at MaxKeyLen bytes.
func SearchFold(v string) string { return cutKey(strings.ToLower(v)) }

// PrefixEnd returns the smallest string greater than every string that
// starts with p, and false when there is none (p is empty or all 0xff
// bytes): the upper bound of a prefix range in byte order.
func PrefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// SearchCursor is the cursor of a page that ended at match m: the keyset
// (folded value, ID) the next page starts after.
func SearchCursor(m MVMatch) string {
	b := binary.AppendUvarint(nil, uint64(len(m.Value)))
	b = append(b, m.Value...)
	b = append(b, m.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseSearchCursor returns the keyset of a cursor made by SearchCursor.
func ParseSearchCursor(c string) (value, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", fmt.Errorf("search cursor %q: %w (%w)", c, ErrBadSearchCursor, err)
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", "", fmt.Errorf("search cursor %q: %w", c, ErrBadSearchCursor)
	}
	return string(b[k : k+int(n)]), string(b[k+int(n):]), nil
}

// SearchValues returns the rows a store's search index holds for an MV
// object: for each attribute of attrs it has, its distinct folded values
// (Binary attributes are not searched).
func SearchValues(m *MVObject, attrs map[string]bool) map[string][]string {
	var out map[string][]string
	for name := range attrs {
		v, ok := m.Attrs[name]
		if !ok || v.Type == model.Binary {
			continue
		}
		seen := map[string]bool{}
		for _, x := range v.Values {
			f := SearchFold(x)
			if !seen[f] {
				seen[f] = true
				if out == nil {
					out = map[string][]string{}
				}
				out[name] = append(out[name], f)
			}
		}
	}
	return out
}
