package file

import (
	"testing"

	"github.com/idsync/idsync/model"
)

// TestSortKeys: the sort keys built as records are compared are those the
// rewrite always sorted by, for DNs with escapes, quotes, spaces, empty
// RDNs and non-ASCII letters, and for objects without DN.
func TestSortKeys(t *testing.T) {
	want := func(o *model.Object) string {
		if o.DN == "" {
			return "\x01" + o.Anchor
		}
		return "\x00" + dnSortKey(o.DN) + "\x00\x00" + o.DN
	}
	var objs []*model.Object
	for i, dn := range []string{
		"", "CN=Ann,OU=Users,DC=x", "cn=ann,ou=users,dc=x", "CN=Ann , OU=Users ,DC=x", "OU=Users,DC=x", "DC=x",
		`CN=Smith\, John,OU=Users,DC=x`, `CN="Smith, John",OU=Users;DC=x`, "CN=Ann,,DC=x", ",", "CN=Ann\\",
		"CN=Émile,OU=Users,DC=x", "CN=\u212Aelvin,DC=x", "CN=kelvin,DC=x", "cn=a\x00b,dc=x", "CN=A\tB ,\tDC=X",
	} {
		objs = append(objs, &model.Object{Anchor: string(rune('a' + i)), DN: dn})
	}
	var ks sortKeys
	for _, a := range objs {
		ra := encodeObject(a)
		if got := string(ks.of(0, ra)); got != want(a) {
			t.Errorf("sort key of %q = %q, want %q", a.DN, got, want(a))
		}
		for _, b := range objs {
			rb := encodeObject(b)
			wa, wb := want(a), want(b)
			exp := 0
			if wa < wb {
				exp = -1
			} else if wa > wb {
				exp = 1
			}
			if got := ks.compare(ra, rb); got != exp {
				t.Errorf("compare(%q, %q) = %d, want %d", a.DN, b.DN, got, exp)
			}
		}
	}
}
