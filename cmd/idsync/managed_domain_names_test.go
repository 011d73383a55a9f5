package main

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	ldap "github.com/go-ldap/ldap/v3"
)

// TestManagedDomainLongNames (R4.4, R4.8) against the Samba domain: a
// userPrincipalName or group name of exactly 64 characters is the cn; a
// longer one gives a cn of its first 56 characters and a hash, 64 in all,
// which stays over later cycles; sAMAccountNames of exactly 20 characters
// are kept, of 21 generated, with characters AD forbids generated, and
// three accounts with one mailNickname get three different ones.
func TestManagedDomainLongNames(t *testing.T) {
	s := newMDSite(t)
	tag := s.tag // 7 characters
	at := "@contoso.com"
	upn64 := tag + "." + strings.Repeat("u", 64-len(tag)-1-len(at)) + at
	upn70 := tag + "." + strings.Repeat("v", 70-len(tag)-1-len(at)) + at
	g64 := "G " + tag + " " + strings.Repeat("g", 64-len(tag)-3)
	g65 := "H " + tag + " " + strings.Repeat("h", 65-len(tag)-3)
	nick20 := tag + strings.Repeat("n", 20-len(tag))
	nick21 := tag + strings.Repeat("o", 21-len(tag))
	users := []string{
		s.cloudUser("u64", upn64, tag+"u64", true),
		s.cloudUser("u70", upn70, tag+"u70", true),
		s.cloudUser("n20", "n20."+tag+at, nick20, true),
		s.cloudUser("n21", "n21."+tag+at, nick21, true),
		s.cloudUser("bad", "bad."+tag+at, tag+"[a]b", true),
	}
	for i := 1; i <= 3; i++ {
		users = append(users, s.cloudUser(fmt.Sprintf("same%d", i), fmt.Sprintf("same%d.%s%s", i, tag, at), tag+"same", true))
	}
	grp := func(id, name string) string {
		return fmt.Sprintf("dn: CN=%s,OU=Groups,DC=cloud\nobjectClass: group\nobjectId: %s\ndisplayName: %s\nsecurityEnabled: true\n", id, id, name)
	}
	s.writeCloud(append(users, grp("g64", g64), grp("g65", g65))...)
	out := s.cycle(true) + s.cycle(false)
	got := s.entries(s.base)
	if len(got) != len(users)+2 {
		var dns []string
		for dn := range got {
			dns = append(dns, dn)
		}
		t.Fatalf("the domain holds %d objects, want %d: %q\n%s", len(got), len(users)+2, dns, out)
	}
	byName := map[string]*ldap.Entry{}
	for _, e := range got {
		d, err := ldap.ParseDN(e.DN)
		if err != nil {
			t.Fatal(err)
		}
		cn := d.RDNs[0].Attributes[0].Value
		if n := utf8.RuneCountInString(cn); n > 64 {
			t.Errorf("%s: a cn of %d characters", e.DN, n)
		}
		key := e.GetAttributeValue("userPrincipalName")
		if key == "" {
			key = e.GetAttributeValue("displayName")
		}
		byName[key] = e
		byName["cn:"+key] = &ldap.Entry{DN: cn}
	}
	for _, c := range []struct{ name, wantCN string }{
		{upn64, upn64},
		{upn70, upn70[:56] + " ("},
		{g64, g64},
		{g65, g65[:56] + " ("},
	} {
		cn := byName["cn:"+c.name]
		switch {
		case cn == nil:
			t.Errorf("%s is not in the domain", c.name)
		case strings.HasSuffix(c.wantCN, " (") && (!strings.HasPrefix(cn.DN, c.wantCN) || len(cn.DN) != 64):
			t.Errorf("%s: cn %q, want its first 56 characters, a hash, 64 in all", c.name, cn.DN)
		case !strings.HasSuffix(c.wantCN, " (") && cn.DN != c.wantCN:
			t.Errorf("%s: cn %q, want the name itself", c.name, cn.DN)
		}
	}
	if u := byName[upn70]; u == nil || u.GetAttributeValue("userPrincipalName") != upn70 {
		t.Errorf("the 70-character UPN is not the user's userPrincipalName: %v", u)
	}
	sam := func(upn string) string { return byName[upn].GetAttributeValue("sAMAccountName") }
	if got := sam("n20." + tag + at); got != nick20 {
		t.Errorf("a 20-character mailNickname: sAMAccountName %q, want it unchanged", got)
	}
	if got := sam("n21." + tag + at); got == nick21 || len(got) != 20 || !strings.HasPrefix(got, nick21[:15]) {
		t.Errorf("a 21-character mailNickname: sAMAccountName %q, want 15 characters of it and a hash", got)
	}
	if got := sam("bad." + tag + at); strings.ContainsAny(got, "[]") || !strings.HasPrefix(got, tag+"ab") {
		t.Errorf("a mailNickname with [ and ]: sAMAccountName %q, want them dropped and a hash", got)
	}
	seen := map[string]bool{}
	for i := 1; i <= 3; i++ {
		v := strings.ToLower(sam(fmt.Sprintf("same%d.%s%s", i, tag, at)))
		if seen[v] || !strings.HasPrefix(v, tag+"same") || len(v) > 20 {
			t.Errorf("three accounts with one mailNickname: %q is repeated or not %ssame…", v, tag)
		}
		seen[v] = true
	}
	// Stable: another cycle renames nothing and reports no error.
	out = s.cycle(false)
	if strings.Contains(out, "object error") {
		t.Errorf("a later cycle reports errors:\n%s", out)
	}
	again := s.entries(s.base)
	for dn := range got {
		if again[dn] == nil {
			t.Errorf("%s is gone after another cycle", dn)
		}
	}
}
