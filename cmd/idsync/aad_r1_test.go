package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// AD userAccountControl values: enabled without password (NORMAL_ACCOUNT |
// PASSWD_NOTREQD), and the same disabled.
const (
	enabled  = 544
	disabled = 546
)

// TestR1_2_R1_3_EnabledAccountWins: a disabled account alone contributes
// userPrincipalName and sourceAnchor; when an enabled account joins the same
// MV object (users matched on mail here), its values win, whichever forest
// is synchronized first. Disabled accounts are synchronized too.
func TestR1_2_R1_3_EnabledAccountWins(t *testing.T) {
	for _, order := range [][]string{{"contoso", "fabrikam"}, {"fabrikam", "contoso"}} {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			s := newAADSite(t, siteOpts{matchOnMail: true, order: order})
			s.user("contoso", "room", disabled, "mail", s.tag+"room@contoso.test", "userPrincipalName", s.tag+"room-res@contoso.test", "displayName", "Room 1")
			s.user("fabrikam", "room", enabled, "mail", s.tag+"room@contoso.test", "userPrincipalName", s.tag+"room@fabrikam.test", "displayName", "Room 1")
			s.user("contoso", "parked", disabled, "userPrincipalName", s.tag+"parked@contoso.test")
			s.cycle()
			got := s.cloudObjects()
			room, parked := got["Room 1"], got["parked"]
			if room.class != "cloudUser" || room.get("userPrincipalName") != s.tag+"room@fabrikam.test" || room.get("accountEnabled") != "TRUE" {
				t.Errorf("room = %+v, want the enabled fabrikam account's UPN, enabled (R1.2, R1.3)", room)
			}
			if parked.class != "cloudUser" || parked.get("userPrincipalName") != s.tag+"parked@contoso.test" || parked.get("accountEnabled") != "FALSE" {
				t.Errorf("parked = %+v, want the disabled account synchronized with its own UPN", parked)
			}
			if len(got) != 2 {
				t.Errorf("cloud holds %v", names(got))
			}
		})
	}
}

// TestR1_4_LinkedMailbox: a linked mailbox (msExchRecipientTypeDetails 2)
// never contributes userPrincipalName or sourceAnchor and is not
// provisioned alone; when its account (msExchMasterAccountSid) arrives from
// the account forest, the joined user is provisioned with the account's
// sign-in information and the mailbox's mail attributes.
func TestR1_4_LinkedMailbox(t *testing.T) {
	s := newAADSite(t, siteOpts{order: []string{"fabrikam", "contoso"}})
	acct := s.user("contoso", "erin", enabled, "userPrincipalName", s.tag+"erin@contoso.test")
	sid := s.objectSid("contoso", acct)
	mbx := s.user("fabrikam", "erin-mbx", disabled, "userPrincipalName", s.tag+"erin-mbx@fabrikam.test", "mail", "erin@fabrikam.test",
		"mailNickname", "erin", "proxyAddresses", "SMTP:erin@fabrikam.test", "msExchRecipientTypeDetails", "2")
	s.modify("fabrikam", mbx, "msExchMasterAccountSid", sid)

	// The resource forest alone: nothing for the cloud.
	s.must("run", "fabrikam", "full-import")
	s.must("run", "fabrikam", "full-sync")
	s.must("run", "cloud", "export")
	if got := s.cloudObjects(); len(got) != 0 {
		t.Fatalf("a linked mailbox alone was provisioned: %v", names(got))
	}
	s.cycle()
	got := s.cloudObjects()
	u := got["erin"] // contoso is the first forest: its displayName wins
	if len(got) != 1 || u.class != "cloudUser" || u.get("userPrincipalName") != s.tag+"erin@contoso.test" || u.get("mail") != "erin@fabrikam.test" || u.get("mailNickname") != "erin" {
		t.Fatalf("cloud = %v, erin = %+v; want one user with the account's UPN and the mailbox's mail", names(got), u)
	}
}

