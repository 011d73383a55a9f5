package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	_ "github.com/idsync/idsync/expr" // Expression flows
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// assignRules: persons and groups from ad; an application (app) gets the
// persons its assignments name, with their roles, and the group Sales
// itself; app2 gets Sales and the groups nested in it.
const assignRules = `
rules:
  - name: in-user
    connector: ad
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: cn, target: accountName}
      - {type: Direct, source: mail, target: mail}
  - name: in-group
    connector: ad
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: gid, target: sourceAnchor}
      - {type: Direct, source: member, target: member}
  - name: out-user
    connector: app
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={accountName},ou=users,dc=app"
    scope: [{clauses: [{attribute: appRoleAssignments, operator: NOTEQUAL, value: blocked}]}]
    assignments:
      - {value: ADA, role: Admin}
      - {attribute: mail, value: ADA@example.org, role: ADMIN}
      - {attribute: mail, value: EVE@EXAMPLE.ORG, role: Blocked}
      - {attribute: mail, value: eve@example.org, role: Reader}
      - {group: sales, role: User}
      - {group: Sales, members: nested, role: Nested}
      - {group: GID-OTHER, role: Other}
    flows:
      - {type: Direct, source: accountName, target: cn}
      - {type: Expression, expression: 'Join([appRoleAssignments], ",")', target: roles}
  - name: out-group
    connector: app
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 21
    dn: "cn={displayName},ou=groups,dc=app"
    assignments: [{group: Sales, members: none, self: true}]
    flows:
      - {type: Direct, source: displayName, target: cn}
  - name: out-group-nested
    connector: app2
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 22
    dn: "cn={displayName},ou=groups,dc=app2"
    rolesAttribute: groupRoles
    assignments: [{group: Sales, members: nested, self: true, role: Member}]
    flows:
      - {type: Direct, source: displayName, target: cn}
      - {type: Expression, expression: 'Join([groupRoles], ";")', target: roles}
`

func personDN(cn string) string { return "cn=" + cn + ",ou=people,dc=example" }
func groupDN(cn string) string  { return "cn=" + cn + ",ou=groups,dc=example" }

// adGroup is a source group with a gid (its sourceAnchor in the MV).
func adGroup(cn string, members ...string) *model.Object {
	g := group("g-"+cn, cn, members...)
	g.Attrs["gid"] = model.Str("gid-" + strings.ToLower(cn))
	return g
}

