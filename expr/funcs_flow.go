package expr

import "fmt"

// Program flow (IIF, Switch, Select, Where, With, Error), evaluation (Is…)
// and attribute access (ImportedValue, ValueCount) functions.

func init() {
	register(
		&fnSpec{name: "IIF", min: 3, max: 3, lazy: fnIIF},
		&fnSpec{name: "Switch", min: 2, max: -1, lazy: fnSwitch, check: func(a []node) string {
			if len(a)%2 != 0 {
				return "needs pairs of condition and value"
			}
			return ""
		}},
		&fnSpec{name: "Select", min: 3, max: 3, binds: true, bindFrom: 2, lazy: fnSelect},
		&fnSpec{name: "Where", min: 3, max: 3, binds: true, bindFrom: 2, lazy: fnWhere},
		&fnSpec{name: "With", min: 3, max: 3, binds: true, bindFrom: 2, lazy: fnWith},
		fixed("Error", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			s, err := toStr(&a[0])
			if err != nil {
				s = fmt.Sprint(a[0].items())
			}
			return null, &UserError{Msg: s}
		}),
		fixed("IsPresent", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(!isNullOrEmpty(a[0])), nil
		}),
		fixed("IsNull", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(a[0].isNull()), nil
		}),
		fixed("IsNullOrEmpty", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(isNullOrEmpty(a[0])), nil
		}),
		fixed("IsEmpty", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(!a[0].isNull() && isNullOrEmpty(a[0])), nil
		}),
		fixed("IsString", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(allItems(a[0], func(v value) bool { return v.k == kStr })), nil
		}),
		fixed("IsNumeric", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(allItems(a[0], func(v value) bool {
				if v.k == kBool {
					return false
				}
				_, err := toNum(&v)
				return err == nil
			})), nil
		}),
		fixed("IsDate", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(allItems(a[0], func(v value) bool {
				_, err := toDate(v)
				return err == nil
			})), nil
		}),
		fixed("IsGuid", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return boolean(allItems(a[0], func(v value) bool {
				if v.k == kBin {
					return len(v.s) == 16
				}
				_, ok := parseGUID(v.s)
				return v.k == kStr && ok
			})), nil
		}),
		fixed("IsBitSet", 2, 2, false, func(_ *ctx, a []value) (value, error) {
			if a[0].isNull() {
				return falseV, nil
			}
			v, err := argNum(a, 0)
			if err != nil {
				return null, err
			}
			f, err := argNum(a, 1)
			if err != nil {
				return null, err
			}
			return boolean(v&f != 0), nil
		}),
		&fnSpec{name: "ImportedValue", min: 1, max: 1, reads: true, call: func(c *ctx, a []value) (value, error) {
			name, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			return fromModel(c.env.ImportedValue(name)), nil
		}},
		&fnSpec{name: "ValueCount", min: 1, max: 1, reads: true, call: func(c *ctx, a []value) (value, error) {
			name, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			return num(int64(len(c.env.Attr(name).Values))), nil
		}},
	)
}

// isNullOrEmpty: NULL, or every value is the empty string.
func isNullOrEmpty(v value) bool {
	if v.isNull() {
		return true
	}
	return allItems(v, func(x value) bool { return (x.k == kStr || x.k == kBin || x.k == kRef) && x.s == "" })
}

// allItems reports whether v has values and f holds for each.
func allItems(v value, f func(value) bool) bool {
	items := v.items()
	if len(items) == 0 {
		return false
	}
	for _, x := range items {
		if !f(x) {
			return false
		}
	}
	return true
}

func fnIIF(c *ctx, n *callNode, dst *value) error {
	if err := n.args[0].eval(c, dst); err != nil || dst.isSpecial() {
		return err
	}
	b, err := toBool(dst)
	if err != nil {
		return fmt.Errorf("condition: %w", err)
	}
	if b {
		return n.args[1].eval(c, dst)
	}
	return n.args[2].eval(c, dst)
}

func fnSwitch(c *ctx, n *callNode, dst *value) error {
	for i := 0; i+1 < len(n.args); i += 2 {
		if err := n.args[i].eval(c, dst); err != nil || dst.isSpecial() {
			return err
		}
		b, err := toBool(dst)
		if err != nil {
			return fmt.Errorf("condition %d: %w", i/2+1, err)
		}
		if b {
			return n.args[i+1].eval(c, dst)
		}
	}
	*dst = null
	return nil
}

// each evaluates the second argument and runs f on each of its values with
// the variable bound.
func each(c *ctx, n *callNode, dst *value, f func(item, res value) (value, bool)) error {
	src, err := c.evalTo(n.args[1])
	if err != nil || src.isSpecial() {
		*dst = src
		return err
	}
	name := n.args[0].(*litNode).v.s
	items := src.items()
	out := make([]value, 0, len(items))
	c.vars = append(c.vars, binding{name: name})
	defer func() { c.vars = c.vars[:len(c.vars)-1] }()
	for _, it := range items {
		c.vars[len(c.vars)-1].v = it
		r, err := c.evalTo(n.args[2])
		if err != nil || r.isSpecial() {
			*dst = r
			return err
		}
		if v, keep := f(it, r); keep {
			out = append(out, v)
		}
	}
	*dst = list(out)
	return nil
}

func fnSelect(c *ctx, n *callNode, dst *value) error {
	return each(c, n, dst, func(_, r value) (value, bool) { return r, true })
}

func fnWhere(c *ctx, n *callNode, dst *value) error {
	var bad error
	err := each(c, n, dst, func(it, r value) (value, bool) {
		b, err := toBool(&r)
		if err != nil && bad == nil {
			bad = fmt.Errorf("condition: %w", err)
		}
		return it, b
	})
	if err == nil {
		err = bad
	}
	return err
}

func fnWith(c *ctx, n *callNode, dst *value) error {
	if err := n.args[1].eval(c, dst); err != nil || dst.isSpecial() {
		return err
	}
	c.vars = append(c.vars, binding{name: n.args[0].(*litNode).v.s, v: *dst})
	defer func() { c.vars = c.vars[:len(c.vars)-1] }()
	return n.args[2].eval(c, dst)
}
