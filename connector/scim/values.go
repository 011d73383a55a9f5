package scim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
)

// toJSON converts an idsync value (canonical text) to the JSON value of a
// SCIM attribute of type leaf.Type.
func toJSON(leaf *attrDef, v string) (any, error) {
	switch strings.ToLower(leaf.Type) {
	case "boolean":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean (true or false)", v)
		}
		return b, nil
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v)
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	case "decimal":
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return nil, fmt.Errorf("%q is not a decimal number", v)
		}
		return json.Number(strings.TrimSpace(v)), nil
	case "binary":
		return base64.StdEncoding.EncodeToString([]byte(v)), nil
	case "datetime":
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 date-time", v)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// fromJSON converts a JSON scalar of a SCIM attribute (leaf may be nil when
// the schema does not describe it) to idsync's canonical text. ok is false
// for null and for values that are not scalars.
func fromJSON(leaf *attrDef, v any) (s string, ok bool) {
	typ := ""
	if leaf != nil {
		typ = strings.ToLower(leaf.Type)
	}
	switch x := v.(type) {
	case string:
		switch typ {
		case "binary":
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if b, err := enc.DecodeString(x); err == nil {
					return string(b), true
				}
			}
		case "datetime":
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC().Format(time.RFC3339Nano), true
			}
		case "boolean":
			if b, err := strconv.ParseBool(x); err == nil {
				return strconv.FormatBool(b), true
			}
		}
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return strconv.FormatInt(n, 10), true
		}
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// inferDef describes an attribute the schema does not, from its JSON value.
func inferDef(name string, v any) *attrDef {
	d := &attrDef{Name: name, Type: "string"}
	scalarType := func(v any) string {
		switch x := v.(type) {
		case bool:
			return "boolean"
		case json.Number:
			if _, err := x.Int64(); err == nil {
				return "integer"
			}
			return "decimal"
		}
		return "string"
	}
	subs := func(m map[string]any, into *attrDef) {
		for _, k := range sortedKeys(m) {
			if into.sub(k) == nil {
				into.SubAttributes = append(into.SubAttributes, &attrDef{Name: k, Type: scalarType(m[k])})
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		d.Type = "complex"
		subs(x, d)
	case []any:
		d.MultiValued = true
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				d.Type = "complex"
				subs(m, d)
			} else if e != nil {
				d.Type = scalarType(e)
			}
		}
	default:
		d.Type = scalarType(v)
	}
	return d
}

// attrs collects flattened attributes, without duplicate values.
type attrs struct {
	model.Attrs
	seen map[string]map[string]struct{}
}

func newAttrs() attrs { return attrs{model.Attrs{}, map[string]map[string]struct{}{}} }

func (a attrs) add(name string, typ model.Type, v string) {
	s := a.seen[name]
	if s == nil {
		s = map[string]struct{}{}
		a.seen[name] = s
	}
	if _, dup := s[v]; dup {
		return
	}
	s[v] = struct{}{}
	cur := a.Attrs[name]
	cur.Type = typ
	cur.Values = append(cur.Values, v)
	a.Attrs[name] = cur
}

// flatten maps a SCIM resource to idsync attributes (see the package
// documentation for the names).
func (m *mapper) flatten(res map[string]any) model.Attrs {
	out := newAttrs()
	for _, k := range sortedKeys(res) {
		v := res[k]
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
			continue
		case "externalid":
			if s, ok := fromJSON(nil, v); ok && s != "" {
				out.add("externalId", model.String, s)
			}
			continue
		}
		if obj, ok := v.(map[string]any); ok && len(k) > 4 && strings.EqualFold(k[:4], "urn:") {
			s := m.schema(k)
			urn := k
			if s == m.core {
				urn = ""
			} else if s != nil {
				urn = s.ID
			}
			for _, sk := range sortedKeys(obj) {
				var def *attrDef
				if s != nil {
					def = s.attr(sk)
				}
				m.flattenAttr(out, urn, def, sk, obj[sk])
			}
			continue
		}
		m.flattenAttr(out, "", m.core.attr(k), k, v)
	}
	return out.Attrs
}

// flattenAttr adds the values of one top-level attribute.
func (m *mapper) flattenAttr(out attrs, urn string, def *attrDef, key string, v any) {
	if v == nil {
		return
	}
	if def == nil {
		def = inferDef(key, v)
	}
	p := Path{URN: urn, Attr: def.Name}
	valueType := func(a *attrDef) model.Type {
		if r := a.sub("$ref"); r != nil && r.isResourceRef() {
			return model.Reference
		}
		if vs := a.sub("value"); vs != nil {
			return modelType(vs)
		}
		return model.String
	}
	sub := func(name string, sv any) *attrDef {
		if d := def.sub(name); d != nil {
			return d
		}
		return inferDef(name, sv)
	}
	switch shapeOf(def) {
	case shapeSimple:
		for _, e := range asList(v) {
			if s, ok := fromJSON(def, e); ok {
				out.add(p.String(), modelType(def), s)
			}
		}
	case shapeSub:
		obj, _ := v.(map[string]any)
		for _, sk := range sortedKeys(obj) {
			sd := sub(sk, obj[sk])
			if s, ok := fromJSON(sd, obj[sk]); ok {
				p.Sub = sd.Name
				out.add(p.String(), modelType(sd), s)
			}
		}
	case shapeCollapsed:
		if obj, ok := v.(map[string]any); ok {
			if s, ok := fromJSON(def.sub("value"), obj["value"]); ok && s != "" {
				out.add(p.String(), valueType(def), s)
			}
		}
	case shapeList:
		for _, e := range asList(v) {
			if obj, ok := e.(map[string]any); ok {
				if s, ok := fromJSON(def.sub("value"), obj["value"]); ok && s != "" {
					out.add(p.String(), valueType(def), s)
				}
			}
		}
	case shapeKeyed:
		typ := def.sub("type")
		for _, e := range asList(v) {
			obj, ok := e.(map[string]any)
			if !ok {
				continue
			}
			q := p
			if t, _ := obj["type"].(string); t != "" {
				q.FilterAttr, q.FilterValue = "type", t
				if typ != nil {
					q.FilterAttr = typ.Name
				}
			}
			for _, sk := range sortedKeys(obj) {
				if strings.EqualFold(sk, "type") {
					continue
				}
				sd := sub(sk, obj[sk])
				if s, ok := fromJSON(sd, obj[sk]); ok {
					q.Sub = sd.Name
					out.add(q.String(), modelType(sd), s)
				}
			}
		}
	}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// filterLiteral renders a value for a filter comparison with leaf.
func filterLiteral(leaf *attrDef, v string) (string, error) {
	switch strings.ToLower(leaf.Type) {
	case "boolean", "integer", "decimal":
		j, err := toJSON(leaf, v)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(j), nil
	case "binary":
		return Quote(base64.StdEncoding.EncodeToString([]byte(v))), nil
	}
	return Quote(v), nil
}

// filterFor is the filter expression matching resources whose flat
// attribute t has the value v.
func filterFor(t *target, v string) (string, error) {
	lit, err := filterLiteral(t.leaf, v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.name, err)
	}
	switch t.shape {
	case shapeCollapsed, shapeList:
		p := t.path
		p.Sub = "value"
		return p.String() + " eq " + lit, nil
	case shapeKeyed:
		p := t.path
		p.FilterAttr, p.Sub = "", ""
		return fmt.Sprintf("%s[%s eq %s and %s eq %s]", p.String(), t.path.FilterAttr, Quote(t.path.FilterValue), t.path.Sub, lit), nil
	}
	return t.path.String() + " eq " + lit, nil
}
