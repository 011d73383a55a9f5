package engine

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// csState returns the CS object of conn with the anchor, or nil.
func (h *harness) csState(conn, anchor string) *store.CSObject {
	h.t.Helper()
	var found *store.CSObject
	if err := h.st.ScanCS(h.ctx, conn, func(o *store.CSObject) error {
		if o.Object.Anchor == anchor {
			found = o
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return found
}

// wantErrors checks that the run's per-object errors are exactly one per
// entry of want (object name → substring of the message).
func (h *harness) wantErrors(r *store.Run, want map[string]string) {
	h.t.Helper()
	errs := h.runErrors(r)
	got := map[string]string{}
	for _, e := range errs {
		got[e.Object] = e.Message
	}
	if len(errs) != len(want) || r.Counts.Errors != int64(len(want)) {
		h.t.Errorf("%d errors (count %d), want %d: %v", len(errs), r.Counts.Errors, len(want), got)
	}
	for obj, sub := range want {
		if !strings.Contains(got[obj], sub) {
			h.t.Errorf("error of %q = %q, want it to contain %q", obj, got[obj], sub)
		}
	}
}

// valueRules are twoSourcesRules where hr also brings titles, proxy
// addresses, photos, managers and groups.
var valueRules = strings.Replace(twoSourcesRules, `      - {type: Direct, source: mail, target: mail}
  - name: in-ad
`, `      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: title, target: title}
      - {type: Direct, source: proxyAddresses, target: proxyAddresses}
      - {type: Direct, source: photo, target: photo}
      - {type: Direct, source: manager, target: manager}
  - name: in-hr-group
    connector: hr
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 21
    flows:
      - {type: Direct, source: member, target: member}
  - name: in-ad
`, 1)

func TestImportValueChecks(t *testing.T) {
	if !strings.Contains(valueRules, "in-hr-group") {
		t.Fatal("valueRules: twoSourcesRules changed")
	}
	h := newHarness(t, valueRules, "hr", "ad", "cloud")
	h.e.Connectors["hr"].Limits = Limits{MaxStringBytes: 64, MaxBinaryBytes: 8, MaxValues: 3, MaxReferences: 5, SingleValued: []string{"Department"}}
	hr := h.conns["hr"]
	good := func(anchor string) *model.Object {
		return user(anchor, "user"+anchor, anchor+"@example.test", "Sales", "employeeID", anchor)
	}
	for _, a := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"} {
		hr.Put(good(a))
	}
	hr.Put(group("g1", "staff", "cn=user1,ou=people,dc=example"))
	if r := h.run("hr", FullImport); r.Counts.Adds != 12 || r.Counts.Errors != 0 {
		t.Fatalf("first import: %+v", r.Counts)
	}
	before := map[string]*store.CSObject{}
	for _, a := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "g1"} {
		before[a] = h.csState("hr", a)
	}
	bad := func(anchor string, f func(o *model.Object)) {
		o := good(anchor)
		f(o)
		hr.Put(o)
	}
	bad("1", func(o *model.Object) { o.Attrs["title"] = model.Str("Sales \xff Manager") })
	bad("2", func(o *model.Object) { o.Attrs["title"] = model.Str("a\x00b") })
	bad("3", func(o *model.Object) { o.Attrs["department"] = model.Str("Sales", "Marketing") })
	bad("4", func(o *model.Object) { o.Attrs["title"] = model.Str(strings.Repeat("x", 65)) })
	bad("5", func(o *model.Object) { o.Attrs["proxyAddresses"] = model.Str("a", "b", "c", "d") })
	bad("6", func(o *model.Object) {
		o.Attrs["photo"] = model.Values{Type: model.Binary, Values: []string{"123456789"}}
	})
	bad("7", func(o *model.Object) { o.Attrs["manager"] = model.Ref("CN=Grace Kim,,=OU==Sales,DC") })
	bad("8", func(o *model.Object) { o.DN = "CN=Grace Kim,,=OU==Sales,DC" })
	// Good changes in the same import are applied.
	bad("9", func(o *model.Object) { o.Attrs["title"] = model.Str("Café \t ok\r\n") })
	bad("10", func(o *model.Object) {
		o.Attrs["photo"] = model.Values{Type: model.Binary, Values: []string{"\xff\x00\x01"}}
	})
	hr.Put(group("g1", "staff", "cn=1", "cn=2", "cn=3", "cn=4", "cn=5", "cn=6"))
	// A new bad object is not added; a new good one is.
	hr.Put(&model.Object{Anchor: "new-bad", DN: "cn=new,ou=people,dc=example", Type: "user", Attrs: model.Attrs{"cn": model.Str("new\x1b[31m")}})
	hr.Put(good("12"))
	r := h.run("hr", FullImport)
	h.wantErrors(r, map[string]string{
		"cn=user1,ou=people,dc=example": `attribute "title": value 1 is not valid UTF-8 (at byte 6`,
		"cn=user2,ou=people,dc=example": `attribute "title": value 1 holds the control character U+0000 at byte 1`,
		"cn=user3,ou=people,dc=example": `attribute "department": 2 values, but it is single-valued (limits.singleValued)`,
		"cn=user4,ou=people,dc=example": `attribute "title": value 1 is 65 bytes, more than the 64 a text value may have (limits.maxStringBytes)`,
		"cn=user5,ou=people,dc=example": `attribute "proxyAddresses": 4 values, more than the 3 an attribute may hold (limits.maxValues`,
		"cn=user6,ou=people,dc=example": `attribute "photo": value 1 is 9 bytes, more than the 8 a binary value may have (limits.maxBinaryBytes)`,
		"cn=user7,ou=people,dc=example": `attribute "manager": value 1, "CN=Grace Kim,,=OU==Sales,DC", is not a DN that parses: RDN 2: empty`,
		"CN=Grace Kim,,=OU==Sales,DC":   `the DN "CN=Grace Kim,,=OU==Sales,DC" does not parse`,
		"cn=staff,ou=groups,dc=example": `attribute "member": 6 values, more than the 5 a reference attribute may hold (limits.maxReferences)`,
		"cn=new,ou=people,dc=example":   `attribute "cn": value 1 holds the control character U+001B at byte 3`,
	})
	if r.Status != store.RunWithError || r.Counts.Deletes != 0 || r.Counts.Adds != 1 || r.Counts.Updates != 2 {
		t.Errorf("run %s, counts %+v; want completed-with-errors, 1 add, 2 updates, 0 deletes", r.Status, r.Counts)
	}
	for _, a := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "g1"} {
		cur := h.csState("hr", a)
		if cur == nil || cur.Deleted || cur.Object.DN != before[a].Object.DN || !cur.Object.Attrs.Equal(before[a].Object.Attrs) {
			t.Errorf("%s: the refused object did not keep its last good state: %+v", a, cur)
		}
	}
	if cur := h.csState("hr", "9"); cur == nil || cur.Object.Attrs.First("title") != "Café \t ok\r\n" {
		t.Errorf("good change not imported: %+v", cur)
	}
	if h.csState("hr", "new-bad") != nil || h.csState("hr", "12") == nil {
		t.Error("a new bad object was added, or a new good one was not")
	}
	// The refused objects' errors name their CS object.
	for _, e := range h.runErrors(r) {
		if (e.CSID == "") != (e.Object == "cn=new,ou=people,dc=example") {
			t.Errorf("error of %s has CS ID %q", e.Object, e.CSID)
		}
	}
	// Once the source is fixed, the next import takes the object.
	hr.Put(good("1"), good("8"))
	hr.Remove("new-bad")
	r = h.run("hr", FullImport)
	if cur := h.csState("hr", "8"); cur.Object.DN != "cn=user8,ou=people,dc=example" || r.Counts.Errors != 7 {
		t.Errorf("after the fix: %+v, %+v", cur.Object, r.Counts)
	}
}

