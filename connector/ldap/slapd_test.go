package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
)

// admin returns a go-ldap connection bound as the server's administrator,
// to set up and inspect the directory beside the connector.
func admin(t *testing.T, srv *peers.LDAPServer) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.Bind(srv.BindDN, srv.Password); err != nil {
		t.Fatal(err)
	}
	return conn
}

func mustAdd(t *testing.T, conn *ldap.Conn, dn string, attrs map[string][]string) {
	t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	for _, k := range slices.Sorted(mapsKeys(attrs)) {
		req.Attribute(k, attrs[k])
	}
	if err := conn.Add(req); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
}

func mapsKeys(m map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func person(cn string, extra ...string) map[string][]string {
	a := map[string][]string{"objectClass": {"inetOrgPerson"}, "cn": {cn}, "sn": {"Test"}, "mail": {cn + "@example.test"}}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = append(a[extra[i]], extra[i+1])
	}
	return a
}

func newSlapdConnector(t *testing.T, srv *peers.LDAPServer, mod func(*Config)) *Connector {
	t.Helper()
	cfg := Config{URL: srv.URL, BindDN: srv.BindDN, Password: srv.Password, BaseDN: srv.BaseDN, PageSize: 7}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New("dir", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type imported struct {
	objs   map[string]*model.Object // by anchor
	errs   []string
	wm     string
	byName map[string]*model.Object // by cn
}

func fullImport(t *testing.T, c *Connector, req connector.ImportRequest) imported {
	t.Helper()
	im := imported{objs: map[string]*model.Object{}, byName: map[string]*model.Object{}}
	req.ObjectError = func(anchor, dn string, err error) { im.errs = append(im.errs, err.Error()) }
	wm, err := c.FullImport(context.Background(), req, func(o *model.Object) error {
		if _, dup := im.objs[o.Anchor]; dup {
			t.Errorf("anchor %s imported twice", o.Anchor)
		}
		im.objs[o.Anchor] = o
		im.byName[o.Attrs.First("cn")] = o
		return nil
	})
	if err != nil {
		t.Fatalf("full import: %v", err)
	}
	im.wm = wm
	return im
}

func deltaImport(t *testing.T, c *Connector, wm string) (ups map[string]*model.Object, dels []string, next string) {
	t.Helper()
	ups = map[string]*model.Object{}
	next, err := c.DeltaImport(context.Background(), connector.ImportRequest{}, wm, func(ch connector.Change) error {
		if ch.Kind == connector.Delete {
			dels = append(dels, ch.Object.Anchor)
		} else {
			ups[ch.Object.Attrs.First("cn")] = ch.Object
		}
		return nil
	})
	if err != nil {
		t.Fatalf("delta import: %v", err)
	}
	return ups, dels, next
}

func TestSlapdConnection(t *testing.T) {
	srv := peers.Slapd(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = success
	}{
		{"plain", nil, ""},
		{"ldaps with the CA", func(c *Config) { c.URL, c.CAFile = srv.LDAPSURL, srv.CAFile }, ""},
		{"startTLS with the CA", func(c *Config) { c.StartTLS, c.CAFile = true, srv.CAFile }, ""},
		{"ldaps without the CA", func(c *Config) { c.URL = srv.LDAPSURL }, "signed by an authority this machine does not trust"},
		{"wrong password", func(c *Config) { c.Password = "wrong" }, "wrong DN or password"},
		{"server down", func(c *Config) { c.URL = fmt.Sprintf("ldap://127.0.0.1:%d", peers.FreePort(t)); c.Retries = -1 }, "cannot reach"},
		{"missing base", func(c *Config) { c.BaseDN = "dc=nowhere,dc=test" }, "baseDN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newSlapdConnector(t, srv, tc.mod).TestConnection(ctx)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("TestConnection: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("TestConnection = %v, want an error containing %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), srv.Password):
				t.Fatalf("the error leaks the password: %v", err)
			}
		})
	}
}

func TestSlapdImportDeltaExport(t *testing.T) {
	srv := peers.Slapd(t)
	ctx := context.Background()
	a := admin(t, srv)
	people := "ou=people," + srv.BaseDN
	mustAdd(t, a, "ou=sales,"+people, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"sales"}})
	mustAdd(t, a, "ou=hidden,"+people, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"hidden"}})
	var members []string
	for i := range 20 {
		dn := fmt.Sprintf("cn=user%02d,%s", i, people)
		mustAdd(t, a, dn, person(fmt.Sprintf("user%02d", i), "employeeNumber", fmt.Sprint(1000+i)))
		members = append(members, dn)
	}
	mustAdd(t, a, "cn=seller,ou=sales,"+people, person("seller"))
	mustAdd(t, a, "cn=ghost,ou=hidden,"+people, person("ghost"))
	mustAdd(t, a, "cn=staff,ou=groups,"+srv.BaseDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"staff"}, "member": members})

	c := newSlapdConnector(t, srv, func(c *Config) {
		c.Containers = Containers{Include: []string{people, "ou=groups," + srv.BaseDN}, Exclude: []string{"ou=hidden," + people}}
	})
	im := fullImport(t, c, connector.ImportRequest{Attributes: []string{"cn", "mail", "member", "employeeNumber", "surname"}})
	if len(im.errs) > 0 {
		t.Fatalf("object errors: %v", im.errs)
	}
	if len(im.objs) != 22 {
		t.Fatalf("imported %d objects, want 20 users + seller + staff (ghost is excluded)", len(im.objs))
	}
	if !strings.HasPrefix(im.wm, "syncrepl:") {
		t.Errorf("watermark = %q, want a syncrepl cookie", im.wm)
	}
	staff := im.byName["staff"]
	if staff == nil || staff.Type != "group" || len(staff.Attrs["member"].Values) != 20 || staff.Attrs["member"].Type != model.Reference {
		t.Fatalf("staff = %+v", staff)
	}
	u := im.byName["user03"]
	if u.Type != "user" || u.DN != "cn=user03,"+people || u.Attrs.First("mail") != "user03@example.test" || len(u.Anchor) != 36 {
		t.Fatalf("user03 = %+v", u)
	}
	if _, ok := u.Attrs["sn"]; ok || u.Attrs.First("surname") != "Test" {
		t.Errorf("asked for surname (an alias of sn): got %v", u.Attrs)
	}

	// Delta: modify, add, rename (anchor kept), move out of scope, delete.
	mod := ldap.NewModifyRequest("cn=user01,"+people, nil)
	mod.Replace("mail", []string{"renamed@example.test"})
	if err := a.Modify(mod); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, a, "cn=newbie,ou=sales,"+people, person("newbie"))
	if err := a.ModifyDN(ldap.NewModifyDNRequest("cn=user02,"+people, "cn=user02b", true, "")); err != nil {
		t.Fatal(err)
	}
	if err := a.ModifyDN(ldap.NewModifyDNRequest("cn=user04,"+people, "cn=user04", true, "ou=hidden,"+people)); err != nil {
		t.Fatal(err)
	}
	if err := a.Del(ldap.NewDelRequest("cn=user05,"+people, nil)); err != nil {
		t.Fatal(err)
	}
	ups, dels, next := deltaImport(t, c, im.wm)
	if ups["user01"] == nil || ups["user01"].Attrs.First("mail") != "renamed@example.test" {
		t.Errorf("modified user01 = %+v", ups["user01"])
	}
	if ups["newbie"] == nil {
		t.Error("added newbie not reported")
	}
	if r := ups["user02b"]; r == nil || r.Anchor != im.byName["user02"].Anchor {
		t.Errorf("renamed user02 = %+v, want the anchor %s kept", r, im.byName["user02"].Anchor)
	}
	slices.Sort(dels)
	wantDels := []string{im.byName["user04"].Anchor, im.byName["user05"].Anchor}
	slices.Sort(wantDels)
	if !slices.Equal(dels, wantDels) {
		t.Errorf("deletes = %v, want user04 (moved out of scope) and user05 %v", dels, wantDels)
	}
	if len(ups) != 3 {
		t.Errorf("delta reported %d upserts, want 3: %v", len(ups), slices.Sorted(mapsKeysObj(ups)))
	}
	ups, dels, _ = deltaImport(t, c, next)
	if len(ups)+len(dels) != 0 {
		t.Errorf("a second delta with no change reported %d upserts and %d deletes", len(ups), len(dels))
	}

	// Export into the second database.
	target := newSlapdConnector(t, srv, func(c *Config) { c.BaseDN = srv.TargetBaseDN })
	tp := "ou=people," + srv.TargetBaseDN
	res := target.Export(ctx, []connector.ExportOp{
		{ID: "g", Op: connector.OpAdd, DN: "cn=team,ou=groups," + srv.TargetBaseDN, ObjectType: "group", Changes: []connector.AttrChange{
			{Name: "cn", Mode: connector.Replace, Values: []string{"team"}},
			{Name: "member", Mode: connector.Replace, Type: model.Reference, Values: []string{"cn=ann," + tp}}}},
		{ID: "a", Op: connector.OpAdd, DN: "cn=ann," + tp, ObjectType: "user", Changes: []connector.AttrChange{
			{Name: "objectClass", Mode: connector.Replace, Values: []string{"inetOrgPerson"}},
			{Name: "sn", Mode: connector.Replace, Values: []string{"Smith"}}, // cn comes from the DN
			{Name: "mail", Mode: connector.Replace, Values: []string{"ann@target.test"}}}},
		{ID: "bad", Op: connector.OpAdd, DN: "cn=bad," + tp, ObjectType: "user", Changes: []connector.AttrChange{
			{Name: "mail", Mode: connector.Replace, Values: []string{"bad@target.test"}}}}, // sn missing: the server refuses
	})
	got := map[string]connector.ExportResult{}
	for _, r := range res {
		got[r.ID] = r
	}
	if got["a"].Err != nil || got["g"].Err != nil || len(got["a"].Anchor) != 36 {
		t.Fatalf("adds: %+v", res)
	}
	if err := got["bad"].Err; err == nil || !strings.Contains(err.Error(), "cn=bad") || !strings.Contains(err.Error(), "sn") {
		t.Fatalf("a refused add: %v, want the server's message naming the DN and sn", err)
	}
	// Replays converge.
	res = target.Export(ctx, []connector.ExportOp{
		{ID: "a", Op: connector.OpAdd, DN: "cn=ann," + tp, ObjectType: "user", Changes: []connector.AttrChange{
			{Name: "objectClass", Mode: connector.Replace, Values: []string{"inetOrgPerson"}},
			{Name: "cn", Mode: connector.Replace, Values: []string{"ann"}}, {Name: "sn", Mode: connector.Replace, Values: []string{"Smith"}}}},
	})
	if !errors.Is(res[0].Err, connector.ErrAlreadyExists) || res[0].Anchor != got["a"].Anchor {
		t.Fatalf("replayed add = %+v, want ErrAlreadyExists with anchor %s", res[0], got["a"].Anchor)
	}
	upd := connector.ExportOp{ID: "u", Op: connector.OpUpdate, DN: "cn=ann," + tp, Changes: []connector.AttrChange{
		{Name: "mail", Mode: connector.AddVals, Values: []string{"ann2@target.test"}},
		{Name: "description", Mode: connector.Replace, Values: []string{"hello"}}}}
	for i := range 2 { // the second time replays value adds already applied
		if res = target.Export(ctx, []connector.ExportOp{upd}); res[0].Err != nil {
			t.Fatalf("update %d: %v", i, res[0].Err)
		}
	}
	ren := connector.ExportOp{ID: "r", Op: connector.OpRename, DN: "cn=ann," + tp, NewDN: "cn=ann,ou=groups," + srv.TargetBaseDN}
	for i := range 2 {
		if res = target.Export(ctx, []connector.ExportOp{ren}); res[0].Err != nil {
			t.Fatalf("rename %d: %v", i, res[0].Err)
		}
	}
	e, err := a.Search(ldap.NewSearchRequest("cn=ann,ou=groups,"+srv.TargetBaseDN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"mail", "description", "entryUUID"}, nil))
	if err != nil || len(e.Entries) != 1 {
		t.Fatalf("ann after rename: %v", err)
	}
	if m := e.Entries[0].GetAttributeValues("mail"); len(m) != 2 || e.Entries[0].GetAttributeValue("description") != "hello" || e.Entries[0].GetAttributeValue("entryUUID") != got["a"].Anchor {
		t.Errorf("ann = %v", e.Entries[0])
	}
	del := connector.ExportOp{ID: "d", Op: connector.OpDelete, DN: "cn=ann,ou=groups," + srv.TargetBaseDN}
	if res = target.Export(ctx, []connector.ExportOp{del}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if res = target.Export(ctx, []connector.ExportOp{del}); !errors.Is(res[0].Err, connector.ErrNotFound) {
		t.Fatalf("a replayed delete = %v, want ErrNotFound", res[0].Err)
	}
}

