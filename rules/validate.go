package rules

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
)

// ValidateEnv is what rules are validated against.
type ValidateEnv struct {
	// Connectors maps the configured connectors to their schemas. A nil
	// schema means "schema unknown": attribute names are not checked. A nil
	// map means "configuration unknown": connector names are not checked
	// either (an empty, non-nil map means no connector is configured).
	Connectors map[string]*model.Schema
	// MVSchema is the metaverse schema; nil = don't check MV attributes.
	MVSchema *model.Schema
}

// Validate compiles the rule set (see Compile) and checks it, returning
// every problem, each a *RuleError naming the rule and where it is defined.
// Structural checks apply to every rule; checks against the environment
// (connector configured, attribute names, unique precedence) only to
// enabled rules, so that disabled out-of-box rules for connectors that are
// not configured do not get in the way.
func (rs *RuleSet) Validate(env ValidateEnv) []error {
	var errs []error
	byName := make(map[string]*Rule)
	byPrecedence := make(map[int]*Rule)
	for _, r := range rs.Rules {
		errs = append(errs, r.compile()...)
		v := ruleValidator{r: r, env: env}
		v.check()
		errs = append(errs, v.errs...)
		if prev, ok := byName[r.Name]; ok && r.Name != "" {
			errs = append(errs, ruleErr(r, "name also used by the rule at %s", prev.Source))
		}
		byName[r.Name] = r
		if r.Disabled {
			continue
		}
		if prev, ok := byPrecedence[r.Precedence]; ok {
			a, b := prev, r // report on the later rule, or on the user's rule
			if b.Immutable && !a.Immutable {
				a, b = b, a
			}
			errs = append(errs, ruleErr(b, "precedence %d is also used by rule %q (%s): precedences of enabled rules must be unique",
				b.Precedence, a.Name, a.Source))
			continue
		}
		byPrecedence[r.Precedence] = r
	}
	return errs
}

// ruleValidator checks one rule.
type ruleValidator struct {
	r    *Rule
	env  ValidateEnv
	errs []error
	// The object types attributes are read from (src) and written to (tgt):
	// inbound CS → MV, outbound MV → CS; nil when unknown.
	src, tgt         *model.ObjectTypeSchema
	srcName, tgtName string
	// cs is the connector's object type; inferred when its schema was
	// derived from data (then unknown attributes are only warnings).
	cs       *model.ObjectTypeSchema
	inferred bool
}

// Warning is a validation finding that does not make the rules invalid: an
// attribute missing from a schema inferred from data may simply have no
// values yet. Validate returns warnings among its errors; use IsWarning.
type Warning struct{ Err error }

func (w *Warning) Error() string { return "warning: " + w.Err.Error() }

// Unwrap returns the finding.
func (w *Warning) Unwrap() error { return w.Err }

// IsWarning reports whether err is a Warning.
func IsWarning(err error) bool {
	var w *Warning
	return errors.As(err, &w)
}

func (v *ruleValidator) errorf(format string, args ...any) {
	v.errs = append(v.errs, ruleErr(v.r, format, args...))
}

func (v *ruleValidator) check() {
	r := v.r
	for _, f := range []struct{ name, value string }{
		{"name", r.Name}, {"connector", r.Connector}, {"direction", string(r.Direction)},
		{"csObjectType", r.CSObjectType}, {"mvObjectType", r.MVObjectType}, {"linkType", string(r.LinkType)},
	} {
		if f.value == "" {
			v.errorf("missing %s", f.name)
		}
	}
	if r.Precedence < 0 {
		v.errorf("precedence %d is negative", r.Precedence)
	}
	if !r.Disabled {
		v.resolveSchemas()
	}
	v.checkScope()
	v.checkJoin()
	v.checkFlows()
	v.checkOutbound()
	v.checkAssignments()
}

// readsRoles reports whether name is the attribute under which an outbound
// rule with assignments reads the roles of its assignments: not an MV
// attribute, so not checked against the MV schema.
func (v *ruleValidator) readsRoles(name string) bool {
	r := v.r
	return r.Direction == Outbound && len(r.Assignments) > 0 && name == r.RolesAttr()
}

