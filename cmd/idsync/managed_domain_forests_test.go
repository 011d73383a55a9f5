package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

// mdForest is a source forest of a managed-domain site: a Samba realm and
// an OU of the test's own in it.
type mdForest struct {
	name string
	srv  *peers.LDAPServer
	a    *ldap.Conn
	ou   string
}

func (f *mdForest) add(t *testing.T, dn string, attrs map[string][]string) {
	t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Attribute(k, attrs[k])
	}
	if err := f.a.Add(req); err != nil {
		t.Fatalf("%s: add %s: %v", f.name, dn, err)
	}
}

// newMDForestsSite: two on-premises forests (the Samba realms
// FABRIKAM.TEST and TAILSPIN.TEST) feed the metaverse through the
// out-of-box forest rules, which send it to a cloud directory (an LDIF
// file) and, with outOfBox.managedDomain without a source, to the managed
// domain (CONTOSO.TEST, in an OU of the test's own). Fabrikam's connector
// also reads CN=Policies,CN=System, where the domain's group policies are.
func newMDForestsSite(t *testing.T) (*mdSite, map[string]*mdForest) {
	t.Helper()
	s := newMDSite(t)
	forests := map[string]*mdForest{}
	for _, fo := range []struct{ name, realm string }{{"fabrikam", "FABRIKAM.TEST"}, {"tailspin", "TAILSPIN.TEST"}} {
		srv := peers.Samba(t, peers.SambaOptions{Realm: fo.realm, ExchangeSchema: true})
		f := &mdForest{name: fo.name, srv: srv, a: bind(t, srv), ou: fmt.Sprintf("OU=md-%s,%s", s.tag, srv.BaseDN)}
		f.add(t, f.ou, map[string][]string{"objectClass": {"organizationalUnit"}})
		forests[fo.name] = f
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dataDir: .\nconnectors:\n")
	for _, name := range []string{"fabrikam", "tailspin"} {
		f := forests[name]
		inc := []string{f.ou}
		if name == "fabrikam" {
			inc = append(inc, "CN=Policies,CN=System,"+f.srv.BaseDN)
		}
		fmt.Fprintf(&b, "  - name: %s\n    type: ldap\n    config:\n      url: %s\n      caFile: %s\n      bindDN: %q\n      password: %q\n      containers: {include: [%s]}\n",
			name, f.srv.LDAPSURL, f.srv.CAFile, f.srv.BindDN, f.srv.Password, quoteList(inc))
	}
	fmt.Fprintf(&b, `  - name: cloud
    type: file
    config: {path: cloud.ldif, target: true}
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
  cloud: cloud
  forests: [fabrikam, tailspin]
  cloudDN: "CN={sourceAnchor},OU=cloud"
  managedDomain: {target: aadds, baseDN: %q}
scheduler: {order: [fabrikam, tailspin, cloud, aadds]}
`, s.srv.LDAPSURL, s.srv.CAFile, s.srv.BindDN, s.srv.Password, s.base, s.users, s.base)
	writeFile(t, s.cfg, b.String())
	return s, forests
}

// TestManagedDomainForests (R4.4, R4.5): users and groups of two forests
// land in one flat OU=AADDC Users whatever their OU; a user of each forest
// with the same userPrincipalName, and a group of each with the same name,
// both get into the domain with names of their own — a userPrincipalName,
// cn and sAMAccountName with a hash of the object's sourceAnchor where
// the other has or wants the name — deterministic and stable over later
// cycles; `idsync managed-domain report` lists every generated name and
// why. A user arriving later than the one holding its UPN gets a generated
// one; the first keeps its own. Computers and group policies of the forest
// are not created, nor its OUs.
func TestManagedDomainForests(t *testing.T) {
	s, f := newMDForestsSite(t)
	tag := s.tag
	fab, tail := f["fabrikam"], f["tailspin"]
	upn := "jdoe." + tag + "@contoso.com"
	// Fabrikam: jdoe in a nested OU, a computer, a group.
	fab.add(t, "OU=Europe,"+fab.ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	fab.add(t, "OU=Sales,OU=Europe,"+fab.ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	user := func(fo *mdForest, dn, sam, upn string) {
		fo.add(t, dn, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {sam}, "userPrincipalName": {upn},
			"displayName": {sam + " " + fo.name}, "userAccountControl": {"512"}})
	}
	user(fab, "CN=John Doe,OU=Sales,OU=Europe,"+fab.ou, tag+"jd", upn)
	fab.add(t, "CN=PC"+tag+","+fab.ou, map[string][]string{"objectClass": {"computer"}, "sAMAccountName": {"PC" + tag + "$"}, "userAccountControl": {"4096"}})
	group := func(fo *mdForest, sam string) {
		fo.add(t, "CN=Staff,"+fo.ou, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {sam}, "displayName": {"Staff " + tag}, "groupType": {"-2147483646"}})
	}
	group(fab, tag+"staff")
	// Tailspin: another jdoe with the same UPN, a group with the same name.
	user(tail, "CN=John Doe,"+tail.ou, tag+"jd", upn)
	group(tail, tag+"staff")

	out := s.cycle(true) + s.cycle(false)
	got := s.entries(s.base)
	if t.Failed() {
		return
	}
	var users, groups []*ldap.Entry
	for _, e := range got {
		if e.GetAttributeValue("groupType") != "" {
			groups = append(groups, e)
		} else {
			users = append(users, e)
		}
	}
	if len(users) != 2 || len(groups) != 2 {
		t.Fatalf("the domain holds %d users and %d groups, want the two jdoes and the two Staff groups\n%s", len(users), len(groups), out)
	}
	// The UPNs, cns and sAMAccountNames are unique; each is the name or
	// the name with a hash.
	seen := map[string]bool{}
	for _, e := range append(users, groups...) {
		dn, err := ldap.ParseDN(e.DN)
		if err != nil {
			t.Fatal(err)
		}
		cn := dn.RDNs[0].Attributes[0].Value
		if !strings.EqualFold(dn.RDNs[1].String(), "OU=AADDC Users") {
			t.Errorf("%s is not directly in OU=AADDC Users", e.DN)
		}
		vals := []string{"cn " + cn, "sam " + e.GetAttributeValue("sAMAccountName")}
		if u := e.GetAttributeValue("userPrincipalName"); u != "" {
			vals = append(vals, "upn "+u)
			if u != upn && (!strings.HasPrefix(u, "jdoe."+tag+"-") || !strings.HasSuffix(u, "@contoso.com")) {
				t.Errorf("%s: userPrincipalName %q, want %s or jdoe.%s-<hash>@contoso.com", e.DN, u, upn, tag)
			}
		}
		for _, v := range vals {
			if seen[strings.ToLower(v)] {
				t.Errorf("%s: %s is not unique", e.DN, v)
			}
			seen[strings.ToLower(v)] = true
		}
	}

	// Fabrikam, synchronized first in the cycle, keeps the names.
	for _, e := range users {
		plain := e.GetAttributeValue("userPrincipalName") == upn
		if fab := strings.HasSuffix(e.GetAttributeValue("displayName"), " fabrikam"); fab != plain {
			t.Errorf("%s (%s): userPrincipalName %q; want Fabrikam's jdoe, synchronized first, to keep %s and Tailspin's to get a generated one",
				e.DN, e.GetAttributeValue("displayName"), e.GetAttributeValue("userPrincipalName"), upn)
		}
	}

	// Stable: further cycles change nothing and report no error about
	// the domain. (The cloud refuses both jdoes, R1.10: that is the forest
	// rules' report of the duplicate.)
	out = s.cycle(false) + s.cycle(true)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "object error") && !strings.Contains(l, `object="cloud:`) {
			t.Errorf("later cycles report an error: %s", l)
		}
	}
	again := s.entries(s.base)
	for dn, e := range got {
		a := again[dn]
		if a == nil {
			t.Errorf("%s is gone after more cycles (renamed?)", dn)
			continue
		}
		for _, attr := range []string{"userPrincipalName", "sAMAccountName"} {
			if a.GetAttributeValue(attr) != e.GetAttributeValue(attr) {
				t.Errorf("%s: %s changed from %q to %q", dn, attr, e.GetAttributeValue(attr), a.GetAttributeValue(attr))
			}
		}
	}

	// A later user with the UPN of one that is in the domain: the first
	// keeps it, the newcomer gets a generated one.
	upn2 := "ann." + tag + "@contoso.com"
	user(fab, "CN=Ann,"+fab.ou, tag+"ann", upn2)
	s.cycle(false)
	user(tail, "CN=Ann,"+tail.ou, tag+"ann", upn2)
	out = s.cycle(false) + s.cycle(false)
	got = s.entries(s.base)
	first := got[strings.ToLower("CN="+upn2+","+s.users)]
	if first == nil || first.GetAttributeValue("userPrincipalName") != upn2 {
		t.Errorf("Fabrikam's Ann, in the domain first, lost her cn or UPN: %v\n%s", first, out)
	}
	var second *ldap.Entry
	for dn, e := range got {
		if strings.HasPrefix(dn, strings.ToLower("cn="+upn2+" (")) {
			second = e
		}
	}
	if second == nil || !strings.HasPrefix(second.GetAttributeValue("userPrincipalName"), "ann."+tag+"-") {
		t.Errorf("Tailspin's Ann: %v, want CN=%s (<hash>) with a generated UPN\n%s", second, upn2, out)
	}

	// The report lists the generated names.
	rep, errs, code := idsync(t, "--config", s.cfg, "managed-domain", "report", "-o", "table")
	if code != 0 {
		t.Fatalf("managed-domain report: exit %d\n%s%s", code, rep, errs)
	}
	t.Logf("idsync managed-domain report:\n%s", rep)
	if !strings.Contains(rep, "ann."+tag+"-") || !strings.Contains(rep, "another object of the domain has") {
		t.Errorf("the report does not list Tailspin Ann's generated UPN:\n%s", rep)
	}

	// Exclusions (R4.5): no computer, no group policy, no OU of the forest.
	res, err := s.a.Search(ldap.NewSearchRequest(s.base, ldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(|(objectClass=computer)(objectClass=groupPolicyContainer)(objectClass=organizationalUnit))", []string{"dn"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var ous []string
	for _, e := range res.Entries {
		ous = append(ous, e.DN)
	}
	sort.Strings(ous)
	if want := []string{s.users, "OU=Custom," + s.base, s.base}; strings.Join(ous, "|") != strings.Join(sortedCopy(want), "|") {
		t.Errorf("computers, group policies and OUs in the domain: %q, want only %q", ous, sortedCopy(want))
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	cloud := string(data)
	if !strings.Contains(cloud, upn2) || strings.Contains(cloud, "PC"+tag) || strings.Contains(cloud, "Default Domain Policy") {
		t.Errorf("the cloud got the computer or a group policy:\n%s", cloud)
	}
}

func sortedCopy(l []string) []string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return c
}
