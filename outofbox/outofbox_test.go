package outofbox

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/expr"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

func TestFilesMergeAndValidate(t *testing.T) {
	for _, s := range []Setup{
		{Cloud: "aad", Forests: []string{"contoso"}},
		{Cloud: "aad", Forests: []string{"contoso", "fabrikam"}, MatchUsersOnMail: true, CloudDN: "cn={sourceAnchor},ou=people,dc=cloud"},
		{Cloud: "aad", Forests: []string{"contoso", "fabrikam"}, GroupFilters: map[string]string{"fabrikam": "CN=Pilot, O'Neil,OU=x,DC=fabrikam,DC=test"}},
	} {
		files, err := Files(s)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Merge(files...)
		if err != nil {
			t.Fatal(err)
		}
		env := rules.ValidateEnv{Connectors: map[string]*model.Schema{"aad": nil}}
		for _, f := range s.Forests {
			env.Connectors[f] = nil
		}
		for _, e := range rs.Validate(env) {
			if !rules.IsWarning(e) {
				t.Errorf("validate: %v", e)
			}
		}
		if want := 10*len(s.Forests) + 6 + 4*len(s.GroupFilters); len(rs.Rules) != want {
			t.Errorf("%d rules, want %d", len(rs.Rules), want)
		}
		for _, r := range rs.Rules {
			if !r.Immutable {
				t.Errorf("%s is not immutable", r.Name)
			}
		}
		// Enabled accounts of every forest beat disabled ones of any forest.
		prec := map[string]int{}
		for _, r := range rs.Rules {
			prec[r.Name] = r.Precedence
		}
		last := s.Forests[len(s.Forests)-1]
		if prec["In from AD - User AccountEnabled ("+last+")"] >= prec["In from AD - User Join ("+s.Forests[0]+")"] {
			t.Error("AccountEnabled of the last forest does not beat User Join of the first")
		}
		if prec["In from AD - Contact Common ("+s.Forests[0]+")"] <= prec["In from AD - User Common ("+last+")"] {
			t.Error("Contact Common does not lose to every User Common")
		}
		join := rs.Rules[0]
		for _, r := range rs.Rules {
			if r.Name == "In from AD - User Join ("+s.Forests[0]+")" {
				join = r
			}
		}
		if hasMail := strings.Contains(join.Description, "on mail"); hasMail != s.MatchUsersOnMail {
			t.Errorf("match on mail = %v in %q", hasMail, join.Description)
		}
	}
	for _, bad := range []Setup{{Forests: []string{"a"}}, {Cloud: "c"}, {Cloud: "c", Forests: []string{"a", "a"}}, {Cloud: "a", Forests: []string{"a"}},
		{Cloud: "c", Forests: []string{"a"}, GroupFilters: map[string]string{"b": "CN=g"}}, {Cloud: "c", Forests: []string{"a"}, GroupFilters: map[string]string{"a": ""}}} {
		if _, err := Files(bad); err == nil {
			t.Errorf("Files(%+v) accepted", bad)
		}
	}
}

// TestExpressions: the documented expressions give the documented results
// (R1.4, R1.6, the cloudFiltered cases).
func TestExpressions(t *testing.T) {
	guid := string([]byte{0x31, 0x7e, 0x1b, 0x9c, 0x33, 0x3f, 0x45, 0x4b, 0x8e, 0x1a, 0x6c, 0x4f, 0x81, 0x27, 0x4b, 0x0e})
	cases := []struct {
		name, src string
		attrs     model.Attrs
		want      string // values joined by |, or "NULL"
	}{
		{"mailEnabled: X500 only", MailEnabled, model.Attrs{"proxyAddresses": model.Str("X500:/o=contoso.com/ou=users/cn=testgroup")}, "false"},
		{"mailEnabled: no primary", MailEnabled, model.Attrs{"proxyAddresses": model.Str("X500:/o=contoso.com/ou=users/cn=testgroup", "smtp:johndoe@contoso.com"), "mail": model.Str("johndoe@contoso.com")}, "false"},
		{"mailEnabled: primary", MailEnabled, model.Attrs{"proxyAddresses": model.Str("X500:/o=contoso.com/ou=users/cn=testgroup", "SMTP:johndoe@contoso.com")}, "true"},
		{"mailEnabled: mail only", MailEnabled, model.Attrs{"mail": model.Str("g@contoso.com")}, "true"},
		{"mailEnabled: nothing", MailEnabled, model.Attrs{}, "false"},
		{"mailEnabled: proxyAddresses without mail", MailEnabled, model.Attrs{"proxyAddresses": model.Str("x500:/o=a", "SMTP:g@contoso.com")}, "true"},
		{"mailEnabled: primary not first", MailEnabled, model.Attrs{"proxyAddresses": model.Str("smtp:a@contoso.com", "X500:/o=SMTP:x", "SMTP:g@contoso.com")}, "true"},
		{"mailEnabled: SMTP: inside a value only", MailEnabled, model.Attrs{"proxyAddresses": model.Str("X500:/o=SMTP:x"), "mail": model.Str("g@contoso.com")}, "false"},
		{"mailEnabled: lower-case smtp only, with mail", MailEnabled, model.Attrs{"proxyAddresses": model.Str("smtp:g@contoso.com"), "mail": model.Str("g@contoso.com")}, "false"},
		{"mailEnabled: mail without @", MailEnabled, model.Attrs{"mail": model.Str("g")}, "true"},
		{"sourceAnchor: objectGUID", SourceAnchor, model.Attrs{"objectGUID": {Type: model.Binary, Values: []string{guid}}}, "MX4bnDM/RUuOGmxPgSdLDg=="},
		{"UPN from sAMAccountName", UPN, model.Attrs{"sAMAccountName": model.Str("ann")}, "ann@contoso.com"},
		{"cloudFiltered: conflict", CloudFiltered, model.Attrs{"sAMAccountName": model.Str("ann"), "dn": model.Str("CN=ann\\0ACNF:1234,OU=x,DC=contoso,DC=com")}, "true"},
		{"cloudFiltered: MSOL_", CloudFiltered, model.Attrs{"sAMAccountName": model.Str("MSOL_abc")}, "true"},
		{"cloudFiltered: ordinary", CloudFiltered, model.Attrs{"sAMAccountName": model.Str("ann"), "dn": model.Str("CN=ann,DC=contoso,DC=com")}, "NULL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := expr.Compile(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Eval(testEnv{tc.attrs})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(res.Values.Values, "|")
			if res.Kind == rules.Null {
				got = "NULL"
			}
			if got != tc.want {
				t.Errorf("= %q (%+v), want %q", got, res, tc.want)
			}
		})
	}
}

type testEnv struct{ a model.Attrs }

func (e testEnv) Attr(n string) model.Values          { return e.a[n] }
func (e testEnv) ImportedValue(n string) model.Values { return e.a[n] }
func (e testEnv) Param(n string) string {
	if n == "Domain.FQDN" {
		return "contoso.com"
	}
	return ""
}