// TestR1_7_R1_8_R1_9_ContactPromotedToUser (GALSync, users matched on
// mail at setup): a contact for a user of another forest is exported as a
// contact while only contacts joined; when the real user arrives it joins
// the contact's MV object on mail, sourceObjectType becomes User (R1.8) and
// the cloud contact is replaced by a user (R1.9). A contact that arrives
// after the user joins it on mail (R1.7).
func TestR1_7_R1_8_R1_9_ContactPromotedToUser(t *testing.T) {
	s := newAADSite(t, siteOpts{matchOnMail: true})
	s.add("contoso", "CN=Frank Fabrikam", "objectClass", "contact", "mail", "frank@fabrikam.test", "displayName", "Frank")
	s.cycle()
	got := s.cloudObjects()
	if len(got) != 1 || got["Frank"].class != "cloudContact" {
		t.Fatalf("before the user arrives the cloud holds %v, want the contact", names(got))
	}
	s.user("fabrikam", "frank", enabled, "mail", "frank@fabrikam.test", "displayName", "Frank", "userPrincipalName", s.tag+"frank@fabrikam.test")
	out := s.cycle()
	got = s.cloudObjects()
	if len(got) != 1 || got["Frank"].class != "cloudUser" || got["Frank"].get("userPrincipalName") != s.tag+"frank@fabrikam.test" {
		t.Fatalf("after the user arrived the cloud holds %v, want only the user\n%s\n%s", names(got), out, s.must("mv", "search", "--limit", "0"))
	}
	// A second contact for the same person joins too: still one user.
	s.add("contoso", "CN=Frank again", "objectClass", "contact", "mail", "frank@fabrikam.test", "displayName", "Frank (GAL)")
	s.cycle()
	if got = s.cloudObjects(); len(got) != 1 || got["Frank"].class != "cloudUser" {
		t.Fatalf("a second contact: the cloud holds %v", names(got))
	}
}

// TestR1_10_SameMailWithoutMailMatching: users are not matched on mail
// (the default), so two users of different forests with the same mail are
// two MV objects; the cloud refuses both with an error naming the other —
// detected and shown, not merged — and every other object keeps
// synchronizing. (A contact with a user's mail is not such a duplicate: it
// joins the user whichever arrives first, TestR1_1_ContactBeforeUser.)
func TestR1_10_SameMailWithoutMailMatching(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	s.user("contoso", "gina", enabled, "mail", "gina@fabrikam.test", "displayName", "Gina C", "userPrincipalName", s.tag+"gina@contoso.test")
	s.cycle()
	s.user("fabrikam", "gina", enabled, "mail", "gina@fabrikam.test", "displayName", "Gina F", "userPrincipalName", s.tag+"gina@fabrikam.test")
	s.user("fabrikam", "hal", enabled, "mail", "hal@fabrikam.test", "displayName", "Hal", "userPrincipalName", s.tag+"hal@fabrikam.test")
	s.cycle()
	got := s.cloudObjects()
	if len(got) != 2 || got["Gina C"].class != "cloudUser" || got["Hal"].class != "cloudUser" {
		t.Fatalf("the cloud holds %v, want contoso's Gina (exported first) and Hal", names(got))
	}
	if errs := s.runErrors(); !strings.Contains(errs, `mail \"gina@fabrikam.test\" is also on`) && !strings.Contains(errs, `mail "gina@fabrikam.test" is also on`) {
		t.Fatalf("no export error for the second Gina in the run history:\n%s", errs)
	}
	if mv := s.must("mv", "search", "--limit", "0"); !strings.Contains(mv, "Gina C") || !strings.Contains(mv, "Gina F") {
		t.Fatalf("the two Ginas were merged:\n%s", mv)
	}
}

