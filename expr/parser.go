package expr

import (
	"strings"
)

// node is a node of the syntax tree.
type node interface {
	// eval evaluates the node into *dst, a slot of the context's stack
	// (see ctx.push).
	eval(c *ctx, dst *value) error
}

// slots returns how many stack slots evaluating n can hold at once: its
// own (two for a comparison or arithmetic, one per argument of a call, up
// to two for a lazy function) on top of the most its children need.
func slots(n node) int {
	deepest := func(ns ...node) int {
		m := 0
		for _, x := range ns {
			m = max(m, slots(x))
		}
		return m
	}
	switch n := n.(type) {
	case *negNode:
		return slots(n.x)
	case *logicNode:
		return deepest(n.terms...)
	case *binNode:
		return 2 + deepest(n.l, n.r)
	case *callNode:
		if n.fn.lazy != nil {
			return 2 + deepest(n.args...)
		}
		return len(n.args) + deepest(n.args...)
	}
	return 0
}

type (
	litNode  struct{ v value }
	attrNode struct {
		name string
		slot int // index into the evaluation's attribute cache
	}
	paramNode struct{ name string }
	varNode   struct{ name string }
	negNode   struct {
		x node
		p pos
	}
	// logicNode is a chain of && or || (terms[0] op terms[1] op …); pos[i]
	// is the position of the operator before terms[i] (pos[0] = pos[1]).
	logicNode struct {
		op    string
		or    bool
		terms []node
		pos   []pos
	}
	binNode struct {
		op   string
		l, r node
		p    pos
	}
	callNode struct {
		fn   *fnSpec
		args []node
		p    pos
	}
)

// keywords are the literal names.
var keywords = map[string]value{
	"NULL":              null,
	"AuthoritativeNull": authNull,
	"IgnoreThisFlow":    ignore,
	"CRLF":              str("\r\n"),
	"True":              trueV,
	"False":             falseV,
	"TRUE":              trueV,
	"FALSE":             falseV,
	"true":              trueV,
	"false":             falseV,
}

// enumNames are the bare option names some functions take; they evaluate
// to their own name as a string.
var enumNames = map[string]bool{
	"CaseSensitive": true, "CaseInsensitive": true,
	"Unicode": true, "UTF8": true, "ASCII": true,
	"vbBinaryCompare": true, "vbTextCompare": true,
}

type parser struct {
	toks  []token
	i     int
	scope []string // variables in scope
	depth int
	attrs []string
	seen  map[string]bool
	// fns is the function table of the dialect; prov allows empty
	// arguments (Replace([a], , "x", , "", , )), which are NULL.
	fns      map[string]*fnSpec
	prov     bool
	redacted bool // a Redact call was seen
	volatile bool // a GeneratePassword call was seen
}

// parseDialect parses src with the function table of dialect d.
func parseDialect(src string, d Dialect) (*parser, node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, nil, err
	}
	p := &parser{toks: toks, seen: map[string]bool{}, fns: functions}
	if d == Provisioning {
		p.fns, p.prov = provTable(), true
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, nil, errAt(t.pos, "unexpected %s after the end of the expression", describe(t))
	}
	return p, n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) take() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// addAttr records an attribute the expression reads and returns its slot:
// its index in the attribute list, where an evaluation caches its value.
func (p *parser) addAttr(name string) int {
	if !p.seen[name] {
		p.seen[name] = true
		p.attrs = append(p.attrs, name)
	}
	for i, a := range p.attrs {
		if a == name {
			return i
		}
	}
	return -1 // unreachable
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tAttr:
		return "attribute [" + t.text + "]"
	case tParam:
		return "parameter %" + t.text + "%"
	case tVar:
		return "variable $" + t.text
	case tString:
		return "string literal"
	case tNum:
		return "number"
	case tIdent:
		return "name " + t.text
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tComma:
		return "','"
	}
	return "operator " + t.text
}

// Precedence, tightest first: * ; + - ; & ; comparisons ; && ; ||.
// All binary operators are left-associative.

func (p *parser) binary(next func() (node, error), opset ...string) (node, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || !contains(opset, t.text) {
			return l, nil
		}
		p.take()
		r, err := next()
		if err != nil {
			return nil, err
		}
		if t.text == "&&" || t.text == "||" {
			// A chain a || b || c … is one node evaluated term by term:
			// the same result as the left-associative binary nodes, without
			// a level of recursion per term.
			if ln, ok := l.(*logicNode); ok && ln.op == t.text {
				ln.terms, ln.pos = append(ln.terms, r), append(ln.pos, t.pos)
				continue
			}
			l = &logicNode{op: t.text, or: t.text == "||", terms: []node{l, r}, pos: []pos{t.pos, t.pos}}
			continue
		}
		l = &binNode{op: t.text, l: l, r: r, p: t.pos}
	}
}

