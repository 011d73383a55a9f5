package file

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

// TestRecordRoundTrip: an object encoded for the image decodes to the same
// object, its anchor and DN readable without decoding the rest.
func TestRecordRoundTrip(t *testing.T) {
	many := model.Attrs{}
	for i := range 200 {
		v := model.Values{Type: model.Type(i % 4)}
		for j := range i % 3 {
			v.Values = append(v.Values, fmt.Sprint(j))
		}
		many[fmt.Sprintf("a%d", i)] = v
	}
	var tab attrTable // shared: later objects reuse the names of earlier ones
	for _, o := range []*model.Object{
		{Anchor: "a1", DN: "CN=Ann,DC=x", Type: "user", Attrs: model.Attrs{
			"cn": model.Str("Ann"), "mail": model.Str("ann@x", "a@x"),
			"objectGUID":         {Type: model.Binary, Values: []string{"\x00\xff\x80binary\n"}},
			"userAccountControl": {Type: model.Integer, Values: []string{"512"}},
			"member":             model.Ref("CN=B,DC=x"),
			"empty":              {Type: model.String},
		}},
		{Anchor: "only"},
		{Anchor: "no attributes", Attrs: model.Attrs{}},
		{Anchor: strings.Repeat("α", 300), DN: strings.Repeat("x", 70000), Attrs: model.Attrs{"long": model.Str(strings.Repeat("y", 1<<17))}},
		{Anchor: "many", Attrs: many},
		{Anchor: "a2", DN: "CN=Bob,DC=x", Attrs: model.Attrs{"cn": model.Str("Bob"), "a150": {Type: model.Binary, Values: []string{"x"}}}},
	} {
		rec := tab.encode(o)
		got, err := tab.decode(rec)
		if err != nil {
			t.Fatalf("decode %q: %v", o.Anchor, err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Errorf("round trip of %q:\n got %#v\nwant %#v", o.Anchor, got, o)
		}
		if a, dn := recordKeys(rec); a != o.Anchor || dn != o.DN {
			t.Errorf("recordKeys = %q, %q, want %q, %q", a, dn, o.Anchor, o.DN)
		}
		for _, cut := range []int{1, len(rec) / 2, len(rec) - 1} {
			if _, err := tab.decode(rec[:cut]); err == nil {
				t.Errorf("%q cut at %d decoded", o.Anchor, cut)
			}
		}
	}
}
