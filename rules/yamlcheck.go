package rules

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// yamlChecker walks a rule file's syntax tree against the Go types it
// decodes into, before goccy/go-yaml decodes it, to give errors with a line
// and a context ("unknown field "precednce" in rule "X""), to reject what
// the decoder would silently convert (precedence: 1.5 → 1), and to keep the
// literal text of scalars meant as strings (value: 012 stays "012", not "10").
type yamlChecker struct {
	file string
	errs []error
}

var (
	fileType    = reflect.TypeFor[fileYAML]()
	ruleType    = reflect.TypeFor[Rule]()
	structNames = map[reflect.Type]string{
		reflect.TypeFor[ScopeGroup]():    "scope group",
		reflect.TypeFor[Clause]():        "scope clause",
		reflect.TypeFor[JoinGroup]():     "join group",
		reflect.TypeFor[JoinCondition](): "join condition",
		reflect.TypeFor[Flow]():          "flow",
		reflect.TypeFor[Assignment]():    "assignment",
	}
)

func (c *yamlChecker) errorf(n ast.Node, format string, args ...any) {
	c.errs = append(c.errs, &PosError{File: c.file, Line: nodeLine(n), Msg: fmt.Sprintf(format, args...)})
}

// walk checks n against type t and returns the node to decode in its place.
// subject names n in messages; rule names the enclosing rule.
func (c *yamlChecker) walk(n ast.Node, t reflect.Type, subject, rule string) ast.Node {
	switch v := n.(type) {
	case nil, *ast.NullNode, *ast.AliasNode, *ast.TagNode:
		return n // absent, resolved by the decoder, or explicitly typed
	case *ast.AnchorNode:
		v.Value = c.walk(v.Value, t, subject, rule)
		return n
	}
	switch t.Kind() {
	case reflect.Struct:
		values, ok := mappingValues(n)
		if !ok {
			c.errorf(n, "%s: want a mapping, got %s", subject, describeNode(n))
			return n
		}
		where := "rule file"
		switch {
		case t == ruleType:
			rule = describeRule(values)
			where = rule
		case t != fileType:
			where = structNames[t] + " of " + rule
		}
		fields := yamlFields(t)
		for _, mv := range values {
			if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
				continue
			}
			key := keyName(mv.Key)
			ft, ok := fields[key]
			if !ok {
				c.errorf(mv.Key, "unknown field %q in %s%s", key, where, suggest(key, fields))
				continue
			}
			mv.Value = c.walk(mv.Value, ft, fmt.Sprintf("field %q in %s", key, where), rule)
		}
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			c.errorf(n, "%s: want a list, got %s", subject, describeNode(n))
			return n
		}
		for i := range seq.Values {
			seq.Values[i] = c.walk(seq.Values[i], t.Elem(), fmt.Sprintf("item %d of %s", i+1, subject), rule)
		}
	case reflect.String:
		switch v := n.(type) {
		case *ast.StringNode, *ast.LiteralNode:
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
			return ast.String(v.GetToken()) // keep the text as written
		default:
			c.errorf(n, "%s: want a string, got %s", subject, describeNode(n))
		}
	case reflect.Int:
		if _, ok := n.(*ast.IntegerNode); !ok {
			c.errorf(n, "%s: want an integer, got %s", subject, describeNode(n))
		}
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			c.errorf(n, "%s: want true or false, got %s", subject, describeNode(n))
		}
	}
	return n
}

// mappingValues returns the entries of a mapping node.
func mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func keyName(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return k.String()
}

// describeRule names a rule by its name: field, for messages.
func describeRule(values []*ast.MappingValueNode) string {
	for _, mv := range values {
		if keyName(mv.Key) == "name" {
			if s, ok := mv.Value.(*ast.StringNode); ok && s.Value != "" {
				return fmt.Sprintf("rule %q", s.Value)
			}
		}
	}
	return "rule"
}

func describeNode(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("%q", v.Value)
	case *ast.LiteralNode:
		return "a block string"
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.Type().String()
}

// yamlFields maps the yaml keys of a struct type to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for name := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if d < bestD || (d == bestD && best != "" && name < best) {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// nodeLine returns the line of a node, 0 when unknown.
func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// lineAt follows a path of mapping keys (string) and list indexes (int)
// from n and returns the line of the deepest node reached: a key's line for
// a mapping entry, an item's line for a list item.
func lineAt(n ast.Node, path ...any) int {
	line := nodeLine(n)
	for _, p := range path {
		if a, ok := n.(*ast.AnchorNode); ok {
			n = a.Value
		}
		var next ast.Node
		switch p := p.(type) {
		case string:
			values, _ := mappingValues(n)
			for _, mv := range values {
				if keyName(mv.Key) == p {
					if l := nodeLine(mv.Key); l > 0 {
						line = l
					}
					next = mv.Value
					break
				}
			}
		case int:
			if seq, ok := n.(*ast.SequenceNode); ok && p >= 0 && p < len(seq.Values) {
				next = seq.Values[p]
				if l := nodeLine(next); l > 0 {
					line = l
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
