package rules

import "fmt"

// PosError is a problem at a position of a rule file. Its message starts
// with "file:line: ".
type PosError struct {
	File string
	Line int // 1-based; 0 when unknown
	Msg  string
	Err  error // the underlying error, if any
}

// Error returns "file:line: message".
func (e *PosError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the underlying error.
func (e *PosError) Unwrap() error { return e.Err }

// RuleError is a problem with one rule, found when merging, compiling or
// validating a rule set. Its message is `source: rule "name": problem`.
type RuleError struct {
	Source string // where the rule is defined ("file.yaml:12"), may be empty
	Rule   string // rule name
	Err    error
}

// Error returns `source: rule "name": problem`.
func (e *RuleError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("rule %q: %v", e.Rule, e.Err)
	}
	return fmt.Sprintf("%s: rule %q: %v", e.Source, e.Rule, e.Err)
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

func ruleErr(r *Rule, format string, args ...any) error {
	return &RuleError{Source: r.Source, Rule: r.Name, Err: fmt.Errorf(format, args...)}
}
