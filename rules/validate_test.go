package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

func validRule() *Rule {
	return &Rule{
		Name: "In from HR", Connector: "hr", Direction: Inbound,
		CSObjectType: "worker", MVObjectType: "person", LinkType: Provision, Precedence: 10,
		Flows: []Flow{{Type: Direct, Source: "givenName", Target: "givenName"}},
	}
}

// validateOne validates a rule set of the given rules and returns the errors
// as one string.
func validateOne(env ValidateEnv, rules ...*Rule) string {
	rs := &RuleSet{Rules: rules}
	if err := errors.Join(rs.Validate(env)...); err != nil {
		return err.Error()
	}
	return ""
}

func TestValidateRules(t *testing.T) {
	withLanguage(t, fakeLang{})
	tests := []struct {
		name   string
		modify func(r *Rule)
		want   string // substring; "" = valid
	}{
		{"valid", func(*Rule) {}, ""},
		{"missing name", func(r *Rule) { r.Name = "" }, "missing name"},
		{"missing connector", func(r *Rule) { r.Connector = "" }, "missing connector"},
		{"missing csObjectType", func(r *Rule) { r.CSObjectType = "" }, "missing csObjectType"},
		{"missing linkType", func(r *Rule) { r.LinkType = "" }, "missing linkType"},
		{"bad direction", func(r *Rule) { r.Direction = "up" }, `unknown direction "up"`},
		{"bad link type", func(r *Rule) { r.LinkType = "Link" }, `unknown linkType "Link"`},
		{"negative precedence", func(r *Rule) { r.Precedence = -1 }, "precedence -1 is negative"},
		{"unknown connector", func(r *Rule) { r.Connector = "crm" }, `names connector "crm", which is not configured (configured: aad, ad, hr, target)`},
		{"unknown CS attribute", func(r *Rule) { r.Flows[0].Source = "firstName" }, `flow 1 (into "givenName") source: attribute "firstName" is not in the schema of connector "hr" object type "worker"`},
		{"unknown MV attribute", func(r *Rule) { r.Flows[0].Target = "firstName" }, `attribute "firstName" is not in the schema of metaverse object type "person"`},
		{"schema unknown", func(r *Rule) { r.Connector, r.Flows[0].Source = "ad", "anything" }, ""},
		{"disabled rules skip the environment", func(r *Rule) { r.Disabled, r.Connector = true, "crm" }, ""},
		{"empty scope group", func(r *Rule) { r.Scope = ScopingFilter{{}} }, "scope group 1 has no clauses"},
		{"scope attribute", func(r *Rule) {
			r.Scope = ScopingFilter{{Clauses: []Clause{{Attribute: "dept", Operator: Equal, Value: "x"}}}}
		}, `scope group 1 clause 1: attribute "dept" is not in the schema`},
		{"memberOf needs no attribute", func(r *Rule) {
			r.Scope = ScopingFilter{{Clauses: []Clause{{Operator: IsMemberOf, Value: "cn=g"}}}}
		}, ""},
		{"scope operand", func(r *Rule) {
			r.Scope = ScopingFilter{{Clauses: []Clause{{Attribute: "c", Operator: "lessthan"}}}}
		}, "scope group 1 clause 1: LESSTHAN needs a value"},
		{"join without groups", func(r *Rule) { r.LinkType = Join }, ""},
		{"join group without conditions", func(r *Rule) { r.Join = []JoinGroup{{}} }, "join group 1 has no conditions"},
		{"applyOnce inbound", func(r *Rule) { r.Flows[0].ApplyOnce = true }, "applyOnce applies to outbound flows only"},
		{"join condition", func(r *Rule) {
			r.Join = []JoinGroup{{Conditions: []JoinCondition{{Source: "mail"}}}}
		}, "join group 1 condition 1: needs both source and target"},
		{"join attributes", func(r *Rule) {
			r.Join = []JoinGroup{{Conditions: []JoinCondition{{Source: "email", Target: "mail"}}}}
		}, `join group 1 condition 1 source: attribute "email"`},
		{"fromFlow inbound", func(r *Rule) {
			r.Join = []JoinGroup{{Conditions: []JoinCondition{{FromFlow: true, Target: "givenName"}}}}
		}, "join group 1 condition 1: fromFlow applies to outbound rules only"},
		{"flow without type", func(r *Rule) { r.Flows[0].Type = "" }, "flow 1 (into \"givenName\"): missing type"},
		{"flow without target", func(r *Rule) { r.Flows[0].Target = "" }, "flow 1: missing target"},
		{"direct without source", func(r *Rule) { r.Flows[0].Source = "" }, "a Direct flow needs a source"},
		{"direct with value", func(r *Rule) { r.Flows[0].Value = "x" }, "a Direct flow takes only a source"},
		{"two flows into one target", func(r *Rule) { r.Flows = append(r.Flows, r.Flows[0]) }, `flow 2 (into "givenName"): flow 1 already flows into "givenName"`},
		{"constant", func(r *Rule) { r.Flows[0] = Flow{Type: Constant, Value: "HR", Target: "sourceSystem"} }, ""},
		{"constant integer", func(r *Rule) {
			r.Flows[0] = Flow{Type: Constant, Value: "x1", TargetType: "integer", Target: "sourceSystem"}
		}, `value "x1" is not a valid integer`},
		{"constant datetime", func(r *Rule) {
			r.Flows[0] = Flow{Type: Constant, Value: "2026-01-01T00:00:00Z", TargetType: "datetime", Target: "sourceSystem"}
		}, ""},
		{"bad target type", func(r *Rule) { r.Flows[0].TargetType = "float" }, `flow 1: targetType: unknown attribute type "float"`},
		{"bad merge type", func(r *Rule) { r.Flows[0].Merge = "Append" }, `unknown merge type "Append"`},
		{"expression", func(r *Rule) {
			r.Flows[0] = Flow{Type: Expression, Expression: `Trim([givenName])`, Target: "displayName"}
		}, ""},
		{"expression missing", func(r *Rule) { r.Flows[0] = Flow{Type: Expression, Target: "displayName"} }, "an Expression flow needs an expression"},
		{"expression attribute", func(r *Rule) {
			r.Flows[0] = Flow{Type: Expression, Expression: `[nickName]`, Target: "displayName"}
		}, `expression: attribute "nickName" is not in the schema`},
		{"deprovision on inbound", func(r *Rule) { r.Deprovision = DeprovisionKeep }, "only used by outbound rules"},
		{"dn on inbound", func(r *Rule) { r.DN = "cn={cn}" }, "dn is only used by outbound Provision rules"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRule()
			tc.modify(r)
			rs := &RuleSet{Rules: []*Rule{r}}
			errs := rs.Validate(testEnv())
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errors.Join(errs...))
				}
				return
			}
			joined := errors.Join(errs...)
			if joined == nil || !strings.Contains(joined.Error(), tc.want) {
				t.Fatalf("errors:\n%v\nwant one containing %q", joined, tc.want)
			}
			for _, err := range errs {
				var re *RuleError
				if !errors.As(err, &re) || re.Rule != r.Name {
					t.Errorf("error %v is not a *RuleError for the rule", err)
				}
			}
		})
	}
}