// checkAssignments checks a rule's assignments (outbound rules only).
func (v *ruleValidator) checkAssignments() {
	r := v.r
	if r.Direction != Outbound {
		if len(r.Assignments) > 0 || r.RolesAttribute != "" {
			v.errorf("assignments and rolesAttribute are only used by outbound rules (they choose the metaverse objects the rule provisions): remove them or make the rule outbound")
		}
		return
	}
	if len(r.Assignments) == 0 && r.RolesAttribute != "" {
		v.errs = append(v.errs, &Warning{ruleErr(r, "rolesAttribute %q has no effect without assignments (no role is read)", r.RolesAttribute)})
	}
	for i := range r.Assignments {
		a := &r.Assignments[i]
		where := fmt.Sprintf("assignment %d", i+1)
		var set []string
		if a.ID != "" {
			set = append(set, "id")
		}
		if a.Value != "" {
			set = append(set, "value")
		}
		if a.Group != "" {
			set = append(set, "group")
		}
		switch {
		case len(set) == 0 && a.Attribute != "":
			v.errorf("%s: attribute %q needs a value (the value the metaverse objects to assign have in it)", where, a.Attribute)
		case len(set) == 0:
			v.errorf("%s names no object: set one of id (a metaverse object ID), value (with attribute, default %s) or group", where, DefaultAssignmentAttribute)
		case len(set) > 1:
			v.errorf("%s sets %s: set exactly one of id, value (with attribute) or group (write one assignment for each)", where, strings.Join(set, " and "))
		}
		if a.Attribute != "" && a.Value == "" && len(set) > 0 {
			v.errorf("%s: attribute %q needs a value (attribute goes with value, not with %s)", where, a.Attribute, set[0])
		}
		if a.Value != "" {
			v.attr(v.src, v.srcName, where+" attribute", a.ValueAttribute())
		}
		switch a.Members {
		case "", MembersDirect, MembersNested, MembersNone:
		default:
			v.errorf("%s: unknown members %q (want %s, %s or %s)", where, a.Members, MembersDirect, MembersNested, MembersNone)
		}
		if a.Group == "" && (a.Members != "" || a.Self) {
			v.errorf("%s: members and self apply to group assignments only (set group, or remove them)", where)
		}
		if a.Self && a.Group != "" && r.MVObjectType != "" && r.MVObjectType != "group" {
			v.errs = append(v.errs, &Warning{ruleErr(r, "%s: self assigns the group itself, which this rule for metaverse objects of type %q never provisions", where, r.MVObjectType)})
		}
	}
}

// resolveSchemas checks the connector and finds the object type schemas.
func (v *ruleValidator) resolveSchemas() {
	r, env := v.r, v.env
	var cs, mv *model.ObjectTypeSchema
	if env.Connectors != nil && r.Connector != "" {
		schema, ok := env.Connectors[r.Connector]
		if !ok {
			configured := "none are"
			if len(env.Connectors) > 0 {
				configured = "configured: " + strings.Join(slices.Sorted(maps.Keys(env.Connectors)), ", ")
			}
			v.errorf("names connector %q, which is not configured (%s)", r.Connector, configured)
		} else if schema != nil && schema.Inferred && r.Direction == Outbound {
			// An inferred schema cannot say what a target will accept.
		} else if schema != nil && r.CSObjectType != "" {
			v.inferred = schema.Inferred
			if cs = schema.ObjectType(r.CSObjectType); cs == nil {
				if schema.Inferred {
					v.errs = append(v.errs, &Warning{ruleErr(r, "connector %q has no object of type %q yet (schema inferred from the data; it has: %s)", r.Connector, r.CSObjectType, typeNames(schema))})
				} else {
					v.errorf("connector %q has no object type %q (it has: %s)", r.Connector, r.CSObjectType, typeNames(schema))
				}
			}
		}
	}
	if env.MVSchema != nil && r.MVObjectType != "" {
		if mv = env.MVSchema.ObjectType(r.MVObjectType); mv == nil {
			v.errorf("the metaverse has no object type %q (it has: %s)", r.MVObjectType, typeNames(env.MVSchema))
		}
	}
	v.cs = cs
	csName := fmt.Sprintf("connector %q object type %q", r.Connector, r.CSObjectType)
	mvName := fmt.Sprintf("metaverse object type %q", r.MVObjectType)
	if r.Direction == Outbound {
		v.src, v.tgt, v.srcName, v.tgtName = mv, cs, mvName, csName
	} else {
		v.src, v.tgt, v.srcName, v.tgtName = cs, mv, csName, mvName
	}
}

