package engine

import (
	"fmt"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// contribution is what one flow of one rule offers for one target attribute.
type contribution struct {
	attr   string
	vals   model.Values
	auth   bool // AuthoritativeNull: removes the value and wins
	merge  bool
	once   bool
	prec   int
	rule   string
	conn   string
	anchor string
	csid   string
}

// env is the expression environment over an object's attributes.
type env struct {
	attrs    model.Attrs
	imported model.Attrs
	params   map[string]string
}

func (v env) Attr(name string) model.Values { return v.attrs[name] }

func (v env) ImportedValue(name string) model.Values {
	if v.imported != nil {
		return v.imported[name]
	}
	return v.attrs[name]
}

func (v env) Param(name string) string { return v.params[name] }

// evalFlows evaluates the flows of r on an object and appends the
// contributions. ref maps reference values into the target space (nil: keep).
func evalFlows(r *rules.Rule, ev env, base contribution, ref func(string) (string, bool), out []contribution) ([]contribution, error) {
	for i := range r.Flows {
		f := &r.Flows[i]
		c := base
		c.attr = f.Target
		c.merge = f.Merge == rules.MergeMerge
		c.once = f.ApplyOnce
		switch f.Type {
		case rules.Direct:
			v, ok := ev.attrs[f.Source]
			if !ok || len(v.Values) == 0 {
				continue // no contribution
			}
			c.vals = v
		case rules.Constant:
			t, err := model.ParseType(f.TargetType)
			if err != nil {
				return out, fmt.Errorf("rule %q: flow into %s: %w", r.Name, f.Target, err)
			}
			c.vals = model.Values{Type: t, Values: []string{f.Value}}
		case rules.Expression:
			cp := f.Compiled()
			if cp == nil {
				return out, fmt.Errorf("rule %q: flow into %s: %w", r.Name, f.Target, rules.ErrNoExpressionLanguage)
			}
			res, err := cp.Eval(ev)
			if err != nil {
				return out, fmt.Errorf("rule %q: flow into %s: %w", r.Name, f.Target, err)
			}
			switch res.Kind {
			case rules.Null, rules.IgnoreThisFlow:
				continue
			case rules.AuthoritativeNull:
				c.auth = true
			default:
				if len(res.Values.Values) == 0 {
					continue
				}
				c.vals = res.Values
			}
		default:
			return out, fmt.Errorf("rule %q: flow into %s: unknown flow type %q", r.Name, f.Target, f.Type)
		}
		if c.vals.Type == model.Reference && ref != nil {
			mapped := make([]string, 0, len(c.vals.Values))
			for _, x := range c.vals.Values {
				if y, ok := ref(x); ok {
					mapped = append(mapped, y)
				}
			}
			c.vals = model.Values{Type: model.Reference, Values: mapped}
			if len(mapped) == 0 {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// resolveContributions picks, for every attribute, the winning contribution:
// the lowest precedence number wins; ties go to the lowest (connector, anchor)
// so that the result never depends on import or synchronization order (R1.1).
// When the winner merges, the values of every merging contributor are unioned.
func resolveContributions(cs []contribution) (model.Attrs, map[string]contribution) {
	attrs := make(model.Attrs, len(cs))
	win := make(map[string]contribution, len(cs))
	for _, c := range cs {
		w, ok := win[c.attr]
		if !ok || better(c, w) {
			win[c.attr] = c
		}
	}
	for a, w := range win {
		if w.auth {
			continue
		}
		if !w.merge {
			attrs[a] = w.vals
			continue
		}
		set := map[string]bool{}
		var vals []string
		for _, c := range cs {
			if c.attr != a || !c.merge || c.auth {
				continue
			}
			for _, v := range c.vals.Values {
				if !set[v] {
					set[v] = true
					vals = append(vals, v)
				}
			}
		}
		v := model.Values{Type: w.vals.Type, Values: vals}
		attrs[a] = v.Sorted()
	}
	return attrs, win
}

func better(a, b contribution) bool {
	if a.prec != b.prec {
		return a.prec < b.prec
	}
	if a.conn != b.conn {
		return a.conn < b.conn
	}
	if a.anchor != b.anchor {
		return a.anchor < b.anchor
	}
	return a.rule < b.rule
}
