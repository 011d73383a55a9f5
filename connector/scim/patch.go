package scim

import (
	"fmt"
	"strings"

	"github.com/idsync/idsync/connector"
)

// patchOp is one PATCH operation (RFC 7644 §3.5.2).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

type patchBody struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// patchRequests turns changes into the operations of one or more PATCH
// requests: members (list attributes) go memberBatch values per request.
// ok is false when a change cannot be written with PATCH (removing values
// of a multi-valued simple attribute): the caller uses PUT.
func patchRequests(chs []change, memberBatch int) (reqs [][]patchOp, ok bool, err error) {
	var head []patchOp
	// Member changes: the values of one change, sliced into requests of
	// at most memberBatch values (a request fills up with the next change).
	type memberChange struct {
		mode connector.Mode
		path string
		vals []any
	}
	var members []memberChange
	for _, ch := range chs {
		t := ch.t
		jv, err := jsonValues(t, ch.vals)
		if err != nil {
			return nil, false, err
		}
		if !t.multi && len(jv) > 1 && ch.mode != connector.DelVals {
			return nil, false, fmt.Errorf("%s takes one value in SCIM, not %d", t.name, len(jv))
		}
		path := t.scimPath()
		remove := ch.mode == connector.DelVals || ch.mode == connector.Replace && len(jv) == 0
		if ch.mode != connector.Replace && len(jv) == 0 {
			continue
		}
		switch t.shape {
		case shapeSimple:
			switch {
			case t.multi && ch.mode == connector.DelVals:
				return nil, false, nil
			case remove:
				head = append(head, patchOp{Op: "remove", Path: path})
			case t.multi && ch.mode == connector.AddVals:
				head = append(head, patchOp{Op: "add", Path: path, Value: jv})
			case t.multi:
				head = append(head, patchOp{Op: "replace", Path: path, Value: jv})
			default:
				head = append(head, patchOp{Op: "replace", Path: path, Value: jv[0]})
			}
		case shapeSub:
			if remove {
				head = append(head, patchOp{Op: "remove", Path: path})
			} else {
				head = append(head, patchOp{Op: "replace", Path: path, Value: jv[0]})
			}
		case shapeCollapsed:
			if remove {
				head = append(head, patchOp{Op: "remove", Path: path})
			} else {
				head = append(head, patchOp{Op: "replace", Path: path, Value: map[string]any{"value": jv[0]}})
			}
		case shapeKeyed:
			switch {
			case remove && strings.EqualFold(t.path.Sub, "value"):
				p := t.path
				p.Sub = ""
				head = append(head, patchOp{Op: "remove", Path: p.String()})
			case remove:
				head = append(head, patchOp{Op: "remove", Path: path})
			default:
				head = append(head, patchOp{Op: "replace", Path: path, Value: jv[0]})
			}
		case shapeList:
			if ch.mode == connector.Replace && len(jv) == 0 {
				head = append(head, patchOp{Op: "remove", Path: path})
				continue
			}
			members = append(members, memberChange{ch.mode, path, jv})
		}
	}
	cur, room := head, memberBatch
	for _, mc := range members {
		for k := 0; k < len(mc.vals); {
			if room == 0 {
				reqs = append(reqs, cur)
				cur, room = nil, memberBatch
			}
			chunk := mc.vals[k:min(k+room, len(mc.vals))]
			switch {
			case mc.mode == connector.DelVals:
				conds := make([]string, len(chunk))
				for x, v := range chunk {
					conds[x] = "value eq " + literal(v)
				}
				cur = append(cur, patchOp{Op: "remove", Path: mc.path + "[" + strings.Join(conds, " or ") + "]"})
			case mc.mode == connector.Replace && k == 0:
				cur = append(cur, patchOp{Op: "replace", Path: mc.path, Value: listElems(chunk)})
			default:
				cur = append(cur, patchOp{Op: "add", Path: mc.path, Value: listElems(chunk)})
			}
			k += len(chunk)
			room -= len(chunk)
		}
	}
	if len(cur) > 0 {
		reqs = append(reqs, cur)
	}
	return reqs, true, nil
}

// literal renders a JSON value in a filter.
func literal(v any) string {
	if s, ok := v.(string); ok {
		return Quote(s)
	}
	return fmt.Sprint(v)
}

func listElems(vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = map[string]any{"value": v}
	}
	return out
}

