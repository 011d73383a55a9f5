package model

import (
	"encoding/json"
	"testing"
)

func TestValuesEqualIgnoresOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b Values
		want bool
	}{
		{Str("a", "b"), Str("b", "a"), true},
		{Str("a"), Str("a"), true},
		{Str("a"), Str("A"), false},
		{Str("a", "a"), Str("a"), false},
		{Str(), Values{}, true},
		{Ref("cn=x"), Ref("cn=x", "cn=y"), false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	a := Attrs{"mail": Str("a@x"), "member": Ref("1", "2")}
	b := Attrs{"member": Ref("2", "1"), "mail": Str("a@x")}
	if !a.Equal(b) || a.Equal(Attrs{"mail": Str("a@x")}) {
		t.Error("Attrs.Equal")
	}
	c := a.Clone()
	c["member"].Values[0] = "changed"
	if a["member"].Values[0] != "1" {
		t.Error("Clone shares values with the original")
	}
}

func TestTypeNames(t *testing.T) {
	for _, name := range []string{"string", "binary", "integer", "boolean", "datetime", "reference"} {
		typ, err := ParseType(name)
		if err != nil || typ.String() != name {
			t.Errorf("ParseType(%q) = %v, %v", name, typ, err)
		}
	}
	if _, err := ParseType("blob"); err == nil {
		t.Error("ParseType accepted an unknown type")
	}
	data, err := json.Marshal(Values{Type: Reference, Values: []string{"cn=a"}})
	if err != nil || string(data) != `{"t":"reference","v":["cn=a"]}` {
		t.Fatalf("JSON = %s, %v", data, err)
	}
	var v Values
	if err := json.Unmarshal(data, &v); err != nil || v.Type != Reference {
		t.Fatalf("round trip: %+v, %v", v, err)
	}
}

func TestEscapeDNValue(t *testing.T) {
	for in, want := range map[string]string{
		"Smith, John":  `Smith\, John`,
		"#lead":        `\#lead`,
		" padded ":     `\ padded\ `,
		`a+b="c"<d>;e`: `a\+b\=\"c\"\<d\>\;e`,
		"nul\x00":      `nul\00`,
		"plain":        "plain",
		"":             "",
	} {
		if got := EscapeDNValue(in); got != want {
			t.Errorf("EscapeDNValue(%q) = %q, want %q", in, got, want)
		}
	}
}
