package expr

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`IIF([a], LCase([b]), Lcase([c]))`, `line 1, col 22: unknown function "Lcase" (did you mean "LCase"?)`},
		{`Lefft("abc", 1)`, `line 1, col 1: unknown function "Lefft" (did you mean "Left"?)`},
		{`Frobnicate(1)`, `line 1, col 1: unknown function "Frobnicate"`},
		{`Left("abc", 1`, `line 1, col 14: expected ',' or ')' in the arguments of Left, got end of expression`},
		{`(1 + 2`, `line 1, col 7: expected ')', got end of expression`},
		{`"abc`, `line 1, col 1: unterminated string literal`},
		{`[abc`, `line 1, col 1: unterminated attribute name`},
		{`%Domain.FQDN`, `line 1, col 1: unterminated parameter`},
		{`1 +`, `line 1, col 4: expected a value, got end of expression`},
		{`1 2`, `line 1, col 3: unexpected number after the end of the expression`},
		{`Left("a")`, `line 1, col 1: Left takes 2 arguments, got 1`},
		{`Mid("a")`, `line 1, col 1: Mid takes 2 to 3 arguments, got 1`},
		{`Switch(True, 1, False)`, `line 1, col 1: Switch: needs pairs of condition and value`},
		{`Select(item, [a], 1)`, `line 1, col 8: Select: the first argument must be a variable such as $item`},
		{`$item`, `line 1, col 1: variable $item is not defined here`},
		{`Select($x, $x, 1)`, `line 1, col 12: variable $x is not defined here`},
		{"IIF(True,\n  1,\n  nul)", `line 3, col 3: unknown name "nul" (did you mean "NULL"?)`},
		{`1 # 2`, `line 1, col 3: unexpected character '#'`},
		{`Left`, `line 1, col 1: function Left needs '(' and its arguments`},
		{`99999999999999999999`, `line 1, col 1: number 99999999999999999999 is out of range`},
		{`&H12345678901234567`, `out of range`},
		{`[]`, `empty attribute name`},
		{`12abc`, `unexpected character 'a' after number`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src)
		if err == nil {
			t.Errorf("%s: no error, want %q", tt.src, tt.want)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %T, want *SyntaxError", tt.src, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.src, err.Error(), tt.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	env := sampleUser()
	c, err := Compile(`IIF(IsPresent([x]), [x], Error("x is required"))`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Eval(env)
	var ue *UserError
	if !errors.As(err, &ue) || err.Error() != "x is required" {
		t.Errorf("Error(): got %v (%T)", err, err)
	}
	c, _ = Compile(`"prefix" & Left([givenName], "three")`)
	_, err = c.Eval(env)
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Col != 12 || !strings.Contains(err.Error(), `line 1, col 12: Left: argument 2: "three" is not a number`) {
		t.Errorf("eval error: got %v", err)
	}
}

func TestAttributes(t *testing.T) {
	c, err := Compile(`IIF(IsPresent([a]), [b] & ImportedValue("c"), ValueCount("d") + Count([a])) & Select($i, [e], $i) & %Domain.FQDN%`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Attributes(), []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("Attributes() = %v, want %v", got, want)
	}
}

func TestResultKinds(t *testing.T) {
	env := sampleUser()
	tests := []struct {
		src  string
		kind rules.ResultKind
		vals model.Values
	}{
		{`NULL`, rules.Null, model.Values{}},
		{`[missing]`, rules.Null, model.Values{}},
		{`AuthoritativeNull`, rules.AuthoritativeNull, model.Values{}},
		{`IgnoreThisFlow`, rules.IgnoreThisFlow, model.Values{}},
		{`"x"`, rules.Value, model.Str("x")},
		{`1+1`, rules.Value, model.Values{Type: model.Integer, Values: []string{"2"}}},
		{`1=1`, rules.Value, model.Values{Type: model.Boolean, Values: []string{"true"}}},
		{`CDate("2012-01-01")`, rules.Value, model.Values{Type: model.DateTime, Values: []string{"2012-01-01T00:00:00Z"}}},
		{`[objectGUID]`, rules.Value, model.Values{Type: model.Binary, Values: []string{mustHex("d4c3b2a1f6e58947abcdef0123456789")}}},
		{`CRef("CN=x")`, rules.Value, model.Ref("CN=x")},
		{`[otherPhone]`, rules.Value, model.Str("555-1234", "555-5678")},
	}
	for _, tt := range tests {
		c, err := Compile(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Eval(env)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if r.Kind != tt.kind || r.Values.Type != tt.vals.Type || !slices.Equal(r.Values.Values, tt.vals.Values) {
			t.Errorf("%s: got %+v, want kind %d %+v", tt.src, r, tt.kind, tt.vals)
		}
	}
}

func TestRegistered(t *testing.T) {
	l := rules.ExpressionLanguage()
	if l == nil {
		t.Fatal("no expression language registered")
	}
	c, err := l.Compile(`UCase("x")`)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Eval(sampleUser()); err != nil || r.Values.Values[0] != "X" {
		t.Errorf("got %v, %v", r, err)
	}
}

// TestPrecedence shows the grammar choice on the documented example and the
// out-of-box expression that needs comparisons to bind tighter than ||.
func TestPrecedence(t *testing.T) {
	env := sampleUser()
	for src, want := range map[string]string{
		`2*(5+3)`: "16",
		`2*5+3`:   "13",
		`IsPresent([sAMAccountName]) = False || [sAMAccountName] = "SUPPORT_388945a0"`: "false",
		`IsPresent([nope]) = False || [nope] = "SUPPORT_388945a0"`:                     "true",
	} {
		if got := evalString(src, env); got != want {
			t.Errorf("%s = %s, want %s", src, got, want)
		}
	}
	env.attrs["sAMAccountName"] = model.Str("SUPPORT_388945a0")
	if got := evalString(`IsPresent([sAMAccountName]) = False || [sAMAccountName] = "SUPPORT_388945a0"`, env); got != "true" {
		t.Errorf("SUPPORT account: got %s", got)
	}
}
