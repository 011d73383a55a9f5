package expr

import (
	"fmt"
	"sync"

	"github.com/idsync/idsync/rules"
)

// fnSpec describes a function of the language.
type fnSpec struct {
	name     string
	min, max int // argument count; max < 0: any number
	// perValue: a multi-valued first argument runs the function on each value.
	perValue bool
	// call gets the evaluated arguments (never AuthoritativeNull or
	// IgnoreThisFlow).
	call func(c *ctx, args []value) (value, error)
	// lazy, when set, replaces call and evaluates the arguments itself.
	lazy func(c *ctx, n *callNode) (value, error)
	// binds: the first argument is a $variable, in scope from argument
	// bindFrom on (Select, Where, With).
	binds    bool
	bindFrom int
	// reads: the first argument names an attribute the function reads
	// (ImportedValue, ValueCount).
	reads bool
	// check validates the arguments at compile time ("" when fine).
	check func(args []node) string
}

// functions maps the case-sensitive function names to their specs.
var functions = map[string]*fnSpec{}

func register(specs ...*fnSpec) {
	for _, s := range specs {
		if _, dup := functions[s.name]; dup {
			panic("expr: duplicate function " + s.name)
		}
		functions[s.name] = s
	}
}

// fixed returns a spec for a function taking between lo and hi arguments.
func fixed(name string, lo, hi int, perValue bool, call func(c *ctx, args []value) (value, error)) *fnSpec {
	return &fnSpec{name: name, min: lo, max: hi, perValue: perValue, call: call}
}

// Argument helpers: argument i (0-based) converted, with its 1-based
// number in errors.

func argStr(args []value, i int) (string, error) {
	s, err := toStr(args[i])
	if err != nil {
		return "", fmt.Errorf("argument %d: %w", i+1, err)
	}
	return s, nil
}

func argNum(args []value, i int) (int64, error) {
	n, err := toNum(args[i])
	if err != nil {
		return 0, fmt.Errorf("argument %d: %w", i+1, err)
	}
	return n, nil
}

func argBool(args []value, i int) (bool, error) {
	b, err := toBool(args[i])
	if err != nil {
		return false, fmt.Errorf("argument %d: %w", i+1, err)
	}
	return b, nil
}

// optStr returns argument i as text, or def when it is not given.
func optStr(args []value, i int, def string) (string, error) {
	if i >= len(args) {
		return def, nil
	}
	return argStr(args, i)
}

var ctxPool = sync.Pool{New: func() any { return &ctx{stack: make([]value, 0, 16)} }}

// compiled is a compiled expression.
type compiled struct {
	src   string
	root  node
	attrs []string
}

// Eval evaluates the expression on env.
func (x *compiled) Eval(env rules.Env) (rules.Result, error) {
	c := ctxPool.Get().(*ctx)
	c.env = env
	v, err := x.root.eval(c)
	clear(c.stack[:cap(c.stack)])
	c.stack, c.vars, c.env = c.stack[:0], c.vars[:0], nil
	ctxPool.Put(c)
	if err != nil {
		return rules.Result{}, err
	}
	switch v.k {
	case kNull:
		return rules.Result{Kind: rules.Null}, nil
	case kAuthNull:
		return rules.Result{Kind: rules.AuthoritativeNull}, nil
	case kIgnore:
		return rules.Result{Kind: rules.IgnoreThisFlow}, nil
	}
	return rules.Result{Kind: rules.Value, Values: toModel(v)}, nil
}

// Attributes lists the attributes the expression reads, in order of first
// appearance.
func (x *compiled) Attributes() []string { return append([]string(nil), x.attrs...) }

// String returns the source of the expression.
func (x *compiled) String() string { return x.src }

// Compile compiles an expression of the sync-rule dialect. Errors are
// *SyntaxError values carrying the line and column.
func Compile(src string) (rules.Compiled, error) {
	root, attrs, err := parse(src)
	if err != nil {
		return nil, err
	}
	return &compiled{src: src, root: root, attrs: attrs}, nil
}

type language struct{}

func (language) Compile(src string) (rules.Compiled, error) { return Compile(src) }

// Language returns the sync-rule expression language.
func Language() rules.Language { return language{} }

func init() { rules.SetExpressionLanguage(Language()) }