func outboundRule() *Rule {
	return &Rule{
		Name: "Out to target", Connector: "target", Direction: Outbound,
		CSObjectType: "inetOrgPerson", MVObjectType: "person", LinkType: Provision, Precedence: 20,
		Scope: ScopingFilter{{Clauses: []Clause{{Attribute: "employeeID", Operator: IsNotNull}}}},
		Join:  []JoinGroup{{Conditions: []JoinCondition{{Source: "employeeID", Target: "employeeNumber"}}}},
		Flows: []Flow{{Type: Direct, Source: "displayName", Target: "cn"}},
		DN:    "cn={displayName},ou=people,dc=example,dc=org",
	}
}

func TestValidateOutbound(t *testing.T) {
	env := testEnv()
	if got := validateOne(env, outboundRule()); got != "" {
		t.Fatalf("valid outbound rule: %s", got)
	}
	fromFlow := outboundRule()
	fromFlow.Join[0].Conditions = append(fromFlow.Join[0].Conditions, JoinCondition{FromFlow: true, Target: "cn"})
	if got := validateOne(env, fromFlow); got != "" {
		t.Fatalf("valid fromFlow join: %s", got)
	}
	own := outboundRule()
	own.DN = "cn={@cn},ou=people,dc=example,dc=org" // cn: what the rule's flow computes
	if got := validateOne(env, own); got != "" {
		t.Fatalf("valid {@cn} template: %s", got)
	}
	r := outboundRule()
	if err := r.Compile(); err != nil {
		t.Fatal(err)
	}
	if r.Deprovision != DeprovisionDelete {
		t.Errorf("deprovision default = %q", r.Deprovision)
	}
	for _, tc := range []struct {
		modify func(r *Rule)
		want   string
	}{
		// Outbound: scope and flow sources are MV attributes, targets CS.
		{func(r *Rule) { r.Flows[0].Source = "cn" }, `source: attribute "cn" is not in the schema of metaverse object type "person"`},
		{func(r *Rule) { r.Flows[0].Target = "displayname" }, `target: attribute "displayname" is not in the schema of connector "target" object type "inetOrgPerson" (did you mean "displayName"?)`},
		{func(r *Rule) { r.Join[0].Conditions[0].Target = "employeeID" }, `join group 1 condition 1 target: attribute "employeeID" is not in the schema of connector "target"`},
		{func(r *Rule) { r.DN = "cn={cn},ou=people" }, `dn template: attribute "cn" is not in the schema of metaverse object type "person"`},
		{func(r *Rule) { r.DN = "cn={cn" }, `dn: dn template "cn={cn": unclosed '{'`},
		{func(r *Rule) { r.DN = "cn={@sn},ou=people" }, `dn: placeholder {@sn} names the target attribute "sn", which no flow of the rule computes`},
		{func(r *Rule) { r.LinkType = Join }, "dn is only used by outbound Provision rules"},
		{func(r *Rule) { r.Deprovision = "archive" }, `unknown deprovision action "archive"`},
		{func(r *Rule) { r.Deprovision = DeprovisionDisable }, "deprovision: disable needs disableAttribute"},
		{func(r *Rule) { r.Deprovision, r.DisableAttribute = DeprovisionDisable, "enabled" }, `disableAttribute: attribute "enabled" is not in the schema`},
		{func(r *Rule) { r.DisableAttribute = "active" }, `only used with deprovision: disable (deprovision is "delete")`},
		{func(r *Rule) {
			r.Join[0].Conditions[0] = JoinCondition{FromFlow: true, Source: "employeeID", Target: "cn"}
		}, `join group 1 condition 1: a fromFlow condition takes no source`},
		{func(r *Rule) { r.Join[0].Conditions[0] = JoinCondition{FromFlow: true, Target: "employeeNumber"} }, `join group 1 condition 1: fromFlow needs a flow of this rule into "employeeNumber"`},
		{func(r *Rule) { r.Join[0].Conditions[0] = JoinCondition{FromFlow: true} }, `join group 1 condition 1: needs a target`},
	} {
		r := outboundRule()
		tc.modify(r)
		if got := validateOne(env, r); !strings.Contains(got, tc.want) {
			t.Errorf("errors:\n%s\nwant one containing %q", got, tc.want)
		}
	}
}

