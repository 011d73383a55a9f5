package model

import (
	"testing"

	ldap "github.com/go-ldap/ldap/v3"
)

func TestValidateDN(t *testing.T) {
	valid := []string{
		"",
		"CN=Grace Kim,OU=Sales,DC=contoso,DC=test",
		"cn=Grace Kim, ou=Sales, dc=contoso, dc=test",
		`CN=Kim\, Grace,OU=Sales,DC=contoso`,
		`CN=a\+b+UID=7,DC=x`,
		`CN=\#lead,DC=x`,
		`CN=trail\ ,DC=x`,
		`CN=caf\C3\A9,DC=x`,
		"CN=café,DC=x",
		"CN=a=b,DC=x",
		"1.3.6.1.4.1.1466.0=#04024869,DC=example",
		"OID.2.5.4.3=x,DC=y",
		"CN=a;DC=x",
		"uid=jdoe",
	}
	for _, dn := range valid {
		if err := ValidateDN(dn); err != nil {
			t.Errorf("ValidateDN(%q) = %v, want nil", dn, err)
		}
		if _, err := ldap.ParseDN(dn); err != nil && dn != "" {
			t.Errorf("go-ldap does not parse %q, which ValidateDN accepts: %v", dn, err)
		}
	}
	invalid := []string{
		"CN=Grace Kim,,=OU==Sales,DC",
		"CN=Grace Kim,,OU=Sales",
		",CN=a",
		"CN=a,",
		"CN=a+",
		"DC",
		"=x,DC=y",
		"CN=,DC=x",
		"C N=x",
		"1CN=x",
		"1.=x",
		"1..2=x",
		"-cn=x",
		`CN=a\,DC=x\`,
		`CN=a\q,DC=x`,
		`CN=a\4,DC=x`,
		`CN=a\4g,DC=x`,
		`CN=a\00b,DC=x`,
		`CN=a\1F,DC=x`,
		`CN=\C3,DC=x`,
		"CN=#abc,DC=x",
		"CN=#,DC=x",
		"CN=#zz,DC=x",
		`CN="open,DC=x`,
		`CN="q"x,DC=x`,
		`CN="Kim, Grace",DC=x`,
		"CN=#0102 x,DC=y",
		`CN=a"b,DC=x`,
		"CN=a<b,DC=x",
		"CN=a>b,DC=x",
		"CN=a\x00b,DC=x",
		"CN=a\nb,DC=x",
		"CN=a\x7fb,DC=x",
		"CN=\xff\xfe,DC=x",
		"CN=a,DC=x;",
	}
	for _, dn := range invalid {
		if err := ValidateDN(dn); err == nil {
			t.Errorf("ValidateDN(%q) = nil, want an error", dn)
		} else if testing.Verbose() {
			t.Logf("%q: %v", dn, err)
		}
	}
}

func FuzzValidateDN(f *testing.F) {
	for _, s := range []string{"CN=a,DC=b", `CN=a\2Cb+uid=1`, "CN=Grace Kim,,=OU==Sales,DC", `x="a\"b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		if ValidateDN(dn) == nil && dn != "" {
			if _, err := ldap.ParseDN(dn); err != nil {
				t.Errorf("ValidateDN accepts %q, which go-ldap does not parse: %v", dn, err)
			}
		}
	})
}
