package file

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
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
	var tab attrTable
	for _, a := range objs {
		ra := tab.encode(a)
		if got := string(ks.of(0, ra)); got != want(a) {
			t.Errorf("sort key of %q = %q, want %q", a.DN, got, want(a))
		}
		for _, b := range objs {
			rb := tab.encode(b)
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

// TestDNIndexClashes: with hashes cut to no bits or two, so that most keys
// clash, adds, renames and deletes (by anchor and by DN) find and refuse
// objects by anchor and by DN as indexes of the keys themselves would.
func TestDNIndexClashes(t *testing.T) {
	for _, mask := range []uint64{0, 3, ^uint64(0)} {
		img := newImage(testSettings(t, Config{Anchor: "uid"}))
		img.hashMask = mask
		rng := rand.New(rand.NewPCG(1, mask))
		dn := func() string {
			i := rng.IntN(40)
			switch rng.IntN(3) {
			case 0:
				return fmt.Sprintf("CN=User %d,DC=X", i)
			case 1:
				return fmt.Sprintf("cn=user %d,dc=x", i)
			}
			if i == 7 {
				return "cn=user \u212A,dc=x" // the Kelvin sign: dnKey makes it "k"
			}
			return fmt.Sprintf("Cn=User %d,Dc=x", i)
		}
		ref := map[string]string{}  // dnKey → anchor
		dnOf := map[string]string{} // anchor → dnKey
		for step := range 3000 {
			a := fmt.Sprintf("a%d", rng.IntN(30))
			d := dn()
			var op connector.ExportOp
			var ok bool
			switch rng.IntN(4) {
			case 0, 1:
				op = connector.ExportOp{Op: connector.OpAdd, Anchor: a, DN: d, Changes: []connector.AttrChange{replace("objectClass", "user")}}
				_, taken := ref[dnKey(d)]
				_, exists := dnOf[a]
				ok = !taken && !exists
				if ok {
					ref[dnKey(d)], dnOf[a] = a, dnKey(d)
				}
			case 2:
				op = connector.ExportOp{Op: connector.OpRename, Anchor: a, NewDN: d}
				owner, taken := ref[dnKey(d)]
				old, exists := dnOf[a]
				ok = exists && (!taken || owner == a)
				if ok {
					delete(ref, old)
					ref[dnKey(d)], dnOf[a] = a, dnKey(d)
				}
			case 3:
				op = connector.ExportOp{Op: connector.OpDelete, DN: d}
				owner, exists := ref[dnKey(d)]
				ok = exists
				if ok {
					delete(ref, dnKey(d))
					delete(dnOf, owner)
				}
			}
			if _, err := img.apply(op); (err == nil) != ok {
				t.Fatalf("mask %x step %d: %s %q %q: %v, want success %v", mask, step, op.Op, a, d, err, ok)
			}
			if img.len() != len(dnOf) || img.byDN.n != len(ref) {
				t.Fatalf("mask %x step %d: %d objects, %d DNs, want %d, %d", mask, step, img.len(), img.byDN.n, len(dnOf), len(ref))
			}
			for a := range dnOf {
				if img.anchorOf(a) != a {
					t.Fatalf("mask %x step %d: %q not found", mask, step, a)
				}
			}
			for k, want := range ref {
				if got, found := img.lookupDN(strings.ToUpper(k)); !found || img.anchorOf(got) != want {
					t.Fatalf("mask %x step %d: %q finds %q (%v), want %q", mask, step, k, got, found, want)
				}
			}
		}
	}
}

// TestLDIFFromRecords: LDIF written from an image's records is what
// writeLDIF writes for the decoded objects, and a name LDIF cannot hold
// fails it the same way.
func TestLDIFFromRecords(t *testing.T) {
	objs := []*model.Object{
		{Anchor: "1", DN: "CN=Ann,DC=x", Type: "user", Attrs: model.Attrs{
			"sn": model.Str("Ann"), "objectclass": model.Str("top"), "objectClass": model.Str("person", "user"),
			"cn": model.Str(" lead", "trail ", "ü", ""), "objectGUID": {Type: model.Binary, Values: []string{"\x00\x01"}},
			"description": model.Str(strings.Repeat("long ", 40)), "empty": {Type: model.String},
		}},
		{Anchor: "2", DN: "CN=Bob,DC=x"},
		{Anchor: "3", DN: "CN=Cy,DC=x", Attrs: model.Attrs{}},
		{Anchor: "4", DN: "CN=Dee,DC=x", Attrs: model.Attrs{"a": model.Str("1"), "Member": model.Ref("CN=Ann,DC=x")}},
	}
	var tab attrTable
	var recs []string
	for _, o := range objs {
		recs = append(recs, tab.encode(o))
	}
	var want, got bytes.Buffer
	if err := writeLDIF(&want, slices.Values(objs)); err != nil {
		t.Fatal(err)
	}
	if err := writeLDIFRecords(&got, &tab, recs); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("from records:\n%s\nfrom objects:\n%s", got.String(), want.String())
	}
	bad := &model.Object{Anchor: "5", DN: "CN=Eve,DC=x", Attrs: model.Attrs{"cn": model.Str("Eve"), "x;binary": model.Str("1")}}
	errObj := writeLDIF(&bytes.Buffer{}, slices.Values([]*model.Object{bad}))
	errRec := writeLDIFRecords(&bytes.Buffer{}, &tab, []string{tab.encode(bad)})
	if errObj == nil || errRec == nil || errObj.Error() != errRec.Error() {
		t.Errorf("a name LDIF cannot hold: %v from records, %v from objects", errRec, errObj)
	}
}
