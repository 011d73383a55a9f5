package main

import (
	"fmt"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"
)

// TestManagedDomainMappings: every mapping row of R4.6 and R4.7 that
// TestManagedDomainSamba does not check, one cloud attribute at a time,
// against the Samba domain with the Azure AD schema extension and
// outOfBox.managedDomain.azureADAttributes: mailNickname →
// msDS-AzureADMailNickname and objectId → msDS-AzureADObjectId for users
// and groups included. A change in the cloud reaches the domain at the next
// cycle.
func TestManagedDomainMappings(t *testing.T) {
	s := newMDSite(t, mdOptions{managed: ", azureADAttributes: true", azureAD: true})
	tag := s.tag
	rows := []struct{ cloud, domain, value string }{
		{"city", "l", "Lisbon"},
		{"country", "co", "Portugal"},
		{"department", "department", "Research"},
		{"facsimileTelephoneNumber", "facsimileTelephoneNumber", "+351 21 000 0001"},
		{"jobTitle", "title", "Engineer"},
		{"mobile", "mobile", "+351 91 000 0002"},
		{"physicalDeliveryOfficeName", "physicalDeliveryOfficeName", "Building 2"},
		{"postalCode", "postalCode", "1000-001"},
		{"preferredLanguage", "preferredLanguage", "pt-PT"},
		{"state", "st", "Lisboa"},
		{"streetAddress", "streetAddress", "Rua Augusta 1"},
		{"surname", "sn", "Silva"},
		{"telephoneNumber", "telephoneNumber", "+351 21 000 0003"},
		{"displayName", "displayName", "User u1"},
		{"mailNickname", "msDS-AzureADMailNickname", tag + "ana"},
		{"objectId", "msDS-AzureADObjectId", "u1"},
	}
	var extra []string
	for _, r := range rows {
		if r.cloud != "displayName" && r.cloud != "mailNickname" && r.cloud != "objectId" {
			extra = append(extra, r.cloud+": "+r.value)
		}
	}
	user := s.cloudUser("u1", "ana."+tag+"@contoso.com", tag+"ana", true, extra...)
	groups := func(desc string) string {
		return fmt.Sprintf("dn: CN=g1,OU=Groups,DC=cloud\nobjectClass: group\nobjectId: g1\ndisplayName: Sec %s\nmailNickname: sec-%s\nsecurityEnabled: true\nmail: sec.%s@contoso.com\ndescription: %s\n\n"+
			"dn: CN=g2,OU=Groups,DC=cloud\nobjectClass: group\nobjectId: g2\ndisplayName: Dist %s\nsecurityEnabled: false\n", tag, tag, tag, desc, tag)
	}
	s.writeCloud(user, groups("Security group"))
	out := s.cycle(true) + s.cycle(false)

	read := func(dn string, attrs ...string) *ldap.Entry {
		t.Helper()
		res, err := s.a.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", attrs, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s: %v\n%s", dn, err, out)
		}
		return res.Entries[0]
	}
	var attrs []string
	for _, r := range rows {
		attrs = append(attrs, r.domain)
	}
	u := read("CN=ana."+tag+"@contoso.com,"+s.users, attrs...)
	for _, r := range rows {
		if got := u.GetAttributeValue(r.domain); got != r.value {
			t.Errorf("user: cloud %s → domain %s = %q, want %q", r.cloud, r.domain, got, r.value)
		}
	}
	for _, c := range []struct{ dn, attr, want string }{
		{"CN=Sec " + tag + "," + s.users, "groupType", "-2147483646"},
		{"CN=Sec " + tag + "," + s.users, "mail", "sec." + tag + "@contoso.com"},
		{"CN=Sec " + tag + "," + s.users, "description", "Security group"},
		{"CN=Sec " + tag + "," + s.users, "msDS-AzureADMailNickname", "sec-" + tag},
		{"CN=Sec " + tag + "," + s.users, "msDS-AzureADObjectId", "g1"},
		{"CN=Sec " + tag + "," + s.users, "displayName", "Sec " + tag},
		{"CN=Dist " + tag + "," + s.users, "groupType", "2"}, // securityEnabled false: a distribution group
		{"CN=Dist " + tag + "," + s.users, "msDS-AzureADObjectId", "g2"},
	} {
		if got := read(c.dn, c.attr).GetAttributeValue(c.attr); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.dn, c.attr, got, c.want)
		}
	}

	// Changes in the cloud reach the domain.
	user = strings.Replace(user, "city: Lisbon", "city: Porto", 1)
	user = strings.Replace(user, "mailNickname: "+tag+"ana", "mailNickname: "+tag+"anab", 1)
	s.writeCloud(user, groups("Changed"))
	out = s.cycle(false)
	u = read("CN=ana."+tag+"@contoso.com,"+s.users, "l", "msDS-AzureADMailNickname", "sAMAccountName")
	if u.GetAttributeValue("l") != "Porto" || u.GetAttributeValue("msDS-AzureADMailNickname") != tag+"anab" {
		t.Errorf("after the change: l %q, msDS-AzureADMailNickname %q, want Porto and %s\n%s", u.GetAttributeValue("l"), u.GetAttributeValue("msDS-AzureADMailNickname"), tag+"anab", out)
	}
	if got := u.GetAttributeValue("sAMAccountName"); got != tag+"ana" {
		t.Errorf("sAMAccountName changed to %q with the mailNickname; it is set once (%s)", got, tag+"ana")
	}
	if got := read("CN=Sec "+tag+","+s.users, "description").GetAttributeValue("description"); got != "Changed" {
		t.Errorf("group description %q, want Changed", got)
	}
}
