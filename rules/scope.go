package rules

import (
	"fmt"
	"strings"
	"time"
)

// Scoping-filter semantics (see also the package documentation):
//
//   - A filter is an OR of groups, a group an AND of clauses; an empty filter
//     and an empty group match everything. Evaluation goes left to right and
//     stops as soon as the result is known; an error stops it.
//   - Strings compare case-insensitively (Unicode simple folding), like
//     Azure AD Connect's scoping filters.
//   - Multi-valued attributes: a positive operator (EQUAL, STARTSWITH,
//     ENDSWITH, CONTAINS, ISIN, ISBITSET, LESSTHAN …) holds when ANY value
//     satisfies it; a negative operator (NOTEQUAL, NOTSTARTSWITH,
//     NOTENDSWITH, NOTCONTAINS, ISNOTIN, ISNOTBITSET) holds when NO value
//     satisfies its positive form. So an absent attribute satisfies every
//     negative operator and no positive one: "department NOTEQUAL Sales" is
//     true for an object without a department.
//   - ISNULL holds when the attribute has no value, ISNOTNULL when it has one.
//   - ISBITSET holds when (value & mask) == mask for a value parsed as a
//     base-10 int64 (userAccountControl, groupType); the mask is decimal or
//     0x hexadecimal. A value that is not an integer is an error naming the
//     attribute, the value and the operator.
//   - LESSTHAN, LESSTHAN_OR_EQUAL, GREATERTHAN, GREATERTHAN_OR_EQUAL compare
//     as integers when both sides are base-10 integers, else as RFC 3339 times
//     when both sides are, else as case-insensitive strings.
//   - ISIN / ISNOTIN take Values, or Value split on ';' (items trimmed).
//   - ISMEMBEROF / ISNOTMEMBEROF ask Subject.MemberOf(Value); the attribute is
//     not used.

// clausePrep is a clause's operand, parsed once.
type clausePrep struct {
	op    Operator // canonical operator
	num   int64    // Value as an integer (bit mask, or comparison operand)
	numOK bool
	t     time.Time // Value as an RFC 3339 time (comparison operand)
	tOK   bool
	set   []string // ISIN / ISNOTIN items
}

