package ldap

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/model"
)

// fromLDAP converts one LDAP value to the canonical text of its model type.
func fromLDAP(t model.Type, raw []byte) (string, error) {
	switch t {
	case model.Binary:
		return string(raw), nil
	case model.Boolean:
		switch strings.ToUpper(string(raw)) {
		case "TRUE":
			return "true", nil
		case "FALSE":
			return "false", nil
		}
		return "", fmt.Errorf("%q is not an LDAP boolean (TRUE or FALSE)", raw)
	case model.Integer:
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			return "", fmt.Errorf("%q is not an integer", raw)
		}
		return string(raw), nil
	case model.DateTime:
		ts, err := parseLDAPTime(string(raw))
		if err != nil {
			return "", err
		}
		return ts.UTC().Format(time.RFC3339), nil
	}
	return string(raw), nil
}

// parseLDAPTime parses GeneralizedTime (RFC 4517: "20261123100000Z",
// "20261123100000.0Z", "202611231000+0100") and AD's UTCTime
// ("261123100000Z").
func parseLDAPTime(s string) (time.Time, error) {
	v := s
	// Drop a fraction: idsync keeps seconds.
	if i := strings.IndexAny(v, ".,"); i >= 0 {
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		v = v[:i] + v[j:]
	}
	for _, layout := range []string{"20060102150405Z0700", "200601021504Z0700", "2006010215Z0700", "060102150405Z0700", "0601021504Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an LDAP time (GeneralizedTime such as 20261123100000Z)", s)
}

// toLDAP converts a canonical model value to its LDAP form.
func toLDAP(t model.Type, v string) (string, error) {
	switch t {
	case model.Boolean:
		switch v {
		case "true":
			return "TRUE", nil
		case "false":
			return "FALSE", nil
		}
		return "", fmt.Errorf("%q is not a boolean", v)
	case model.Integer:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "", fmt.Errorf("%q is not an integer", v)
		}
	case model.DateTime:
		ts, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return "", fmt.Errorf("%q is not an RFC 3339 time", v)
		}
		return ts.UTC().Format("20060102150405.0Z"), nil
	}
	return v, nil
}

// entryToObject converts a search result entry. The anchor attribute is
// required; binary anchors (objectGUID) are base64, as everywhere in idsync.
func (c *Connector) entryToObject(sc *dirSchema, spell map[string]string, e *ldap.Entry, typ string) (*model.Object, error) {
	o := &model.Object{DN: canonicalDN(e.DN), Type: typ, Attrs: make(model.Attrs, len(e.Attributes))}
	for _, a := range e.Attributes {
		name := a.Name
		if i := strings.IndexByte(name, ';'); i >= 0 {
			name = name[:i] // a range option left over: the values were merged
		}
		if isWriteOnly(name) {
			continue // never imported, whatever the server sends
		}
		if strings.EqualFold(name, c.s.Anchor) {
			if len(a.ByteValues) != 1 || len(a.ByteValues[0]) == 0 {
				return o, fmt.Errorf("the anchor attribute %s must have exactly one non-empty value, it has %d", c.s.Anchor, len(a.ByteValues))
			}
			if c.attrType(sc, name) == model.Binary {
				o.Anchor = base64.StdEncoding.EncodeToString(a.ByteValues[0])
			} else {
				o.Anchor = string(a.ByteValues[0])
			}
		}
		if d, ok := sc.attrs[strings.ToLower(name)]; ok {
			name = d.name // the schema's spelling, whatever the server sent
			if req, ok := spell[d.key]; ok {
				name = req // or the alias the rules asked for
			}
		}
		t := c.attrType(sc, name)
		vals := make([]string, 0, len(a.ByteValues))
		for _, raw := range a.ByteValues {
			v, err := fromLDAP(t, raw)
			if err != nil {
				return o, fmt.Errorf("attribute %s: %w", name, err)
			}
			if t == model.Reference {
				v = canonicalDN(v)
			}
			vals = append(vals, v)
		}
		if prev, ok := o.Attrs[name]; ok {
			vals = append(prev.Values, vals...)
		}
		o.Attrs[name] = model.Values{Type: t, Values: vals}
	}
	if o.Anchor == "" {
		return o, fmt.Errorf("no value for the anchor attribute %s", c.s.Anchor)
	}
	return o, nil
}

// objectType returns the idsync object type of an entry from its object
// classes: the first configured mapping the entry has wins. "" means the
// entry is not of a configured type.
func (c *Connector) objectType(classes []string) string {
	for _, x := range c.s.ExcludeClasses {
		for _, oc := range classes {
			if strings.EqualFold(oc, x) {
				return ""
			}
		}
	}
	for _, m := range c.s.ObjectTypes {
		for _, oc := range classes {
			if strings.EqualFold(oc, m.ObjectClass) {
				return m.Type
			}
		}
	}
	return ""
}

// classFilter is the search filter for the configured object types (those of
// req, when it names some), AND the configured filter.
func (c *Connector) classFilter(types []string) string {
	var b strings.Builder
	b.WriteString("(&(|")
	for _, m := range c.s.ObjectTypes {
		if len(types) > 0 && !slices.Contains(types, m.Type) {
			continue
		}
		b.WriteString("(objectClass=" + ldap.EscapeFilter(m.ObjectClass) + ")")
	}
	b.WriteString(")")
	for _, x := range c.s.ExcludeClasses {
		b.WriteString("(!(objectClass=" + ldap.EscapeFilter(x) + "))")
	}
	if c.s.Filter != "" {
		f, _ := compileFilter(c.s.Filter)
		b.WriteString(f)
	}
	b.WriteString(")")
	return b.String()
}