// TestR1_1_ContactBeforeUser (issue 18; defaults: users not matched on
// mail): fabrikam holds a GALSync contact for contoso's user Ann, contoso
// one for fabrikam's user Cy, and both a contact for Zed, who is in neither
// forest. Three sites over the same forests: contoso first, fabrikam
// first, and fabrikam first with an export and a delta cycle between the
// forests (the cloud holds Ann's contact until contoso's delta cycle brings
// Ann: then the contact is deleted and the user created, R1.9). All three
// end with the same cloud directory, attribute for attribute: users Ann and
// Cy, contact Zed, and no error.
func TestR1_1_ContactBeforeUser(t *testing.T) {
	a := newAADSite(t, siteOpts{order: []string{"contoso", "fabrikam"}})
	a.user("contoso", "ann", enabled, "mail", a.tag+"ann@contoso.test", "displayName", "Ann", "userPrincipalName", a.tag+"ann@contoso.test")
	a.add("fabrikam", "CN=Ann Contoso", "objectClass", "contact", "mail", a.tag+"ann@contoso.test", "displayName", "Ann (GAL)")
	a.user("fabrikam", "cy", enabled, "mail", a.tag+"cy@fabrikam.test", "displayName", "Cy", "userPrincipalName", a.tag+"cy@fabrikam.test")
	a.add("contoso", "CN=Cy Fabrikam", "objectClass", "contact", "mail", strings.ToUpper(a.tag)+"CY@fabrikam.test", "displayName", "Cy (GAL)")
	a.add("contoso", "CN=Zed", "objectClass", "contact", "mail", a.tag+"zed@elsewhere.test", "displayName", "Zed")
	a.add("fabrikam", "CN=Zed", "objectClass", "contact", "mail", a.tag+"zed@elsewhere.test", "displayName", "Zed (fabrikam)")
	b := a.twin(siteOpts{order: []string{"fabrikam", "contoso"}})
	c := a.twin(siteOpts{order: []string{"fabrikam", "contoso"}})
	for _, s := range []*aadSite{a, b} {
		for _, f := range s.opts.order {
			s.must("run", f, "full-import")
			s.must("run", f, "full-sync")
		}
		s.cycle()
	}
	// c: fabrikam alone, exported; then contoso arrives in a delta cycle.
	c.must("run", "fabrikam", "full-import")
	c.must("run", "fabrikam", "full-sync")
	c.must("run", "cloud", "export")
	c.must("run", "cloud", "full-import")
	c.must("run", "cloud", "delta-sync")
	if got := c.cloudObjects(); len(got) != 3 || got["Ann (GAL)"].class != "cloudContact" || got["Cy"].class != "cloudUser" || got["Zed (fabrikam)"].class != "cloudContact" {
		t.Fatalf("fabrikam alone: the cloud holds %v, want Ann's contact, Cy and Zed's contact", names(got))
	}
	c.must("cycle")
	c.must("cycle")
	for _, s := range []*aadSite{a, b, c} {
		if errs := s.runErrors(); strings.Contains(errs, "also on") || strings.Contains(errs, "ambiguous join") || strings.Contains(errs, "join conflict") {
			t.Fatalf("errors in the run history:\n%s", errs)
		}
	}
	sa, sb, sc := a.cloudState(), b.cloudState(), c.cloudState()
	if sa != sb || sa != sc {
		t.Fatalf("the order changed the cloud directory:\n--- contoso first\n%s\n--- fabrikam first\n%s\n--- fabrikam first, exported, then contoso\n%s", sa, sb, sc)
	}
	got := a.cloudObjects()
	if len(got) != 3 || got["Ann"].class != "cloudUser" || got["Ann"].get("userPrincipalName") != a.tag+"ann@contoso.test" ||
		got["Cy"].class != "cloudUser" || got["Zed"].class != "cloudContact" {
		t.Fatalf("cloud = %v\n%s", names(got), sa)
	}
}

