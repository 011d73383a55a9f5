package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

func seedTwoSources(h *harness) {
	h.conns["hr"].Put(
		user("h1", "Alice Hr", "alice@hr", "Sales", "employeeID", "1"),
		user("h2", "Bob Hr", "bob@hr", "IT", "employeeID", "2"),
		user("h3", "Carol Hr", "carol@hr", "Excluded", "employeeID", "3"),
	)
	h.conns["ad"].Put(
		user("a1", "alice", "alice@contoso", "", "employeeID", "1"),
		user("a2", "bob", "bob@contoso", "", "employeeID", "2"),
		user("a4", "dave", "dave@contoso", "", "employeeID", "4"),
		group("g1", "staff", "cn=alice,ou=people,dc=example", "cn=bob,ou=people,dc=example", "cn=nobody,ou=people,dc=example"),
	)
}

func fullCycle(h *harness, order ...string) {
	for _, c := range order {
		h.run(c, FullImport)
	}
	for _, c := range order {
		h.run(c, FullSync)
	}
}

func TestJoinPrecedenceAndExport(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	seedTwoSources(h)
	fullCycle(h, "hr", "ad", "cloud")
	if n := h.mvCount(); n != 5 { // persons 1,2,3,4 + group
		t.Fatalf("MV objects = %d, want 5\n%s", n, h.canonical())
	}
	canon := h.canonical()
	for _, want := range []string{
		`mv [ad:a1,hr:h1] person`,
		`displayName(string)=["alice"] from ad/in-ad`, // ad precedence 10 beats hr 20
		`department(string)=["Sales"] from hr/in-hr`,
		`member(reference)=["[ad:a1,hr:h1]" "[ad:a2,hr:h2]"]`, // unresolvable member dropped
	} {
		if !strings.Contains(canon, want) {
			t.Errorf("canonical dump lacks %q:\n%s", want, canon)
		}
	}
	// Carol is out of scope of the outbound rule: 3 users + 1 group added.
	if got := h.pending("cloud"); got["add"] != 4 || len(got) != 1 {
		t.Fatalf("pending = %v, want 4 adds", got)
	}
	r := h.run("cloud", Export)
	if r.Counts.Adds != 4 || r.Counts.Errors != 0 {
		t.Fatalf("export counts = %+v", r.Counts)
	}
	g := h.conns["cloud"].GetByDN("cn=staff,ou=groups,dc=cloud")
	if g == nil || !g.Attrs["member"].Equal(model.Ref("cn=1,ou=users,dc=cloud", "cn=2,ou=users,dc=cloud")) {
		t.Fatalf("exported group = %+v", g)
	}
	// Confirming import and a second full sync: nothing left to export.
	h.run("cloud", FullImport)
	for _, c := range []string{"hr", "ad", "cloud"} {
		h.run(c, FullSync)
	}
	if got := h.pending("cloud"); len(got) != 0 {
		t.Fatalf("after a confirmed export a full sync left pending exports %v:\n%s", got, h.canonical())
	}
}

