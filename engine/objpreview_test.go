package engine

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	_ "github.com/idsync/idsync/expr" // Expression flows
	"github.com/idsync/idsync/store"
)

// previewRules: hr and ad join persons on employeeID, ad wins displayName
// and mail (precedence 10 < 20); ad's badge flow fails without a badge.
// cloud provisions persons outside department Excluded; app provisions the
// persons its assignments name, with their roles.
const previewRules = `
rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: mail, target: mail}
  - name: in-ad
    connector: ad
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 10
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: cn, target: accountName}
      - {type: Expression, expression: 'IIF(IsPresent([badge]), [badge], Error("badge is missing"))', target: badge}
  - name: out-person
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 30
    dn: "cn={employeeID},ou=users,dc=cloud"
    scope: [{clauses: [{attribute: department, operator: NOTEQUAL, value: Excluded}]}]
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
      - {type: Constant, value: "true", targetType: boolean, target: accountEnabled}
  - name: out-app
    connector: app
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 40
    dn: "cn={accountName},ou=users,dc=app"
    assignments:
      - {attribute: mail, value: Alice@Contoso, role: Admin}
      - {attribute: mail, value: alice@contoso, role: Reader}
    flows:
      - {type: Direct, source: accountName, target: cn}
      - {type: Expression, expression: 'Join([appRoleAssignments], ",")', target: roles}
`

func newPreviewHarness(t *testing.T) *harness {
	h := newHarness(t, previewRules, "hr", "ad", "cloud", "app")
	h.conns["hr"].Put(
		user("h1", "Alice Hr", "alice@hr", "Sales", "employeeID", "1"),
		user("h2", "Bob Hr", "bob@hr", "IT", "employeeID", "2"),
		user("h3", "Carol Hr", "carol@hr", "Excluded", "employeeID", "3"),
	)
	h.conns["ad"].Put(
		user("a1", "alice", "alice@contoso", "", "employeeID", "1", "badge", "B1"),
		user("a2", "bob", "bob@contoso", "", "employeeID", "2", "badge", "B2"),
	)
	for _, c := range []string{"hr", "ad", "cloud", "app"} {
		h.run(c, FullImport)
	}
	for _, c := range []string{"hr", "ad", "cloud", "app"} {
		h.run(c, FullSync)
	}
	for _, c := range []string{"cloud", "app"} {
		h.run(c, Export)
		h.run(c, FullImport)
		h.run(c, DeltaSync)
	}
	for _, c := range []string{"cloud", "app"} {
		if got := h.pending(c); len(got) != 0 {
			t.Fatalf("%s: pending after a confirmed export: %v", c, got)
		}
	}
	return h
}

// mvOf returns the MV ID of the object of connector conn with anchor.
func (h *harness) mvOf(conn, anchor string) string {
	h.t.Helper()
	c, err := h.st.GetCSByAnchor(h.ctx, conn, anchor)
	if err != nil || c.MVID == "" {
		h.t.Fatalf("%s:%s: %v, not joined", conn, anchor, err)
	}
	return c.MVID
}