func mapsKeysObj(m map[string]*model.Object) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSlapdMalformedValue: an entry with a value that does not fit its
// declared type is an error on that object; the import goes on.
func TestSlapdMalformedValue(t *testing.T) {
	srv := peers.Slapd(t)
	a := admin(t, srv)
	people := "ou=people," + srv.BaseDN
	mustAdd(t, a, "cn=good,"+people, person("good", "employeeNumber", "42"))
	mustAdd(t, a, "cn=bad,"+people, person("bad", "employeeNumber", "forty-two"))
	c := newSlapdConnector(t, srv, func(c *Config) { c.Types = map[string]string{"employeeNumber": "integer"} })
	im := fullImport(t, c, connector.ImportRequest{})
	if im.byName["good"] == nil || im.byName["good"].Attrs["employeeNumber"].Type != model.Integer {
		t.Fatalf("good = %+v", im.byName["good"])
	}
	if im.byName["bad"] != nil || len(im.errs) != 1 || !strings.Contains(im.errs[0], "cn=bad") || !strings.Contains(im.errs[0], "not an integer") {
		t.Fatalf("bad = %+v, errors %v", im.byName["bad"], im.errs)
	}
}

func TestSlapdSchemaAndPartitions(t *testing.T) {
	srv := peers.Slapd(t)
	ctx := context.Background()
	c := newSlapdConnector(t, srv, func(c *Config) { c.BaseDN = "" })
	ps, err := c.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, srv.BaseDN) || !slices.Contains(names, srv.TargetBaseDN) {
		t.Errorf("partitions = %v", names)
	}
	sc, err := c.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	user := sc.ObjectType("user")
	for name, want := range map[string]model.Type{"cn": model.String, "manager": model.Reference, "jpegPhoto": model.Binary, "entryUUID": model.String, "mail": model.String} {
		if a := user.Attribute(name); a == nil || a.Type != want {
			t.Errorf("user.%s = %+v, want type %s", name, a, want)
		}
	}
	if a := user.Attribute("displayName"); a == nil || a.MultiValued {
		t.Errorf("displayName = %+v, want single-valued", a)
	}
	if g := sc.ObjectType("group").Attribute("member"); g == nil || g.Type != model.Reference {
		t.Errorf("group.member = %+v", g)
	}
	cs, err := c.Containers(ctx, srv.BaseDN)
	if err != nil || len(cs) < 2 {
		t.Fatalf("containers = %v, %v", cs, err)
	}
}