// The connector's schema decides which attributes are single-valued; where
// it has none for an attribute, the type-independent checks still apply.
func TestImportValueChecksSchema(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	hr := h.conns["hr"]
	hr.SetSchema(&model.Schema{ObjectTypes: []model.ObjectTypeSchema{{Name: "user", Attributes: []model.AttributeSchema{
		{Name: "CN"}, {Name: "mail", MultiValued: true}, {Name: "department"},
	}}}})
	hr.Put(user("1", "a", "a@x", "Sales"), user("2", "b", "b@x", "Sales"), user("3", "c", "c@x", "Sales"), user("4", "d", "d@x", "Sales"))
	h.run("hr", FullImport)
	o := user("1", "a", "a@x", "Sales")
	o.Attrs["department"] = model.Str("Sales", "Marketing")
	hr.Put(o)
	o = user("2", "b", "b@x", "Sales")
	o.Attrs["mail"] = model.Str("b@x", "b2@x")
	hr.Put(o)
	o = user("3", "c", "c@x", "Sales")
	o.Attrs["cn"] = model.Str("c", "d") // schema names compare case-insensitively
	hr.Put(o)
	o = user("4", "d", "d@x", "Sales")
	o.Attrs["mail"] = model.Str("\xc3\x28")
	hr.Put(o)
	r := h.run("hr", FullImport)
	h.wantErrors(r, map[string]string{
		"cn=a,ou=people,dc=example": `attribute "department": 2 values, but the connector's schema says it is single-valued`,
		"cn=c,ou=people,dc=example": `attribute "cn": 2 values, but the connector's schema says it is single-valued`,
		"cn=d,ou=people,dc=example": `attribute "mail": value 1 is not valid UTF-8`,
	})
	if cur := h.csState("hr", "2"); !cur.Object.Attrs["mail"].Equal(model.Str("b@x", "b2@x")) {
		t.Errorf("a multi-valued attribute of the schema takes several values: %+v", cur.Object.Attrs)
	}
}

