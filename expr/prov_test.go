package expr

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

// TestDialectSignatures checks that the same name resolves to a different
// function in each dialect.
func TestDialectSignatures(t *testing.T) {
	env := provUser()
	for _, tc := range []struct{ src, sync, prov string }{
		{`Join([otherPhone], ";")`, `"555-1234;555-5678"`, `error: Join: argument 1: expected a single value`},
		{`Join(";", [otherPhone], "x")`, `error: Join takes 1 to 2 arguments, got 3`, `"555-1234;555-5678;x"`},
		{`Join("-", "a")`, `"-"`, `"a"`},
		{`Switch([state], "default", "QLD", "Brisbane")`, `error: Switch`, `"Brisbane"`},
		{`Switch([state] = "QLD", "yes", True, "no")`, `"yes"`, `"no"`},
		{`Replace("a-b", "-", "+")`, `"a+b"`, `error: Replace: takes oldValue with replacementValue or template`},
		{`Replace("a-b", "-", , , "+", , )`, `error: expected a value, got ','`, `"a+b"`},
		{`FormatDateTime(CDate("2012-03-16"), "yyyy")`, `"2012"`, `error: FormatDateTime takes 3 to 4 arguments, got 2`},
		{`LCase("X")`, `"x"`, `error: unknown function "LCase"`},
		{`ToLower("X")`, `error: unknown function "ToLower"`, `"x"`},
		{`CDate("2012-03-16")`, `dt 2012-03-16T00:00:00Z`, `"3/16/2012 12:00:00 AM"`},
	} {
		if got := evalStringDialect(tc.src, SyncRules, env); !matches(got, tc.sync) {
			t.Errorf("sync %s\n got: %s\nwant: %s", tc.src, got, tc.sync)
		}
		if got := evalStringDialect(tc.src, Provisioning, env); !matches(got, tc.prov) {
			t.Errorf("provisioning %s\n got: %s\nwant: %s", tc.src, got, tc.prov)
		}
	}
}

func matches(got, want string) bool {
	if w, ok := strings.CutPrefix(want, "error: "); ok {
		return strings.HasPrefix(got, "error: ") && strings.Contains(got, w)
	}
	return got == want
}

func TestCompileDialectAPI(t *testing.T) {
	a, err := Compile(`Join([otherPhone], ";")`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CompileDialect(`Join([otherPhone], ";")`, SyncRules)
	if err != nil {
		t.Fatal(err)
	}
	env := sampleUser()
	if render(a.Eval(env)) != render(b.Eval(env)) {
		t.Error("Compile and CompileDialect(SyncRules) differ")
	}
	if _, err := CompileDialect(`"x"`, Dialect(7)); err == nil {
		t.Error("unknown dialect: no error")
	}
	var se *SyntaxError
	if _, err := CompileDialect(`Append("a",`, Provisioning); !errors.As(err, &se) {
		t.Errorf("syntax error: got %T %v, want *SyntaxError", err, err)
	}
	if SyncRules.String() != "sync" || Provisioning.String() != "provisioning" {
		t.Error("Dialect.String")
	}
}

func TestRedacted(t *testing.T) {
	for src, want := range map[string]bool{
		`Redact([userPrincipalName])`:                      true,
		`Append(Redact(RandomString(6, 3, 0, 0, 3)), "x")`: true,
		`Append([userPrincipalName], "x")`:                 false,
	} {
		c, err := CompileDialect(src, Provisioning)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsRedacted(c); got != want {
			t.Errorf("IsRedacted(%s) = %v, want %v", src, got, want)
		}
	}
	c, _ := Compile(`"x"`)
	if IsRedacted(c) {
		t.Error("sync expression redacted")
	}
}

func TestRandomString(t *testing.T) {
	c, err := CompileDialect(`RandomString(10, 2, 2, 2, 1, "?,")`, Provisioning)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 200 {
		r, err := c.Eval(provUser())
		if err != nil {
			t.Fatal(err)
		}
		s := r.Values.Values[0]
		var digits, special, upper, lower int
		for _, ch := range s {
			switch {
			case unicode.IsDigit(ch):
				digits++
			case unicode.IsUpper(ch):
				upper++
			case unicode.IsLower(ch):
				lower++
			default:
				special++
			}
		}
		if len([]rune(s)) != 10 || digits < 2 || special < 2 || upper < 2 || lower < 1 || strings.ContainsAny(s, "?,") {
			t.Fatalf("RandomString gave %q", s)
		}
		seen[s] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct random strings of 200", len(seen))
	}
}

// uniqueEnv is provUser with a target that already holds some values.
type uniqueEnv struct {
	testEnv
	taken map[string]bool
	err   error
}

func (e uniqueEnv) ValueExists(v string) (bool, error) { return e.taken[v], e.err }

func TestSelectUniqueValue(t *testing.T) {
	src := `SelectUniqueValue(Join("@", Join(".", [givenName], [sn]), "contoso.com"), ` +
		`Join("@", Join(".", Mid([givenName], 1, 1), [sn]), "contoso.com"), ` +
		`Join("@", Join(".", Mid([givenName], 1, 2), [sn]), "contoso.com"))`
	env := uniqueEnv{testEnv: provUser(), taken: map[string]bool{}}
	for _, tc := range []struct{ take, want string }{
		{"", `"John.Doe@contoso.com"`},
		{"John.Doe@contoso.com", `"J.Doe@contoso.com"`},
		{"J.Doe@contoso.com", `"Jo.Doe@contoso.com"`},
		{"Jo.Doe@contoso.com", `error: no unique value`},
	} {
		env.taken[tc.take] = true
		if got := evalStringDialect(src, Provisioning, env); !matches(got, tc.want) {
			t.Errorf("taken %v: got %s, want %s", env.taken, got, tc.want)
		}
	}
	env.err = errors.New("target down")
	if got := evalStringDialect(src, Provisioning, env); !matches(got, "error: target down") {
		t.Errorf("checker error: got %s", got)
	}
}

func TestGuidAndNow(t *testing.T) {
	env := provUser()
	if got := evalStringDialect(`Guid()`, Provisioning, env); len(got) != 38 {
		t.Errorf("Guid() = %s", got)
	}
	got := evalStringDialect(`Now()`, Provisioning, env)
	if !strings.HasSuffix(got, `M"`) || !strings.Contains(got, "/") {
		t.Errorf("Now() = %s, want M/d/yyyy h:mm:ss tt", got)
	}
}
