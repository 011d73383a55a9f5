package ldap

import (
	"strings"
	"testing"
)

func TestInScope(t *testing.T) {
	const base = "DC=contoso,DC=test"
	cfg := Config{URL: "ldap://x", Containers: Containers{
		Include:       []string{"OU=Sales," + base, "OU=East,OU=Regions," + base, "ou=Keep, OU=Excluded,OU=Sales," + base},
		Exclude:       []string{"OU=Excluded,OU=Sales," + base},
		NoNewChildren: []string{"OU=Regions," + base, "OU=Sales," + base},
	}}
	// Regions itself is not included: only its explicitly included child is.
	s, err := newSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dn   string
		want bool
	}{
		{"CN=a,OU=Sales," + base, true},
		{"CN=a,OU=new,OU=Sales," + base, false},                       // new OU under a noNewChildren parent
		{"CN=a,OU=Excluded,OU=Sales," + base, false},                  // excluded
		{"CN=a,OU=Keep,OU=Excluded,OU=Sales," + base, true},           // re-included under an exclusion
		{"CN=a,OU=Deeper,OU=Keep,OU=Excluded,OU=Sales," + base, true}, // new OUs under Keep follow it
		{"CN=a,OU=East,OU=Regions," + base, true},
		{"CN=a,OU=Sub,OU=East,OU=Regions," + base, true},
		{"CN=a,OU=West,OU=Regions," + base, false},
		{"CN=a,OU=Regions," + base, false}, // Regions is not included
		{"CN=a,CN=Users," + base, false},
		{"cn=A, ou=SALES,dc=Contoso,dc=TEST", true}, // case and spaces do not matter
	} {
		got, err := s.inScope(tc.dn)
		if err != nil || got != tc.want {
			t.Errorf("inScope(%s) = %v, %v; want %v", tc.dn, got, err, tc.want)
		}
	}
	bases, err := s.searchBases(base)
	if err != nil || len(bases) != 2 {
		t.Errorf("searchBases = %v, %v; want Sales and East (Keep is under Sales)", bases, err)
	}
	if bases, _ := s.searchBases("DC=other,DC=test"); len(bases) != 0 {
		t.Errorf("searchBases of another domain = %v, want none", bases)
	}

	all, _ := newSettings(Config{URL: "ldap://x"})
	if ok, _ := all.inScope("CN=x,CN=Users," + base); !ok {
		t.Error("without container filtering everything is in scope")
	}
	if _, err := s.inScope("not a dn"); err == nil {
		t.Error("an invalid DN is an error")
	}
}

func TestCanonicalDN(t *testing.T) {
	for in, want := range map[string]string{
		"cn=sNcJwIezwUybnY5evcQZiQ\\3D\\3D,ou=people,dc=target,dc=test": "cn=sNcJwIezwUybnY5evcQZiQ\\=\\=,ou=people,dc=target,dc=test",
		"CN=Smith\\, Ann,OU=Sales,DC=contoso,DC=test":                   "CN=Smith\\, Ann,OU=Sales,DC=contoso,DC=test",
		"CN=Smith\\2C Ann, OU=Sales":                                    "CN=Smith\\, Ann,OU=Sales",
		"cn=a+sn=b,dc=x":                                                "cn=a+sn=b,dc=x",
		"not a dn\\":                                                    "not a dn\\",
	} {
		if got := canonicalDN(in); got != want {
			t.Errorf("canonicalDN(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCreateContainersConfig: createContainers takes OUs under another
// container, normalized for the lookups of an add.
func TestCreateContainersConfig(t *testing.T) {
	s, err := newSettings(Config{URL: "ldap://x", CreateContainers: []string{"OU=AADDC Users, DC=Contoso,DC=com"}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := normDN("ou=aaddc users,dc=contoso,dc=com")
	if s.create[n] != "OU=AADDC Users, DC=Contoso,DC=com" {
		t.Errorf("create = %v", s.create)
	}
	for dn, want := range map[string]string{
		"CN=Users,DC=contoso,DC=com": "only organizational units",
		"OU=top":                     "under another one",
		"OU=x,,DC=y":                 "is not the DN",
	} {
		if _, err := newSettings(Config{URL: "ldap://x", CreateContainers: []string{dn}}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("createContainers %q: error %v, want %q", dn, err, want)
		}
	}
}
