package ldap

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
)

func TestMain(m *testing.M) {
	code := m.Run()
	peers.StopShared()
	os.Exit(code)
}

// adOU creates an OU of its own for a test in the shared Samba domain.
func adOU(t *testing.T, a *ldap.Conn, srv *peers.LDAPServer) string {
	t.Helper()
	ou := fmt.Sprintf("OU=%s,%s", strings.ReplaceAll(t.Name(), "/", "-"), srv.BaseDN)
	req := ldap.NewAddRequest(ou, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	if err := a.Add(req); err != nil {
		t.Fatalf("add %s: %v", ou, err)
	}
	return ou
}

func adUser(cn string, uac int, extra ...string) map[string][]string {
	a := map[string][]string{"objectClass": {"user"}, "cn": {cn}, "sAMAccountName": {cn}, "userAccountControl": {fmt.Sprint(uac)},
		"mail": {cn + "@contoso.test"}}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = append(a[extra[i]], extra[i+1])
	}
	return a
}

func newADConnector(t *testing.T, srv *peers.LDAPServer, mod func(*Config)) *Connector {
	t.Helper()
	cfg := Config{URL: srv.LDAPSURL, CAFile: srv.CAFile, BindDN: srv.BindDN, Password: srv.Password}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New("contoso", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func adImport(t *testing.T, c *Connector, part string, attrs ...string) imported {
	t.Helper()
	return fullImport(t, c, connector.ImportRequest{Partition: part, Attributes: attrs})
}

func TestADConnectionSchemaPartitions(t *testing.T) {
	srv := peers.Samba(t, peers.SambaOptions{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ldaps with the CA", nil, ""},
		{"plain ldap", func(c *Config) { c.URL, c.CAFile = srv.URL, "" }, ""},
		{"ldaps without the CA", func(c *Config) { c.CAFile = "" }, "not trust"},
		{"wrong password", func(c *Config) { c.Password = "nope" }, "wrong DN or password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newADConnector(t, srv, tc.mod).TestConnection(ctx)
			if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("TestConnection = %v, want %q", err, tc.want)
			}
		})
	}
	c := newADConnector(t, srv, nil)
	ps, err := c.Partitions(ctx)
	if err != nil || len(ps) != 1 || !strings.EqualFold(ps[0].Name, srv.BaseDN) {
		t.Fatalf("partitions = %v, %v; want the one domain %s", ps, err, srv.BaseDN)
	}
	sc, err := c.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	user := sc.ObjectType("user")
	for name, want := range map[string]model.Type{"objectGUID": model.Binary, "objectSid": model.Binary, "member": model.Type(0),
		"manager": model.Reference, "userAccountControl": model.Integer, "pwdLastSet": model.Integer, "whenCreated": model.DateTime,
		"sAMAccountName": model.String, "mS-DS-ConsistencyGuid": model.Binary, "proxyAddresses": model.String} {
		a := user.Attribute(name)
		if want == 0 {
			continue
		}
		if a == nil || a.Type != want {
			t.Errorf("user.%s = %+v, want %s", name, a, want)
		}
	}
	if a := user.Attribute("sAMAccountName"); a == nil || a.MultiValued {
		t.Errorf("sAMAccountName = %+v, want single-valued", a)
	}
	if g := sc.ObjectType("group").Attribute("member"); g == nil || g.Type != model.Reference || !g.MultiValued {
		t.Errorf("group.member = %+v", g)
	}
	if sc.ObjectType("contact") == nil {
		t.Error("no contact type")
	}
	if _, err := c.Containers(ctx, srv.BaseDN); err != nil {
		t.Fatal(err)
	}
}

// TestADImportAndDirSync imports users (one disabled), a contact and a group
// of 5,000 members, then follows add, modify, move, rename, member add and
// remove, and delete through DirSync, and the same through uSNChanged.
func TestADImportAndDirSync(t *testing.T) {
	srv := peers.Samba(t, peers.SambaOptions{})
	a := admin(t, srv)
	ou := adOU(t, a, srv)
	sub := "OU=Sub," + ou
	mustAdd(t, a, sub, map[string][]string{"objectClass": {"organizationalUnit"}})
	mustAdd(t, a, "CN=enabled,"+ou, adUser("enabled", 544))
	mustAdd(t, a, "CN=disabled,"+ou, adUser("disabled", 546))
	mustAdd(t, a, "CN=mover,"+ou, adUser("mover", 544))
	mustAdd(t, a, "CN=doomed,"+ou, adUser("doomed", 544))
	mustAdd(t, a, "CN=ext,"+ou, map[string][]string{"objectClass": {"contact"}, "cn": {"ext"}, "mail": {"ext@fabrikam.test"}})
	// 5,000 members, added with four connections.
	const members = 5000
	bulk := "OU=Bulk," + ou
	mustAdd(t, a, bulk, map[string][]string{"objectClass": {"organizationalUnit"}})
	var dns []string
	for i := range members {
		dns = append(dns, fmt.Sprintf("CN=m%04d,%s", i, bulk))
	}
	// Contacts: Samba creates them far faster than security principals.
	addMany(t, srv, dns, func(i int) map[string][]string {
		return map[string][]string{"objectClass": {"contact"}, "cn": {fmt.Sprintf("m%04d", i)}}
	})
	mustAdd(t, a, "CN=big,"+ou, map[string][]string{"objectClass": {"group"}, "member": dns})
	mustAdd(t, a, "CN=small,"+ou, map[string][]string{"objectClass": {"group"}, "member": {"CN=enabled," + ou}})

	c := newADConnector(t, srv, func(c *Config) { c.Containers.Include = []string{ou}; c.PageSize = 500 })
	attrs := []string{"cn", "mail", "member", "userAccountControl", "objectSid", "whenChanged", "sAMAccountName"}
	im := adImport(t, c, srv.BaseDN, attrs...)
	if len(im.errs) > 0 {
		t.Fatal(im.errs)
	}
	if want := 4 + 1 + members + 2; len(im.objs) != want {
		t.Fatalf("imported %d objects, want %d", len(im.objs), want)
	}
	if !strings.HasPrefix(im.wm, "dirsync:") {
		t.Errorf("watermark %q, want a DirSync cookie", im.wm)
	}
	big := im.byName["big"]
	if big.Type != "group" || len(big.Attrs["member"].Values) != members {
		t.Fatalf("big has %d members, want %d (ranged retrieval)", len(big.Attrs["member"].Values), members)
	}
	dis := im.byName["disabled"]
	if dis.Type != "user" || dis.Attrs.First("userAccountControl") != "546" || dis.Attrs["userAccountControl"].Type != model.Integer {
		t.Errorf("disabled = %+v", dis.Attrs)
	}
	if g, err := base64.StdEncoding.DecodeString(dis.Anchor); err != nil || len(g) != 16 {
		t.Errorf("anchor %q is not a base64 objectGUID", dis.Anchor)
	}
	if sid := dis.Attrs["objectSid"]; sid.Type != model.Binary || len(sid.Values[0]) < 24 {
		t.Errorf("objectSid = %+v", sid)
	}
	if w := dis.Attrs.First("whenChanged"); !strings.HasSuffix(w, "Z") || !strings.Contains(w, "T") {
		t.Errorf("whenChanged = %q, want RFC 3339", w)
	}
	if ext := im.byName["ext"]; ext == nil || ext.Type != "contact" {
		t.Errorf("ext = %+v", ext)
	}

	// The changes.
	mustAdd(t, a, "CN=newbie,"+ou, adUser("newbie", 544))
	mod := ldap.NewModifyRequest("CN=enabled,"+ou, nil)
	mod.Replace("mail", []string{"changed@contoso.test"})
	if err := a.Modify(mod); err != nil {
		t.Fatal(err)
	}
	if err := a.ModifyDN(ldap.NewModifyDNRequest("CN=mover,"+ou, "CN=mover", true, sub)); err != nil {
		t.Fatal(err)
	}
	if err := a.ModifyDN(ldap.NewModifyDNRequest("CN=disabled,"+ou, "CN=renamed", true, "")); err != nil {
		t.Fatal(err)
	}
	mem := ldap.NewModifyRequest("CN=small,"+ou, nil)
	mem.Add("member", []string{"CN=newbie," + ou})
	mem.Delete("member", []string{"CN=enabled," + ou})
	if err := a.Modify(mem); err != nil {
		t.Fatal(err)
	}
	if err := a.Del(ldap.NewDelRequest("CN=doomed,"+ou, nil)); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, ups map[string]*model.Object, dels []string) {
		t.Helper()
		if u := ups["enabled"]; u == nil || u.Attrs.First("mail") != "changed@contoso.test" {
			t.Errorf("modified: %+v", u)
		}
		if u := ups["newbie"]; u == nil {
			t.Error("added newbie missing")
		}
		if u := ups["mover"]; u == nil || u.Anchor != im.byName["mover"].Anchor || !strings.HasPrefix(u.DN, "CN=mover,OU=Sub,") {
			t.Errorf("moved: %+v", u)
		}
		if u := ups["renamed"]; u == nil || u.Anchor != dis.Anchor {
			t.Errorf("renamed: %+v", u)
		}
		if g := ups["small"]; g == nil || len(g.Attrs["member"].Values) != 1 || !strings.HasPrefix(g.Attrs["member"].Values[0], "CN=newbie,") {
			t.Errorf("member change: %+v", g)
		}
		if !slices.Contains(dels, im.byName["doomed"].Anchor) {
			t.Errorf("deletes %v lack doomed %s", dels, im.byName["doomed"].Anchor)
		}
		if ups["big"] != nil || ups["ext"] != nil {
			t.Error("unchanged objects reported")
		}
	}
	t.Run("dirsync", func(t *testing.T) {
		ups, dels, next := deltaImportPart(t, c, srv.BaseDN, im.wm)
		check(t, ups, dels)
		ups, dels, _ = deltaImportPart(t, c, srv.BaseDN, next)
		if len(ups)+len(dels) != 0 {
			t.Errorf("a second DirSync pass reported %d changes", len(ups)+len(dels))
		}
	})
	t.Run("usnchanged", func(t *testing.T) {
		// The same changes seen through uSNChanged polling, from a full
		// import's USN: replay them by importing from a USN taken before.
		cu := newADConnector(t, srv, func(c *Config) { c.Containers.Include = []string{ou}; c.DeltaMethod = DeltaUSN })
		first := adImport(t, cu, srv.BaseDN, attrs...)
		mod := ldap.NewModifyRequest("CN=newbie,"+ou, nil)
		mod.Replace("mail", []string{"usn@contoso.test"})
		if err := a.Modify(mod); err != nil {
			t.Fatal(err)
		}
		if err := a.Del(ldap.NewDelRequest("CN=mover,"+sub, nil)); err != nil {
			t.Fatal(err)
		}
		ups, dels, _ := deltaImportPart(t, cu, srv.BaseDN, first.wm)
		if u := ups["newbie"]; u == nil || u.Attrs.First("mail") != "usn@contoso.test" {
			t.Errorf("uSNChanged: modified newbie = %+v", u)
		}
		if !slices.Contains(dels, im.byName["mover"].Anchor) {
			t.Errorf("uSNChanged: deletes %v lack mover", dels)
		}
	})
}

