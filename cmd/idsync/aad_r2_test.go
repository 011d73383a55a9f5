package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"
)

// TestR2_2_R2_5_R2_9_FilterChange: an OU filter change, applied as R2.9
// says (full import, delta sync, preview, export), deletes in the cloud
// exactly the objects idsync exported that left scope — never an object
// created there by someone else — and `idsync config diff` shows the change
// first (R2.5). Removing the filter restores them, through a plain cycle
// that runs the full import the change calls for by itself.
func TestR2_2_R2_5_R2_9_FilterChange(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	leavers := s.add("contoso", "OU=Leavers", "objectClass", "organizationalUnit")
	for _, n := range []string{"pat", "quinn"} {
		s.user("contoso", n, enabled, "userPrincipalName", s.tag+n+"@contoso.test")
	}
	for _, n := range []string{"rae", "sam", "tom"} {
		s.add("contoso", "CN="+n+",OU=Leavers", "objectClass", "user", "sAMAccountName", s.tag+n, "userAccountControl", "544",
			"userPrincipalName", s.tag+n+"@contoso.test")
	}
	// Someone else's object in the cloud directory.
	foreign := ldap.NewAddRequest("cn=foreign,ou=people,"+s.cloud.TargetBaseDN, nil)
	foreign.Attribute("objectClass", []string{"cloudUser"})
	foreign.Attribute("displayName", []string{"Foreign"})
	if err := s.ca.Add(foreign); err != nil {
		t.Fatal(err)
	}
	s.cycle()
	if got := names(s.cloudObjects()); len(got) != 6 {
		t.Fatalf("cloud = %v, want 5 users and the foreign one", got)
	}
	if out := s.must("config", "diff"); !strings.Contains(out, "No change") {
		t.Fatalf("config diff right after a cycle:\n%s", out)
	}

	s.must("scheduler", "disable")
	s.exclude["contoso"] = []string{leavers}
	s.writeConfig()
	if out := s.must("config", "diff"); !strings.Contains(out, "connector changed: contoso") || !strings.Contains(out, "full import of: contoso") {
		t.Fatalf("config diff after the OU filter change:\n%s", out)
	}
	s.must("run", "contoso", "full-import")
	s.must("run", "contoso", "delta-sync")
	preview := s.must("preview", "cloud")
	if n := strings.Count(preview, ",user,delete,sourceAnchor,"); n != 3 {
		t.Fatalf("the preview lists %d deletes, want 3:\n%s", n, preview)
	}
	s.must("run", "cloud", "export")
	got := s.cloudObjects()
	if len(got) != 3 || got["Foreign"].class != "cloudUser" || got["pat"].class == "" || got["rae"].class != "" {
		t.Fatalf("after the filter change the cloud holds %v, want pat, quinn and Foreign", names(got))
	}

	s.exclude["contoso"] = nil
	s.writeConfig()
	s.must("scheduler", "enable")
	if out := s.must("cycle"); !strings.Contains(out, "full-import") {
		t.Fatalf("the cycle after a filter change did not import in full:\n%s", out)
	}
	s.must("cycle")
	if got := names(s.cloudObjects()); len(got) != 6 {
		t.Fatalf("after removing the filter the cloud holds %v, want all 5 users back and Foreign", got)
	}
}

// TestR2_4_DeleteGuard: a filter change that would delete 600 users in the
// cloud stops the export before it deletes anything, saying how many and
// how to allow it; allowing it once goes through.
func TestR2_4_DeleteGuard(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	bulk := s.add("contoso", "OU=Bulk", "objectClass", "organizationalUnit")
	const n = 600
	s.addUsers("contoso", bulk, n)
	s.cycle()
	if got := len(s.cloudObjects()); got != n {
		t.Fatalf("cloud holds %d objects, want %d", got, n)
	}
	s.exclude["contoso"] = []string{bulk}
	s.writeConfig()
	// Excluding the OU makes the import see far less than the connector
	// space holds: the import-shrink guard stops it first (issue 16).
	out, code := s.idsync("cycle")
	if code != 3 || !strings.Contains(out, "stopped-import-shrink") || !strings.Contains(out, "--allow-shrink") {
		t.Fatalf("the import-shrink guard did not stop the import (exit %d):\n%s", code, out)
	}
	if got := len(s.cloudObjects()); got != n {
		t.Fatalf("a stopped import let deletes through: %d of %d left", got, n)
	}
	// The shrink is intended; the export's guard stops the deletes next.
	out, code = s.idsync("cycle", "--allow-shrink")
	if code == 0 || !strings.Contains(out, "600") || !strings.Contains(out, "500") {
		t.Fatalf("the guard did not stop the export (exit %d):\n%s", code, out)
	}
	if got := len(s.cloudObjects()); got != n {
		t.Fatalf("the guard let deletes through: %d of %d left", got, n)
	}
	if !strings.Contains(out, "--allow-deletes") && !strings.Contains(out, "deleteThreshold") {
		t.Errorf("the message does not say how to allow the deletes:\n%s", out)
	}
	s.must("run", "cloud", "export", "--allow-deletes")
	if got := len(s.cloudObjects()); got != 0 {
		t.Fatalf("after allowing the deletes %d objects are left", got)
	}
}