// appContent lists a target's objects and their cn and roles.
func (h *harness) appContent(conn string) string {
	var lines []string
	for _, o := range h.conns[conn].All() {
		lines = append(lines, fmt.Sprintf("%s roles=%q", o.DN, o.Attrs["roles"].Values))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// syncAD imports ad (delta) and synchronizes it (delta), then exports to
// both applications and confirms the exports.
func (h *harness) syncAD() {
	h.t.Helper()
	h.run("ad", DeltaImport)
	h.run("ad", DeltaSync)
	h.exportApps()
}

func (h *harness) exportApps() {
	h.t.Helper()
	for _, c := range []string{"app", "app2"} {
		h.run(c, Export)
		h.run(c, DeltaImport)
		h.run(c, DeltaSync)
	}
}

// TestAssignments: an outbound rule with assignments provisions the objects
// they name — by attribute value (case-insensitively), by ID, through a
// group named by displayName or sourceAnchor, its direct or nested members,
// the group itself — with their roles, read by a flow and by the scope; an
// object that loses its assignment in a delta synchronization is
// deprovisioned, one that gains it through a nested group is provisioned;
// targeted and whole loading give the same results at every step.
func TestAssignments(t *testing.T) {
	var hs []*harness
	for _, l := range []Loading{LoadTargeted, LoadWhole} {
		h := newHarness(t, assignRules, "ad", "app", "app2")
		h.e.Loading = l
		hs = append(hs, h)
	}
	each := func(f func(h *harness)) {
		for _, h := range hs {
			f(h)
		}
	}
	check := func(step, conn, want string) {
		t.Helper()
		for i, h := range hs {
			if got := h.appContent(conn); got != strings.TrimSpace(want) {
				t.Fatalf("%s: %s (loading %d):\n%s\nwant:\n%s", step, conn, i, got, strings.TrimSpace(want))
			}
		}
	}
	each(func(h *harness) {
		h.conns["ad"].Put(
			user("a", "ada", "ada@example.org", ""),
			user("b", "bob", "bob@example.org", ""),
			user("c", "cy", "cy@example.org", ""),
			user("d", "dan", "dan@example.org", ""),
			user("e", "eve", "eve@example.org", ""),
			user("f", "fay", "fay@example.org", ""),
			user("g", "gus", "gus@example.org", ""),
			adGroup("Sales", personDN("bob"), groupDN("East")),
			adGroup("East", personDN("cy"), groupDN("Sales")), // a cycle
			adGroup("Deep", personDN("fay")),
			adGroup("Other", personDN("dan")),
		)
		h.run("ad", FullImport)
		h.run("ad", FullSync)
		h.exportApps()
	})
	// ada: by accountName and by mail (ADMIN and Admin are one role);
	// bob: a direct member of Sales; cy: a member through East; dan: a
	// member of the group whose sourceAnchor is gid-other; eve: assigned,
	// but her Blocked role puts her out of the rule's scope; fay (in Deep,
	// not in Sales) and gus are not assigned.
	check("initial", "app", `
cn=Sales,ou=groups,dc=app roles=[]
cn=ada,ou=users,dc=app roles=["ADMIN"]
cn=bob,ou=users,dc=app roles=["Nested,User"]
cn=cy,ou=users,dc=app roles=["Nested"]
cn=dan,ou=users,dc=app roles=["Other"]`)
	check("initial", "app2", `
cn=East,ou=groups,dc=app2 roles=["Member"]
cn=Sales,ou=groups,dc=app2 roles=["Member"]`)

	// Unassigning: bob leaves Sales.
	each(func(h *harness) {
		h.conns["ad"].Put(adGroup("Sales", groupDN("East")))
		h.syncAD()
	})
	check("bob left Sales", "app", `
cn=Sales,ou=groups,dc=app roles=[]
cn=ada,ou=users,dc=app roles=["ADMIN"]
cn=cy,ou=users,dc=app roles=["Nested"]
cn=dan,ou=users,dc=app roles=["Other"]`)

	// Deep joins East: fay is now a nested member of Sales, and Deep a
	// group nested in it.
	each(func(h *harness) {
		h.conns["ad"].Put(adGroup("East", personDN("cy"), groupDN("Sales"), groupDN("Deep")))
		h.syncAD()
	})
	check("Deep joined East", "app", `
cn=Sales,ou=groups,dc=app roles=[]
cn=ada,ou=users,dc=app roles=["ADMIN"]
cn=cy,ou=users,dc=app roles=["Nested"]
cn=dan,ou=users,dc=app roles=["Other"]
cn=fay,ou=users,dc=app roles=["Nested"]`)
	check("Deep joined East", "app2", `
cn=Deep,ou=groups,dc=app2 roles=["Member"]
cn=East,ou=groups,dc=app2 roles=["Member"]
cn=Sales,ou=groups,dc=app2 roles=["Member"]`)

	// East leaves Sales: cy and fay, East and Deep lose their assignments.
	each(func(h *harness) {
		h.conns["ad"].Put(adGroup("Sales"))
		h.syncAD()
	})
	check("East left Sales", "app", `
cn=Sales,ou=groups,dc=app roles=[]
cn=ada,ou=users,dc=app roles=["ADMIN"]
cn=dan,ou=users,dc=app roles=["Other"]`)
	check("East left Sales", "app2", `
cn=Sales,ou=groups,dc=app2 roles=["Member"]`)

	// Assignments by MV ID, added to the rule: a full synchronization of
	// the target applies them.
	each(func(h *harness) {
		r := ruleNamed(h, "out-user")
		r.Assignments = append(r.Assignments,
			rules.Assignment{ID: mvIDOf(h, "person", "accountName", "gus"), Role: "Guest"},
			rules.Assignment{ID: mvIDOf(h, "person", "accountName", "dan")})
		h.run("app", FullSync)
		h.exportApps()
	})
	check("assigned by ID", "app", `
cn=Sales,ou=groups,dc=app roles=[]
cn=ada,ou=users,dc=app roles=["ADMIN"]
cn=dan,ou=users,dc=app roles=["Other"]
cn=gus,ou=users,dc=app roles=["Guest"]`)

	// The group Other is renamed (its sourceAnchor changes): dan keeps his
	// assignment by ID, without a role; Sales, renamed, leaves app.
	each(func(h *harness) {
		o := adGroup("Other", personDN("dan"))
		o.Attrs["gid"] = model.Str("gid-renamed")
		s := adGroup("Sales")
		s.Attrs["cn"] = model.Str("Sales Team")
		h.conns["ad"].Put(o, s)
		h.syncAD()
	})
	check("groups renamed", "app", `
cn=ada,ou=users,dc=app roles=["ADMIN"]
cn=dan,ou=users,dc=app roles=[]
cn=gus,ou=users,dc=app roles=["Guest"]`)
	check("groups renamed", "app2", ``)

	if a, b := hs[0].canonicalNoIDs(), hs[1].canonicalNoIDs(); a != b {
		t.Fatalf("the stores differ:\n--- targeted\n%s\n--- whole\n%s", a, b)
	}
}

func ruleNamed(h *harness, name string) *rules.Rule {
	h.t.Helper()
	for _, r := range h.e.Rules.Rules {
		if r.Name == name {
			return r
		}
	}
	h.t.Fatalf("no rule %q", name)
	return nil
}

// mvIDOf returns the ID of the MV object of type typ whose attr is value.
func mvIDOf(h *harness, typ, attr, value string) string {
	h.t.Helper()
	var found string
	if err := h.st.ScanMV(h.ctx, func(m *store.MVObject) error {
		if m.Type == typ && slices.Contains(m.Attrs[attr].Values, value) {
			found = m.ID
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	if found == "" {
		h.t.Fatalf("no %s with %s=%s", typ, attr, value)
	}
	return found
}

// TestAssignmentsDirectMembers: with direct group assignments only (no rule
// assigns nested members), a member that leaves the group in a delta
// synchronization is deprovisioned, one that joins it provisioned.
func TestAssignmentsDirectMembers(t *testing.T) {
	const rs = `
rules:
  - name: in-user
    connector: ad
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: cn, target: accountName}
  - name: in-group
    connector: ad
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: member, target: member}
  - name: out-user
    connector: app
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={accountName},ou=users,dc=app"
    assignments: [{group: SALES, role: User}]
    flows:
      - {type: Expression, expression: 'Join([appRoleAssignments], ",")', target: roles}
`
	for _, l := range []Loading{LoadTargeted, LoadWhole} {
		t.Run(fmt.Sprint("loading", l), func(t *testing.T) {
			h := newHarness(t, rs, "ad", "app")
			h.e.Loading = l
			sync := func() {
				h.run("ad", DeltaImport)
				h.run("ad", DeltaSync)
				h.run("app", Export)
			}
			h.conns["ad"].Put(user("a", "ada", "", ""), user("b", "bob", "", ""),
				adGroup("Sales", personDN("ada")))
			sync()
			if got, want := h.appContent("app"), `cn=ada,ou=users,dc=app roles=["User"]`; got != want {
				t.Fatalf("initial:\n%s\nwant:\n%s", got, want)
			}
			h.conns["ad"].Put(adGroup("Sales", personDN("bob")))
			sync()
			if got, want := h.appContent("app"), `cn=bob,ou=users,dc=app roles=["User"]`; got != want {
				t.Fatalf("after ada left and bob joined:\n%s\nwant:\n%s", got, want)
			}
			// Only bob changes: the group is looked up by its name (in a
			// targeted state, through the store's keys).
			rob := user("b", "bob", "", "") // same DN
			rob.Attrs["cn"] = model.Str("rob")
			h.conns["ad"].Put(rob)
			sync()
			if got, want := h.appContent("app"), `cn=rob,ou=users,dc=app roles=["User"]`; got != want {
				t.Fatalf("after bob was renamed:\n%s\nwant:\n%s", got, want)
			}
			// The group is deleted: its members are no longer assigned.
			h.conns["ad"].Remove("g-Sales")
			sync()
			if got := h.appContent("app"); got != "" {
				t.Fatalf("after the group was deleted:\n%s\nwant nothing", got)
			}
		})
	}
}

// TestAssignmentsDeltaMatchesFull: random changes to users, groups and
// nesting (cycles included), imported and synchronized as deltas, give the
// same applications whether the synchronizations read only what they touch
// or the whole store, and the same as full synchronizations of the source
// and of both applications (which re-evaluate every object, so that a
// missing trigger — a member of a nested group left out — shows).
func TestAssignmentsDeltaMatchesFull(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 3
	}
	users := []string{"ada", "bob", "cy", "dan", "eve", "fay"}
	groups := []string{"Sales", "East", "Deep", "Other"}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 17))
			var hs []*harness
			for _, l := range []Loading{LoadTargeted, LoadWhole, LoadWhole} {
				h := newHarness(t, assignRules, "ad", "app", "app2")
				h.e.Loading = l
				hs = append(hs, h)
			}
			full := hs[2]
			var log []string
			for _, h := range hs {
				for _, u := range users {
					h.conns["ad"].Put(user(u, u, u+"@example.org", ""))
				}
			}
			for round := range 12 {
				for range 1 + rng.IntN(3) {
					var what string
					var ch func(h *harness)
					switch k := rng.IntN(10); {
					case k < 6 || round == 0:
						g := groups[rng.IntN(len(groups))]
						var members []string
						for _, u := range users {
							if rng.IntN(3) == 0 {
								members = append(members, personDN(u))
							}
						}
						for _, o := range groups {
							if o != g && rng.IntN(4) == 0 {
								members = append(members, groupDN(o))
							}
						}
						gid := "gid-" + strings.ToLower(g)
						if rng.IntN(4) == 0 {
							gid += "-renamed" // Other, assigned by its sourceAnchor, is no longer named
						}
						what = fmt.Sprintf("put group %s gid=%s %v", g, gid, members)
						ch = func(h *harness) {
							o := adGroup(g, members...)
							o.Attrs["gid"] = model.Str(gid)
							h.conns["ad"].Put(o)
						}
					case k < 7:
						g := groups[rng.IntN(len(groups))]
						what = "remove group " + g
						ch = func(h *harness) { h.conns["ad"].Remove("g-" + g) }
					case k < 9:
						u := users[rng.IntN(len(users))]
						mail := []string{"ada@example.org", "EVE@example.org", "x@example.org"}[rng.IntN(3)]
						what = fmt.Sprintf("put user %s mail=%s", u, mail)
						ch = func(h *harness) { h.conns["ad"].Put(user(u, u, mail, "")) }
					default:
						u := users[rng.IntN(len(users))]
						what = "remove user " + u
						ch = func(h *harness) { h.conns["ad"].Remove(u) }
					}
					log = append(log, what)
					for _, h := range hs {
						ch(h)
					}
				}
				for _, h := range hs[:2] {
					h.run("ad", DeltaImport)
					h.run("ad", DeltaSync)
					h.exportApps()
				}
				full.run("ad", FullImport)
				full.run("ad", FullSync)
				for _, c := range []string{"app", "app2"} {
					full.run(c, FullSync)
				}
				full.exportApps()
				for _, c := range []string{"app", "app2"} {
					want := full.appContent(c)
					for i, h := range hs[:2] {
						if got := h.appContent(c); got != want {
							t.Fatalf("after\n%s\n%s differs (harness %d):\n%s\nfull synchronizations give:\n%s",
								strings.Join(log, "\n"), c, i, got, want)
						}
					}
				}
				if a, b := hs[0].canonicalNoIDs(), hs[1].canonicalNoIDs(); a != b {
					t.Fatalf("after\n%s\nthe stores differ:\n--- targeted\n%s\n--- whole\n%s", strings.Join(log, "\n"), a, b)
				}
			}
		})
	}
}
