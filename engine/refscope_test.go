package engine

import (
	"fmt"
	"testing"

	"github.com/idsync/idsync/model"
)

// disableRules: hr persons and groups to the cloud; persons outside the
// Excluded department are kept in scope, and leaving it disables them.
const disableRules = `
rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: department, target: department}
  - name: in-hr-group
    connector: hr
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: member, target: member}
  - name: out-person
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 30
    dn: "cn={employeeID},ou=users,dc=cloud"
    scope: [{clauses: [{attribute: department, operator: NOTEQUAL, value: Excluded}]}]
    deprovision: disable
    disableAttribute: accountEnabled
    disableValue: "false"
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Constant, value: "true", targetType: boolean, target: accountEnabled}
  - name: out-group
    connector: cloud
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 31
    dn: "cn={cn},ou=groups,dc=cloud"
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: member, target: member}
`

// TestReferencesOnlyToObjectsInScope: a member that leaves the scope of a
// target with disable deprovisioning is disabled there and dropped from the
// target group's members by the same delta synchronization; back in scope,
// it is enabled and added again. Whole and targeted loading agree.
func TestReferencesOnlyToObjectsInScope(t *testing.T) {
	for _, l := range []Loading{LoadWhole, LoadTargeted} {
		t.Run(map[Loading]string{LoadWhole: "whole", LoadTargeted: "targeted"}[l], func(t *testing.T) {
			h := newHarness(t, disableRules, "hr", "cloud")
			h.e.Loading = l
			hr, cloud := h.conns["hr"], h.conns["cloud"]
			bob := user("h2", "bob", "", "IT", "employeeID", "2")
			hr.Put(user("h1", "alice", "", "Sales", "employeeID", "1"), bob,
				group("g1", "staff", "cn=alice,ou=people,dc=example", "cn=bob,ou=people,dc=example"))
			confirm := func() {
				t.Helper()
				h.run("cloud", FullImport)
				h.run("cloud", DeltaSync)
				if got := h.pending("cloud"); len(got) != 0 {
					t.Fatalf("pending after the confirming import = %v\n%s", got, h.canonical())
				}
			}
			check := func(enabled string, members ...string) {
				t.Helper()
				if o := cloud.GetByDN("cn=2,ou=users,dc=cloud"); o == nil || o.Attrs.First("accountEnabled") != enabled {
					t.Fatalf("bob in the target = %+v, want accountEnabled %s", o, enabled)
				}
				if g := cloud.GetByDN("cn=staff,ou=groups,dc=cloud"); g == nil || !g.Attrs["member"].Equal(model.Ref(members...)) {
					t.Fatalf("group in the target = %+v, want members %v", g, members)
				}
			}
			h.run("hr", FullImport)
			h.run("hr", DeltaSync)
			h.run("cloud", Export)
			confirm()
			check("true", "cn=1,ou=users,dc=cloud", "cn=2,ou=users,dc=cloud")

			// Bob leaves the scope: disabled, and no longer a member.
			bob.Attrs["department"] = model.Str("Excluded")
			hr.Put(bob)
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			if got := h.pending("cloud"); got["update"] != 2 || len(got) != 1 {
				t.Fatalf("pending = %v, want 2 updates (bob's disable, the group's members)\n%s", got, h.canonical())
			}
			h.run("cloud", Export)
			check("false", "cn=1,ou=users,dc=cloud")
			confirm()

			// Back in scope: enabled, and a member again.
			bob.Attrs["department"] = model.Str("IT")
			hr.Put(bob)
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			if got := h.pending("cloud"); got["update"] != 2 || len(got) != 1 {
				t.Fatalf("pending = %v, want 2 updates (bob's enable, the group's members)\n%s", got, h.canonical())
			}
			h.run("cloud", Export)
			check("true", "cn=1,ou=users,dc=cloud", "cn=2,ou=users,dc=cloud")
			confirm()
			for _, c := range []string{"hr", "cloud"} {
				h.run(c, FullSync)
			}
			if got := h.pending("cloud"); len(got) != 0 {
				t.Fatalf("pending after full synchronizations = %v", got)
			}
		})
	}
}

// TestReferencesOnlyToObjectsInScopeMany: the same with enough objects for
// the outbound computation to run in parallel (run it with -race).
func TestReferencesOnlyToObjectsInScopeMany(t *testing.T) {
	h := newHarness(t, disableRules, "hr", "cloud")
	h.e.Loading = LoadWhole
	var members, want []string
	for i := range 300 {
		dept := "IT"
		if i%2 == 1 {
			dept = "Excluded"
		}
		cn := fmt.Sprintf("user%d", i)
		h.conns["hr"].Put(user(fmt.Sprintf("h%d", i), cn, "", dept, "employeeID", fmt.Sprint(i)))
		members = append(members, fmt.Sprintf("cn=%s,ou=people,dc=example", cn))
		if dept == "IT" {
			want = append(want, fmt.Sprintf("cn=%d,ou=users,dc=cloud", i))
		}
	}
	h.conns["hr"].Put(group("g1", "staff", members...))
	h.run("hr", FullImport)
	h.run("hr", FullSync)
	h.run("cloud", Export)
	if g := h.conns["cloud"].GetByDN("cn=staff,ou=groups,dc=cloud"); g == nil || !g.Attrs["member"].Equal(model.Ref(want...)) {
		t.Fatalf("group in the target = %+v, want the %d members in scope", g, len(want))
	}
	// Everyone in scope: the group gets every member.
	for i := 1; i < 300; i += 2 {
		h.conns["hr"].Put(user(fmt.Sprintf("h%d", i), fmt.Sprintf("user%d", i), "", "IT", "employeeID", fmt.Sprint(i)))
	}
	h.run("hr", DeltaImport)
	h.run("hr", DeltaSync)
	h.run("cloud", Export)
	if g := h.conns["cloud"].GetByDN("cn=staff,ou=groups,dc=cloud"); g == nil || len(g.Attrs["member"].Values) != 300 {
		t.Fatalf("group in the target = %+v, want 300 members", g)
	}
}
