package rules

import (
	"errors"
	"strings"
	"testing"
)

// assignedRule is a valid outbound rule with assignments.
func assignedRule() *Rule {
	r := outboundRule()
	r.Assignments = []Assignment{
		{Attribute: "mail", Value: "ada@example.org", Role: "Admin"},
		{ID: "mv-1"},
		{Group: "Sales", Members: MembersNested, Role: "User"},
	}
	return r
}

func TestValidateAssignments(t *testing.T) {
	withLanguage(t, fakeLang{})
	tests := []struct {
		name   string
		modify func(r *Rule)
		want   string // substring of an error; "" = valid
		warn   string // substring of a warning (with want "")
	}{
		{"valid", func(*Rule) {}, "", ""},
		{"default attribute not in the MV schema", func(r *Rule) { r.Assignments[0].Attribute = "" },
			`assignment 1 attribute: attribute "accountName" is not in the schema of metaverse object type "person"`, ""},
		{"attribute checked", func(r *Rule) { r.Assignments[0].Attribute = "mial" },
			`assignment 1 attribute: attribute "mial" is not in the schema of metaverse object type "person" (did you mean "mail"?)`, ""},
		{"on an inbound rule", func(r *Rule) { r.Direction, r.Deprovision, r.DN = Inbound, "", "" },
			"assignments and rolesAttribute are only used by outbound rules", ""},
		{"rolesAttribute on an inbound rule", func(r *Rule) {
			r.Direction, r.Deprovision, r.DN, r.Assignments, r.RolesAttribute = Inbound, "", "", nil, "roles"
		}, "assignments and rolesAttribute are only used by outbound rules", ""},
		{"empty assignment", func(r *Rule) { r.Assignments[1] = Assignment{Role: "x"} },
			"assignment 2 names no object: set one of id (a metaverse object ID), value (with attribute, default accountName) or group", ""},
		{"id and group", func(r *Rule) { r.Assignments[1].Group = "Sales" },
			"assignment 2 sets id and group: set exactly one of id, value (with attribute) or group", ""},
		{"id, value and group", func(r *Rule) { r.Assignments[0].ID, r.Assignments[0].Group = "x", "g" },
			"assignment 1 sets id and value and group", ""},
		{"attribute without value", func(r *Rule) { r.Assignments[0].Value = "" },
			`assignment 1: attribute "mail" needs a value`, ""},
		{"attribute with id", func(r *Rule) { r.Assignments[1].Attribute = "mail" },
			`assignment 2: attribute "mail" needs a value (attribute goes with value, not with id)`, ""},
		{"unknown members", func(r *Rule) { r.Assignments[2].Members = "all" },
			`assignment 3: unknown members "all" (want direct, nested or none)`, ""},
		{"members in any case", func(r *Rule) { r.Assignments[2].Members = "Nested" }, "", ""},
		{"members none", func(r *Rule) { r.Assignments[2].Members = MembersNone }, "", ""},
		{"members without group", func(r *Rule) { r.Assignments[1].Members = MembersDirect },
			"assignment 2: members and self apply to group assignments only", ""},
		{"self without group", func(r *Rule) { r.Assignments[0].Self = true },
			"assignment 1: members and self apply to group assignments only", ""},
		{"self on a person rule", func(r *Rule) { r.Assignments[2].Self = true },
			"", `assignment 3: self assigns the group itself, which this rule for metaverse objects of type "person" never provisions`},
		{"roles read in scope and flows", func(r *Rule) {
			r.Scope[0].Clauses = append(r.Scope[0].Clauses, Clause{Attribute: "appRoleAssignments", Operator: IsNotNull})
			r.Flows = append(r.Flows,
				Flow{Type: Direct, Source: "appRoleAssignments", Target: "mail"},
				Flow{Type: Expression, Expression: `Join([appRoleAssignments], ",")`, Target: "givenName"})
		}, "", ""},
		{"another roles attribute", func(r *Rule) {
			r.RolesAttribute = "roles"
			r.Flows = append(r.Flows, Flow{Type: Direct, Source: "roles", Target: "mail"})
		}, "", ""},
		{"the roles attribute needs assignments", func(r *Rule) {
			r.Assignments = nil
			r.Flows = append(r.Flows, Flow{Type: Direct, Source: "appRoleAssignments", Target: "mail"})
		}, `flow 2 (into "mail") source: attribute "appRoleAssignments" is not in the schema of metaverse object type "person"`, ""},
		{"rolesAttribute without assignments", func(r *Rule) { r.Assignments, r.RolesAttribute = nil, "roles" },
			"", `rolesAttribute "roles" has no effect without assignments`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := assignedRule()
			tc.modify(r)
			errs := (&RuleSet{Rules: []*Rule{r}}).Validate(testEnv())
			var hard, warn []error
			for _, err := range errs {
				if IsWarning(err) {
					warn = append(warn, err)
				} else {
					hard = append(hard, err)
				}
			}
			if tc.want == "" && len(hard) > 0 {
				t.Fatalf("unexpected errors: %v", errors.Join(hard...))
			}
			if tc.want != "" {
				if joined := errors.Join(hard...); joined == nil || !strings.Contains(joined.Error(), tc.want) {
					t.Fatalf("errors:\n%v\nwant one containing %q", joined, tc.want)
				}
			}
			if tc.warn == "" && len(warn) > 0 {
				t.Fatalf("unexpected warnings: %v", errors.Join(warn...))
			}
			if tc.warn != "" {
				if joined := errors.Join(warn...); joined == nil || !strings.Contains(joined.Error(), tc.warn) {
					t.Fatalf("warnings:\n%v\nwant one containing %q", joined, tc.warn)
				}
			}
		})
	}
}