// The defaults: 1 MiB per text value, 10,000 values per attribute, but a
// group with more than 100,000 members passes (1,000,000 references).
func TestImportValueDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a group of 120,000 members")
	}
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	hr, ad := h.conns["hr"], h.conns["ad"]
	hr.Put(user("1", "a", "a@x", "Sales"), user("2", "b", "b@x", "Sales"))
	if r := h.run("hr", FullImport); r.Counts.Adds != 2 {
		t.Fatalf("import: %+v", r.Counts)
	}
	members := make([]string, 120_000)
	for i := range members {
		members[i] = fmt.Sprintf("cn=user%06d,ou=people,dc=example", i)
	}
	ad.Put(group("big", "everyone", members...))
	if r := h.run("ad", FullImport); r.Counts.Adds != 1 || r.Counts.Errors != 0 {
		t.Fatalf("import: %+v", r.Counts)
	}
	hr.Put(user("1", "a", "a@x", strings.Repeat("x", 10<<20)))
	depts := make([]string, 100_000)
	for i := range depts {
		depts[i] = fmt.Sprint("Sales ", i)
	}
	o := user("2", "b", "b@x", "Sales")
	o.Attrs["department"] = model.Str(depts...)
	hr.Put(o)
	r := h.run("hr", FullImport)
	h.wantErrors(r, map[string]string{
		"cn=a,ou=people,dc=example": `attribute "department": value 1 is 10485760 bytes, more than the 1048576 a text value may have`,
		"cn=b,ou=people,dc=example": `attribute "department": 100000 values, more than the 10000 an attribute may hold`,
	})
	if cur := h.csState("ad", "big"); cur == nil || len(cur.Object.Attrs["member"].Values) != 120_000 {
		t.Error("the large group was not kept")
	}
}