func TestSecondFullSyncIsQuiet(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	seedTwoSources(h)
	fullCycle(h, "hr", "ad", "cloud")
	h.run("cloud", Export)
	h.run("cloud", FullImport)
	before := h.canonical()
	for _, c := range []string{"hr", "ad", "cloud"} {
		r := h.run(c, FullSync)
		if r.Counts.Adds+r.Counts.Updates+r.Counts.Deletes != 0 {
			t.Errorf("second full sync of %s changed the metaverse: %+v", c, r.Counts)
		}
	}
	if after := h.canonical(); after != before {
		t.Fatalf("second full sync changed state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := h.pending("cloud"); len(got) != 0 {
		t.Fatalf("pending after second full sync: %v", got)
	}
}

// TestImportOrderIndependence is the property test of R1.1: whatever order
// the connectors are imported and synchronized in, the metaverse and the
// pending exports are identical. gal holds contacts that join a person on
// mail, which hr and ad never join on: synchronized before them, a contact
// projects a person of its own, which must end up merged into the user's.
func TestImportOrderIndependence(t *testing.T) {
	names := []string{"hr", "ad", "cloud", "gal"}
	var want string
	rng := rand.New(rand.NewPCG(1, 2))
	galFirst, galLast := false, false
	for i := 0; i < 16; i++ {
		h := newHarness(t, twoSourcesRules+joinOnlyRule+galContactRule, append(names, "badge")...)
		seedTwoSources(h)
		h.conns["badge"].Put(user("b1", "alice-badge", "", "", "employeeID", "1", "badgeNo", "B-1"),
			user("b9", "nobody-badge", "", "", "employeeID", "9", "badgeNo", "B-9"))
		h.conns["gal"].Put(contact("g1", "alice-gal", "ALICE@contoso"), contact("g3", "carol-gal", "carol@hr"),
			contact("g4", "dave-gal", "dave@contoso"))
		imp := append([]string{"badge"}, names...)
		syn := append([]string{"badge"}, names...)
		rng.Shuffle(len(imp), func(a, b int) { imp[a], imp[b] = imp[b], imp[a] })
		rng.Shuffle(len(syn), func(a, b int) { syn[a], syn[b] = syn[b], syn[a] })
		for _, c := range imp {
			h.run(c, FullImport)
		}
		for _, c := range syn {
			h.run(c, DeltaSync)
		}
		gal := slices.Index(syn, "gal")
		galFirst = galFirst || gal < slices.Index(syn, "hr") && gal < slices.Index(syn, "ad")
		galLast = galLast || gal > slices.Index(syn, "hr") && gal > slices.Index(syn, "ad")
		got := h.canonical()
		if i == 0 {
			want = got
			if !strings.Contains(got, `badge(string)=["B-1"] from badge/in-badge`) {
				t.Fatalf("join-only connector did not join:\n%s", got)
			}
			for _, s := range []string{"mv [ad:a1,badge:b1,gal:g1,hr:h1] person", "mv [gal:g3,hr:h3] person", "mv [ad:a4,gal:g4] person"} {
				if !strings.Contains(got, s) {
					t.Fatalf("a contact did not join its user: no %q in\n%s", s, got)
				}
			}
			continue
		}
		if got != want {
			t.Fatalf("import order %v / sync order %v gave a different result:\n--- first\n%s\n--- this\n%s", imp, syn, want, got)
		}
	}
	if !galFirst || !galLast {
		t.Fatalf("the orders tried never synchronized the contacts before (%v) or after (%v) both user connectors", galFirst, galLast)
	}
}

// galContactRule: contacts that join a person on mail and project
// otherwise (R1.7); their values lose to every user's.
const galContactRule = `
  - name: in-gal
    connector: gal
    direction: inbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 90
    join: [{conditions: [{source: mail, target: mail}]}]
    flows:
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: cn, target: displayName}
`

// joinOnlyRule: a connector that only joins (never projects), so that
// synchronizing it before the connectors that project is the hard case.
const joinOnlyRule = `
  - name: in-badge
    connector: badge
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 5
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: badgeNo, target: badge}
`

func TestDeleteThreshold(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	for i := 0; i < 600; i++ {
		h.conns["hr"].Put(user(fmt.Sprintf("h%d", i), fmt.Sprintf("u%d", i), "", "Sales", "employeeID", fmt.Sprint(i)))
	}
	fullCycle(h, "hr", "ad", "cloud")
	h.run("cloud", Export)
	if n := h.conns["cloud"].Len(); n != 600 {
		t.Fatalf("target has %d objects, want 600", n)
	}
	for i := 0; i < 600; i++ {
		h.conns["hr"].Remove(fmt.Sprintf("h%d", i))
	}
	h.run("hr", FullImport)
	h.run("hr", DeltaSync)
	if got := h.pending("cloud"); got["delete"] != 600 {
		t.Fatalf("pending = %v, want 600 deletes", got)
	}
	runs, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{})
	if !errors.Is(err, ErrDeleteThreshold) {
		t.Fatalf("export err = %v, want the delete threshold", err)
	}
	if runs[0].Status != "stopped" || !strings.Contains(runs[0].Message, "600 pending deletes and disables exceed the threshold of 500") {
		t.Fatalf("run = %+v", runs[0])
	}
	if n := h.conns["cloud"].Len(); n != 600 {
		t.Fatalf("a stopped export deleted %d objects", 600-n)
	}
	runs, err = h.e.Run(h.ctx, "cloud", Export, RunOptions{AllowDeletes: true})
	if err != nil || runs[0].Counts.Deletes != 600 {
		t.Fatalf("allowed export: err=%v counts=%+v", err, runs[0].Counts)
	}
	if n := h.conns["cloud"].Len(); n != 0 {
		t.Fatalf("target still has %d objects", n)
	}
}

