package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// contribution is what one flow of one rule offers for one target attribute.
// It is kept small (the engine makes one per flow per object): where it
// comes from is shared by the flows of a rule, through src.
type contribution struct {
	attr  string
	vals  model.Values
	auth  bool // AuthoritativeNull: removes the value and wins
	merge bool
	once  bool
	src   *source
}

// source is the rule and connector space object contributions come from.
type source struct {
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
	dn       string // the connector space object's DN, read as [dn]
	part     string // its partition, for the Domain.* parameters
	conn     string // its connector, for Connector.ID
	// rolesAttr, when set, reads as roles instead of attrs: the roles of
	// an outbound rule's assignments (assign.go).
	rolesAttr string
	roles     model.Values
	// taken, when set, tells whether a value of an attribute is taken in
	// the target (SelectUniqueValue, see unique_value.go); target is the
	// attribute of the flow being evaluated.
	taken  func(attr, value string) bool
	target string
	// number, when set, answers NextFreeNumber for the flow's attribute
	// (number.go).
	number func(attr string, start, end int64) (int64, error)
}

// NextFreeNumber implements expr.NumberAllocator.
func (v env) NextFreeNumber(start, end int64) (int64, error) {
	if v.number == nil {
		return 0, fmt.Errorf("NextFreeNumber hands out numbers of a target's attribute: use it in an outbound flow")
	}
	return v.number(v.target, start, end)
}

// ValueExists implements expr.UniqueChecker: SelectUniqueValue skips the
// candidates another object of the target holds in the flow's attribute.
func (v env) ValueExists(value string) (bool, error) {
	if v.taken == nil {
		return false, nil
	}
	return v.taken(v.target, value), nil
}

// Attr returns an attribute's values; [dn] is the object's DN (a string:
// CRef([dn]) makes it a reference) unless the object has an attribute of
// that name.
func (v env) Attr(name string) model.Values {
	if v.rolesAttr != "" && name == v.rolesAttr {
		return v.roles
	}
	if x, ok := v.attrs[name]; ok || name != "dn" || v.dn == "" {
		return x
	}
	return model.Values{Type: model.String, Values: []string{v.dn}}
}

func (v env) ImportedValue(name string) model.Values {
	if v.imported != nil {
		return v.imported[name]
	}
	return v.attrs[name]
}

// Param returns a parameter: the connector's configured parameters first;
// else Domain.FQDN and Domain.Name derived from the object's partition
// (DC=contoso,DC=com → contoso.com), and Connector.ID / Connector.Name, the
// connector's name.
func (v env) Param(name string) string {
	if x, ok := v.params[name]; ok {
		return x
	}
	switch name {
	case "Domain.FQDN", "Connector.Domain.Name":
		return fqdnOf(v.part)
	case "Connector.ID", "Connector.Name":
		return v.conn
	}
	return ""
}

// fqdnOf turns the DC components of a DN into a DNS name.
func fqdnOf(dn string) string {
	var labels []string
	for _, rdn := range strings.Split(dn, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "dc") {
			labels = append(labels, strings.TrimSpace(val))
		}
	}
	return strings.Join(labels, ".")
}

// evalFlows evaluates the flows of r on an object and appends the
// contributions. ref maps reference values into the target space (nil: keep).
func evalFlows(r *rules.Rule, ev env, src *source, ref func(string) (string, bool), out []contribution) ([]contribution, error) {
	for i := range r.Flows {
		f := &r.Flows[i]
		c := contribution{src: src}
		c.attr = f.Target
		c.merge = f.Merge == rules.MergeMerge
		c.once = f.ApplyOnce
		switch f.Type {
		case rules.Direct:
			v := ev.Attr(f.Source)
			if len(v.Values) == 0 {
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
			ev.target = f.Target
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
// It returns the attributes and, appended to win, the index in cs of each
// attribute's winner (pass a small array's slice: it then stays on the stack).
func resolveContributions(cs []contribution, win []int) (model.Attrs, []int) {
	// An object has a handful of contributions, most to distinct
	// attributes: a linear scan beats sorting or hashing here.
	merges := false
	for i := range cs {
		c := &cs[i]
		merges = merges || c.merge
		found := false
		for j, w := range win {
			if cs[w].attr == c.attr {
				if better(c, &cs[w]) {
					win[j] = i
				}
				found = true
				break
			}
		}
		if !found {
			win = append(win, i)
		}
	}
	attrs := make(model.Attrs, len(win))
	for _, wi := range win {
		w := &cs[wi]
		switch {
		case w.auth:
		case !w.merge || !merges:
			attrs[w.attr] = w.vals
		default:
			var vals []string
			for i := range cs {
				if c := &cs[i]; c.attr == w.attr && c.merge && !c.auth {
					vals = append(vals, c.vals.Values...)
				}
			}
			slices.Sort(vals)
			attrs[w.attr] = model.Values{Type: w.vals.Type, Values: slices.Compact(vals)}
		}
	}
	return attrs, win
}

func better(x, y *contribution) bool {
	a, b := x.src, y.src
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
