package rules

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RuleSet is the merged set of sync rules the engine runs, sorted by
// precedence then name. It includes disabled rules (For skips them).
type RuleSet struct {
	Rules []*Rule
}

// Merge combines rule files into a rule set. It copies the rules (the files
// are not modified), applies every file's disable list, and sorts the rules
// by (Precedence, Name). Errors, all reported together:
//   - two rules with the same name (rule names are case-sensitive);
//   - a rule of a user file (File.Immutable unset) that has the name of an
//     out-of-box rule: out-of-box rules are never edited in place (R2.8);
//   - immutable: true in a user file (reserved for out-of-box rules);
//   - a disable entry that names no rule.
func Merge(files ...*File) (*RuleSet, error) {
	var errs []error
	byName := make(map[string]*Rule)
	rs := &RuleSet{}
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, r := range f.Rules {
			r = r.Clone()
			if r.Source == "" {
				r.Source = f.Name
			}
			if f.Immutable {
				r.Immutable = true
			} else if r.Immutable {
				errs = append(errs, ruleErr(r, "immutable: true is reserved for the out-of-box rules idsync ships"))
				continue
			}
			r.SetDefaults()
			if prev, ok := byName[r.Name]; ok {
				errs = append(errs, duplicateError(prev, r))
				continue
			}
			byName[r.Name] = r
			rs.Rules = append(rs.Rules, r)
		}
	}
	for _, f := range files {
		if f == nil {
			continue
		}
		for i, name := range f.Disable {
			src := f.Name
			if i < len(f.disableSrc) {
				src = f.disableSrc[i]
			}
			r, ok := byName[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: disable: no rule is named %q%s", src, name, nameHint(name, byName)))
				continue
			}
			r.Disabled = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rs.sort()
	return rs, nil
}

// duplicateError reports a rule defined twice; a and b are in load order.
func duplicateError(a, b *Rule) error {
	if a.Immutable != b.Immutable {
		oob, user := a, b
		if b.Immutable {
			oob, user = b, a
		}
		return fmt.Errorf("%s: rule %q is out-of-box (%s) and cannot be edited in place: clone it under a new name, give the clone a precedence below 100, and disable the original with `disable: [%q]`",
			user.Source, user.Name, oob.Source, user.Name)
	}
	return fmt.Errorf("%s: rule %q is defined twice: at %s and at %s", b.Source, b.Name, a.Source, b.Source)
}

// nameHint suggests a rule whose name differs from name only by case.
func nameHint(name string, byName map[string]*Rule) string {
	for n := range byName {
		if strings.EqualFold(n, name) {
			return fmt.Sprintf(" (rule names are case-sensitive: did you mean %q?)", n)
		}
	}
	return ""
}

func (rs *RuleSet) sort() {
	slices.SortStableFunc(rs.Rules, compareRules)
}

func compareRules(a, b *Rule) int {
	return cmp.Or(cmp.Compare(a.Precedence, b.Precedence), strings.Compare(a.Name, b.Name))
}

// For returns the enabled rules of a connector and direction, by precedence
// then name.
func (rs *RuleSet) For(connector string, dir Direction) []*Rule {
	var out []*Rule
	for _, r := range rs.Rules {
		if !r.Disabled && r.Connector == connector && r.Direction == dir {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, compareRules)
	return out
}

// Connectors returns the sorted names of the connectors enabled rules use.
func (rs *RuleSet) Connectors() []string {
	var out []string
	for _, r := range rs.Rules {
		if !r.Disabled && r.Connector != "" {
			out = append(out, r.Connector)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Attributes returns the sorted connector-space attributes the enabled rules
// of a connector read or write, so that imports can request only those:
// for inbound rules the scoping-filter attributes, join sources, Direct flow
// sources and the attributes Expression flows read (known after Compile);
// for outbound rules the flow targets, join targets and the disable
// attribute.
func (rs *RuleSet) Attributes(connector string) []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			if n != "" {
				out = append(out, n)
			}
		}
	}
	for _, r := range rs.Rules {
		if r.Disabled || r.Connector != connector {
			continue
		}
		switch r.Direction {
		case Inbound:
			for _, g := range r.Scope {
				for i := range g.Clauses {
					if g.Clauses[i].Operator.usesAttribute() {
						add(g.Clauses[i].Attribute)
					}
				}
			}
			for _, g := range r.Join {
				for _, c := range g.Conditions {
					add(c.Source)
				}
			}
			for i := range r.Flows {
				add(r.Flows[i].sourceAttributes()...)
			}
		case Outbound:
			for _, g := range r.Join {
				for _, c := range g.Conditions {
					add(c.Target)
				}
			}
			for i := range r.Flows {
				add(r.Flows[i].Target)
			}
			add(r.DisableAttribute)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sourceAttributes returns the attributes a flow reads: a Direct flow's
// source, or what a compiled expression reads.
func (f *Flow) sourceAttributes() []string {
	switch f.Type {
	case Direct:
		return []string{f.Source}
	case Expression:
		if f.compiled != nil {
			return f.compiled.Attributes()
		}
	}
	return nil
}