// TestFilterChange pins R2.2: objects that leave scope are deleted in the
// target only if idsync exported them; objects created in the target by
// anything else are never touched; removing the filter restores them.
func TestFilterChange(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	seedTwoSources(h)
	foreign := user("x1", "foreign", "f@cloud", "Excluded")
	foreign.DN = "cn=foreign,ou=users,dc=cloud"
	h.conns["cloud"].Put(foreign)
	fullCycle(h, "hr", "ad", "cloud")
	h.run("cloud", Export)
	h.run("cloud", FullImport)
	h.run("cloud", DeltaSync)
	// Bob moves to the excluded department.
	bob := h.conns["hr"].Get("h2")
	bob.Attrs["department"] = model.Str("Excluded")
	h.conns["hr"].Put(bob)
	h.run("hr", DeltaImport)
	h.run("hr", DeltaSync)
	// His delete, and the group that references him drops him at once
	// (references resolve only to objects kept in scope).
	if got := h.pending("cloud"); got["delete"] != 1 || got["update"] != 1 || len(got) != 2 {
		t.Fatalf("pending = %v, want exactly 1 delete and 1 update (the group)", got)
	}
	h.run("cloud", Export)
	if h.conns["cloud"].GetByDN("cn=2,ou=users,dc=cloud") != nil {
		t.Fatal("bob still in the target")
	}
	if g := h.conns["cloud"].GetByDN("cn=staff,ou=groups,dc=cloud"); g == nil || !g.Attrs["member"].Equal(model.Ref("cn=1,ou=users,dc=cloud")) {
		t.Fatalf("group after bob's delete = %+v, want alice only", g)
	}
	if h.conns["cloud"].Get("x1") == nil {
		t.Fatal("an object idsync never exported was deleted")
	}
	// Back in scope: restored.
	bob.Attrs["department"] = model.Str("IT")
	h.conns["hr"].Put(bob)
	h.run("hr", DeltaImport)
	h.run("hr", DeltaSync)
	h.run("cloud", Export)
	if o := h.conns["cloud"].GetByDN("cn=2,ou=users,dc=cloud"); o == nil || o.Attrs.First("department") != "IT" {
		t.Fatalf("bob not restored: %+v", o)
	}
}

func TestPerObjectErrors(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	seedTwoSources(h)
	fullCycle(h, "hr", "ad", "cloud")
	h.conns["cloud"].SetFailFunc(func(op connector.ExportOp) error {
		if op.DN == "cn=2,ou=users,dc=cloud" {
			return errors.New("constraint violation: mail is not unique")
		}
		return nil
	})
	runs, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := runs[0]
	if r.Status != "completed-with-errors" || r.Counts.Errors != 1 || r.Counts.Adds != 3 {
		t.Fatalf("run = %+v", r)
	}
	errs := h.runErrors(r)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "mail is not unique") || !strings.Contains(errs[0].Object, "cn=2,ou=users,dc=cloud") {
		t.Fatalf("errors = %+v", errs)
	}
	// The next export retries and succeeds.
	h.conns["cloud"].SetFailFunc(nil)
	if r := h.run("cloud", Export); r.Counts.Adds != 1 || r.Counts.Errors != 0 {
		t.Fatalf("retry = %+v", r.Counts)
	}
}