func TestValidateSet(t *testing.T) {
	a, b := validRule(), validRule()
	b.Name = "In from HR 2"
	got := validateOne(ValidateEnv{}, a, b)
	if !strings.Contains(got, `rule "In from HR 2": precedence 10 is also used by rule "In from HR"`) {
		t.Errorf("duplicate precedence: %s", got)
	}
	b.Disabled = true
	if got := validateOne(ValidateEnv{}, a, b); got != "" {
		t.Errorf("a disabled rule may share a precedence: %s", got)
	}
	b.Disabled, b.Name, b.Precedence = false, a.Name, 11
	if got := validateOne(ValidateEnv{}, a, b); !strings.Contains(got, "name also used by the rule at") {
		t.Errorf("duplicate name: %s", got)
	}
	// An empty, non-nil connector map: nothing is configured.
	env := ValidateEnv{Connectors: map[string]*model.Schema{}}
	if got := validateOne(env, validRule()); !strings.Contains(got, `names connector "hr", which is not configured (none are)`) {
		t.Errorf("no connectors: %s", got)
	}
	env.Connectors["hr"] = schema("employee")
	if got := validateOne(env, validRule()); !strings.Contains(got, `connector "hr" has no object type "worker" (it has: employee)`) {
		t.Errorf("unknown object type: %s", got)
	}
}