// cloudState is the cloud directory's content without what the server
// assigns (entryUUID and other operational attributes are not returned).
func (s *aadSite) cloudState() string {
	s.t.Helper()
	var lines []string
	for name, o := range s.cloudObjects() {
		for a, vs := range o.attrs {
			vs = slices.Clone(vs)
			slices.Sort(vs)
			lines = append(lines, fmt.Sprintf("%s %s %s=%s", o.class, name, a, strings.Join(vs, "|")))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestR1_1_ImportOrder: the same two forests synchronized in both orders by
// two independent idsync sites give the same cloud directory, attribute for
// attribute: users of both forests matched on mail (one enabled, one
// disabled), a GALSync contact, groups with members from both forests.
func TestR1_1_ImportOrder(t *testing.T) {
	a := newAADSite(t, siteOpts{matchOnMail: true, order: []string{"contoso", "fabrikam"}})
	a.user("contoso", "ivy", disabled, "mail", a.tag+"ivy@contoso.test", "displayName", "Ivy (resource)", "department", "Ops")
	a.user("fabrikam", "ivy", enabled, "mail", a.tag+"ivy@contoso.test", "displayName", "Ivy", "userPrincipalName", a.tag+"ivy@fabrikam.test", "title", "Lead")
	jo := a.user("contoso", "jo", enabled, "mail", a.tag+"jo@contoso.test", "displayName", "Jo", "userPrincipalName", a.tag+"jo@contoso.test")
	a.add("fabrikam", "CN=Jo Contoso", "objectClass", "contact", "mail", a.tag+"jo@contoso.test", "displayName", "Jo (GAL)")
	a.add("fabrikam", "CN=Kim Elsewhere", "objectClass", "contact", "mail", "kim@elsewhere.test", "displayName", "Kim")
	a.add("contoso", "CN=Team", "objectClass", "group", "groupType", "-2147483646", "member", jo, "displayName", "Team")
	b := a.twin(siteOpts{matchOnMail: true, order: []string{"fabrikam", "contoso"}})
	for _, s := range []*aadSite{a, b} {
		for _, f := range s.opts.order {
			s.must("run", f, "full-import")
			s.must("run", f, "full-sync")
		}
		s.cycle()
	}
	sa, sb := a.cloudState(), b.cloudState()
	if sa != sb {
		t.Fatalf("the order changed the cloud directory:\n--- contoso first\n%s\n--- fabrikam first\n%s", sa, sb)
	}
	got := a.cloudObjects()
	// contoso is the first forest: its displayName wins; the enabled
	// fabrikam account's UPN does.
	if len(got) != 4 || got["Ivy (resource)"].get("userPrincipalName") != a.tag+"ivy@fabrikam.test" || got["Kim"].class != "cloudContact" || len(got["Team"].attrs["member"]) != 1 {
		t.Fatalf("cloud = %v\n%s", names(got), sa)
	}
}

// TestR1_5_Groups: built-in groups are not synchronized even when their
// container is in scope; security groups and mail-enabled distribution
// groups are, with their members as cloud DNs and securityEnabled from
// groupType.
func TestR1_5_Groups(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	s.include["contoso"] = []string{"CN=Builtin," + s.f["contoso"].srv.BaseDN}
	s.writeConfig()
	u1 := s.user("contoso", "lee", enabled, "userPrincipalName", s.tag+"lee@contoso.test")
	u2 := s.user("contoso", "max", enabled, "userPrincipalName", s.tag+"max@contoso.test")
	s.add("contoso", "CN=Sales", "objectClass", "group", "groupType", "-2147483646", "member", u1, "member", u2)
	s.add("contoso", "CN=News", "objectClass", "group", "groupType", "2", "member", u1, "mail", s.tag+"news@contoso.test")
	s.cycle()
	got := s.cloudObjects()
	if len(got) != 4 {
		t.Fatalf("the cloud holds %v, want lee, max, Sales and News (no built-in group)", names(got))
	}
	sales, news := got["Sales"], got["News"]
	if sales.class != "cloudGroup" || len(sales.attrs["member"]) != 2 || sales.get("securityEnabled") != "TRUE" {
		t.Errorf("Sales = %+v", sales)
	}
	for _, m := range sales.attrs["member"] {
		if !strings.HasSuffix(m, ",ou=people,"+s.cloud.TargetBaseDN) {
			t.Errorf("member %q is not a cloud DN", m)
		}
	}
	if news.get("securityEnabled") != "FALSE" || len(news.attrs["member"]) != 1 {
		t.Errorf("News = %+v", news)
	}
}

// TestR1_6_MailEnabledGroups: the documented proxyAddresses cases.
func TestR1_6_MailEnabledGroups(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	// proxyAddresses are unique in the cloud: each group its own X500.
	x500 := "X500:/o=contoso.com/ou=users/cn=testgroup"
	s.add("contoso", "CN=g1", "objectClass", "group", "proxyAddresses", x500+"1")
	s.add("contoso", "CN=g2", "objectClass", "group", "proxyAddresses", x500+"2", "proxyAddresses", "smtp:johndoe@contoso.com", "mail", "johndoe@contoso.com")
	s.add("contoso", "CN=g3", "objectClass", "group", "proxyAddresses", x500+"3", "proxyAddresses", "SMTP:g3@contoso.com")
	s.add("contoso", "CN=g4", "objectClass", "group", "mail", "g4@contoso.com")
	s.cycle()
	got := s.cloudObjects()
	for name, want := range map[string]string{"g1": "FALSE", "g2": "FALSE", "g3": "TRUE", "g4": "TRUE"} {
		if g := got[name]; g.get("mailEnabled") != want {
			t.Errorf("%s mailEnabled = %q, want %s (%v)", name, g.get("mailEnabled"), want, g.attrs)
		}
	}
}

// TestR1_6_GroupScope (issue 18): "Out to AAD - Group Join" synchronizes a
// group only when it is mail-enabled (R1.6) or security-enabled.
// Distribution groups (groupType 2) whose only address is an X500 one, or
// whose SMTP address is a secondary one, are not synchronized; one with a
// primary SMTP address, or with mail and no proxyAddresses, is; a security
// group without any address is. When an exported distribution group loses
// its primary address it leaves the scope and is deleted from the cloud:
// the synchronization stages the delete (the accidental-delete guard counts
// it) and the export carries it out.
func TestR1_6_GroupScope(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	x500 := "X500:/o=contoso.com/ou=users/cn=" + s.tag
	s.add("contoso", "CN=x500only", "objectClass", "group", "groupType", "2", "proxyAddresses", x500+"1", "displayName", "x500only")
	s.add("contoso", "CN=secondary", "objectClass", "group", "groupType", "2", "proxyAddresses", x500+"2",
		"proxyAddresses", "smtp:"+s.tag+"secondary@contoso.test", "mail", s.tag+"secondary@contoso.test", "displayName", "secondary")
	primary := s.add("contoso", "CN=primary", "objectClass", "group", "groupType", "2", "proxyAddresses", x500+"3",
		"proxyAddresses", "SMTP:"+s.tag+"primary@contoso.test", "displayName", "primary")
	s.add("contoso", "CN=mailonly", "objectClass", "group", "groupType", "2", "mail", s.tag+"mailonly@contoso.test", "displayName", "mailonly")
	s.add("contoso", "CN=security", "objectClass", "group", "groupType", "-2147483646", "displayName", "security")
	s.add("fabrikam", "CN=bare", "objectClass", "group", "groupType", "2", "displayName", "bare")
	s.cycle()
	got := s.cloudObjects()
	want := map[string][2]string{"primary": {"TRUE", "FALSE"}, "mailonly": {"TRUE", "FALSE"}, "security": {"FALSE", "TRUE"}}
	if len(got) != len(want) {
		t.Fatalf("the cloud holds %v, want only primary, mailonly and security", names(got))
	}
	for name, w := range want {
		if g := got[name]; g.class != "cloudGroup" || g.get("mailEnabled") != w[0] || g.get("securityEnabled") != w[1] {
			t.Errorf("%s = %+v, want a group with mailEnabled %s, securityEnabled %s", name, g, w[0], w[1])
		}
	}
	s.modify("contoso", primary, "proxyAddresses", x500+"3", "smtp:"+s.tag+"primary@contoso.test")
	s.must("run", "contoso", "delta-import")
	sync := s.must("run", "contoso", "delta-sync")
	if !strings.Contains(sync, "deprovisioning 1") {
		t.Fatalf("the synchronization staged no delete for the group that left scope:\n%s", sync)
	}
	s.cycle()
	got = s.cloudObjects()
	if len(got) != 2 || got["primary"].class != "" {
		t.Fatalf("after primary lost its primary address the cloud holds %v, want mailonly and security", names(got))
	}
}

// TestR1_11_SourceAnchorImmutable: once exported, a changed sourceAnchor
// (mS-DS-ConsistencyGuid set afterwards) is an error on that object, with
// the documented message; the others keep synchronizing.
func TestR1_11_SourceAnchorImmutable(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	nina := s.user("contoso", "nina", enabled, "userPrincipalName", s.tag+"nina@contoso.test")
	otto := s.user("contoso", "otto", enabled, "userPrincipalName", s.tag+"otto@contoso.test", "department", "A")
	s.cycle()
	before := s.cloudObjects()
	s.modify("contoso", nina, "mS-DS-ConsistencyGuid", "0123456789abcdef")
	s.modify("contoso", otto, "department", "B")
	s.cycle()
	after := s.cloudObjects()
	if after["otto"].get("department") != "B" {
		t.Errorf("otto was not updated: %+v", after["otto"])
	}
	if after["nina"].get("sourceAnchor") != before["nina"].get("sourceAnchor") {
		t.Errorf("nina's sourceAnchor changed in the cloud: %q → %q", before["nina"].get("sourceAnchor"), after["nina"].get("sourceAnchor"))
	}
	if errs := s.runErrors(); !strings.Contains(errs, "SourceAnchor attribute has changed.") {
		t.Fatalf("no sourceAnchor error in the run history:\n%s", errs)
	}
}
