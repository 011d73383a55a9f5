package outofbox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idsync/idsync/connector/graph"
	"github.com/idsync/idsync/expr"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// TestManagedDomainFiles: the managed-domain rules render, merge with the
// forest rules and validate, with and without a cloud source; what they
// send where.
func TestManagedDomainFiles(t *testing.T) {
	for _, m := range []ManagedDomain{
		{Target: "aadds", BaseDN: "DC=aaddscontoso,DC=com"},
		{Source: "graph", Target: "aadds", BaseDN: "OU=O'Neil Lab,DC=aaddscontoso,DC=com"},
		{Source: "graph", Target: "aadds", BaseDN: "DC=aaddscontoso,DC=com", SourcePassword: "initialPassword"},
	} {
		files, err := ManagedDomainFiles(m)
		if err != nil {
			t.Fatal(err)
		}
		forest, err := Files(Setup{Cloud: "aad", Forests: []string{"contoso"}})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Merge(append(forest, files...)...)
		if err != nil {
			t.Fatal(err)
		}
		env := rules.ValidateEnv{Connectors: map[string]*model.Schema{"aad": nil, "contoso": nil, "aadds": nil, "graph": nil}}
		for _, e := range rs.Validate(env) {
			if !rules.IsWarning(e) {
				t.Errorf("validate: %v", e)
			}
		}
		want := map[string]bool{"Out to managed domain - User (aadds)": true, "Out to managed domain - Group (aadds)": true}
		if m.Source != "" {
			want["In from cloud - User (graph)"], want["In from cloud - Group (graph)"] = true, true
		}
		n := 0
		for _, r := range rs.Rules {
			if !strings.Contains(r.Name, "managed domain") && !strings.Contains(r.Name, "In from cloud") {
				continue
			}
			n++
			if !want[r.Name] || !r.Immutable {
				t.Errorf("rule %q (immutable %v) is not expected", r.Name, r.Immutable)
			}
			if r.Direction == rules.Outbound && r.DN != "" && !strings.HasSuffix(r.DN, ",OU=AADDC Users,"+m.BaseDN) {
				t.Errorf("%s: dn %q is not in OU=AADDC Users,%s", r.Name, r.DN, m.BaseDN)
			}
			// The password: into unicodePwd always (when the metaverse
			// has one), from the source only when it names its attribute.
			var pwd []string
			for _, f := range r.Flows {
				if f.Target == "unicodePwd" || f.Target == PasswordAttribute {
					pwd = append(pwd, fmt.Sprintf("%s %s→%s once=%v", f.Type, f.Source, f.Target, f.ApplyOnce))
				}
			}
			var wantPwd []string
			switch {
			case r.CSObjectType != "user":
			case r.Direction == rules.Outbound:
				wantPwd = []string{"Direct password→unicodePwd once=false"}
			case m.SourcePassword != "":
				wantPwd = []string{"Direct initialPassword→password once=false"}
			}
			if !slices.Equal(pwd, wantPwd) {
				t.Errorf("%s: password flows %q, want %q", r.Name, pwd, wantPwd)
			}
		}
		if n != len(want) {
			t.Errorf("%d managed-domain rules, want %d", n, len(want))
		}
	}
}

