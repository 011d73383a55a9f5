package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store/sealed"
)

// sealSite makes the site's store seal secret values as the CLI's does,
// with the key of the configuration.
func sealSite(t *testing.T, s *site) {
	t.Helper()
	text, _, _, err := s.cfg.SecretKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := secret.ParseKey(text)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := secret.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	s.st = sealed.Wrap(s.st, sealed.Options{Sealer: sl, Policy: secret.NewPolicy(s.cfg.Security.SecretAttributes...)})
	s.e.Store = s.st
}

// unfoldedLDIF reads an LDIF file of the site as entries by DN (folded
// lines joined).
func (s *site) unfoldedLDIF(name string) map[string]map[string][]string {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	for _, block := range strings.Split(strings.ReplaceAll(string(data), "\n ", ""), "\n\n") {
		var dn string
		attrs := map[string][]string{}
		for _, line := range strings.Split(block, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			switch {
			case !ok:
			case k == "dn":
				dn = v
			default:
				attrs[k] = append(attrs[k], v)
			}
		}
		if dn != "" {
			out[dn] = attrs
		}
	}
	return out
}

// TestManagedDomain runs examples/managed-domain: the cloud directory's
// users and group land in OU=AADDC Users with the managed-domain mappings
// (R4.4, R4.6, R4.7), sAMAccountNames of at most 20 characters, generated
// for a long mailNickname and for two accounts sharing one (R4.8), and a
// change made in the domain is overwritten by the next cycle (R4.3).
func TestManagedDomain(t *testing.T) {
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDSYNC_SECRET_KEY", key)
	s := openSite(t, "managed-domain")
	sealSite(t, s)
	s.checkCycle()
	const ou = ",OU=AADDC Users,DC=aaddscontoso,DC=com"
	got := s.unfoldedLDIF("managed-domain.ldif")
	watson, wong := got["CN=amelia.watson@contoso.com"+ou], got["CN=amelia.wong@fabrikam.com"+ou]
	bart := got["CN=bartholomew.fitzgerald-montgomery@contoso.com"+ou]
	group := got["CN=Research"+ou]
	if len(got) != 4 || watson == nil || wong == nil || bart == nil || group == nil {
		t.Fatalf("the domain holds %d entries, want the three users and the group in OU=AADDC Users: %v", len(got), got)
	}
	sams := map[string]bool{}
	for _, u := range []map[string][]string{watson, wong, bart, group} {
		sam := strings.Join(u["sAMAccountName"], "|")
		if n := utf8.RuneCountInString(sam); n == 0 || n > 20 || sams[strings.ToLower(sam)] {
			t.Errorf("sAMAccountName %q: empty, longer than 20 or not unique", sam)
		}
		sams[strings.ToLower(sam)] = true
	}
	// Two accounts with the mailNickname amelia: both get a generated name,
	// whichever was synchronized first.
	for _, u := range []map[string][]string{watson, wong} {
		if sam := u["sAMAccountName"][0]; sam == "amelia" || !strings.HasPrefix(sam, "amelia") {
			t.Errorf("an Amelia's sAMAccountName is %q, want amelia and a suffix", sam)
		}
	}
	if sam := bart["sAMAccountName"][0]; !strings.HasPrefix(sam, "bartholomew.fit") || len(sam) != 20 {
		t.Errorf("Bartholomew's sAMAccountName is %q, want bartholomew.fit and a 5-character suffix", sam)
	}
	for _, c := range []struct {
		e          map[string][]string
		attr, want string
	}{
		{watson, "userAccountControl", "512"}, {wong, "userAccountControl", "514"}, {bart, "userAccountControl", "66048"},
		{watson, "l", "Lisbon"}, {watson, "co", "Portugal"}, {watson, "title", "Scientist"}, {watson, "sn", "Watson"},
		{watson, "userPrincipalName", "amelia.watson@contoso.com"}, {watson, "mail", "amelia.watson@contoso.com"},
		{group, "groupType", "-2147483646"}, {group, "sAMAccountName", "Research"},
		// azureADAttributes: true
		{watson, "msDS-AzureADMailNickname", "amelia"}, {watson, "msDS-AzureADObjectId", "5b0e6c1e-8a4f-4c55-9a63-1c2f0b7a0001"},
		{group, "msDS-AzureADObjectId", "5b0e6c1e-8a4f-4c55-9a63-1c2f0b7a0100"}, {group, "msDS-AzureADMailNickname", "research"},
	} {
		if v := strings.Join(c.e[c.attr], "|"); v != c.want {
			t.Errorf("%s = %q, want %q", c.attr, v, c.want)
		}
	}
	if m := strings.Join(group["member"], "|"); m != "CN=amelia.watson@contoso.com"+ou+"|CN=amelia.wong@fabrikam.com"+ou {
		t.Errorf("Research's members: %q", m)
	}
	// Amelia Watson's initial password is her unicodePwd; the others have
	// none.
	if p := strings.Join(watson["unicodePwd"], "|"); p != "Welcome-Amelia-2026!" {
		t.Errorf("Amelia Watson's unicodePwd is %q, want her initial password", p)
	}
	if len(wong["unicodePwd"])+len(bart["unicodePwd"]) != 0 {
		t.Errorf("users without an initial password got a unicodePwd")
	}

	// Drift: displayName changed in the domain is overwritten.
	path := filepath.Join(s.dir, "managed-domain.ldif")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "displayName: Amelia Watson", "displayName: Changed in the domain", 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	s.cycle()
	if dn := s.unfoldedLDIF("managed-domain.ldif")["CN=amelia.watson@contoso.com"+ou]["displayName"]; strings.Join(dn, "") != "Amelia Watson" {
		t.Errorf("after a change in the domain and a cycle, displayName is %q, want Amelia Watson back", dn)
	}
	if n := s.pending("aadds"); n != 0 {
		t.Errorf("%d pending exports after the drift repair", n)
	}
}
