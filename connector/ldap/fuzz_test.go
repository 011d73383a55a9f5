package ldap

import (
	"strings"
	"testing"
)

// FuzzParseSubschema: any attribute type or object class description, and
// any range option or LDAP time, parse or fail without panicking.
func FuzzParseSubschema(f *testing.F) {
	for _, s := range []string{
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name' SUP name )",
		"( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
		"( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber ) )",
		"( 1.1 NAME 'x' SINGLE-VALUE X-ORIGIN 'test' )", "(", "( 'unterminated", "member;range=0-1499", "20261123100000.0Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sc, err := parseSubschema([]string{s}, []string{s}); err == nil {
			for name := range sc.classes {
				_ = sc.classAttrs(name)
			}
		}
		_, _, _, _ = parseRange(s)
		_, _ = parseLDAPTime(s)
	})
}

// FuzzScope: any DN is scoped or rejected without panicking, and a DN is
// never in scope of a container it is not under.
func FuzzScope(f *testing.F) {
	for _, s := range []string{"CN=a,OU=Sales,DC=contoso,DC=test", "cn=a\\,b,ou=x", "=", ",,", "CN=a+SN=b,DC=x"} {
		f.Add(s)
	}
	s, err := newSettings(Config{URL: "ldap://x", Containers: Containers{Include: []string{"OU=Sales,DC=contoso,DC=test"}, NoNewChildren: []string{"OU=Sales,DC=contoso,DC=test"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		ok, err := s.inScope(dn)
		if err == nil && ok {
			n, _ := normDN(dn)
			if !strings.HasSuffix(n, ",ou=sales,dc=contoso,dc=test") {
				t.Fatalf("%q (%q) is in scope but not under OU=Sales", dn, n)
			}
		}
	})
}
