package rules

import (
	"errors"
	"fmt"
)

// Compile prepares every rule for evaluation; see Rule.Compile. It reports
// all problems, joined. Compile must not run concurrently with evaluation
// of the same rules.
func (rs *RuleSet) Compile() error {
	var errs []error
	for _, r := range rs.Rules {
		errs = append(errs, r.compile()...)
	}
	return errors.Join(errs...)
}

// Compile prepares a rule for evaluation: it canonicalizes its enumerations
// (any case is accepted), checks and parses its scoping clauses, applies
// defaults, and compiles its Expression flows with the registered
// expression language. Without one, an enabled rule with an Expression flow
// fails with an error wrapping ErrNoExpressionLanguage (disabled rules are
// left uncompiled). Run Compile again after changing a rule.
func (r *Rule) Compile() error {
	return errors.Join(r.compile()...)
}

func (r *Rule) compile() []error {
	var errs []error
	for _, e := range normalizeRule(r, func(...any) int { return 0 }) {
		errs = append(errs, &RuleError{Source: r.Source, Rule: r.Name, Err: e.err})
	}
	r.SetDefaults()
	lang := ExpressionLanguage()
	for i := range r.Flows {
		f := &r.Flows[i]
		f.compiled = nil
		if f.Type != Expression || f.Expression == "" {
			continue
		}
		if lang == nil {
			if !r.Disabled {
				errs = append(errs, ruleErr(r, "%s: %w", flowLabel(i, f), ErrNoExpressionLanguage))
			}
			continue
		}
		var c Compiled
		var err error
		switch dl, ok := lang.(DialectLanguage); {
		case f.Dialect == "" || f.Dialect == "sync":
			c, err = lang.Compile(f.Expression)
		case ok:
			c, err = dl.CompileDialect(f.Expression, f.Dialect)
		default:
			err = fmt.Errorf("dialect %q: the expression language built into this binary has only the sync-rule functions", f.Dialect)
		}
		if err != nil {
			errs = append(errs, ruleErr(r, "%s: expression %q: %w", flowLabel(i, f), f.Expression, err))
			continue
		}
		f.compiled = c
	}
	return errs
}

func flowLabel(i int, f *Flow) string {
	if f.Target == "" {
		return fmt.Sprintf("flow %d", i+1)
	}
	return fmt.Sprintf("flow %d (into %q)", i+1, f.Target)
}