func TestExpressionLanguageRequired(t *testing.T) {
	withLanguage(t, nil)
	r := validRule()
	r.Flows[0] = Flow{Type: Expression, Expression: "[givenName]", Target: "displayName"}
	rs := &RuleSet{Rules: []*Rule{r}}
	errs := rs.Validate(ValidateEnv{})
	if len(errs) != 1 || !errors.Is(errs[0], ErrNoExpressionLanguage) {
		t.Fatalf("errors = %v, want one wrapping ErrNoExpressionLanguage", errs)
	}
	if !strings.Contains(errs[0].Error(), `rule "In from HR": flow 1 (into "displayName"): expression flows need`) {
		t.Errorf("message: %v", errs[0])
	}
	if err := rs.Compile(); !errors.Is(err, ErrNoExpressionLanguage) {
		t.Errorf("Compile = %v", err)
	}
	r.Disabled = true
	if errs := rs.Validate(ValidateEnv{}); len(errs) != 0 {
		t.Errorf("a disabled rule needs no language: %v", errs)
	}
	SetExpressionLanguage(fakeLang{})
	r.Disabled = false
	if err := rs.Compile(); err != nil || r.Flows[0].Compiled() == nil {
		t.Errorf("Compile = %v, compiled = %v", err, r.Flows[0].Compiled())
	}
	if got := strings.Join(rs.Attributes("hr"), ","); got != "givenName" {
		t.Errorf("Attributes = %s", got)
	}
}

func TestInferredSchemaGivesWarnings(t *testing.T) {
	f, err := Parse("w.yaml", []byte(`rules:
  - name: in
    connector: hr
    direction: inbound
    csObjectType: person
    mvObjectType: person
    linkType: Provision
    precedence: 1
    scope: [{clauses: [{attribute: extensionAttribute15, operator: NOTEQUAL, value: NoSync}]}]
    flows: [{type: Direct, source: cn, target: cn}]
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	schema := &model.Schema{ObjectTypes: []model.ObjectTypeSchema{{Name: "person", Attributes: []model.AttributeSchema{{Name: "cn"}}}}}
	errs := rs.Validate(ValidateEnv{Connectors: map[string]*model.Schema{"hr": schema}})
	if len(errs) != 1 || IsWarning(errs[0]) {
		t.Fatalf("declared schema: %v, want one error", errs)
	}
	schema.Inferred = true
	errs = rs.Validate(ValidateEnv{Connectors: map[string]*model.Schema{"hr": schema}})
	if len(errs) != 1 || !IsWarning(errs[0]) || !strings.Contains(errs[0].Error(), "extensionAttribute15") {
		t.Fatalf("inferred schema: %v, want one warning", errs)
	}
}