// TestSlapdTimestampDelta: without a change feed (deltaMethod timestamp),
// a delta import reads the entries modified since the last one again and
// lists every entry that still exists (connector.Present), so that the
// engine sees deletions and moves out of scope too.
func TestSlapdTimestampDelta(t *testing.T) {
	srv := peers.Slapd(t)
	a := admin(t, srv)
	people := "ou=people," + srv.BaseDN
	mustAdd(t, a, "ou=gone,"+srv.BaseDN, map[string][]string{"objectClass": {"organizationalUnit"}})
	for _, cn := range []string{"keep", "change", "remove", "move"} {
		mustAdd(t, a, "cn="+cn+","+people, person(cn))
	}
	c := newSlapdConnector(t, srv, func(c *Config) {
		c.DeltaMethod = DeltaTimestamp
		c.Containers.Include = []string{people}
	})
	im := fullImport(t, c, connector.ImportRequest{Attributes: []string{"cn", "mail"}})
	if !strings.HasPrefix(im.wm, "ts:") || len(im.objs) != 4 {
		t.Fatalf("watermark %q, %d objects", im.wm, len(im.objs))
	}
	time.Sleep(1100 * time.Millisecond) // modifyTimestamp has a resolution of one second
	mod := ldap.NewModifyRequest("cn=change,"+people, nil)
	mod.Replace("mail", []string{"changed@example.test"})
	if err := a.Modify(mod); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, a, "cn=new,"+people, person("new"))
	if err := a.Del(ldap.NewDelRequest("cn=remove,"+people, nil)); err != nil {
		t.Fatal(err)
	}
	if err := a.ModifyDN(ldap.NewModifyDNRequest("cn=move,"+people, "cn=move", true, "ou=gone,"+srv.BaseDN)); err != nil {
		t.Fatal(err)
	}
	ups, present := map[string]string{}, map[string]bool{}
	var dels []string
	next, err := c.DeltaImport(context.Background(), connector.ImportRequest{Attributes: []string{"cn", "mail"}}, im.wm, func(ch connector.Change) error {
		switch ch.Kind {
		case connector.Upsert:
			ups[ch.Object.Attrs.First("cn")] = ch.Object.Attrs.First("mail")
		case connector.Present:
			present[ch.Object.Anchor] = true
		case connector.Delete:
			dels = append(dels, ch.Object.Anchor)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Entries modified in the watermark's second (keep, from the full
	// import) are read again: >= never misses a change made in that second.
	if ups["change"] != "changed@example.test" || ups["new"] == "" || ups["remove"] != "" || ups["move"] != "" {
		t.Errorf("upserts = %v, want change and new (keep may be read again)", ups)
	}
	if !slices.Contains(dels, im.byName["move"].Anchor) {
		t.Errorf("deletes = %v, want move (left the containers)", dels)
	}
	for cn, want := range map[string]bool{"keep": true, "change": true, "remove": false, "move": false} {
		if present[im.byName[cn].Anchor] != want {
			t.Errorf("%s present = %v, want %v", cn, !want, want)
		}
	}
	if !strings.HasPrefix(next, "ts:") || next <= im.wm {
		t.Errorf("next watermark %q after %q", next, im.wm)
	}
}

// TestSlapdPassword: userPassword is set with the Password Modify extended
// operation, on add and on update, and the user can bind with it.
func TestSlapdPassword(t *testing.T) {
	srv := peers.Slapd(t)
	c := newSlapdConnector(t, srv, func(c *Config) { c.BaseDN = srv.TargetBaseDN })
	dn := "cn=pat,ou=people," + srv.TargetBaseDN
	ctx := context.Background()
	res := c.Export(ctx, []connector.ExportOp{{ID: "a", Op: connector.OpAdd, DN: dn, ObjectType: "user", Changes: []connector.AttrChange{
		{Name: "sn", Mode: connector.Replace, Values: []string{"Pat"}},
		{Name: "userPassword", Mode: connector.Replace, Values: []string{"First-Secret1"}}}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	bindAs := func(pw string) error {
		conn, err := ldap.DialURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.Bind(dn, pw)
	}
	if err := bindAs("First-Secret1"); err != nil {
		t.Fatalf("bind with the password set on add: %v", err)
	}
	res = c.Export(ctx, []connector.ExportOp{{ID: "u", Op: connector.OpUpdate, DN: dn, Changes: []connector.AttrChange{
		{Name: "userPassword", Mode: connector.Replace, Values: []string{"Second-Secret2"}},
		{Name: "description", Mode: connector.Replace, Values: []string{"changed"}}}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if err := bindAs("Second-Secret2"); err != nil {
		t.Fatalf("bind with the updated password: %v", err)
	}
	if err := bindAs("First-Secret1"); err == nil {
		t.Fatal("the old password still works")
	}
	a := admin(t, srv)
	e, err := a.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"userPassword", "description"}, nil))
	if err != nil || len(e.Entries) != 1 || e.Entries[0].GetAttributeValue("description") != "changed" {
		t.Fatalf("entry after the update: %v", err)
	}
	if pw := e.Entries[0].GetAttributeValue("userPassword"); !strings.HasPrefix(pw, "{") {
		t.Errorf("userPassword = %q, want a hash the server made ({SSHA}…)", pw)
	}
}

// TestSlapdRenamedContainerStopsImport: renaming an included container (or
// an excluded one) makes full and delta imports fail, naming it, instead of
// taking every object under it for deleted; once the configuration names
// the container as it is now, the objects are found again under their new
// DNs with the same anchors.
func TestSlapdRenamedContainerStopsImport(t *testing.T) {
	srv := peers.Slapd(t)
	a := admin(t, srv)
	people := "ou=people," + srv.BaseDN
	mustAdd(t, a, "ou=sales,"+people, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"sales"}})
	mustAdd(t, a, "ou=hidden,"+people, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"hidden"}})
	for _, cn := range []string{"ana", "bo"} {
		mustAdd(t, a, "cn="+cn+",ou=sales,"+people, person(cn))
	}
	mustAdd(t, a, "cn=spy,ou=hidden,"+people, person("spy"))
	containers := func(sales, hidden string) func(*Config) {
		return func(c *Config) {
			c.Containers = Containers{Include: []string{sales, "ou=hidden," + people}, Exclude: []string{hidden}}
		}
	}
	c := newSlapdConnector(t, srv, containers("ou=sales,"+people, "ou=hidden,"+people))
	im := fullImport(t, c, connector.ImportRequest{Attributes: []string{"cn"}})
	if len(im.objs) != 2 {
		t.Fatalf("imported %d objects, want ana and bo", len(im.objs))
	}

	for _, rename := range []struct{ dn, rdn string }{{"ou=sales," + people, "ou=revenue"}, {"ou=hidden," + people, "ou=secret"}} {
		if err := a.ModifyDN(ldap.NewModifyDNRequest(rename.dn, rename.rdn, true, "")); err != nil {
			t.Fatal(err)
		}
		emitted := 0
		_, err := c.FullImport(context.Background(), connector.ImportRequest{Attributes: []string{"cn"}}, func(*model.Object) error { emitted++; return nil })
		if err == nil || !strings.Contains(err.Error(), rename.dn) || !strings.Contains(err.Error(), "no longer exist") || emitted != 0 {
			t.Errorf("full import after renaming %s: %d objects, err %v; want an error naming it and nothing imported", rename.dn, emitted, err)
		}
		_, err = c.DeltaImport(context.Background(), connector.ImportRequest{Attributes: []string{"cn"}}, im.wm, func(connector.Change) error { emitted++; return nil })
		if err == nil || !strings.Contains(err.Error(), rename.dn) || emitted != 0 {
			t.Errorf("delta import after renaming %s: %d changes, err %v; want an error naming it and nothing imported", rename.dn, emitted, err)
		}
	}

	// The configuration follows the renames: the same objects, new DNs.
	c2 := newSlapdConnector(t, srv, func(c *Config) {
		c.Containers = Containers{Include: []string{"ou=revenue," + people, "ou=secret," + people}, Exclude: []string{"ou=secret," + people}}
	})
	again := fullImport(t, c2, connector.ImportRequest{Attributes: []string{"cn"}})
	if len(again.objs) != 2 || again.byName["ana"] == nil || again.byName["ana"].Anchor != im.byName["ana"].Anchor ||
		again.byName["ana"].DN != "cn=ana,ou=revenue,"+people {
		t.Fatalf("after the configuration follows: %d objects, ana = %+v", len(again.objs), again.byName["ana"])
	}
}
