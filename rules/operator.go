package rules

import (
	"fmt"
	"strings"
)

// Operators lists every scoping-filter operator in their canonical spelling.
var Operators = []Operator{
	Equal, NotEqual, StartsWith, NotStartsWith, EndsWith, NotEndsWith,
	Contains, NotContains, IsNull, IsNotNull, IsIn, IsNotIn,
	IsMemberOf, IsNotMemberOf, IsBitSet, IsNotBitSet,
	LessThan, LessThanOrEqual, GreaterThan, GreaterThanOrEqual,
}

// operatorAliases maps spellings (upper case, without '_', '-' and spaces)
// to operators: the canonical names, plus "ISBITNOTSET", the spelling one
// place of the requirements uses for ISNOTBITSET.
var operatorAliases = func() map[string]Operator {
	m := map[string]Operator{"ISBITNOTSET": IsNotBitSet}
	for _, op := range Operators {
		m[squash(string(op))] = op
	}
	return m
}()

// squash upper-cases s and drops '_', '-' and spaces.
func squash(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToUpper(s) {
		if r != '_' && r != '-' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ParseOperator parses an operator as written in a rule file. Case does not
// matter and '_', '-' and spaces are ignored, so "Equal", "EQUAL",
// "LESSTHAN-OR-EQUAL" and "LessThan_Or_Equal" are all accepted; ISBITNOTSET
// is an alias of ISNOTBITSET.
func ParseOperator(s string) (Operator, error) {
	if op, ok := operatorAliases[squash(s)]; ok {
		return op, nil
	}
	names := make([]string, len(Operators))
	for i, op := range Operators {
		names[i] = string(op)
	}
	return "", fmt.Errorf("unknown operator %q (want one of %s)", s, strings.Join(names, ", "))
}

// canonical returns op in its canonical spelling, parsing it when needed.
func (op Operator) canonical() (Operator, error) {
	switch op {
	case Equal, NotEqual, StartsWith, NotStartsWith, EndsWith, NotEndsWith,
		Contains, NotContains, IsNull, IsNotNull, IsIn, IsNotIn,
		IsMemberOf, IsNotMemberOf, IsBitSet, IsNotBitSet,
		LessThan, LessThanOrEqual, GreaterThan, GreaterThanOrEqual:
		return op, nil
	}
	return ParseOperator(string(op))
}

// positive returns the positive form of a negative operator (NOTEQUAL →
// EQUAL …) and true, or op and false for the others.
func (op Operator) positive() (Operator, bool) {
	switch op {
	case NotEqual:
		return Equal, true
	case NotStartsWith:
		return StartsWith, true
	case NotEndsWith:
		return EndsWith, true
	case NotContains:
		return Contains, true
	case IsNotIn:
		return IsIn, true
	case IsNotBitSet:
		return IsBitSet, true
	case IsNotMemberOf:
		return IsMemberOf, true
	case IsNotNull:
		return IsNull, true
	}
	return op, false
}

// needs says what operand an operator takes.
type operand uint8

const (
	noOperand operand = iota
	oneValue
	valueList
	intMask
)

func (op Operator) operand() operand {
	switch p, _ := op.positive(); p {
	case IsNull:
		return noOperand
	case IsIn:
		return valueList
	case IsBitSet:
		return intMask
	}
	return oneValue
}

// usesAttribute reports whether the operator reads the clause's attribute
// (ISMEMBEROF / ISNOTMEMBEROF test the object's group membership instead).
func (op Operator) usesAttribute() bool {
	p, _ := op.positive()
	return p != IsMemberOf
}