// Match reports whether the subject is in scope of the filter.
func (f ScopingFilter) Match(s Subject) (bool, error) {
	if len(f) == 0 {
		return true, nil
	}
	for gi := range f {
		ok, err := f[gi].Match(s)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Match reports whether the subject satisfies every clause of the group.
func (g *ScopeGroup) Match(s Subject) (bool, error) {
	for ci := range g.Clauses {
		ok, err := g.Clauses[ci].Match(s)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// Match reports whether the subject satisfies the clause. Clauses prepared
// by Compile or by the loader evaluate without allocating; others parse
// their operand on every call.
func (c *Clause) Match(s Subject) (bool, error) {
	p := c.prep
	if p == nil {
		var err error
		if p, err = c.parse(); err != nil {
			return false, err
		}
	}
	pos, negated := p.op.positive()
	switch pos {
	case IsMemberOf:
		return s.MemberOf(c.Value) != negated, nil
	case IsNull:
		return (len(s.Attr(c.Attribute).Values) == 0) != negated, nil
	}
	vals := s.Attr(c.Attribute).Values
	if pos == IsBitSet {
		// Check every value, so that a bad value is reported whatever the
		// order of the values.
		found := false
		for _, v := range vals {
			n, ok := parseInt(v)
			if !ok {
				return false, fmt.Errorf("attribute %q value %q is not an integer (operator %s)", c.Attribute, v, p.op)
			}
			if n&p.num == p.num {
				found = true
			}
		}
		return found != negated, nil
	}
	for _, v := range vals {
		if c.matchValue(p, pos, v) {
			return !negated, nil
		}
	}
	return negated, nil
}

// matchValue applies a positive, value-based operator to one value.
func (c *Clause) matchValue(p *clausePrep, op Operator, v string) bool {
	switch op {
	case Equal:
		return strings.EqualFold(v, c.Value)
	case StartsWith:
		return hasPrefixFold(v, c.Value)
	case EndsWith:
		return hasSuffixFold(v, c.Value)
	case Contains:
		return containsFold(v, c.Value)
	case IsIn:
		for _, item := range p.set {
			if strings.EqualFold(v, item) {
				return true
			}
		}
		return false
	case LessThan:
		return compareValue(p, c.Value, v) < 0
	case LessThanOrEqual:
		return compareValue(p, c.Value, v) <= 0
	case GreaterThan:
		return compareValue(p, c.Value, v) > 0
	case GreaterThanOrEqual:
		return compareValue(p, c.Value, v) >= 0
	}
	return false
}

// compareValue compares an attribute value with the clause's operand.
func compareValue(p *clausePrep, operand, v string) int {
	if p.numOK {
		if n, ok := parseInt(v); ok {
			switch {
			case n < p.num:
				return -1
			case n > p.num:
				return 1
			}
			return 0
		}
	}
	if p.tOK && looksLikeTime(v) {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.Compare(p.t)
		}
	}
	return compareFold(v, operand)
}

// looksLikeTime cheaply rejects values that cannot be RFC 3339 times, to
// spare time.Parse's error allocation.
func looksLikeTime(v string) bool {
	return len(v) >= 20 && v[4] == '-' && v[7] == '-' && (v[10] == 'T' || v[10] == 't')
}

// prepare parses the clause's operand and caches it for Match.
func (c *Clause) prepare() error {
	p, err := c.parse()
	if err != nil {
		return err
	}
	c.Operator = p.op
	c.prep = p
	return nil
}

// parse checks the clause and parses its operand.
func (c *Clause) parse() (*clausePrep, error) {
	op, err := c.Operator.canonical()
	if err != nil {
		return nil, err
	}
	p := &clausePrep{op: op}
	if op.usesAttribute() && c.Attribute == "" {
		return nil, fmt.Errorf("%s clause has no attribute", op)
	}
	kind := op.operand()
	if kind != valueList && len(c.Values) > 0 {
		return nil, fmt.Errorf("values (a list) is only used by ISIN and ISNOTIN, not %s: use value", op)
	}
	switch kind {
	case noOperand:
		if c.Value != "" {
			return nil, fmt.Errorf("%s takes no value (got %q)", op, c.Value)
		}
	case valueList:
		if len(c.Values) > 0 {
			p.set = c.Values
		} else {
			for item := range strings.SplitSeq(c.Value, ";") {
				if item = strings.TrimSpace(item); item != "" {
					p.set = append(p.set, item)
				}
			}
		}
		if len(p.set) == 0 {
			return nil, fmt.Errorf("%s needs values: a list in values, or value separated by ';'", op)
		}
	case intMask:
		if p.num, p.numOK = parseMask(c.Value); !p.numOK {
			return nil, fmt.Errorf("%s needs an integer mask (decimal, or hexadecimal with 0x), got %q", op, c.Value)
		}
		if p.num == 0 {
			return nil, fmt.Errorf("%s needs a non-zero mask", op)
		}
	case oneValue:
		if c.Value == "" {
			return nil, fmt.Errorf("%s needs a value", op)
		}
		p.num, p.numOK = parseInt(c.Value)
		if t, err := time.Parse(time.RFC3339, c.Value); err == nil {
			p.t, p.tOK = t, true
		}
	}
	return p, nil
}

// String renders the clause for messages: `department EQUAL "IT"`.
func (c *Clause) String() string {
	switch c.Operator.operand() {
	case noOperand:
		return fmt.Sprintf("%s %s", c.Attribute, c.Operator)
	case valueList:
		if len(c.Values) > 0 {
			return fmt.Sprintf("%s %s %q", c.Attribute, c.Operator, c.Values)
		}
	}
	if !c.Operator.usesAttribute() {
		return fmt.Sprintf("%s %q", c.Operator, c.Value)
	}
	return fmt.Sprintf("%s %s %q", c.Attribute, c.Operator, c.Value)
}

// prepare checks and prepares every clause of the filter.
func (f ScopingFilter) prepare() []error {
	var errs []error
	for gi := range f {
		for ci := range f[gi].Clauses {
			if err := f[gi].Clauses[ci].prepare(); err != nil {
				errs = append(errs, fmt.Errorf("scope group %d clause %d: %w", gi+1, ci+1, err))
			}
		}
	}
	return errs
}