// TestManagedDomainFromGraph: the inbound rules read only attributes the
// Graph connector has (validation against its schema would stop the
// configuration otherwise).
func TestManagedDomainFromGraph(t *testing.T) {
	files, err := ManagedDomainFiles(ManagedDomain{Source: "aad", Target: "aadds", BaseDN: "DC=aaddscontoso,DC=com"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(files...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New("aad", graph.Config{TenantID: "contoso.com", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"aad": sc, "aadds": nil}}) {
		if !rules.IsWarning(e) {
			t.Errorf("validate against the Graph schema: %v", e)
		}
	}
}

func TestManagedDomainFilesErrors(t *testing.T) {
	for _, c := range []struct {
		m    ManagedDomain
		want string
	}{
		{ManagedDomain{BaseDN: "DC=x"}, "outOfBox.managedDomain.target: name"},
		{ManagedDomain{Target: "ad"}, "outOfBox.managedDomain.baseDN: name"},
		{ManagedDomain{Target: "ad", BaseDN: "aaddscontoso.com"}, "is not a DN"},
		{ManagedDomain{Target: "ad", BaseDN: "DC={x}"}, "braces"},
		{ManagedDomain{Source: "ad", Target: "ad", BaseDN: "DC=x"}, "source and target are both"},
		{ManagedDomain{Target: "ad", BaseDN: "DC=x", SourcePassword: "initialPassword"}, "set source too"},
		{ManagedDomain{Source: "cloud", Target: "ad", BaseDN: "DC=x", SourcePassword: "pass word}"}, "is not an attribute name"},
	} {
		_, err := ManagedDomainFiles(c.m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.m, err, c.want)
		}
	}
}

// takenEnv is an MV object and a target whose sAMAccountNames are taken.
type takenEnv struct {
	testEnv
	taken map[string]bool
}

func (e takenEnv) ValueExists(v string) (bool, error) { return e.taken[strings.ToLower(v)], nil }

// TestSamAccountName: the sAMAccountName a user or group gets (R4.8).
func TestSamAccountName(t *testing.T) {
	user, err := expr.CompileDialect(SamAccountName(UserSamName, UserSamKey), expr.Provisioning)
	if err != nil {
		t.Fatal(err)
	}
	group, err := expr.CompileDialect(SamAccountName(GroupSamName, GroupSamKey), expr.Provisioning)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(c rules.Compiled, attrs map[string]string, taken ...string) string {
		t.Helper()
		a := model.Attrs{}
		for k, v := range attrs {
			a[k] = model.Str(v)
		}
		tk := map[string]bool{}
		for _, x := range taken {
			tk[strings.ToLower(x)] = true
		}
		r, err := c.Eval(takenEnv{testEnv{a}, tk})
		if err != nil {
			t.Fatalf("%v: %v", attrs, err)
		}
		if len(r.Values.Values) != 1 {
			t.Fatalf("%v: %v, want one value", attrs, r.Values.Values)
		}
		s := r.Values.Values[0]
		if n := utf8.RuneCountInString(s); n == 0 || n > SamMaxLen || strings.ContainsAny(s, `"/\[]:;|=,+*?<>@`) || strings.HasSuffix(s, ".") {
			t.Errorf("%v: %q is not a valid sAMAccountName", attrs, s)
		}
		return s
	}
	u := func(nick, upn string) map[string]string {
		m := map[string]string{"userPrincipalName": upn}
		if nick != "" {
			m["mailNickname"] = nick
		}
		return m
	}
	long := strings.Repeat("a", 64)
	for _, c := range []struct {
		name  string
		attrs map[string]string
		taken []string
		want  string // "" = generated: starts with prefix
		pfx   string
	}{
		{name: "mailNickname", attrs: u("jdoe", "john.doe@contoso.com"), want: "jdoe"},
		{name: "exactly 20", attrs: u("abcdefghijklmnopqrst", "x@contoso.com"), want: "abcdefghijklmnopqrst"},
		{name: "accents are valid", attrs: u("zoë", "zoe@contoso.com"), want: "zoë"},
		{name: "no mailNickname: UPN prefix", attrs: u("", "mary.major@contoso.com"), want: "mary.major"},
		{name: "21 characters", attrs: u("abcdefghijklmnopqrstu", "y@contoso.com"), pfx: "abcdefghijklmno"},
		{name: "64 characters", attrs: u(long, "z@contoso.com"), pfx: strings.Repeat("a", 15)},
		{name: "forbidden characters", attrs: u("ann[it]", "ann@contoso.com"), pfx: "annit"},
		{name: "trailing period", attrs: u("ann.", "ann2@contoso.com"), pfx: "ann"},
		{name: "long with accents", attrs: u("Zoë-Ångström-Hernández", "zah@contoso.com"), pfx: "Zoe-Angstrom-He"},
		{name: "UPN prefix too long", attrs: u("", "christopher.alexander.long@contoso.com"), pfx: "christopher.ale"},
		{name: "taken", attrs: u("jdoe", "jane.doe@contoso.com"), taken: []string{"JDOE"}, pfx: "jdoe"},
		{name: "only forbidden characters", attrs: u("[[]]", "q@contoso.com")},
	} {
		got := eval(user, c.attrs, c.taken...)
		switch {
		case c.want != "" && got != c.want:
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		case c.want == "" && (!strings.HasPrefix(got, c.pfx) || got == c.attrs["mailNickname"] || len(got) != len(c.pfx)+5):
			t.Errorf("%s: %q, want %q and a 5-character suffix", c.name, got, c.pfx)
		}
		if again := eval(user, c.attrs, c.taken...); again != got {
			t.Errorf("%s: %q, then %q: not deterministic", c.name, got, again)
		}
	}
	// Three accounts with the same mailNickname: the first gets it, the
	// others generated names of their own.
	names := map[string]bool{}
	var taken []string
	for _, upn := range []string{"jdoe@contoso.com", "jdoe@fabrikam.com", "j.doe@contoso.com"} {
		got := eval(user, u("jdoe", upn), taken...)
		if names[strings.ToLower(got)] {
			t.Errorf("%s got %q, which another account has", upn, got)
		}
		names[strings.ToLower(got)] = true
		taken = append(taken, got)
	}
	if !names["jdoe"] || len(names) != 3 {
		t.Errorf("three jdoes got %v", names)
	}
	// When the first generated candidate is taken too, the next one.
	first := eval(user, u("jdoe", "jane@contoso.com"), "jdoe")
	second := eval(user, u("jdoe", "jane@contoso.com"), "jdoe", first)
	if second == first || !strings.HasPrefix(second, "jdoe") || len(second) != 12 {
		t.Errorf("with %q taken too: %q, want jdoe and an 8-character suffix", first, second)
	}
	// Groups: from displayName, spaces allowed.
	if got := eval(group, map[string]string{"displayName": "Sales EMEA"}); got != "Sales EMEA" {
		t.Errorf("group Sales EMEA: %q", got)
	}
	if got := eval(group, map[string]string{"displayName": "All employees of Contoso, Ltd."}); !strings.HasPrefix(got, "All employees o") || len(got) != 20 {
		t.Errorf("long group name: %q", got)
	}
}

// TestManagedDomainUAC: userAccountControl and groupType (R4.6, R4.7).
func TestManagedDomainUAC(t *testing.T) {
	uac, err := expr.Compile(UserAccountControl)
	if err != nil {
		t.Fatal(err)
	}
	gt, err := expr.Compile(GroupType)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		attrs model.Attrs
		want  string
	}{
		{model.Attrs{"accountEnabled": model.Values{Type: model.Boolean, Values: []string{"true"}}}, "512"},
		{model.Attrs{"accountEnabled": model.Values{Type: model.Boolean, Values: []string{"false"}}}, "514"},
		{model.Attrs{}, "512"},
		{model.Attrs{"accountEnabled": model.Values{Type: model.Boolean, Values: []string{"false"}}, "passwordPolicies": model.Str("DisableStrongPassword, DisablePasswordExpiration")}, "66050"},
		{model.Attrs{"passwordPolicies": model.Str("DisablePasswordExpiration")}, "66048"},
		{model.Attrs{"passwordPolicies": model.Str("DisableStrongPassword")}, "512"},
	} {
		r, err := uac.Eval(testEnv{c.attrs})
		if err != nil || len(r.Values.Values) != 1 || r.Values.Values[0] != c.want {
			t.Errorf("userAccountControl of %v = %v (%v), want %s", c.attrs, r.Values.Values, err, c.want)
		}
	}
	for v, want := range map[string]string{"true": "-2147483646", "false": "2"} {
		r, err := gt.Eval(testEnv{model.Attrs{"securityEnabled": model.Values{Type: model.Boolean, Values: []string{v}}}})
		if err != nil || len(r.Values.Values) != 1 || r.Values.Values[0] != want {
			t.Errorf("groupType of securityEnabled %s = %v (%v), want %s", v, r.Values.Values, err, want)
		}
	}
}

