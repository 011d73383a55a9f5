package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

const ldapRules = `rules:
  - name: in-user
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: sn, target: sn}
      - {type: Direct, source: mail, target: mail}
  - name: out-user
    connector: dst
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={cn},ou=people,dc=target,dc=test"
    flows:
      - {type: Constant, value: inetOrgPerson, target: objectClass}
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: sn, target: sn}
      - {type: Direct, source: mail, target: mail}
`

// TestLDAPToLDAP synchronizes one slapd database into another through the
// binary: a cycle provisions, a delta cycle carries a change, and an OU
// filter change followed by a full import and delta sync (R2.9) deletes in
// the target exactly the objects idsync had exported and that left scope
// (R2.2) — never the entry created there by someone else — and removing
// the filter brings them back.
func TestLDAPToLDAP(t *testing.T) {
	srv := peers.Slapd(t)
	a, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Bind(srv.BindDN, srv.Password); err != nil {
		t.Fatal(err)
	}
	add := func(dn string, attrs ...string) {
		t.Helper()
		req := ldap.NewAddRequest(dn, nil)
		for i := 0; i+1 < len(attrs); i += 2 {
			req.Attribute(attrs[i], []string{attrs[i+1]})
		}
		if err := a.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	people := "ou=people," + srv.BaseDN
	for _, ou := range []string{"sales", "hr"} {
		add("ou="+ou+","+people, "objectClass", "organizationalUnit", "ou", ou)
	}
	for i, ou := range []string{"sales", "sales", "sales", "hr", "hr"} {
		cn := fmt.Sprintf("%s%d", ou, i)
		add("cn="+cn+",ou="+ou+","+people, "objectClass", "inetOrgPerson", "cn", cn, "sn", "Test", "mail", cn+"@example.test")
	}
	// Someone else's entry in the target: idsync must never touch it.
	add("cn=foreign,ou=people,"+srv.TargetBaseDN, "objectClass", "inetOrgPerson", "cn", "foreign", "sn", "Other")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeConfig := func(exclude string) {
		writeFile(t, cfg, fmt.Sprintf(`dataDir: .
connectors:
  - name: src
    type: ldap
    config:
      url: %s
      bindDN: %s
      password: ${IDSYNC_TEST_LDAP_PASSWORD}
      baseDN: %s
      containers: {include: ["%s"], exclude: [%s]}
  - name: dst
    type: ldap
    config: {url: %s, caFile: %s, bindDN: %q, password: "${IDSYNC_TEST_LDAP_PASSWORD}", baseDN: %q, containers: {include: ["ou=people,%s"]}}
rules: [rules.yaml]
scheduler: {order: [src, dst]}
`, srv.URL, srv.BindDN, srv.BaseDN, people, exclude, srv.LDAPSURL, srv.CAFile, srv.BindDN, srv.TargetBaseDN, srv.TargetBaseDN))
	}
	t.Setenv("IDSYNC_TEST_LDAP_PASSWORD", srv.Password)
	writeConfig("")
	writeFile(t, filepath.Join(dir, "rules.yaml"), ldapRules)

	targetNames := func() []string {
		t.Helper()
		res, err := a.Search(ldap.NewSearchRequest("ou=people,"+srv.TargetBaseDN, ldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"cn", "mail"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range res.Entries {
			out = append(out, e.GetAttributeValue("cn")+"="+e.GetAttributeValue("mail"))
		}
		slices.Sort(out)
		return out
	}
	all := []string{"foreign=", "hr3=hr3@example.test", "hr4=hr4@example.test", "sales0=sales0@example.test", "sales1=sales1@example.test", "sales2=sales2@example.test"}

	mustIdsync(t, "--config", cfg, "connector", "test", "dst")
	mustIdsync(t, "--config", cfg, "cycle", "--full")
	if got := targetNames(); !slices.Equal(got, all) {
		t.Fatalf("after the first cycle the target holds %v, want %v", got, all)
	}

	// A change reaches the target through a delta cycle.
	mod := ldap.NewModifyRequest("cn=sales1,ou=sales,"+people, nil)
	mod.Replace("mail", []string{"s1@example.test"})
	if err := a.Modify(mod); err != nil {
		t.Fatal(err)
	}
	mustIdsync(t, "--config", cfg, "cycle")
	if got := targetNames(); !slices.Contains(got, "sales1=s1@example.test") {
		t.Fatalf("after a delta cycle the target holds %v, want sales1=s1@example.test", got)
	}

	// Exclude the hr OU: full import, delta sync, export.
	writeConfig(fmt.Sprintf("%q", "ou=hr,"+people))
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	mustIdsync(t, "--config", cfg, "run", "src", "delta-sync")
	if out := mustIdsync(t, "--config", cfg, "preview", "dst"); strings.Count(out, ",user,delete,cn,") != 2 {
		t.Fatalf("the preview should list the two deletes before export:\n%s", out)
	}
	mustIdsync(t, "--config", cfg, "run", "dst", "export")
	want := []string{"foreign=", "sales0=sales0@example.test", "sales1=s1@example.test", "sales2=sales2@example.test"}
	if got := targetNames(); !slices.Equal(got, want) {
		t.Fatalf("after excluding ou=hr the target holds %v, want %v", got, want)
	}

	// Remove the filter: they come back.
	writeConfig("")
	mustIdsync(t, "--config", cfg, "cycle", "--full")
	if got := targetNames(); len(got) != 6 || !slices.Contains(got, "hr3=hr3@example.test") {
		t.Fatalf("after removing the filter the target holds %v", got)
	}

	// Someone creates an entry in the target at the DN idsync is about to
	// provision, after the target's last import: the add is an error on
	// that object and the entry is left as it is; once it is gone, idsync
	// creates its own (R2.2).
	add("cn=clash,ou=sales,"+people, "objectClass", "inetOrgPerson", "cn", "clash", "sn", "Test", "mail", "clash@example.test")
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	mustIdsync(t, "--config", cfg, "run", "src", "delta-sync")
	clash := "cn=clash,ou=people," + srv.TargetBaseDN
	add(clash, "objectClass", "inetOrgPerson", "cn", "clash", "sn", "Other")
	mustIdsync(t, "--config", cfg, "run", "dst", "export")
	if out := mustIdsync(t, "--config", cfg, "runs", "--errors", "--connector", "dst", "--limit", "1"); !strings.Contains(out, "idsync did not create") {
		t.Fatalf("the export did not report the entry idsync did not create:\n%s", out)
	}
	if got := targetNames(); !slices.Contains(got, "clash=") {
		t.Fatalf("the foreign entry at %s was changed: the target holds %v", clash, got)
	}
	if err := a.Del(ldap.NewDelRequest(clash, nil)); err != nil {
		t.Fatal(err)
	}
	mustIdsync(t, "--config", cfg, "run", "dst", "export")
	if got := targetNames(); !slices.Contains(got, "clash=clash@example.test") {
		t.Fatalf("once the foreign entry is gone, idsync's own is not created: the target holds %v", got)
	}
}