func TestAmbiguousJoin(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.conns["hr"].Put(user("h1", "a", "", "Sales", "employeeID", "7"))
	h.conns["ad"].Put(user("a1", "a", "", "", "employeeID", "7"), user("a2", "b", "", "", "employeeID", "8"))
	fullCycle(h, "ad", "hr")
	// A second hr object with employeeID 7 cannot join (already joined).
	h.conns["hr"].Put(user("h2", "dup", "", "Sales", "employeeID", "7"))
	h.run("hr", DeltaImport)
	r := h.run("hr", DeltaSync)
	errs := h.runErrors(r)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "already joined") {
		t.Fatalf("errors = %+v", errs)
	}
	// The failed object stays pending: the next delta sync retries and
	// reports it again, until the data is fixed.
	r = h.run("hr", DeltaSync)
	if errs := h.runErrors(r); len(errs) != 1 {
		t.Fatalf("the next delta sync did not retry the failed object: %+v", errs)
	}
	dup := h.conns["hr"].Get("h2")
	dup.Attrs["employeeID"] = model.Str("99")
	h.conns["hr"].Put(dup)
	h.run("hr", DeltaImport)
	if r := h.run("hr", DeltaSync); r.Counts.Errors != 0 || r.Counts.Adds != 1 {
		t.Fatalf("after the fix: %+v", r.Counts)
	}
}

const promotionRules = `
rules:
  - name: in-user
    connector: a
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 100
    join: [{conditions: [{source: mail, target: mail}]}]
    flows:
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: cn, target: cn}
      - {type: Constant, value: User, target: sourceObjectType}
  - name: in-contact
    connector: b
    direction: inbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 200
    join: [{conditions: [{source: mail, target: mail}]}]
    flows:
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: cn, target: cn}
      - {type: Constant, value: Contact, target: sourceObjectType}
  - name: out-user
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 300
    dn: "cn={mail},ou=users"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: User}]}]
    flows: [{type: Direct, source: cn, target: displayName}]
  - name: out-contact
    connector: cloud
    direction: outbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 301
    dn: "cn={mail},ou=contacts"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: Contact}]}]
    flows: [{type: Direct, source: cn, target: displayName}]
`

// TestContactPromotedToUser: when the real user joins the MV object of an
// exported contact, the contact is deleted in the target and a user is
// created instead (R1.9, GALSync topology).
func TestContactPromotedToUser(t *testing.T) {
	h := newHarness(t, promotionRules, "a", "b", "cloud")
	c := &model.Object{Anchor: "c1", DN: "cn=sofia,ou=contacts,dc=b", Type: "contact",
		Attrs: model.Attrs{"cn": model.Str("Sofia (contact)"), "mail": model.Str("sofia@contoso.test")}}
	h.conns["b"].Put(c)
	h.run("b", FullImport)
	h.run("b", FullSync)
	h.run("cloud", Export)
	if h.conns["cloud"].GetByDN("cn=sofia@contoso.test,ou=contacts") == nil {
		t.Fatal("contact not exported")
	}
	h.conns["a"].Put(&model.Object{Anchor: "u1", DN: "cn=sofia,ou=users,dc=a", Type: "user",
		Attrs: model.Attrs{"cn": model.Str("Sofia"), "mail": model.Str("sofia@contoso.test")}})
	h.run("a", FullImport)
	h.run("a", DeltaSync)
	if got := h.pending("cloud"); got["add"] != 1 || got["delete"] != 1 || len(got) != 2 {
		t.Fatalf("pending = %v, want 1 add and 1 delete", got)
	}
	r := h.run("cloud", Export)
	if r.Counts.Errors != 0 {
		t.Fatalf("export errors: %+v", h.runErrors(r))
	}
	all := h.conns["cloud"].All()
	if len(all) != 1 || all[0].DN != "cn=sofia@contoso.test,ou=users" || all[0].Type != "user" || all[0].Attrs.First("displayName") != "Sofia" {
		t.Fatalf("target after promotion = %+v", all)
	}
	if h.mvCount() != 1 {
		t.Fatalf("MV objects = %d, want 1", h.mvCount())
	}
}