// jsonValues converts the values of a change to JSON.
func jsonValues(t *target, vals []string) ([]any, error) {
	jv := make([]any, len(vals))
	for i, v := range vals {
		x, err := toJSON(t.leaf, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		jv[i] = x
	}
	return jv, nil
}

// jsonEq compares two JSON scalars.
func jsonEq(a, b any) bool {
	if a == nil || b == nil {
		return a == b
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func containsJSON(list []any, v any) bool {
	for _, x := range list {
		if jsonEq(x, v) {
			return true
		}
	}
	return false
}

// findKey returns the key of m that matches name case-insensitively (SCIM
// attribute names are), or name.
func findKey(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// applyDoc applies one change to a resource document (for POST and PUT).
func applyDoc(doc map[string]any, t *target, mode connector.Mode, vals []string) error {
	jv, err := jsonValues(t, vals)
	if err != nil {
		return err
	}
	set := mode != connector.DelVals && len(jv) > 0
	if !t.multi && len(jv) > 1 && mode != connector.DelVals {
		return fmt.Errorf("%s takes one value in SCIM, not %d", t.name, len(jv))
	}
	cont := doc
	urnKey := ""
	if t.path.URN != "" {
		urnKey = findKey(doc, t.path.URN)
		cont, _ = doc[urnKey].(map[string]any)
		if cont == nil {
			if !set {
				return nil
			}
			cont = map[string]any{}
			doc[urnKey] = cont
			addSchema(doc, t.path.URN)
		}
	}
	key := findKey(cont, t.path.Attr)
	switch t.shape {
	case shapeSimple:
		if t.multi {
			putList(cont, key, mergeList(asListOrNil(cont[key]), mode, jv, jsonEq, func(v any) any { return v }))
		} else {
			setSingle(cont, key, mode, jv)
		}
	case shapeSub:
		obj, _ := cont[key].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
		}
		setSingle(obj, findKey(obj, t.path.Sub), mode, jv)
		if len(obj) == 0 {
			delete(cont, key)
		} else {
			cont[key] = obj
		}
	case shapeCollapsed:
		obj, _ := cont[key].(map[string]any)
		switch {
		case set:
			cont[key] = map[string]any{"value": jv[0]}
		case mode == connector.Replace || obj != nil && containsJSON(jv, obj["value"]):
			delete(cont, key)
		}
	case shapeList:
		eq := func(elem, v any) bool {
			m, _ := elem.(map[string]any)
			return m != nil && jsonEq(m["value"], v)
		}
		putList(cont, key, mergeList(asListOrNil(cont[key]), mode, jv, eq, func(v any) any { return map[string]any{"value": v} }))
	case shapeKeyed:
		applyKeyed(cont, key, t, mode, jv)
	}
	if urnKey != "" && len(cont) == 0 {
		delete(doc, urnKey)
		removeSchema(doc, t.path.URN)
	}
	return nil
}

func applyKeyed(cont map[string]any, key string, t *target, mode connector.Mode, jv []any) {
	list := asListOrNil(cont[key])
	typ, sub := t.path.FilterValue, t.path.Sub
	isType := func(e any) (map[string]any, bool) {
		m, _ := e.(map[string]any)
		if m == nil {
			return nil, false
		}
		s, _ := m[findKey(m, "type")].(string)
		return m, strings.EqualFold(s, typ)
	}
	if mode != connector.DelVals && len(jv) > 0 {
		for _, e := range list {
			if m, ok := isType(e); ok {
				m[findKey(m, sub)] = jv[0]
				cont[key] = list
				return
			}
		}
		cont[key] = append(list, map[string]any{"type": typ, sub: jv[0]})
		return
	}
	var kept []any
	for _, e := range list {
		m, ok := isType(e)
		if ok {
			sk := findKey(m, sub)
			if mode == connector.Replace || containsJSON(jv, m[sk]) {
				delete(m, sk)
			}
			meaningful := false
			for k := range m {
				switch strings.ToLower(k) {
				case "type", "primary", "display":
				default:
					meaningful = true
				}
			}
			if !meaningful || strings.EqualFold(sub, "value") && m[findKey(m, "value")] == nil {
				continue
			}
		}
		kept = append(kept, e)
	}
	putList(cont, key, kept)
}

// mergeList applies a change to the elements of a multi-valued attribute.
func mergeList(cur []any, mode connector.Mode, jv []any, eq func(elem, v any) bool, mk func(v any) any) []any {
	find := func(v any) (any, bool) {
		for _, e := range cur {
			if eq(e, v) {
				return e, true
			}
		}
		return nil, false
	}
	switch mode {
	case connector.Replace:
		out := make([]any, 0, len(jv))
		for _, v := range jv {
			if e, ok := find(v); ok {
				out = append(out, e)
			} else {
				out = append(out, mk(v))
			}
		}
		return out
	case connector.AddVals:
		out := cur
		for _, v := range jv {
			if _, ok := find(v); !ok {
				out = append(out, mk(v))
				cur = out
			}
		}
		return out
	default:
		var out []any
		for _, e := range cur {
			drop := false
			for _, v := range jv {
				if eq(e, v) {
					drop = true
					break
				}
			}
			if !drop {
				out = append(out, e)
			}
		}
		return out
	}
}

func setSingle(m map[string]any, key string, mode connector.Mode, jv []any) {
	switch {
	case mode != connector.DelVals && len(jv) > 0:
		m[key] = jv[0]
	case mode == connector.Replace:
		delete(m, key)
	case mode == connector.DelVals:
		if cur, ok := m[key]; ok && containsJSON(jv, cur) {
			delete(m, key)
		}
	}
}

func putList(m map[string]any, key string, list []any) {
	if len(list) == 0 {
		delete(m, key)
		return
	}
	m[key] = list
}

func asListOrNil(v any) []any {
	if v == nil {
		return nil
	}
	return asList(v)
}

func addSchema(doc map[string]any, urn string) {
	list, _ := doc["schemas"].([]any)
	for _, s := range list {
		if str, _ := s.(string); strings.EqualFold(str, urn) {
			return
		}
	}
	doc["schemas"] = append(list, urn)
}

func removeSchema(doc map[string]any, urn string) {
	list, _ := doc["schemas"].([]any)
	var out []any
	for _, s := range list {
		if str, _ := s.(string); !strings.EqualFold(str, urn) {
			out = append(out, s)
		}
	}
	doc["schemas"] = out
}