// addUsers adds n enabled users under base with four connections.
func (s *aadSite) addUsers(forest, base string, n int) {
	s.t.Helper()
	f := s.f[forest]
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			c, err := ldap.DialURL(f.srv.URL)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Bind(f.srv.BindDN, f.srv.Password); err != nil {
				errs <- err
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				cn := fmt.Sprintf("u%04d", i)
				req := ldap.NewAddRequest("CN="+cn+","+base, nil)
				req.Attribute("objectClass", []string{"user"})
				req.Attribute("sAMAccountName", []string{s.tag + cn})
				req.Attribute("userAccountControl", []string{"544"})
				req.Attribute("userPrincipalName", []string{s.tag + cn + "@contoso.test"})
				if err := c.Add(req); err != nil {
					errs <- fmt.Errorf("add %s: %w", cn, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		s.t.Fatal(err)
	}
}

// TestR2_7_AttributeFilters: the negative filter (extensionAttribute15
// NoSync at precedence 50), the positive filter (Sales at 51 with
// cloudFiltered False, a catch-all at 99 with True) and an outbound filter
// (a clone of Out to AAD - User Join at 90 with mail and userPrincipalName
// ENDSWITH @contoso.test, the original disabled) combine with AND; a system
// account stays out even when the positive filter selects it.
func TestR2_7_AttributeFilters(t *testing.T) {
	s := newAADSite(t, siteOpts{rules: `rules:
  - name: In from AD - User NoSync
    connector: contoso
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 50
    scope:
      - clauses: [{attribute: extensionAttribute15, operator: EQUAL, value: NoSync}]
    flows:
      - {type: Constant, value: "true", targetType: boolean, target: cloudFiltered}
  - name: In from AD - User Sales
    connector: contoso
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 51
    scope:
      - clauses: [{attribute: department, operator: EQUAL, value: Sales}]
    flows:
      - {type: Constant, value: "false", targetType: boolean, target: cloudFiltered}
  - name: In from AD - User Catch-all filter
    connector: contoso
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 99
    flows:
      - {type: Constant, value: "true", targetType: boolean, target: cloudFiltered}
  - name: Out to AAD - User Join (contoso.test only)
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 90
    scope:
      - clauses:
          - {attribute: sourceObjectType, operator: EQUAL, value: User}
          - {attribute: cloudFiltered, operator: NOTEQUAL, value: "true"}
          - {attribute: systemObject, operator: NOTEQUAL, value: "true"}
          - {attribute: sourceAnchor, operator: ISNOTNULL}
          - {attribute: mail, operator: ENDSWITH, value: "@contoso.test"}
          - {attribute: userPrincipalName, operator: ENDSWITH, value: "@contoso.test"}
    join:
      - conditions: [{source: sourceAnchor, target: sourceAnchor, caseSensitive: true}]
    dn: "cn={sourceAnchor},ou=people,dc=target,dc=test"
    flows:
      - {type: Direct, source: sourceAnchor, target: sourceAnchor}
disable: [Out to AAD - User Join]
`})
	u := func(cn string, attrs ...string) {
		s.user("contoso", cn, enabled, append([]string{"userPrincipalName", s.tag + cn + "@contoso.test", "mail", cn + "@contoso.test"}, attrs...)...)
	}
	u("sales1", "department", "Sales")
	u("sales2", "department", "Sales", "extensionAttribute15", "NoSync")                                                                          // negative filter wins (50 < 51)
	u("hr1", "department", "HR")                                                                                                                  // not selected by the positive filter
	s.user("contoso", "sales3", enabled, "userPrincipalName", s.tag+"sales3@contoso.test", "mail", "sales3@fabrikam.test", "department", "Sales") // outbound filter
	s.add("contoso", "CN=svc", "objectClass", "user", "sAMAccountName", "MSOL_"+s.tag, "userAccountControl", "544",
		"userPrincipalName", s.tag+"svc@contoso.test", "mail", "svc@contoso.test", "department", "Sales") // a system account
	s.cycle()
	if got := names(s.cloudObjects()); len(got) != 1 || got[0] != "sales1:User" {
		t.Fatalf("cloud = %v, want only sales1", got)
	}
}

// TestStagingMode: a staging server imports and synchronizes, its preview
// shows what it would export, and it never exports; switched to active, it
// exports.
func TestStagingMode(t *testing.T) {
	s := newAADSite(t, siteOpts{staging: true})
	s.user("contoso", "uma", enabled, "userPrincipalName", s.tag+"uma@contoso.test")
	s.cycle()
	if got := s.cloudObjects(); len(got) != 0 {
		t.Fatalf("a staging server exported: %v", names(got))
	}
	if p := s.must("preview", "cloud"); !strings.Contains(p, ",user,add,") {
		t.Fatalf("the staging server's preview lists no add:\n%s", p)
	}
	if out, code := s.idsync("run", "cloud", "export"); code == 0 || !strings.Contains(out, "staging mode") {
		t.Fatalf("an export on a staging server: exit %d\n%s", code, out)
	}
	s.opts.staging = false
	s.writeConfig()
	s.cycle()
	if got := names(s.cloudObjects()); len(got) != 1 {
		t.Fatalf("the active server exported %v", got)
	}
}

// TestR2_7_GroupBasedFilter: with a pilot group, only its members (nested
// too) and the group itself reach the cloud; adding a member brings it in
// through a delta cycle; with a pilot group in a second forest, a user whose
// counterpart there (a mail contact) is not a member leaves the cloud, and
// comes back when the counterpart joins that pilot group.
func TestR2_7_GroupBasedFilter(t *testing.T) {
	s := newAADSite(t, siteOpts{matchOnMail: true})
	vic := s.user("contoso", "vic", enabled, "userPrincipalName", s.tag+"vic@contoso.test", "mail", s.tag+"vic@contoso.test")
	wes := s.user("contoso", "wes", enabled, "userPrincipalName", s.tag+"wes@contoso.test")
	xia := s.user("contoso", "xia", enabled, "userPrincipalName", s.tag+"xia@contoso.test")
	sub := s.add("contoso", "CN=Sub", "objectClass", "group", "member", xia)
	pilot := s.add("contoso", "CN=Pilot", "objectClass", "group", "member", vic, "member", sub)
	contact := s.add("fabrikam", "CN=Vic Contoso", "objectClass", "contact", "mail", s.tag+"vic@contoso.test", "displayName", "Vic (GAL)")
	s.opts.groupFilter = map[string]string{"contoso": pilot}
	s.writeConfig()
	s.cycle()
	want := []string{"Pilot:Group", "Sub:Group", "vic:User", "xia:User"}
	if got := names(s.cloudObjects()); !slices.Equal(got, want) {
		t.Fatalf("with the pilot group the cloud holds %v, want %v", got, want)
	}

	m := ldap.NewModifyRequest(pilot, nil)
	m.Add("member", []string{wes})
	if err := s.f["contoso"].a.Modify(m); err != nil {
		t.Fatal(err)
	}
	s.must("cycle")
	s.must("cycle")
	if got := s.cloudObjects(); got["wes"].class != "cloudUser" {
		t.Fatalf("a member added to the pilot group did not arrive through a delta cycle: %v", names(got))
	}

	fpilot := s.add("fabrikam", "CN=Pilot", "objectClass", "group")
	s.opts.groupFilter["fabrikam"] = fpilot
	s.writeConfig()
	s.cycle()
	if got := s.cloudObjects(); got["vic"].class != "" {
		out := s.must("mv", "search", "displayName=vic")
		id := strings.Fields(strings.Split(out, "\n")[0])[0]
		t.Fatalf("vic's counterpart in fabrikam is not in its pilot group, yet vic is in the cloud: %v\n%s\n%s\n%s %s", names(got), out, s.must("runs", "--limit", "12"), s.must("preview", "cloud"), id)
	}
	m = ldap.NewModifyRequest(fpilot, nil)
	m.Add("member", []string{contact})
	if err := s.f["fabrikam"].a.Modify(m); err != nil {
		t.Fatal(err)
	}
	s.cycle()
	if got := s.cloudObjects(); got["vic"].class != "cloudUser" || got["wes"].class != "cloudUser" {
		t.Fatalf("with its counterpart a member, vic should be back: %v", names(got))
	}
}