// rawDump is everything the store holds of objects, IDs and flags included.
func (h *harness) rawDump() string {
	h.t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	if err := h.st.ScanCS(h.ctx, "", func(c *store.CSObject) error { return enc.Encode(c) }); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.ScanMV(h.ctx, func(m *store.MVObject) error { return enc.Encode(m) }); err != nil {
		h.t.Fatal(err)
	}
	runs, err := h.st.Runs(h.ctx, store.RunFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	_ = enc.Encode(len(runs))
	return b.String()
}

// preview previews mvid and checks that the store is unchanged.
func (h *harness) preview(mvid string) *ObjectPreview {
	h.t.Helper()
	before := h.rawDump()
	p, err := h.e.PreviewObject(h.ctx, mvid)
	if err != nil {
		h.t.Fatal(err)
	}
	if after := h.rawDump(); after != before {
		h.t.Fatalf("the preview changed the store:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := json.Marshal(p); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (p *ObjectPreview) target(t *testing.T, conn string) *TargetPreview {
	t.Helper()
	for i := range p.Outbound {
		if p.Outbound[i].Connector == conn {
			return &p.Outbound[i]
		}
	}
	t.Fatalf("no target %s in the preview: %+v", conn, p.Outbound)
	return nil
}

func (p *ObjectPreview) attr(t *testing.T, name string) MVAttributePreview {
	t.Helper()
	for _, a := range p.Inbound.Attributes {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no attribute %s in the preview: %+v", name, p.Inbound.Attributes)
	return MVAttributePreview{}
}

func (tp *TargetPreview) rule(t *testing.T, name string) OutboundRulePreview {
	t.Helper()
	for _, r := range tp.Rules {
		if r.Rule == name {
			return r
		}
	}
	t.Fatalf("no rule %s for %s: %+v", name, tp.Connector, tp.Rules)
	return OutboundRulePreview{}
}

// pendingRows returns the rows engine.Preview lists for object obj of conn.
func (h *harness) pendingRows(conn, obj string) []PreviewRow {
	h.t.Helper()
	rows, err := Preview(h.ctx, h.st, conn)
	if err != nil {
		h.t.Fatal(err)
	}
	out := []PreviewRow{}
	for _, r := range rows {
		if r.Object == obj {
			out = append(out, r)
		}
	}
	return out
}

func TestPreviewObjectPrecedenceMatchesLineage(t *testing.T) {
	h := newPreviewHarness(t)
	id := h.mvOf("hr", "h1")
	p := h.preview(id)
	if p.MVID != id || p.Type != "person" || p.Deleted || p.Inbound.Error != "" || len(p.Errors) != 0 {
		t.Fatalf("preview = %+v", p)
	}
	if len(p.Inbound.Sources) != 2 || p.Inbound.Sources[0].Object.Connector != "ad" || p.Inbound.Sources[1].Object.Connector != "hr" {
		t.Fatalf("sources = %+v", p.Inbound.Sources)
	}
	for _, sp := range p.Inbound.Sources {
		if sp.Link != SourceJoined || !sp.Authoritative || len(sp.Rules) != 1 || !sp.Rules[0].Scope.InScope || !sp.Rules[0].Applies {
			t.Fatalf("source %+v", sp)
		}
	}
	m, err := h.st.GetMV(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range m.Lineage.All() {
		a := p.attr(t, name)
		if a.Winner == nil || a.Winner.Rule != c.Rule || a.Winner.Connector != c.Connector || a.Winner.Precedence != c.Precedence {
			t.Errorf("%s: winner %+v, lineage %+v", name, a.Winner, c)
		}
		if a.Changed || !slices.Equal(a.Values, m.Attrs[name].Values) {
			t.Errorf("%s: %+v, the object has %v", name, a, m.Attrs[name].Values)
		}
	}
	if a := p.attr(t, "displayName"); a.Winner.Rule != "in-ad" || a.Values[0] != "alice" {
		t.Errorf("displayName: %+v", a)
	}
	if a := p.attr(t, "department"); a.Winner.Rule != "in-hr" || a.Values[0] != "Sales" {
		t.Errorf("department: %+v", a)
	}
	// The losing hr flow into displayName shows its value, not winning.
	hr := p.Inbound.Sources[1].Rules[0]
	if f := hr.Flows[1]; f.Target != "displayName" || f.Wins || !slices.Equal(f.Values, []string{"Alice Hr"}) {
		t.Errorf("hr displayName flow = %+v", f)
	}
	// Nothing to export: everything is confirmed.
	cloud := p.target(t, "cloud")
	if cloud.Link.Action != LinkKeep || cloud.Link.Object == nil || cloud.Link.Object.DN != "cn=1,ou=users,dc=cloud" || len(cloud.Export) != 0 {
		t.Fatalf("cloud = %+v", cloud)
	}
	for _, a := range cloud.Attributes {
		if a.Changed {
			t.Errorf("cloud attribute %s changes: %+v", a.Name, a)
		}
	}

	// Change the department in hr, import without synchronizing: the
	// preview shows the new value and the update a delta sync stages.
	h.conns["hr"].Put(user("h1", "Alice Hr", "alice@hr", "Marketing", "employeeID", "1"))
	h.run("hr", FullImport)
	p = h.preview(id)
	if a := p.attr(t, "department"); !a.Changed || a.Values[0] != "Marketing" || a.Current[0] != "Sales" || a.Winner.Rule != "in-hr" {
		t.Fatalf("department: %+v", a)
	}
	cloud = p.target(t, "cloud")
	if len(cloud.Export) != 1 || cloud.Export[0].Attribute != "department" || cloud.Export[0].NewValue != "Marketing" {
		t.Fatalf("cloud export = %+v", cloud.Export)
	}
	h.run("hr", DeltaSync)
	if got := h.pendingRows("cloud", "cn=1,ou=users,dc=cloud"); !sameRows(got, cloud.Export) {
		t.Fatalf("the delta sync staged %+v, the preview said %+v", got, cloud.Export)
	}
	if m, _ = h.st.GetMV(h.ctx, id); lineageOf(m, "department").Rule != p.attr(t, "department").Winner.Rule {
		t.Fatalf("lineage after the sync: %+v", m.Lineage)
	}
}

func TestPreviewObjectScope(t *testing.T) {
	h := newPreviewHarness(t)

	// Carol is out of scope of cloud: the failing clause is named.
	carol := h.mvOf("hr", "h3")
	p := h.preview(carol)
	cloud := p.target(t, "cloud")
	r := cloud.rule(t, "out-person")
	if r.Scope.InScope || r.Applies || len(r.Scope.Failing) != 1 || r.Scope.Failing[0].Group != 1 ||
		r.Scope.Failing[0].Clause != `department NOTEQUAL "Excluded"` || cloud.Link.Action != LinkNone || len(cloud.Export) != 0 {
		t.Fatalf("carol in cloud = %+v", cloud)
	}
	// Back in scope: provisioned, with the add the delta sync stages.
	h.conns["hr"].Put(user("h3", "Carol Hr", "carol@hr", "Sales", "employeeID", "3"))
	h.run("hr", FullImport)
	p = h.preview(carol)
	cloud = p.target(t, "cloud")
	if r := cloud.rule(t, "out-person"); !r.Scope.InScope || !r.Applies || len(r.Flows) != 4 {
		t.Fatalf("out-person = %+v", r)
	}
	if cloud.Link.Action != LinkProvision || cloud.Link.Rule != "out-person" || cloud.Link.Object.DN != "cn=3,ou=users,dc=cloud" ||
		cloud.Link.Object.State != "placeholder" || len(cloud.Export) != 4 || cloud.Export[0].Operation != "add" {
		t.Fatalf("cloud = %+v", cloud)
	}
	h.run("hr", DeltaSync)
	if got := h.pendingRows("cloud", "cn=3,ou=users,dc=cloud"); !sameRows(got, cloud.Export) {
		t.Fatalf("the delta sync staged %+v, the preview said %+v", got, cloud.Export)
	}

	// Alice leaves the scope: deprovisioned with the rule's action (delete).
	alice := h.mvOf("hr", "h1")
	h.conns["hr"].Put(user("h1", "Alice Hr", "alice@hr", "Excluded", "employeeID", "1"))
	h.run("hr", FullImport)
	p = h.preview(alice)
	cloud = p.target(t, "cloud")
	d := cloud.Link.Deprovision
	if cloud.Link.Action != LinkDeprovision || d == nil || d.Action != "delete" || d.Rule != "out-person" || d.Object.DN != "cn=1,ou=users,dc=cloud" ||
		len(cloud.Export) == 0 || cloud.Export[0].Operation != "delete" {
		t.Fatalf("cloud = %+v (deprovision %+v)", cloud, d)
	}
	h.run("hr", DeltaSync)
	if got := h.pendingRows("cloud", "cn=1,ou=users,dc=cloud"); !sameRows(got, cloud.Export) {
		t.Fatalf("the delta sync staged %+v, the preview said %+v", got, cloud.Export)
	}
}

func TestPreviewObjectAssignments(t *testing.T) {
	h := newPreviewHarness(t)
	p := h.preview(h.mvOf("hr", "h1"))
	app := p.target(t, "app")
	r := app.rule(t, "out-app")
	a := r.Scope.Assignments
	if !r.Scope.InScope || a == nil || !a.Assigned || a.RolesAttr != "appRoleAssignments" || !slices.Equal(a.Roles, []string{"Admin", "Reader"}) {
		t.Fatalf("alice in app = %+v (assignments %+v)", r, a)
	}
	if f := r.Flows[1]; f.Target != "roles" || !slices.Equal(f.Values, []string{"Admin,Reader"}) || !f.Wins {
		t.Fatalf("roles flow = %+v", f)
	}
	if app.Link.Action != LinkKeep || app.Link.Object.DN != "cn=alice,ou=users,dc=app" {
		t.Fatalf("app link = %+v", app.Link)
	}
	p = h.preview(h.mvOf("hr", "h2"))
	app = p.target(t, "app")
	r = app.rule(t, "out-app")
	if r.Scope.InScope || r.Scope.Assignments == nil || r.Scope.Assignments.Assigned || len(r.Scope.Assignments.Roles) != 0 ||
		len(r.Flows) != 0 || app.Link.Action != LinkNone {
		t.Fatalf("bob in app = %+v", app)
	}
}

func TestPreviewObjectFlowError(t *testing.T) {
	h := newPreviewHarness(t)
	id := h.mvOf("hr", "h2")
	// Bob's badge goes: ad's badge flow fails; a synchronization would
	// fail on the object and leave it as it is.
	h.conns["ad"].Put(user("a2", "bobby", "bob@contoso", "", "employeeID", "2"))
	h.run("ad", FullImport)
	p := h.preview(id)
	ad := p.Inbound.Sources[0]
	if ad.Object.Connector != "ad" || len(ad.Rules) != 1 {
		t.Fatalf("sources = %+v", p.Inbound.Sources)
	}
	flows := ad.Rules[0].Flows
	if len(flows) != 4 || !strings.Contains(flows[3].Error, "badge is missing") || flows[3].Target != "badge" {
		t.Fatalf("ad flows = %+v", flows)
	}
	for _, f := range flows[:3] {
		if f.Error != "" || !slices.Equal(f.Values, []string{map[string]string{"displayName": "bobby", "mail": "bob@contoso", "accountName": "bobby"}[f.Target]}) {
			t.Errorf("flow %+v", f)
		}
	}
	if !strings.Contains(p.Inbound.Error, "badge is missing") || len(p.Errors) == 0 {
		t.Fatalf("inbound error %q, errors %v", p.Inbound.Error, p.Errors)
	}
	if a := p.attr(t, "displayName"); a.Values[0] != "bobby" || a.Current[0] != "bob" || a.Winner.Rule != "in-ad" {
		t.Fatalf("displayName = %+v", a)
	}
	if len(p.Outbound) != 2 {
		t.Fatalf("outbound = %+v", p.Outbound)
	}
	cloud := p.target(t, "cloud")
	if r := cloud.rule(t, "out-person"); !r.Scope.InScope || len(r.Flows) != 4 || cloud.Link.Action != LinkKeep || len(cloud.Export) != 0 {
		t.Fatalf("cloud = %+v", cloud)
	}
	// The delta sync agrees: an error, nothing staged.
	r := h.run("ad", DeltaSync)
	if errs := h.runErrors(r); len(errs) != 1 || !strings.Contains(errs[0].Message, "badge is missing") {
		t.Fatalf("run errors = %+v", errs)
	}
	if got := h.pending("cloud"); len(got) != 0 {
		t.Fatalf("pending = %v", got)
	}
}

func TestPreviewObjectNotFound(t *testing.T) {
	h := newHarness(t, previewRules, "hr", "ad", "cloud", "app")
	if _, err := h.e.PreviewObject(h.ctx, "no-such-object"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want store.ErrNotFound", err)
	}
}

// sameRows compares preview rows without the anchor of an object to be
// created: a placeholder gets a new proposed anchor each time one is made.
func sameRows(a, b []PreviewRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Operation == "add" {
			x.Anchor, y.Anchor = "", ""
		}
		if x != y {
			return false
		}
	}
	return true
}

func lineageOf(m *store.MVObject, attr string) store.Contribution {
	c, _ := m.Lineage.Get(attr)
	return c
}
