package engine

import "testing"

func TestDNUnder(t *testing.T) {
	for _, tc := range []struct {
		dn, part string
		want     bool
	}{
		{"cn=a,ou=people,dc=target,dc=test", "dc=target,dc=test", true},
		{"CN=a, OU=People, DC=Target, DC=Test", "dc=target,dc=test", true},
		{"dc=target,dc=test", "DC=target,DC=test", true},
		{"cn=a,dc=othertarget,dc=test", "dc=target,dc=test", false},
		{"cn=a,dc=example,dc=test", "dc=target,dc=test", false},
		{"", "dc=test", false},
		{"cn=a", "", false},
	} {
		if got := dnUnder(tc.dn, tc.part); got != tc.want {
			t.Errorf("dnUnder(%q, %q) = %v, want %v", tc.dn, tc.part, got, tc.want)
		}
	}
}
