package main

import (
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
	u := got["erin-mbx"] // fabrikam is the first forest: its displayName wins
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
// (the default), so a contact imported before the user of another forest
// with the same mail leaves two MV objects; the user's export is refused
// with an error naming the contact — detected and shown, not merged — and
// every other object keeps synchronizing.
func TestR1_10_SameMailWithoutMailMatching(t *testing.T) {
	s := newAADSite(t, siteOpts{})
	s.add("contoso", "CN=Gina Fabrikam", "objectClass", "contact", "mail", "gina@fabrikam.test", "displayName", "Gina")
	s.cycle()
	s.user("fabrikam", "gina", enabled, "mail", "gina@fabrikam.test", "displayName", "Gina", "userPrincipalName", s.tag+"gina@fabrikam.test")
	s.user("fabrikam", "hal", enabled, "mail", "hal@fabrikam.test", "displayName", "Hal", "userPrincipalName", s.tag+"hal@fabrikam.test")
	s.cycle()
	got := s.cloudObjects()
	if len(got) != 2 || got["Gina"].class != "cloudContact" || got["Hal"].class != "cloudUser" {
		t.Fatalf("the cloud holds %v, want Gina's contact and Hal's user", names(got))
	}
	if errs := s.runErrors(); !strings.Contains(errs, `mail \"gina@fabrikam.test\" is also on`) && !strings.Contains(errs, `mail "gina@fabrikam.test" is also on`) {
		t.Fatalf("no export error for the second Gina in the run history:\n%s", errs)
	}
}
