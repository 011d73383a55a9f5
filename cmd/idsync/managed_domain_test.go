package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

// The managed-domain rules (outOfBox.managedDomain, R4) against a real
// Samba AD DC: a cloud directory (an LDIF file standing for the tenant)
// synchronized one way into the domain. The test's base DN is an OU of its
// own in the shared CONTOSO.TEST domain, standing for the domain's naming
// context; OU=AADDC Users under it is missing at first and created by the
// connector (createContainers).

type mdSite struct {
	t     *testing.T
	srv   *peers.LDAPServer
	a     *ldap.Conn
	dir   string
	cfg   string
	base  string // the "domain"
	users string // OU=AADDC Users,<base>
	tag   string
}

// mdOptions add to a managed-domain site's configuration: keys of
// outOfBox.managedDomain, and top-level keys.
type mdOptions struct {
	managed, top string
	// azureAD extends the domain's schema with msDS-AzureADMailNickname
	// and msDS-AzureADObjectId.
	azureAD bool
}

func newMDSite(t *testing.T, opts ...mdOptions) *mdSite {
	var o mdOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	srv := peers.Samba(t, peers.SambaOptions{Realm: "CONTOSO.TEST", AzureADSchema: o.azureAD})
	s := &mdSite{t: t, srv: srv, a: bind(t, srv), dir: t.TempDir(), tag: "m" + hex.EncodeToString(b[:])}
	s.base = fmt.Sprintf("OU=md-%s,%s", s.tag, srv.BaseDN)
	s.users = "OU=AADDC Users," + s.base
	// OU=AADDC Users is not there: the connector creates it
	// (createContainers) with the first object it exports into it.
	for _, ou := range []string{s.base, "OU=Custom," + s.base} {
		req := ldap.NewAddRequest(ou, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		if err := s.a.Add(req); err != nil {
			t.Fatalf("add %s: %v", ou, err)
		}
	}
	s.cfg = filepath.Join(s.dir, "idsync.yaml")
	writeFile(t, s.cfg, fmt.Sprintf(`dataDir: .
connectors:
  - name: cloud
    type: file
    config:
      path: cloud.ldif
      anchor: objectId
      types: {accountEnabled: boolean, securityEnabled: boolean}
  - name: aadds
    type: ldap
    config:
      url: %s
      caFile: %s
      bindDN: %q
      password: %q
      containers: {include: [%q]}
      createContainers: [%q]
outOfBox:
  managedDomain: {source: cloud, target: aadds, baseDN: %q%s}
scheduler: {order: [cloud, aadds]}
%s`, srv.LDAPSURL, srv.CAFile, srv.BindDN, srv.Password, s.base, s.users, s.base, o.managed, o.top))
	return s
}

// cloudUser is an entry of the cloud LDIF.
func (s *mdSite) writeCloud(entries ...string) {
	s.t.Helper()
	writeFile(s.t, filepath.Join(s.dir, "cloud.ldif"), "version: 1\n\n"+strings.Join(entries, "\n"))
}

func (s *mdSite) cloudUser(id, upn, nick string, enabled bool, extra ...string) string {
	e := fmt.Sprintf("dn: CN=%s,OU=Users,DC=cloud\nobjectClass: user\nobjectId: %s\nuserPrincipalName: %s\ndisplayName: User %s\naccountEnabled: %v\n", id, id, upn, id, enabled)
	if nick != "" {
		e += "mailNickname: " + nick + "\n"
	}
	for _, x := range extra {
		e += x + "\n"
	}
	return e
}

func (s *mdSite) cycle(full bool) string {
	s.t.Helper()
	args := []string{"--config", s.cfg, "cycle"}
	if full {
		args = append(args, "--full")
	}
	out, errs, code := idsync(s.t, args...)
	if code != 0 {
		s.t.Fatalf("idsync cycle: exit %d\n%s%s", code, out, errs)
	}
	return out + errs
}

// entries returns the domain's entries under base by lower-case DN.
func (s *mdSite) entries(base string) map[string]*ldap.Entry {
	s.t.Helper()
	res, err := s.a.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(|(objectClass=user)(objectClass=group))", []string{"sAMAccountName", "userAccountControl", "displayName", "userPrincipalName", "groupType", "member", "givenName", "mail"}, nil))
	if err != nil {
		s.t.Fatalf("search %s: %v", base, err)
	}
	out := map[string]*ldap.Entry{}
	for _, e := range res.Entries {
		out[strings.ToLower(e.DN)] = e
	}
	return out
}

// TestManagedDomainSamba: users and a group of the cloud directory land in
// OU=AADDC Users (R4.4), created when missing, with the R4.6/R4.7 mappings; a disabled user and a
// non-expiring password get their userAccountControl bits; a long
// mailNickname and two accounts sharing one get generated sAMAccountNames
// (≤ 20, unique, R4.8) that stay when a later account arrives; a change
// made in the domain is overwritten at the next cycle and an object in a
// custom OU is never touched (R4.3); a user removed from the cloud is
// deleted from the domain.
func TestManagedDomainSamba(t *testing.T) {
	s := newMDSite(t)
	tag := s.tag
	// An account of the domain's own, in a custom OU, with the nickname the
	// first cloud user wants.
	custom := "CN=Own account,OU=Custom," + s.base
	req := ldap.NewAddRequest(custom, nil)
	req.Attribute("objectClass", []string{"user"})
	req.Attribute("sAMAccountName", []string{tag + "own"})
	req.Attribute("displayName", []string{"Own account"})
	if err := s.a.Add(req); err != nil {
		t.Fatalf("add %s: %v", custom, err)
	}
	// An account outside the connector's containers holds the nickname
	// another cloud user wants: idsync cannot see it, the domain refuses
	// the add, and that is an error on the object, not a DN collision.
	outside := "CN=" + tag + "zed,CN=Users," + s.srv.BaseDN
	req = ldap.NewAddRequest(outside, nil)
	req.Attribute("objectClass", []string{"user"})
	req.Attribute("sAMAccountName", []string{tag + "zed"})
	if err := s.a.Add(req); err != nil {
		t.Fatalf("add %s: %v", outside, err)
	}
	t.Cleanup(func() { _ = s.a.Del(ldap.NewDelRequest(outside, nil)) })
	long := tag + "-a-very-long-mail-nickname-of-64-characters-for-the-managed-dom"
	users := []string{
		s.cloudUser("u1", "ada."+tag+"@contoso.com", tag+"ada", true, "givenName: Ada", "mail: ada."+tag+"@contoso.com"),
		s.cloudUser("u2", "bob."+tag+"@contoso.com", tag+"bob", false),
		s.cloudUser("u3", "long."+tag+"@contoso.com", long, true, "passwordPolicies: DisablePasswordExpiration"),
		s.cloudUser("u4", "own."+tag+"@contoso.com", tag+"own", true),
		// Two accounts sharing a nickname, synchronized in the same cycle.
		s.cloudUser("u6", "cat."+tag+"@contoso.com", tag+"cat", true),
		s.cloudUser("u7", "cat."+tag+"@fabrikam.com", tag+"cat", true),
		s.cloudUser("u8", "zed."+tag+"@contoso.com", tag+"zed", true),
	}
	group := fmt.Sprintf("dn: CN=g1,OU=Groups,DC=cloud\nobjectClass: group\nobjectId: g1\ndisplayName: Staff %s\nsecurityEnabled: true\nmember: CN=u1,OU=Users,DC=cloud\nmember: CN=u2,OU=Users,DC=cloud\n", tag)
	s.writeCloud(append(users, group)...)
	out := s.cycle(true)
	out += s.cycle(false)

	dn := func(upn string) string { return strings.ToLower("CN=" + upn + "," + s.users) }
	got := s.entries(s.base)
	ada, bob, lng, own := got[dn("ada."+tag+"@contoso.com")], got[dn("bob."+tag+"@contoso.com")], got[dn("long."+tag+"@contoso.com")], got[dn("own."+tag+"@contoso.com")]
	g := got[strings.ToLower("CN=Staff "+tag+","+s.users)]
	if ada == nil || bob == nil || lng == nil || own == nil || g == nil {
		var dns []string
		for k := range got {
			dns = append(dns, k)
		}
		t.Fatalf("the domain holds %q; want the four users and the group in OU=AADDC Users\n%s", dns, out)
	}
	if len(got) != 8 {
		t.Errorf("the test's OUs hold %d users and groups, want 8 (7 synchronized, 1 own)", len(got))
	}
	if n := strings.Count(out, "object error"); n != 2 || !strings.Contains(out, "zed."+tag) || !strings.Contains(out, "already in use") || strings.Contains(out, "did not create") {
		t.Errorf("the first two cycles: want one object error each, Zed's sAMAccountName already in use in the domain (not a DN collision):\n%s", out)
	}
	if got[dn("zed."+tag+"@contoso.com")] != nil {
		t.Errorf("Zed was created although the domain has its sAMAccountName")
	}
	cat1, cat2 := got[dn("cat."+tag+"@contoso.com")], got[dn("cat."+tag+"@fabrikam.com")]
	if cat1 == nil || cat2 == nil {
		t.Fatalf("the two cats are not in the domain\n%s", out)
	}
	for _, e := range []*ldap.Entry{cat1, cat2} {
		if sam := e.GetAttributeValue("sAMAccountName"); strings.EqualFold(sam, tag+"cat") || !strings.HasPrefix(sam, tag+"cat") || len(sam) > 20 {
			t.Errorf("%s: sAMAccountName %q, want a generated one (two accounts share the nickname)", e.DN, sam)
		}
	}
	check := func(e *ldap.Entry, attr, want string) {
		t.Helper()
		if v := e.GetAttributeValue(attr); v != want {
			t.Errorf("%s: %s = %q, want %q", e.DN, attr, v, want)
		}
	}
	check(ada, "sAMAccountName", tag+"ada")
	check(ada, "userAccountControl", "512")
	check(ada, "givenName", "Ada")
	check(ada, "mail", "ada."+tag+"@contoso.com")
	check(ada, "userPrincipalName", "ada."+tag+"@contoso.com")
	check(bob, "userAccountControl", "514") // ACCOUNT_DISABLED
	check(lng, "userAccountControl", "66048")
	check(g, "groupType", "-2147483646")
	check(g, "sAMAccountName", "Staff "+tag)
	if sam := lng.GetAttributeValue("sAMAccountName"); utf8.RuneCountInString(sam) != 20 || !strings.HasPrefix(sam, long[:15]) {
		t.Errorf("the long nickname's sAMAccountName is %q, want its first 15 characters and a suffix, 20 in all", sam)
	}
	if sam := own.GetAttributeValue("sAMAccountName"); strings.EqualFold(sam, tag+"own") || !strings.HasPrefix(sam, tag+"own") || len(sam) > 20 {
		t.Errorf("the user whose nickname the domain's own account has got %q, want a generated name", sam)
	}
	if m := g.GetAttributeValues("member"); len(m) != 2 {
		t.Errorf("the group's members: %q, want Ada and Bob", m)
	}
	if e := got[strings.ToLower(custom)]; e == nil || e.GetAttributeValue("displayName") != "Own account" {
		t.Errorf("the custom OU's account changed: %v", e)
	}

	// A later account with Ada's nickname gets a generated name; Ada keeps
	// hers. A change made in the domain is overwritten.
	users = append(users, s.cloudUser("u5", "ada2."+tag+"@contoso.com", tag+"ada", true))
	s.writeCloud(append(users, group)...)
	m := ldap.NewModifyRequest(ada.DN, nil)
	m.Replace("displayName", []string{"Changed in the domain"})
	if err := s.a.Modify(m); err != nil {
		t.Fatal(err)
	}
	out = s.cycle(false) + s.cycle(false)
	got = s.entries(s.base)
	check(got[dn("ada."+tag+"@contoso.com")], "displayName", "User u1")
	check(got[dn("ada."+tag+"@contoso.com")], "sAMAccountName", tag+"ada")
	ada2 := got[dn("ada2."+tag+"@contoso.com")]
	if ada2 == nil {
		t.Fatalf("the second ada was not created\n%s", out)
	}
	if sam := ada2.GetAttributeValue("sAMAccountName"); strings.EqualFold(sam, tag+"ada") || !strings.HasPrefix(sam, tag+"ada") || len(sam) > 20 {
		t.Errorf("the second ada's sAMAccountName is %q, want a generated one", sam)
	}

	// Bob leaves the cloud: deleted from the domain and from the group.
	s.writeCloud(append(append([]string{users[0]}, users[2:]...), strings.Replace(group, "member: CN=u2,OU=Users,DC=cloud\n", "", 1))...)
	s.cycle(false)
	got = s.entries(s.base)
	if got[dn("bob."+tag+"@contoso.com")] != nil {
		t.Errorf("Bob is still in the domain after leaving the cloud")
	}
	if e := got[strings.ToLower(custom)]; e == nil {
		t.Errorf("the custom OU's account was deleted")
	}
}
