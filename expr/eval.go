package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/idsync/idsync/rules"
)

// ctx is the evaluation context: the environment and the variables bound
// by Select, Where and With.
type ctx struct {
	env  rules.Env
	vars []binding
	// stack holds the slots nodes evaluate into (see push); it is a view
	// of buf whose capacity is exactly the expression's slot count.
	stack, buf []value
	// cache holds the value of each attribute slot once read (have[i]): an
	// expression often reads the same attribute several times, and the
	// object does not change during an evaluation.
	cache []value
	have  []bool
}

type binding struct {
	name string
	v    value
}

func (c *ctx) lookup(name string) value {
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i].name == name {
			return c.vars[i].v
		}
	}
	return null
}

// EvalError is an evaluation error with the position of the operator or
// function call that failed.
type EvalError struct {
	Line, Col int
	Msg       string
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// UserError is the error Error("message") raises; its text is the message.
type UserError struct{ Msg string }

func (e *UserError) Error() string { return e.Msg }

func evalErr(p pos, format string, args ...any) error {
	return &EvalError{Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

// Nodes evaluate into a destination slot (dst) rather than returning their
// value: a value is ten words, and copying it out of every node and into
// its parent's argument list was most of the cost of an evaluation. The
// slots live on the context's stack, sized at compile time (see slots) so
// that it never moves while a node holds a pointer into it.

// push reserves n slots on the evaluation stack and returns the index of
// the first. The stack's capacity is the compiled expression's slot count,
// so it never reallocates; running past it is a bug in slots and panics.
func (c *ctx) push(n int) int {
	i := len(c.stack)
	c.stack = c.stack[:i+n]
	return i
}

// pop releases the slots from index i on.
func (c *ctx) pop(i int) { c.stack = c.stack[:i] }

// evalTo evaluates x into a fresh slot and returns a copy of the result:
// for lazy functions, which look at a value and then move on.
func (c *ctx) evalTo(x node) (value, error) {
	i := c.push(1)
	err := x.eval(c, &c.stack[i])
	v := c.stack[i]
	c.pop(i)
	return v, err
}

func (n *litNode) eval(_ *ctx, dst *value) error {
	*dst = n.v
	return nil
}

func (n *attrNode) eval(c *ctx, dst *value) error {
	if n.slot >= 0 && n.slot < len(c.have) {
		if !c.have[n.slot] {
			c.cache[n.slot], c.have[n.slot] = fromModel(c.env.Attr(n.name)), true
		}
		*dst = c.cache[n.slot]
		return nil
	}
	*dst = fromModel(c.env.Attr(n.name))
	return nil
}

func (n *varNode) eval(c *ctx, dst *value) error {
	*dst = c.lookup(n.name)
	return nil
}

func (n *paramNode) eval(c *ctx, dst *value) error {
	if s := c.env.Param(n.name); s != "" {
		*dst = str(s)
	} else {
		*dst = null
	}
	return nil
}

func (n *negNode) eval(c *ctx, dst *value) error {
	if err := n.x.eval(c, dst); err != nil || dst.isNull() || dst.isSpecial() {
		return err
	}
	x, err := toNum(dst)
	if err != nil {
		return evalErr(n.p, "unary '-': %v", err)
	}
	*dst = num(-x)
	return nil
}

// eval evaluates a && / || chain left to right with short-circuit, exactly
// as nested left-associative binary nodes would: the first term decides
// when it is True for || (False for &&); a special value (AuthoritativeNull,
// IgnoreThisFlow) met on the way is the result.
func (n *logicNode) eval(c *ctx, dst *value) error {
	for i, t := range n.terms {
		if err := t.eval(c, dst); err != nil || dst.isSpecial() {
			return err
		}
		b, err := toBool(dst)
		if err != nil {
			side := "right"
			if i == 0 {
				side = "left"
			}
			return evalErr(n.pos[i], "'%s': %s operand: %v", n.op, side, err)
		}
		if b == n.or {
			*dst = boolean(b)
			return nil
		}
	}
	*dst = boolean(!n.or)
	return nil
}

func (n *binNode) eval(c *ctx, dst *value) error {
	if n.op == "&&" || n.op == "||" {
		return n.evalLogic(c, dst)
	}
	i := c.push(2)
	err := n.evalOp(c, &c.stack[i], &c.stack[i+1], dst)
	c.pop(i)
	return err
}

// evalOp evaluates the operands into l and r and applies the operator.
func (n *binNode) evalOp(c *ctx, l, r, dst *value) error {
	if err := n.l.eval(c, l); err != nil || l.isSpecial() {
		*dst = *l
		return err
	}
	if err := n.r.eval(c, r); err != nil || r.isSpecial() {
		*dst = *r
		return err
	}
	var err error
	switch n.op {
	case "&":
		*dst, err = concat(*l, *r)
	case "+", "-", "*":
		*dst, err = arith(n.op, *l, *r)
	default:
		var b bool
		b, err = compare(n.op, l, r)
		*dst = boolean(b)
	}
	if err != nil {
		return evalErr(n.p, "'%s': %v", n.op, err)
	}
	return nil
}

// evalLogic evaluates a binary && or || with short-circuit.
func (n *binNode) evalLogic(c *ctx, dst *value) error {
	if err := n.l.eval(c, dst); err != nil || dst.isSpecial() {
		return err
	}
	lb, err := toBool(dst)
	if err != nil {
		return evalErr(n.p, "'%s': left operand: %v", n.op, err)
	}
	if lb == (n.op == "||") {
		*dst = boolean(lb)
		return nil
	}
	if err := n.r.eval(c, dst); err != nil || dst.isSpecial() {
		return err
	}
	rb, err := toBool(dst)
	if err != nil {
		return evalErr(n.p, "'%s': right operand: %v", n.op, err)
	}
	*dst = boolean(rb)
	return nil
}

// concat joins two values as text; NULL is the empty string. When one side
// is multi-valued, the other side is joined to each of its values.
func concat(l, r value) (value, error) {
	if l.k == kList && r.k == kList {
		return null, fmt.Errorf("cannot concatenate two multi-valued operands")
	}
	if l.k == kList || r.k == kList {
		out := make([]value, 0, max(len(l.l), len(r.l)))
		total := 0
		for _, x := range l.itemsOrNull() {
			for _, y := range r.itemsOrNull() {
				v, err := concat(x, y)
				if err != nil {
					return null, err
				}
				if total += len(v.s); total > maxLen {
					return null, errTooLong
				}
				out = append(out, v)
			}
		}
		return list(out), nil
	}
	a, err := toStr(&l)
	if err != nil {
		return null, err
	}
	b, err := toStr(&r)
	if err != nil {
		return null, err
	}
	if len(a)+len(b) > maxLen {
		return null, errTooLong
	}
	return str(a + b), nil
}

// itemsOrNull is items, with NULL standing for one empty value.
func (v value) itemsOrNull() []value {
	if v.k == kNull {
		return []value{null}
	}
	return v.items()
}

// arith applies + - * to numbers. NULL operands give NULL; + on a
// non-numeric string concatenates.
func arith(op string, l, r value) (value, error) {
	if l.isNull() || r.isNull() {
		return null, nil
	}
	a, errA := toNum(&l)
	b, errB := toNum(&r)
	if op == "+" && (errA != nil || errB != nil) && (l.k == kStr || r.k == kStr) {
		return concat(l, r)
	}
	if errA != nil {
		return null, errA
	}
	if errB != nil {
		return null, errB
	}
	switch op {
	case "+":
		return num(a + b), nil
	case "-":
		return num(a - b), nil
	}
	return num(a * b), nil
}

// compare applies a comparison. NULL equals only NULL and is neither less
// nor greater than anything. A multi-valued operand compares true for = and
// the orderings when any value does, and for <> when no value is equal.
func compare(op string, l, r *value) (bool, error) {
	if l.isNull() || r.isNull() {
		both := l.isNull() && r.isNull()
		switch op {
		case "=":
			return both, nil
		case "<>":
			return !both, nil
		}
		return false, nil
	}
	if l.k == kList || r.k == kList {
		if op == "<>" {
			eq, err := compare("=", l, r)
			return !eq, err
		}
		ls, rs := l.items(), r.items()
		for i := range ls {
			for j := range rs {
				if ok, err := compare(op, &ls[i], &rs[j]); err != nil || ok {
					return ok, err
				}
			}
		}
		return false, nil
	}
	if textual(l.k) && textual(r.k) {
		// Text against text: equality needs no ordering.
		switch op {
		case "=":
			return l.s == r.s, nil
		case "<>":
			return l.s != r.s, nil
		}
	}
	c, err := order(l, r)
	if err != nil {
		return false, err
	}
	switch op {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

// order compares two single values. When one side is a number, boolean or
// date, the other is converted to that type; when the conversion fails (or
// both are text, binary or references) the text forms are compared
// ordinally (case-sensitive).
func order(l, r *value) (int, error) {
	switch {
	case l.k == kNum || r.k == kNum:
		a, errA := toNum(l)
		b, errB := toNum(r)
		if errA == nil && errB == nil {
			return cmp3(a, b), nil
		}
	case l.k == kBool || r.k == kBool:
		a, errA := toBool(l)
		b, errB := toBool(r)
		if errA == nil && errB == nil {
			return cmp3(b2i(a), b2i(b)), nil
		}
	case l.k == kDate || r.k == kDate:
		a, errA := toDate(*l)
		b, errB := toDate(*r)
		if errA == nil && errB == nil {
			return a.Compare(b), nil
		}
	default:
		return strings.Compare(l.s, r.s), nil
	}
	a, err := toStr(l)
	if err != nil {
		return 0, err
	}
	b, err := toStr(r)
	if err != nil {
		return 0, err
	}
	return strings.Compare(a, b), nil
}

// textual reports whether values of kind k compare by their text s.
func textual(k kind) bool { return k == kStr || k == kBin || k == kRef }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// maxLen bounds the length of the strings an expression builds.
const maxLen = 1 << 20

var errTooLong = fmt.Errorf("result longer than %d bytes", maxLen)

func itoa(n int) string { return strconv.Itoa(n) }

// eval calls a function: lazy functions get their syntax nodes; the others
// get their evaluated arguments, with AuthoritativeNull and IgnoreThisFlow
// passing straight through, and per-value functions run on each value of a
// multi-valued first argument.
func (n *callNode) eval(c *ctx, dst *value) error {
	fn := n.fn
	if fn.lazy != nil {
		return wrapErr(n, fn.lazy(c, n, dst))
	}
	// The arguments live on the context's stack, so that calls do not
	// allocate; nested calls push above them and pop back.
	base := c.push(len(n.args))
	err := n.callStrict(c, c.stack[base:base+len(n.args):base+len(n.args)], dst)
	c.pop(base)
	return err
}

// callStrict evaluates the arguments into args and calls the function.
func (n *callNode) callStrict(c *ctx, args []value, dst *value) error {
	fn := n.fn
	for i, a := range n.args {
		if err := a.eval(c, &args[i]); err != nil {
			return err
		}
		if args[i].isSpecial() {
			*dst = args[i]
			return nil
		}
	}
	if fn.perValue && len(args) > 0 && args[0].k == kList {
		all := args[0].l
		out := make([]value, 0, len(all))
		for _, item := range all {
			args[0] = item
			v, err := fn.call(c, args)
			if err != nil {
				return wrapErr(n, err)
			}
			out = append(out, v)
		}
		*dst = list(out)
		return nil
	}
	var err error
	*dst, err = fn.call(c, args)
	return wrapErr(n, err)
}

func wrapErr(n *callNode, err error) error {
	if err == nil {
		return nil
	}
	var ue *UserError
	var ee *EvalError
	if errors.As(err, &ue) || errors.As(err, &ee) {
		return err
	}
	return evalErr(n.p, "%s: %v", n.fn.name, err)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