func contains(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) parseOr() (node, error)  { return p.binary(p.parseAnd, "||") }
func (p *parser) parseAnd() (node, error) { return p.binary(p.parseCmp, "&&") }
func (p *parser) parseCmp() (node, error) {
	return p.binary(p.parseConcat, "=", "<>", "<", "<=", ">", ">=")
}
func (p *parser) parseConcat() (node, error) { return p.binary(p.parseAdd, "&") }
func (p *parser) parseAdd() (node, error)    { return p.binary(p.parseMul, "+", "-") }
func (p *parser) parseMul() (node, error)    { return p.binary(p.parseUnary, "*") }

// maxDepth bounds the nesting of expressions.
const maxDepth = 200

func (p *parser) parseUnary() (node, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, errAt(p.peek().pos, "expression nested too deeply (more than %d levels)", maxDepth)
	}
	defer func() { p.depth-- }()
	if t := p.peek(); t.kind == tOp && t.text == "-" {
		p.take()
		if n := p.peek(); n.kind == tNum {
			p.take()
			return &litNode{num(-n.num)}, nil
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &negNode{x: x, p: t.pos}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (node, error) {
	t := p.take()
	switch t.kind {
	case tAttr:
		return &attrNode{name: t.text, slot: p.addAttr(t.text)}, nil
	case tParam:
		return &paramNode{t.text}, nil
	case tVar:
		for _, v := range p.scope {
			if v == t.text {
				return &varNode{t.text}, nil
			}
		}
		return nil, errAt(t.pos, "variable $%s is not defined here (variables are bound by Select, Where and With)", t.text)
	case tString:
		return &litNode{str(t.text)}, nil
	case tNum:
		return &litNode{num(t.num)}, nil
	case tLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.take(); c.kind != tRParen {
			return nil, errAt(c.pos, "expected ')', got %s", describe(c))
		}
		return n, nil
	case tIdent:
		if p.peek().kind == tLParen {
			return p.parseCall(t)
		}
		if v, ok := keywords[t.text]; ok {
			return &litNode{v}, nil
		}
		if enumNames[t.text] || t.text == "DC" {
			return &litNode{str(t.text)}, nil
		}
		if _, ok := p.fns[t.text]; ok {
			return nil, errAt(t.pos, "function %s needs '(' and its arguments", t.text)
		}
		return nil, errAt(t.pos, "unknown name %q%s", t.text, suggest(t.text, p.fns))
	}
	return nil, errAt(t.pos, "expected a value, got %s", describe(t))
}

func (p *parser) parseCall(name token) (node, error) {
	fn, ok := p.fns[name.text]
	if !ok {
		return nil, errAt(name.pos, "unknown function %q%s", name.text, suggest(name.text, p.fns))
	}
	if p.prov && fn.name == "Redact" {
		p.redacted = true
	}
	if fn.name == "GeneratePassword" {
		p.volatile = true
	}
	p.take() // (
	var args []node
	scoped := 0
	if p.peek().kind != tRParen {
		for {
			idx := len(args)
			if fn.binds && idx == 0 {
				v := p.take()
				if v.kind != tVar {
					return nil, errAt(v.pos, "%s: the first argument must be a variable such as $item, got %s", fn.name, describe(v))
				}
				args = append(args, &litNode{str(v.text)})
			} else if p.prov && (p.peek().kind == tComma || (p.peek().kind == tRParen && idx > 0)) {
				// An empty argument of the provisioning dialect.
				args = append(args, &litNode{null})
			} else {
				if fn.binds && idx == fn.bindFrom {
					p.scope = append(p.scope, args[0].(*litNode).v.s)
					scoped++
				}
				a, err := p.parseOr()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
			}
			if p.peek().kind != tComma {
				break
			}
			p.take()
		}
	}
	p.scope = p.scope[:len(p.scope)-scoped]
	if c := p.take(); c.kind != tRParen {
		return nil, errAt(c.pos, "expected ',' or ')' in the arguments of %s, got %s", fn.name, describe(c))
	}
	if len(args) < fn.min || (fn.max >= 0 && len(args) > fn.max) {
		return nil, errAt(name.pos, "%s takes %s, got %d", fn.name, arity(fn), len(args))
	}
	if fn.check != nil {
		if msg := fn.check(args); msg != "" {
			return nil, errAt(name.pos, "%s: %s", fn.name, msg)
		}
	}
	if fn.reads && len(args) > 0 {
		if l, ok := args[0].(*litNode); ok && l.v.k == kStr {
			p.addAttr(l.v.s)
		}
	}
	return &callNode{fn: fn, args: args, p: name.pos}, nil
}

func arity(fn *fnSpec) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return itoa(n) + " arguments"
	}
	switch {
	case fn.max < 0:
		return "at least " + plural(fn.min)
	case fn.min == fn.max:
		return plural(fn.min)
	}
	return itoa(fn.min) + " to " + plural(fn.max)
}

// suggest proposes a function of fns or a keyword close to name.
func suggest(name string, fns map[string]*fnSpec) string {
	best, bestD := "", 3
	try := func(c string) {
		if strings.EqualFold(c, name) {
			best, bestD = c, -1
			return
		}
		if d := editDistance(strings.ToLower(c), strings.ToLower(name)); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	for c := range fns {
		try(c)
	}
	for c := range keywords {
		try(c)
	}
	if best == "" {
		return ""
	}
	return " (did you mean \"" + best + "\"?)"
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