// namesEnv is an MV object, the values its object in the domain has
// (ImportedValue) and the values other objects of the domain have.
type namesEnv struct {
	testEnv
	imported model.Attrs
	taken    map[string]bool
}

func (e namesEnv) ImportedValue(n string) model.Values { return e.imported[n] }
func (e namesEnv) ValueExists(v string) (bool, error)  { return e.taken[strings.ToLower(v)], nil }

// TestManagedDomainNames: the cn (RDN) and the userPrincipalName a user or
// group gets in the domain (R4.4): the name itself when it is free and
// short enough (cn: 64 characters), else a shortened name and a hash of
// the object's key, always at most 64 characters, the same for the same
// input; an object keeps a generated name while its name stays the same.
func TestManagedDomainNames(t *testing.T) {
	compile := func(src string) rules.Compiled {
		t.Helper()
		c, err := expr.CompileDialect(src, expr.Provisioning)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		return c
	}
	userCN, groupCN, upn := compile(CommonName(`[userPrincipalName]`, UserKey)), compile(CommonName(`[displayName]`, GroupKey)), compile(UserPrincipalName(UserKey))
	hash := func(key string, n int) string {
		t.Helper()
		r, err := compile(fmt.Sprintf("ShortHash(%q, %d)", key, n)).Eval(testEnv{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Values.Values[0]
	}
	eval := func(c rules.Compiled, attrs, imported map[string]string, taken ...string) string {
		t.Helper()
		e := namesEnv{testEnv{model.Attrs{}}, model.Attrs{}, map[string]bool{}}
		for k, v := range attrs {
			e.a[k] = model.Str(v)
		}
		for k, v := range imported {
			e.imported[k] = model.Str(v)
		}
		for _, x := range taken {
			e.taken[strings.ToLower(x)] = true
		}
		r, err := c.Eval(e)
		if err != nil || len(r.Values.Values) != 1 {
			t.Fatalf("%v: %v %v", attrs, r.Values.Values, err)
		}
		return r.Values.Values[0]
	}
	u64 := strings.Repeat("a", 64-len("@contoso.com")) + "@contoso.com"
	u65 := "b" + u64
	g64, g70 := strings.Repeat("G", 64), strings.Repeat("H", 70)
	jdoe := map[string]string{"userPrincipalName": "jdoe@contoso.com", "sourceAnchor": "AAAA"}
	jdoeB := map[string]string{"userPrincipalName": "jdoe@contoso.com", "objectId": "b-1", "sourceAnchor": "BBBB"}
	for _, c := range []struct {
		name     string
		expr     rules.Compiled
		attrs    map[string]string
		imported map[string]string
		taken    []string
		want     string
	}{
		{"cn: the UPN", userCN, jdoe, nil, nil, "jdoe@contoso.com"},
		{"cn: exactly 64", userCN, map[string]string{"userPrincipalName": u64}, nil, nil, u64},
		{"cn: 65 characters", userCN, map[string]string{"userPrincipalName": u65, "objectId": "x1"}, nil, nil, u65[:56] + " (" + hash("x1", 5) + ")"},
		{"cn: taken (a second forest's jdoe)", userCN, jdoe, nil, []string{"JDOE@contoso.com"}, "jdoe@contoso.com (" + hash("AAAA", 5) + ")"},
		{"cn: key is objectId before sourceAnchor", userCN, jdoeB, nil, []string{"jdoe@contoso.com"}, "jdoe@contoso.com (" + hash("b-1", 5) + ")"},
		{"cn: the first generated one taken too", userCN, jdoe, nil, []string{"jdoe@contoso.com", "jdoe@contoso.com (" + hash("AAAA", 5) + ")"}, "jdoe@contoso.com (" + hash("AAAA#2", 8) + ")"},
		{"cn: a generated cn stays when the name is free again", userCN, jdoe, map[string]string{"cn": "jdoe@contoso.com (" + hash("AAAA", 5) + ")"}, nil, "jdoe@contoso.com (" + hash("AAAA", 5) + ")"},
		{"cn: another name: the old cn is no candidate", userCN, jdoe, map[string]string{"cn": "old@contoso.com"}, nil, "jdoe@contoso.com"},
		{"group cn: exactly 64", groupCN, map[string]string{"displayName": g64}, nil, nil, g64},
		{"group cn: 70", groupCN, map[string]string{"displayName": g70, "objectId": "g1"}, nil, nil, g70[:56] + " (" + hash("g1", 5) + ")"},
		{"group cn: taken", groupCN, map[string]string{"displayName": "Sales", "sourceAnchor": "S1"}, nil, []string{"sales"}, "Sales (" + hash("S1", 5) + ")"},
		{"upn: free", upn, jdoe, nil, nil, "jdoe@contoso.com"},
		{"upn: taken", upn, jdoe, nil, []string{"jdoe@contoso.com"}, "jdoe-" + hash("AAAA", 5) + "@contoso.com"},
		{"upn: generated stays", upn, jdoe, map[string]string{"userPrincipalName": "jdoe-" + hash("AAAA", 5) + "@contoso.com"}, nil, "jdoe-" + hash("AAAA", 5) + "@contoso.com"},
		{"upn: second candidate", upn, jdoe, nil, []string{"jdoe@contoso.com", "jdoe-" + hash("AAAA", 5) + "@contoso.com"}, "jdoe-" + hash("AAAA#2", 8) + "@contoso.com"},
	} {
		got := eval(c.expr, c.attrs, c.imported, c.taken...)
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if n := utf8.RuneCountInString(got); c.expr != upn && n > CNMaxLen {
			t.Errorf("%s: %q has %d characters, more than AD's %d", c.name, got, n, CNMaxLen)
		}
	}
}

// TestGeneratedNames: what `idsync managed-domain report` says of a domain
// object's names.
func TestGeneratedNames(t *testing.T) {
	long := strings.Repeat("x", 60) + "@contoso.com"
	for _, c := range []struct {
		name         string
		typ          string
		mv, domain   map[string]string
		wantAttrs    string // the attributes reported, in order
		reasonSubstr string
	}{
		{"nothing generated", "user", map[string]string{"userPrincipalName": "ann@contoso.com", "mailNickname": "ann"},
			map[string]string{"cn": "ann@contoso.com", "userPrincipalName": "ann@contoso.com", "sAMAccountName": "ann"}, "", ""},
		{"UPN of another forest", "user", map[string]string{"userPrincipalName": "jdoe@contoso.com"},
			map[string]string{"cn": "jdoe@contoso.com (abcde)", "userPrincipalName": "jdoe-abcde@contoso.com", "sAMAccountName": "jdoeabcde"}, "cn userPrincipalName sAMAccountName", "another object of the domain has it"},
		{"long UPN", "user", map[string]string{"userPrincipalName": long, "mailNickname": "x"},
			map[string]string{"cn": long[:56] + " (abcde)", "userPrincipalName": long, "sAMAccountName": "x"}, "cn", "longer than 64"},
		{"long nickname", "user", map[string]string{"userPrincipalName": "a@b.c", "mailNickname": strings.Repeat("n", 21)},
			map[string]string{"sAMAccountName": strings.Repeat("n", 15) + "abcde"}, "sAMAccountName", "longer than 20"},
		{"forbidden characters", "user", map[string]string{"userPrincipalName": "a@b.c", "mailNickname": "a[b]"},
			map[string]string{"sAMAccountName": "ababcde"}, "sAMAccountName", "cannot have"},
		{"not set yet", "user", map[string]string{"userPrincipalName": "a@b.c"}, map[string]string{}, "", ""},
		{"group", "group", map[string]string{"displayName": "Sales"},
			map[string]string{"cn": "Sales (abcde)", "sAMAccountName": "Sales"}, "cn", "another object"},
	} {
		mv, dom := model.Attrs{}, model.Attrs{}
		for k, v := range c.mv {
			mv[k] = model.Str(v)
		}
		for k, v := range c.domain {
			dom[k] = model.Str(v)
		}
		got := GeneratedNames(c.typ, "mv1", "CN=x", mv, dom)
		var attrs []string
		for _, g := range got {
			attrs = append(attrs, g.Attribute)
			if !strings.Contains(g.Reason, c.reasonSubstr) || g.Value != c.domain[g.Attribute] || g.MVID != "mv1" {
				t.Errorf("%s: %+v, want a reason with %q", c.name, g, c.reasonSubstr)
			}
		}
		if strings.Join(attrs, " ") != c.wantAttrs {
			t.Errorf("%s: reported %q, want %q", c.name, attrs, c.wantAttrs)
		}
	}
}
