package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestLineage(t *testing.T) {
	hr := Contribution{Rule: "in-hr", Connector: "hr", CSID: "cs-1", Precedence: 10}
	ad := Contribution{Rule: "in-ad", Connector: "ad", CSID: "cs-2", Precedence: -1}
	m := map[string]Contribution{"sn": hr, "mail": ad, "givenName": hr, "upn": ad, "title": hr}
	tests := []struct {
		name  string
		build func() Lineage
	}{
		{"from a map", func() Lineage { return NewLineage(m) }},
		{"sorted adds", func() Lineage {
			var b LineageBuilder
			for _, n := range []string{"givenName", "mail", "sn", "title", "upn"} {
				b.Add(n, m[n])
			}
			return b.Lineage()
		}},
		{"unsorted adds with a replaced one", func() Lineage {
			var b LineageBuilder
			b.Add("upn", hr) // replaced below; hr stays used by others
			b.Add("title", hr)
			b.Add("mail", Contribution{Rule: "gone"}) // replaced: dropped
			b.Add("mail", ad)
			b.Add("upn", ad)
			b.Add("sn", hr)
			b.Add("givenName", hr)
			return b.Lineage()
		}},
	}
	want := NewLineage(m)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.build()
			if l.Len() != len(m) || !l.Equal(want) || !reflect.DeepEqual(l, want) {
				t.Fatalf("got %+v, want %+v", l, want)
			}
			if len(l.srcs) != 2 {
				t.Errorf("%d distinct contributions kept, want 2: %+v", len(l.srcs), l.srcs)
			}
			for n, c := range m {
				if got, ok := l.Get(n); !ok || got != c {
					t.Errorf("Get(%q) = %+v, %v; want %+v", n, got, ok, c)
				}
			}
			if _, ok := l.Get("cn"); ok {
				t.Error("Get of an absent attribute found one")
			}
			prev := ""
			for n := range l.All() {
				if n <= prev {
					t.Errorf("All: %q after %q", n, prev)
				}
				prev = n
			}
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			var back Lineage
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, l) {
				t.Errorf("JSON round trip: %s → %+v (%v)", b, back, err)
			}
			if !reflect.DeepEqual(back.Map(), m) {
				t.Errorf("Map() = %v", back.Map())
			}
		})
	}
	if (Lineage{}).Len() != 0 || !(Lineage{}).IsZero() || !NewLineage(nil).Equal(Lineage{}) {
		t.Error("the empty lineage")
	}
	if want.Equal(NewLineage(map[string]Contribution{"sn": hr})) {
		t.Error("lineages of different sizes are equal")
	}
	other := NewLineage(map[string]Contribution{"sn": hr, "mail": hr, "givenName": hr, "upn": ad, "title": hr})
	if want.Equal(other) {
		t.Error("lineages with a different contribution are equal")
	}
	// MVObject's JSON omits an empty lineage and writes a full one as an object.
	b, _ := json.Marshal(MVObject{ID: "x"})
	if string(b) != `{"id":"x","type":"","attrs":null,"modified":"0001-01-01T00:00:00Z"}` {
		t.Errorf("empty lineage in JSON: %s", b)
	}
	b, _ = json.Marshal(MVObject{ID: "x", Lineage: NewLineage(map[string]Contribution{"sn": hr})})
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(b, &raw)
	if string(raw["lineage"]) != `{"sn":{"rule":"in-hr","connector":"hr","csid":"cs-1","precedence":10}}` {
		t.Errorf("lineage in JSON: %s", raw["lineage"])
	}
}