func TestParseAssignments(t *testing.T) {
	withLanguage(t, fakeLang{})
	src := `rules:
  - name: Out to App
    connector: target
    direction: outbound
    csObjectType: inetOrgPerson
    mvObjectType: person
    linkType: Provision
    precedence: 70
    rolesAttribute: roles
    assignments:
      - {value: ada@example.org, attribute: mail, role: Admin}
      - id: 0b6e1c
      - group: Sales
        members: Nested
        role: User
      - {group: Staff, members: none, self: true}
    flows:
      - {type: Direct, source: mail, target: mail}
      - {type: Expression, expression: 'Join([roles], ",")', target: cn}
`
	f, err := Parse("app.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 1 {
		t.Fatalf("%d rules", len(f.Rules))
	}
	r := f.Rules[0]
	want := []Assignment{
		{Attribute: "mail", Value: "ada@example.org", Role: "Admin"},
		{ID: "0b6e1c"},
		{Group: "Sales", Members: MembersNested, Role: "User"},
		{Group: "Staff", Members: MembersNone, Self: true},
	}
	if len(r.Assignments) != len(want) {
		t.Fatalf("assignments = %+v", r.Assignments)
	}
	for i := range want {
		if r.Assignments[i] != want[i] {
			t.Errorf("assignment %d = %+v, want %+v", i+1, r.Assignments[i], want[i])
		}
	}
	if r.RolesAttribute != "roles" || r.RolesAttr() != "roles" {
		t.Errorf("rolesAttribute = %q", r.RolesAttribute)
	}
	rs, err := Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv()
	if errs := rs.Validate(env); len(errs) > 1 || len(errs) == 1 && !IsWarning(errs[0]) {
		// The only finding: self on a rule for persons.
		t.Fatalf("validate: %v", errors.Join(errs...))
	}
	c := r.Clone()
	c.Assignments[0].Role = "changed"
	if r.Assignments[0].Role != "Admin" {
		t.Error("Clone shares the assignments")
	}

	// Unknown keys inside an assignment are reported with their line.
	bad := strings.Replace(src, "members: Nested", "member: nested", 1)
	if _, err := Parse("app.yaml", []byte(bad)); err == nil ||
		!strings.Contains(err.Error(), `app.yaml:14: unknown field "member" in assignment of rule "Out to App"`) {
		t.Errorf("unknown assignment key: %v", err)
	}
}
