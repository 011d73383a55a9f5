package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseRules: Parse must never panic, and what it accepts must survive
// Merge and Validate without panicking either.
func FuzzParseRules(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "rules:", "rules: [{}]", "disable: [x]", "- a", "rules:\n  - &a {name: x}\n  - *a\n",
		"rules:\n  - <<: {name: x}\n    name: y\n", "rules:\n  - name: x\n    scope: [{clauses: [{operator: isin}]}]\n",
		"rules: !!map {}", "{rules: [{name: x, precedence: 0x7fffffffffffffff}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		rs, err := Merge(file)
		if err != nil {
			return
		}
		rs.Validate(testEnv())
		for _, r := range rs.Rules {
			r.Scope.Match(subject{attrs: map[string][]string{"a": {"1"}}})
		}
	})
}

// FuzzScopeMatch: any operator, operand and attribute values must evaluate
// without panicking, prepared or not, with the same result.
func FuzzScopeMatch(f *testing.F) {
	for _, op := range Operators {
		f.Add(string(op), "512", "2", "x;y")
		f.Add(string(op), "Sales", "sales", "")
	}
	f.Add("ISBITSET", "abc", "0xFFFFFFFFFFFFFFFF", "")
	f.Add("LESSTHAN", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "")
	f.Add("GREATERTHAN", "-9223372036854775808", "9223372036854775807", "")
	f.Add("STARTSWITH", "\u212Aelvin", "k\xff", "")
	f.Fuzz(func(t *testing.T, op, value, operand, second string) {
		c := Clause{Attribute: "a", Operator: Operator(op), Value: operand}
		s := subject{attrs: map[string][]string{"a": {value, second}}}
		if second == "" {
			s.attrs["a"] = []string{value}
		}
		got, err := c.Match(s)
		if c.prepare() != nil {
			return
		}
		got2, err2 := c.Match(s)
		if got != got2 || (err == nil) != (err2 == nil) {
			t.Fatalf("unprepared %v, %v; prepared %v, %v", got, err, got2, err2)
		}
	})
}

// FuzzExpandDN checks that DN templates never panic, and that a value
// substituted into a placeholder always ends up escaped: the expanded DN of
// "cn={v},dc=x" has exactly one unescaped comma, whatever v holds.
func FuzzExpandDN(f *testing.F) {
	for _, s := range []struct{ tmpl, v string }{
		{"cn={cn},ou=people,dc=example", "Smith, John"},
		{"cn={{literal}},{cn}", "#lead"},
		{"{cn}", " trailing "},
		{"cn={cn", "x"},
		{"cn={},dc=x", "x"},
	} {
		f.Add(s.tmpl, s.v)
	}
	f.Fuzz(func(t *testing.T, tmpl, v string) {
		attr := func(string) (string, bool) { return v, v != "" }
		_, _ = ExpandDN(tmpl, attr)
		if v == "" {
			return
		}
		dn, err := ExpandDN("cn={v},dc=x", attr)
		if err != nil {
			t.Fatalf("ExpandDN of a plain template: %v", err)
		}
		unescaped := 0
		for i := 0; i < len(dn); i++ {
			switch dn[i] {
			case '\\':
				i++ // skip the escaped byte (or the first of two hex digits)
			case ',':
				unescaped++
			}
		}
		if unescaped != 1 {
			t.Fatalf("value %q broke out of its RDN: %q", v, dn)
		}
	})
}