// Exports get the same check against the target's limits: an op that
// breaks them is an error on that object, recorded in the journal like a
// refused one, and is not sent; the others are.
func TestExportValueChecks(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Connectors["cloud"].Limits = Limits{MaxStringBytes: 30, SingleValued: []string{"mail"}}
	hr, cloud := h.conns["hr"], h.conns["cloud"]
	long := user("1", "a", "a@x", "A department name over twenty bytes", "employeeID", "1")
	two := user("2", "b", "b@x", "Sales", "employeeID", "2")
	two.Attrs["mail"] = model.Str("b@x", "b2@x")
	hr.Put(long, two, user("3", "c", "c@x", "Sales", "employeeID", "3"))
	h.run("hr", FullImport)
	h.run("hr", FullSync)
	r := h.run("cloud", Export)
	h.wantErrors(r, map[string]string{
		"cloud:cn=1,ou=users,dc=cloud": `add: not sent, the values break cloud's limits: attribute "department": value 1 is 35 bytes, more than the 30`,
		"cloud:cn=2,ou=users,dc=cloud": `add: not sent, the values break cloud's limits: attribute "mail": 2 values, but it is single-valued`,
	})
	if r.Counts.Adds != 1 || len(cloud.All()) != 1 || cloud.GetByDN("cn=3,ou=users,dc=cloud") == nil {
		t.Fatalf("export: %+v, cloud holds %d objects", r.Counts, len(cloud.All()))
	}
	for _, op := range cloud.Exported() {
		if op.DN != "cn=3,ou=users,dc=cloud" {
			t.Errorf("a refused op was sent: %+v", op)
		}
	}
	var refused []*store.CSObject
	if err := h.st.ScanCS(h.ctx, "cloud", func(o *store.CSObject) error {
		if o.Pending != nil {
			refused = append(refused, o)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, o := range refused {
		p := o.Pending
		if p.State != store.ExportError || p.MayExist || p.Attempts != 0 || !strings.Contains(p.Error, "not sent") {
			t.Errorf("journal of %s: %+v", o.Object.DN, p)
		}
	}
	if len(refused) != 2 {
		t.Fatalf("%d pending exports left, want the 2 refused", len(refused))
	}
	// The next export refuses them again; fixed at the source, they go.
	if r := h.run("cloud", Export); r.Counts.Errors != 2 || len(cloud.Exported()) != 1 {
		t.Errorf("second export: %+v, %d ops sent", r.Counts, len(cloud.Exported()))
	}
	hr.Put(user("1", "a", "a@x", "Short", "employeeID", "1"), user("2", "b", "b@x", "Sales", "employeeID", "2"))
	h.run("hr", FullImport)
	h.run("hr", FullSync)
	if r := h.run("cloud", Export); r.Counts.Errors != 0 || r.Counts.Adds != 2 || len(cloud.All()) != 3 {
		t.Errorf("after the fix: %+v, cloud holds %d", r.Counts, len(cloud.All()))
	}
}

// listConn is a connector whose full import emits a list of objects as it
// is, duplicates included.
type listConn struct{ objs []*model.Object }

func (c *listConn) Close() error { return nil }

func (c *listConn) FullImport(_ context.Context, _ connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	for _, o := range c.objs {
		if err := emit(o.Clone()); err != nil {
			return "", err
		}
	}
	return "", nil
}

// Two objects with one anchor in a full import: the first is imported, the
// second is an error on that object.
func TestImportAnchorCollision(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	lc := &listConn{objs: []*model.Object{user("1", "a", "a@x", "Sales"), user("2", "b", "b@x", "Sales")}}
	h.e.Connectors["hr"].Conn = lc
	h.run("hr", FullImport)
	lc.objs = []*model.Object{user("1", "a", "a@x", "Marketing"), user("2", "b", "b@x", "Sales"), user("1", "impostor", "i@x", "Finance")}
	r := h.run("hr", FullImport)
	h.wantErrors(r, map[string]string{
		"cn=impostor,ou=people,dc=example": `an object imported before it in this import ("cn=a,ou=people,dc=example") has the same anchor "1": an anchor identifies one object, so only the first is imported`,
	})
	if cur := h.csState("hr", "1"); cur.Object.DN != "cn=a,ou=people,dc=example" || cur.Object.Attrs.First("department") != "Marketing" {
		t.Errorf("the first object with the anchor is not the one imported: %+v", cur.Object)
	}
}

// Two objects with one anchor in a full import, the first refused for a
// value: the second is refused as a duplicate, without naming the first's
// DN (the stored object, if any, is not the first); the stored object
// keeps its last imported state and is not deleted.
func TestImportAnchorCollisionFirstRefused(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	lc := &listConn{objs: []*model.Object{user("1", "a", "a@x", "Sales"), user("2", "b", "b@x", "Sales")}}
	h.e.Connectors["hr"].Conn = lc
	h.run("hr", FullImport)
	lc.objs = []*model.Object{user("1", "a-renamed", "a@x", "Bad\x00"), user("2", "b", "b@x", "Sales"), user("1", "impostor", "i@x", "Finance")}
	r := h.run("hr", FullImport)
	h.wantErrors(r, map[string]string{
		"cn=a-renamed,ou=people,dc=example": `attribute "department": value 1 holds the control character U+0000 at byte 3`,
		"cn=impostor,ou=people,dc=example":  `an object imported before it in this import has the same anchor "1": an anchor identifies one object, so only the first is imported`,
	})
	if r.Counts.Deletes != 0 {
		t.Errorf("counts %+v, want no deletes", r.Counts)
	}
	if cur := h.csState("hr", "1"); cur.Deleted || cur.Object.DN != "cn=a,ou=people,dc=example" || cur.Object.Attrs.First("department") != "Sales" {
		t.Errorf("the stored object changed: deleted=%v %+v", cur.Deleted, cur.Object)
	}
}

// BenchmarkValueCheck measures the import check of a user of 17 attributes
// and of a group of 20 members (DNs parsed).
func BenchmarkValueCheck(b *testing.B) {
	u := &model.Object{Anchor: "x", DN: "CN=Grace Kim,OU=Sales,DC=contoso,DC=test", Type: "user", Attrs: model.Attrs{}}
	for _, a := range []string{"cn", "sn", "givenName", "displayName", "mail", "userPrincipalName", "sAMAccountName", "department",
		"title", "company", "employeeID", "telephoneNumber", "l", "co", "streetAddress", "description"} {
		u.Attrs[a] = model.Str("Some value of " + a + " with café")
	}
	u.Attrs["objectGUID"] = model.Values{Type: model.Binary, Values: []string{"0123456789abcdef"}}
	m := make([]string, 20)
	for i := range m {
		m[i] = fmt.Sprintf("CN=User %05d,OU=Users,DC=contoso,DC=test", i)
	}
	g := &model.Object{Anchor: "g", DN: "CN=Group 1,OU=Groups,DC=contoso,DC=test", Type: "group",
		Attrs: model.Attrs{"cn": model.Str("Group 1"), "member": model.Ref(m...)}}
	vc := &valueCheck{lim: Limits{}.resolved(), single: map[string]bool{"department": true}}
	b.Run("user", func(b *testing.B) {
		for range b.N {
			if p := vc.check(u.Type, u.DN, true, maps.All(u.Attrs)); p != nil {
				b.Fatal(p)
			}
		}
	})
	b.Run("group20", func(b *testing.B) {
		for range b.N {
			if p := vc.check(g.Type, g.DN, true, maps.All(g.Attrs)); p != nil {
				b.Fatal(p)
			}
		}
	})
}

// FuzzValueCheck: the check never panics, and a string value passes
// exactly when it is valid UTF-8 without control characters other than
// tab, LF and CR and within the size limit; a reference of an object with a
// DN passes only when model.ValidateDN accepts it.
func FuzzValueCheck(f *testing.F) {
	for _, s := range []string{"Sales", "caf\xe9", "a\x00b", "tab\there\r\n", "CN=Grace Kim,,=OU==Sales,DC", "cn=a,dc=b", strings.Repeat("x", 70)} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(model.Reference))
	}
	vc := &valueCheck{lim: Limits{MaxStringBytes: 64, MaxBinaryBytes: 64, MaxValues: 3, MaxReferences: 3}.resolved()}
	f.Fuzz(func(t *testing.T, s string, typ uint8) {
		ty := model.Type(typ % 6)
		p := vc.check("user", "cn=x,dc=y", true, maps.All(model.Attrs{"a": {Type: ty, Values: []string{s}}}))
		textOK := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f })
		want := len(s) <= 64
		switch ty {
		case model.Binary:
		case model.Reference:
			want = want && textOK && model.ValidateDN(s) == nil
		default:
			want = want && textOK
		}
		if (len(p) == 0) != want {
			t.Errorf("%v value %q: problems %q, want ok = %v", ty, s, p, want)
		}
	})
}
