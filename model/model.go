// Package model defines idsync's data model: objects with an anchor, a DN, an
// object type and typed, multi-valued attributes. Connector spaces and the
// metaverse both hold objects of this shape.
package model

import (
	"fmt"
	"slices"
	"sort"
)

// Type is the type of an attribute's values.
type Type uint8

// Attribute types. Values are always held as strings in their canonical text
// form, except Binary whose string holds the raw bytes:
//   - String: the text.
//   - Binary: raw bytes (objectGUID, objectSid …), in the source system's byte order.
//   - Integer: base-10, e.g. "512", "-1".
//   - Boolean: "true" or "false".
//   - DateTime: RFC 3339 in UTC, e.g. "2026-11-23T10:00:00Z".
//   - Reference: the identifier of another object of the same space: a DN in a
//     connector space whose connector has DNs, else its anchor; an MV object ID
//     in the metaverse.
const (
	String Type = iota
	Binary
	Integer
	Boolean
	DateTime
	Reference
)

var typeNames = [...]string{"string", "binary", "integer", "boolean", "datetime", "reference"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", t)
}

// ParseType parses a type name as written in configuration and schemas.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), nil
		}
	}
	switch s {
	case "str", "":
		return String, nil
	case "bin":
		return Binary, nil
	case "int", "num", "number":
		return Integer, nil
	case "bool":
		return Boolean, nil
	case "dt", "date":
		return DateTime, nil
	case "ref":
		return Reference, nil
	}
	return String, fmt.Errorf("unknown attribute type %q (want one of %v)", s, typeNames)
}

// Values is one attribute: its type and its values. An attribute with no
// values is absent.
type Values struct {
	Type   Type     `json:"t,omitempty"`
	Values []string `json:"v"`
}

// Attrs maps attribute names to their values. Names are case-sensitive.
type Attrs map[string]Values

// Object is one object of a connector space or of the metaverse.
type Object struct {
	Anchor string `json:"anchor"`
	DN     string `json:"dn,omitempty"`
	Type   string `json:"type"`
	Attrs  Attrs  `json:"attrs"`
}

// Str returns v as a single-valued string attribute.
func Str(v ...string) Values { return Values{Type: String, Values: v} }

// Ref returns v as a reference attribute.
func Ref(v ...string) Values { return Values{Type: Reference, Values: v} }

// First returns the first value of name, or "" when absent.
func (a Attrs) First(name string) string {
	if v, ok := a[name]; ok && len(v.Values) > 0 {
		return v.Values[0]
	}
	return ""
}

// Has reports whether name has at least one value.
func (a Attrs) Has(name string) bool { return len(a[name].Values) > 0 }

// Set sets name to v, or removes it when v has no values.
func (a Attrs) Set(name string, v Values) {
	if len(v.Values) == 0 {
		delete(a, name)
		return
	}
	a[name] = v
}

// Clone returns a deep copy.
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	c := make(Attrs, len(a))
	for k, v := range a {
		c[k] = Values{Type: v.Type, Values: slices.Clone(v.Values)}
	}
	return c
}

// Names returns the attribute names in sorted order.
func (a Attrs) Names() []string {
	n := make([]string, 0, len(a))
	for k := range a {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Equal reports whether two attributes hold the same values, ignoring the
// order of values (attributes are sets).
func (v Values) Equal(o Values) bool {
	if len(v.Values) != len(o.Values) {
		return false
	}
	if len(v.Values) == 1 {
		return v.Values[0] == o.Values[0]
	}
	a := slices.Clone(v.Values)
	b := slices.Clone(o.Values)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Sorted returns a copy of the values in sorted order.
func (v Values) Sorted() Values {
	c := Values{Type: v.Type, Values: slices.Clone(v.Values)}
	slices.Sort(c.Values)
	return c
}

// Equal reports whether two attribute sets are equal (values compared as sets).
func (a Attrs) Equal(b Attrs) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of the object.
func (o *Object) Clone() *Object {
	c := *o
	c.Attrs = o.Attrs.Clone()
	return &c
}

// MarshalText writes the type's name ("string", "reference" …).
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a type name.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