func typeNames(s *model.Schema) string {
	names := make([]string, len(s.ObjectTypes))
	for i, t := range s.ObjectTypes {
		names[i] = t.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// attr checks that an attribute exists in an object type, when known.
func (v *ruleValidator) attr(ots *model.ObjectTypeSchema, otsName, where, name string) {
	if ots == nil || name == "" || ots.Attribute(name) != nil {
		return
	}
	hint, bestD := "", 3
	for _, a := range ots.Attributes {
		d := editDistance(strings.ToLower(name), strings.ToLower(a.Name))
		if d < bestD {
			hint, bestD = fmt.Sprintf(" (did you mean %q?)", a.Name), d
		}
	}
	if ots == v.cs && v.inferred {
		v.errs = append(v.errs, &Warning{ruleErr(v.r, "%s: attribute %q has no value on any object of %s (schema inferred from the data)%s", where, name, otsName, hint)})
		return
	}
	v.errorf("%s: attribute %q is not in the schema of %s%s", where, name, otsName, hint)
}

func (v *ruleValidator) checkScope() {
	for gi, g := range v.r.Scope {
		if len(g.Clauses) == 0 {
			v.errorf("scope group %d has no clauses (an empty group matches every object)", gi+1)
		}
		for ci := range g.Clauses {
			c := &g.Clauses[ci]
			if c.Operator.usesAttribute() && !v.readsRoles(c.Attribute) {
				v.attr(v.src, v.srcName, fmt.Sprintf("scope group %d clause %d", gi+1, ci+1), c.Attribute)
			}
		}
	}
}

func (v *ruleValidator) checkJoin() {
	r := v.r
	// A Join rule without join groups is valid: it never links anything
	// itself and only contributes its flows to objects another rule joined or
	// projected (Azure AD Connect's "In from AD – User AccountEnabled").
	for gi, g := range r.Join {
		if len(g.Conditions) == 0 {
			v.errorf("join group %d has no conditions", gi+1)
		}
		for ci, c := range g.Conditions {
			where := fmt.Sprintf("join group %d condition %d", gi+1, ci+1)
			if c.FromFlow {
				v.checkFromFlow(where, c)
				continue
			}
			if c.Source == "" || c.Target == "" {
				v.errorf("%s: needs both source and target", where)
			}
			v.attr(v.src, v.srcName, where+" source", c.Source)
			v.attr(v.tgt, v.tgtName, where+" target", c.Target)
		}
	}
}

// checkFromFlow checks a fromFlow join condition: its source value is what
// the rule's own flow into the target attribute computes.
func (v *ruleValidator) checkFromFlow(where string, c JoinCondition) {
	r := v.r
	if r.Direction != Outbound {
		v.errorf("%s: fromFlow applies to outbound rules only (the value the rule's flow into the target computes)", where)
	}
	if c.Source != "" {
		v.errorf("%s: a fromFlow condition takes no source (its value is the one the rule's flow into %q computes)", where, c.Target)
	}
	if c.Target == "" {
		v.errorf("%s: needs a target", where)
		return
	}
	v.attr(v.tgt, v.tgtName, where+" target", c.Target)
	if r.Direction == Outbound && !slices.ContainsFunc(r.Flows, func(f Flow) bool { return f.Target == c.Target }) {
		v.errorf("%s: fromFlow needs a flow of this rule into %q", where, c.Target)
	}
}

func (v *ruleValidator) checkFlows() {
	targets := make(map[string]int)
	for i := range v.r.Flows {
		f := &v.r.Flows[i]
		label := flowLabel(i, f)
		if f.Target == "" {
			v.errorf("%s: missing target", label)
		} else if prev, ok := targets[f.Target]; ok {
			v.errorf("%s: flow %d already flows into %q: a rule has one flow per target", label, prev+1, f.Target)
		} else {
			targets[f.Target] = i
		}
		v.attr(v.tgt, v.tgtName, label+" target", f.Target)
		if f.ApplyOnce && v.r.Direction == Inbound {
			v.errorf("%s: applyOnce applies to outbound flows only (the value is set when the target object is created)", label)
		}
		switch f.Type {
		case "":
			v.errorf("%s: missing type (Direct, Constant or Expression)", label)
		case Direct:
			if f.Source == "" {
				v.errorf("%s: a Direct flow needs a source", label)
			}
			if f.Value != "" || f.Expression != "" {
				v.errorf("%s: a Direct flow takes only a source (not value or expression)", label)
			}
			if f.TargetType != "" && f.TargetType != "string" {
				v.errorf("%s: a Direct flow keeps its source's type; targetType applies to Constant and Expression flows", label)
			}
			if !v.readsRoles(f.Source) {
				v.attr(v.src, v.srcName, label+" source", f.Source)
			}
		case Constant:
			if f.Value == "" {
				v.errorf("%s: a Constant flow needs a non-empty value (to clear an attribute, use an Expression flow returning AuthoritativeNull)", label)
			} else if err := checkConstant(f.Value, f.TargetType); err != nil {
				v.errorf("%s: %w", label, err)
			}
			if f.Source != "" || f.Expression != "" {
				v.errorf("%s: a Constant flow takes only a value (not source or expression)", label)
			}
		case Expression:
			if f.Expression == "" {
				v.errorf("%s: an Expression flow needs an expression", label)
			}
			if f.Source != "" || f.Value != "" {
				v.errorf("%s: an Expression flow takes only an expression (not source or value)", label)
			}
			if vol, ok := f.compiled.(interface{ Volatile() bool }); ok && vol.Volatile() && (v.r.Direction != Outbound || !f.ApplyOnce) {
				v.errorf("%s: the expression gives a new value at every evaluation (GeneratePassword): use it in an outbound flow with applyOnce: true, "+
					"so that the value is set once, when the target object is created, instead of changing at every synchronization", label)
			}
			if f.compiled != nil {
				for _, a := range f.compiled.Attributes() {
					if !v.readsRoles(a) {
						v.attr(v.src, v.srcName, label+" expression", a)
					}
				}
			}
		}
	}
}

// checkConstant checks a constant against the type it flows as.
func checkConstant(value, typeName string) error {
	t, terr := model.ParseType(typeName)
	if terr != nil {
		return nil //nolint:nilerr // an unknown type is reported by compile
	}
	ok := true
	switch t {
	case model.Integer:
		_, ok = parseInt(value)
	case model.Boolean:
		ok = value == "true" || value == "false"
	case model.DateTime:
		_, err := time.Parse(time.RFC3339, value)
		ok = err == nil
	}
	if !ok {
		return fmt.Errorf("value %q is not a valid %s", value, t)
	}
	return nil
}

// checkOutbound checks the fields only outbound rules use.
func (v *ruleValidator) checkOutbound() {
	r := v.r
	if r.Direction != Outbound {
		if r.Deprovision != "" || r.DisableAttribute != "" || r.DisableValue != "" {
			v.errorf("deprovision, disableAttribute and disableValue are only used by outbound rules")
		}
		if r.DN != "" {
			v.errorf("dn is only used by outbound Provision rules")
		}
		return
	}
	if r.Deprovision == DeprovisionDisable {
		if r.DisableAttribute == "" {
			v.errorf("deprovision: disable needs disableAttribute (and usually disableValue)")
		}
		v.attr(v.tgt, v.tgtName, "disableAttribute", r.DisableAttribute)
	} else if r.DisableAttribute != "" || r.DisableValue != "" {
		v.errorf("disableAttribute and disableValue are only used with deprovision: disable (deprovision is %q)", r.Deprovision)
	}
	if r.DN == "" {
		return
	}
	if r.LinkType != Provision {
		v.errorf("dn is only used by outbound Provision rules (it names the objects they create)")
	}
	if strings.ContainsAny(r.DN, "{}") {
		names, err := DNTemplateAttributes(r.DN)
		if err != nil {
			v.errorf("dn: %w", err)
		}
		for _, n := range names {
			if own, ok := strings.CutPrefix(n, OwnPrefix); ok {
				found := false
				for _, f := range r.Flows {
					found = found || f.Target == own
				}
				if !found {
					v.errorf("dn: placeholder {%s} names the target attribute %q, which no flow of the rule computes", n, own)
				}
				continue
			}
			v.attr(v.src, v.srcName, "dn template", n)
		}
	}
}
