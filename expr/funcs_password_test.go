package expr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// TestGeneratePassword: the length and the classes asked for, at least one
// character of each class and none of another, a new password at every
// evaluation, the same in both dialects; lengths outside 8–256 and unknown
// classes are errors; an expression calling it is volatile.
func TestGeneratePassword(t *testing.T) {
	env := testEnv{attrs: model.Attrs{"len": {Type: model.Integer, Values: []string{"12"}}}}
	classOf := func(r rune) string {
		for name, set := range passwordClasses {
			if strings.ContainsRune(set, r) {
				return name
			}
		}
		return "other"
	}
	for _, d := range []Dialect{SyncRules, Provisioning} {
		for _, c := range []struct {
			src     string
			length  int
			classes []string
			err     string
		}{
			{`GeneratePassword(16)`, 16, []string{"upper", "lower", "digit", "special"}, ""},
			{`GeneratePassword(8)`, 8, []string{"upper", "lower", "digit", "special"}, ""},
			{`GeneratePassword([len], "Upper", "lower", "DIGIT")`, 12, []string{"upper", "lower", "digit"}, ""},
			{`GeneratePassword(10, "digit")`, 10, []string{"digit"}, ""},
			{`GeneratePassword(256, "lower", "lower")`, 256, []string{"lower"}, ""},
			{`GeneratePassword(7)`, 0, nil, "between 8 and 256"},
			{`GeneratePassword(257)`, 0, nil, "between 8 and 256"},
			{`GeneratePassword(12, "emoji")`, 0, nil, `unknown character class "emoji"`},
			{`GeneratePassword("many")`, 0, nil, "argument 1"},
		} {
			x, err := CompileDialect(c.src, d)
			if err != nil {
				t.Fatalf("%s %s: %v", d, c.src, err)
			}
			if v, ok := x.(interface{ Volatile() bool }); !ok || !v.Volatile() {
				t.Errorf("%s %s: not volatile", d, c.src)
			}
			seen := map[string]bool{}
			for range 200 {
				r, err := x.Eval(env)
				if c.err != "" {
					if err == nil || !strings.Contains(err.Error(), c.err) {
						t.Fatalf("%s %s: error %v, want %q", d, c.src, err, c.err)
					}
					break
				}
				if err != nil {
					t.Fatalf("%s %s: %v", d, c.src, err)
				}
				p := r.Values.Values[0]
				if utf8.RuneCountInString(p) != c.length {
					t.Fatalf("%s %s = %q: %d characters, want %d", d, c.src, p, utf8.RuneCountInString(p), c.length)
				}
				have := map[string]bool{}
				for _, ch := range p {
					have[classOf(ch)] = true
				}
				for _, cl := range c.classes {
					if !have[cl] {
						t.Fatalf("%s %s = %q: no %s character", d, c.src, p, cl)
					}
					delete(have, cl)
				}
				if len(have) > 0 {
					t.Fatalf("%s %s = %q: characters of other classes %v", d, c.src, p, have)
				}
				if seen[p] && c.length >= 8 && len(c.classes) > 1 {
					t.Fatalf("%s %s gave %q twice", d, c.src, p)
				}
				seen[p] = true
			}
		}
	}
	if x, err := CompileDialect(`ShortHash("abc", 5)`, SyncRules); err != nil {
		t.Fatal(err)
	} else if v, ok := x.(interface{ Volatile() bool }); !ok || v.Volatile() {
		t.Errorf("ShortHash is volatile")
	}
}

// TestGeneratePasswordOnlyOnce: rules validation lets GeneratePassword
// only into outbound flows with applyOnce; elsewhere every synchronization
// would give the object a new password.
func TestGeneratePasswordOnlyOnce(t *testing.T) {
	const rule = `
rules:
  - name: r
    connector: %s
    direction: %s
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows:
      - {type: Expression, target: %s, expression: 'GeneratePassword(16)'%s}
`
	for _, c := range []struct {
		name, dir, target, once string
		ok                      bool
	}{
		{"outbound applyOnce", "outbound", "unicodePwd", ", applyOnce: true", true},
		{"outbound", "outbound", "unicodePwd", "", false},
		{"inbound", "inbound", "password", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := rules.Parse("r.yaml", []byte(fmt.Sprintf(rule, "dom", c.dir, c.target, c.once)))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := rules.Merge(f)
			if err != nil {
				t.Fatal(err)
			}
			errs := errors.Join(rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"dom": nil}})...)
			if c.ok && errs != nil {
				t.Fatalf("refused: %v", errs)
			}
			if !c.ok && (errs == nil || !strings.Contains(errs.Error(), "applyOnce: true")) {
				t.Fatalf("validation: %v, want a refusal naming applyOnce", errs)
			}
		})
	}
}
