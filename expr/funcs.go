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
	// It evaluates into dst and may use two stack slots of its own.
	lazy func(c *ctx, n *callNode, dst *value) error
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
	s, err := toStr(&args[i])
	if err != nil {
		return "", fmt.Errorf("argument %d: %w", i+1, err)
	}
	return s, nil
}

func argNum(args []value, i int) (int64, error) {
	n, err := toNum(&args[i])
	if err != nil {
		return 0, fmt.Errorf("argument %d: %w", i+1, err)
	}
	return n, nil
}

func argBool(args []value, i int) (bool, error) {
	b, err := toBool(&args[i])
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

var ctxPool = sync.Pool{New: func() any { return &ctx{buf: make([]value, 32)} }}

// compiled is a compiled expression.
type compiled struct {
	src   string
	root  node
	attrs []string
	slots int // stack slots an evaluation needs, the result's included
	// prov: the provisioning dialect, where a top-level date is written
	// M/d/yyyy h:mm:ss tt; redacted: the expression calls Redact;
	// volatile: it calls GeneratePassword.
	prov, redacted, volatile bool
}

// Eval evaluates the expression on env.
func (x *compiled) Eval(env rules.Env) (rules.Result, error) {
	c := ctxPool.Get().(*ctx)
	c.env = env
	if n := len(x.attrs); cap(c.have) < n {
		c.cache, c.have = make([]value, n), make([]bool, n)
	} else {
		c.cache, c.have = c.cache[:n], c.have[:n]
	}
	if len(c.buf) < x.slots {
		c.buf = make([]value, x.slots)
	}
	// The capacity is the slot count exactly, so that a miscount panics in
	// every test and fuzz run instead of moving the stack under a node.
	c.stack = c.buf[:0:x.slots]
	i := c.push(1)
	err := x.root.eval(c, &c.stack[i])
	v := c.stack[i]
	clear(c.buf[:x.slots]) // the slots this expression used
	clear(c.cache)
	clear(c.have)
	c.stack, c.vars, c.env = nil, c.vars[:0], nil
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
	if x.prov {
		v = provDatesToText(v)
	}
	return rules.Result{Kind: rules.Value, Values: toModel(v)}, nil
}

// Attributes lists the attributes the expression reads, in order of first
// appearance.
func (x *compiled) Attributes() []string { return append([]string(nil), x.attrs...) }

// String returns the source of the expression.
func (x *compiled) String() string { return x.src }

// Dialect selects the function set of an expression.
type Dialect int

const (
	// SyncRules is the Azure AD Connect sync-rule dialect (the default).
	SyncRules Dialect = iota
	// Provisioning is the Microsoft Entra application-provisioning
	// attribute-mapping dialect.
	Provisioning
)

// String returns "sync" or "provisioning".
func (d Dialect) String() string {
	switch d {
	case SyncRules:
		return "sync"
	case Provisioning:
		return "provisioning"
	}
	return "Dialect(" + itoa(int(d)) + ")"
}

// Compile compiles an expression of the sync-rule dialect. Errors are
// *SyntaxError values carrying the line and column.
func Compile(src string) (rules.Compiled, error) { return CompileDialect(src, SyncRules) }

// CompileDialect compiles an expression of dialect d. Errors are
// *SyntaxError values carrying the line and column.
func CompileDialect(src string, d Dialect) (rules.Compiled, error) {
	if d != SyncRules && d != Provisioning {
		return nil, fmt.Errorf("expr: unknown dialect %d", int(d))
	}
	p, root, err := parseDialect(src, d)
	if err != nil {
		return nil, err
	}
	return &compiled{src: src, root: root, attrs: p.attrs, slots: 1 + slots(root), prov: d == Provisioning, redacted: p.redacted, volatile: p.volatile}, nil
}

type language struct{}

func (language) Compile(src string) (rules.Compiled, error) { return Compile(src) }

// CompileDialect compiles src with the functions of the named dialect:
// "sync" (the default) or "provisioning".
func (language) CompileDialect(src, dialect string) (rules.Compiled, error) {
	switch dialect {
	case "", "sync":
		return CompileDialect(src, SyncRules)
	case "provisioning":
		return CompileDialect(src, Provisioning)
	}
	return nil, fmt.Errorf("unknown expression dialect %q (want sync or provisioning)", dialect)
}

// Language returns the sync-rule expression language.
func Language() rules.Language { return language{} }

func init() { rules.SetExpressionLanguage(Language()) }
