package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
)

// canonEnum returns the allowed value equal to v ignoring case. An empty v
// is returned as is (required-field checks are Validate's).
func canonEnum[T ~string](v T, what string, allowed ...T) (T, error) {
	if v == "" {
		return v, nil
	}
	for _, a := range allowed {
		if strings.EqualFold(string(v), string(a)) {
			return a, nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return v, fmt.Errorf("unknown %s %q (want %s)", what, v, strings.Join(names, ", "))
}

// lineErr is a problem found by normalizeRule, at a line of the rule file.
type lineErr struct {
	line int
	msg  string
	err  error
}

// normalizeRule canonicalizes the enumerations of a freshly decoded rule and
// prepares its scoping clauses. at returns the line of a path inside the
// rule (see lineAt).
func normalizeRule(r *Rule, at func(path ...any) int) []lineErr {
	var errs []lineErr
	add := func(err error, path ...any) {
		errs = append(errs, lineErr{line: at(path...), msg: err.Error(), err: err})
	}
	var err error
	if r.Direction, err = canonEnum(r.Direction, "direction", Inbound, Outbound); err != nil {
		add(err, "direction")
	}
	if r.LinkType, err = canonEnum(r.LinkType, "linkType", Join, Provision); err != nil {
		add(err, "linkType")
	}
	if r.Deprovision, err = canonEnum(r.Deprovision, "deprovision action", DeprovisionDelete, DeprovisionDisable, DeprovisionKeep); err != nil {
		add(err, "deprovision")
	}
	for gi := range r.Scope {
		for ci := range r.Scope[gi].Clauses {
			c := &r.Scope[gi].Clauses[ci]
			path := []any{"scope", gi, "clauses", ci}
			if _, err := c.Operator.canonical(); err != nil {
				path = append(path, "operator")
			}
			if err := c.prepare(); err != nil {
				add(fmt.Errorf("scope group %d clause %d: %w", gi+1, ci+1, err), path...)
			}
		}
	}
	for i := range r.Assignments {
		// Any case is accepted; an unknown value is left for Validate.
		a := &r.Assignments[i]
		if m, err := canonEnum(a.Members, "members", MembersDirect, MembersNested, MembersNone); err == nil {
			a.Members = m
		}
	}
	for fi := range r.Flows {
		fl := &r.Flows[fi]
		if fl.Type, err = canonEnum(fl.Type, "flow type", Direct, Constant, Expression); err != nil {
			add(fmt.Errorf("flow %d: %w", fi+1, err), "flows", fi, "type")
		}
		if fl.Merge, err = canonEnum(fl.Merge, "merge type", MergeUpdate, MergeMerge); err != nil {
			add(fmt.Errorf("flow %d: %w", fi+1, err), "flows", fi, "merge")
		}
		if _, err := model.ParseType(fl.TargetType); err != nil {
			add(fmt.Errorf("flow %d: targetType: %w", fi+1, err), "flows", fi, "targetType")
		}
	}
	return errs
}

// SetDefaults fills in the defaults of unset fields: merge type Update for
// every flow; targetType "string" for Constant and Expression flows (Direct
// flows keep the type of their source); deprovision "delete" for outbound
// rules.
func (r *Rule) SetDefaults() {
	for i := range r.Flows {
		f := &r.Flows[i]
		if f.Merge == "" {
			f.Merge = MergeUpdate
		}
		if f.TargetType == "" && (f.Type == Constant || f.Type == Expression) {
			f.TargetType = model.String.String()
		}
	}
	if r.Direction == Outbound && r.Deprovision == "" {
		r.Deprovision = DeprovisionDelete
	}
}

// Clone returns a deep copy of the rule. Compiled expressions and prepared
// clauses are shared: they are immutable.
func (r *Rule) Clone() *Rule {
	c := *r
	c.Scope = slices.Clone(r.Scope)
	for i := range c.Scope {
		c.Scope[i].Clauses = slices.Clone(c.Scope[i].Clauses)
		for j := range c.Scope[i].Clauses {
			cl := &c.Scope[i].Clauses[j]
			cl.Values = slices.Clone(cl.Values)
		}
	}
	c.Join = slices.Clone(r.Join)
	for i := range c.Join {
		c.Join[i].Conditions = slices.Clone(c.Join[i].Conditions)
	}
	c.Flows = slices.Clone(r.Flows)
	c.Assignments = slices.Clone(r.Assignments)
	return &c
}