func deltaImportPart(t *testing.T, c *Connector, part, wm string) (map[string]*model.Object, []string, string) {
	t.Helper()
	ups := map[string]*model.Object{}
	var dels []string
	next, err := c.DeltaImport(context.Background(), connector.ImportRequest{Partition: part, Attributes: []string{"cn", "mail", "member"}}, wm, func(ch connector.Change) error {
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

// addMany adds entries with four connections.
func addMany(t *testing.T, srv *peers.LDAPServer, dns []string, attrs func(int) map[string][]string) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 4 {
		wg.Go(func() {
			conn, err := ldap.DialURL(srv.URL)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer conn.Close()
			if err := conn.Bind(srv.BindDN, srv.Password); err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(dns) {
					return
				}
				req := ldap.NewAddRequest(dns[i], nil)
				for k, v := range attrs(i) {
					req.Attribute(k, v)
				}
				if err := conn.Add(req); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("add %s: %w", dns[i], err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatal(err)
	}
}

// TestADExport creates, changes, renames and deletes in AD, with a password
// set over LDAPS, and checks that a server refusal is a per-object error.
func TestADExport(t *testing.T) {
	srv := peers.Samba(t, peers.SambaOptions{})
	a := admin(t, srv)
	ou := adOU(t, a, srv)
	c := newADConnector(t, srv, nil)
	ctx := context.Background()
	res := c.Export(ctx, []connector.ExportOp{
		{ID: "u", Op: connector.OpAdd, DN: "CN=Ann Smith," + ou, ObjectType: "user", Changes: []connector.AttrChange{
			{Name: "sAMAccountName", Mode: connector.Replace, Values: []string{"asmith"}},
			{Name: "unicodePwd", Mode: connector.Replace, Values: []string{"S3cret-Passw0rd!"}},
			{Name: "userAccountControl", Mode: connector.Replace, Type: model.Integer, Values: []string{"512"}},
			{Name: "mail", Mode: connector.Replace, Values: []string{"ann@contoso.test"}}}},
		{ID: "g", Op: connector.OpAdd, DN: "CN=Team," + ou, ObjectType: "group", Changes: []connector.AttrChange{
			{Name: "member", Mode: connector.Replace, Type: model.Reference, Values: []string{"CN=Ann Smith," + ou}}}},
		{ID: "nan", Op: connector.OpAdd, DN: "CN=NaN," + ou, ObjectType: "user", Changes: []connector.AttrChange{
			{Name: "userAccountControl", Mode: connector.Replace, Type: model.Integer, Values: []string{"not a number"}}}},
	})
	// The server refuses a second account with the same sAMAccountName.
	res = append(res, c.Export(ctx, []connector.ExportOp{{ID: "bad", Op: connector.OpAdd, DN: "CN=Bad," + ou, ObjectType: "user",
		Changes: []connector.AttrChange{{Name: "sAMAccountName", Mode: connector.Replace, Values: []string{"asmith"}}}}})...)
	byID := map[string]connector.ExportResult{}
	for _, r := range res {
		byID[r.ID] = r
	}
	if byID["u"].Err != nil || byID["g"].Err != nil {
		t.Fatalf("adds: %+v", res)
	}
	if g, err := base64.StdEncoding.DecodeString(byID["u"].Anchor); err != nil || len(g) != 16 {
		t.Errorf("anchor %q is not a base64 objectGUID", byID["u"].Anchor)
	}
	if err := byID["nan"].Err; err == nil || !strings.Contains(err.Error(), "CN=NaN") || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("add with a malformed integer = %v, want an error naming the DN and the value", err)
	}
	if err := byID["bad"].Err; err == nil || !strings.Contains(err.Error(), "CN=Bad") || !strings.Contains(err.Error(), "LDAP Result Code") {
		t.Errorf("add of a duplicate account = %v, want the server's refusal naming the DN", err)
	}
	// The password works: bind as Ann.
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind("asmith@"+srv.Realm, "S3cret-Passw0rd!"); err != nil {
		t.Errorf("bind with the exported password: %v", err)
	}
	// Replay, rename and delete.
	res = c.Export(ctx, []connector.ExportOp{{ID: "u", Op: connector.OpAdd, DN: "CN=Ann Smith," + ou, ObjectType: "user",
		Changes: []connector.AttrChange{{Name: "sAMAccountName", Mode: connector.Replace, Values: []string{"asmith"}}}}})
	if !errors.Is(res[0].Err, connector.ErrAlreadyExists) || res[0].Anchor != byID["u"].Anchor {
		t.Errorf("replayed add = %+v", res[0])
	}
	res = c.Export(ctx, []connector.ExportOp{{ID: "r", Op: connector.OpUpdate, DN: "CN=Ann Smith," + ou, NewDN: "CN=Ann Jones," + ou,
		Changes: []connector.AttrChange{{Name: "sn", Mode: connector.Replace, Values: []string{"Jones"}}}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	res = c.Export(ctx, []connector.ExportOp{{ID: "m", Op: connector.OpUpdate, DN: "CN=Team," + ou,
		Changes: []connector.AttrChange{{Name: "member", Mode: connector.DelVals, Type: model.Reference, Values: []string{"CN=Ann Jones," + ou}}}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	for i := range 2 {
		res = c.Export(ctx, []connector.ExportOp{{ID: "d", Op: connector.OpDelete, DN: "CN=Ann Jones," + ou}})
		if i == 0 && res[0].Err != nil || i == 1 && !errors.Is(res[0].Err, connector.ErrNotFound) {
			t.Fatalf("delete %d: %v", i, res[0].Err)
		}
	}
}
