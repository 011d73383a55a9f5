package rules

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

// subject is a Subject for tests.
type subject struct {
	attrs  map[string][]string
	groups []string
}

func (s subject) Attr(name string) model.Values { return model.Values{Values: s.attrs[name]} }

func (s subject) MemberOf(group string) bool {
	for _, g := range s.groups {
		if g == group {
			return true
		}
	}
	return false
}

// fakeLang is a stand-in expression language: it checks that brackets
// balance and reports the [attr] references as the attributes read.
type fakeLang struct{}

type fakeCompiled struct{ attrs []string }

var attrRef = regexp.MustCompile(`\[([^\]]+)\]`)

func (fakeLang) Compile(src string) (Compiled, error) {
	if strings.Count(src, "(") != strings.Count(src, ")") {
		return nil, errors.New("unbalanced parentheses")
	}
	var c fakeCompiled
	for _, m := range attrRef.FindAllStringSubmatch(src, -1) {
		c.attrs = append(c.attrs, m[1])
	}
	return c, nil
}

func (c fakeCompiled) Eval(Env) (Result, error) { return Result{Kind: Null}, nil }
func (c fakeCompiled) Attributes() []string     { return c.attrs }

// withLanguage registers l for the duration of the test.
func withLanguage(t *testing.T, l Language) {
	t.Helper()
	prev := ExpressionLanguage()
	SetExpressionLanguage(l)
	t.Cleanup(func() { SetExpressionLanguage(prev) })
}

func schema(objectType string, attrs ...string) *model.Schema {
	ots := model.ObjectTypeSchema{Name: objectType}
	for _, a := range attrs {
		ots.Attributes = append(ots.Attributes, model.AttributeSchema{Name: a})
	}
	return &model.Schema{ObjectTypes: []model.ObjectTypeSchema{ots}}
}

// testEnv is the environment the testdata files are validated against.
func testEnv() ValidateEnv {
	return ValidateEnv{
		Connectors: map[string]*model.Schema{
			"hr": schema("worker", "employeeNumber", "givenName", "sn", "mail",
				"department", "c", "userAccountControl", "title"),
			"target": schema("inetOrgPerson", "employeeNumber", "cn", "sn", "active",
				"mail", "givenName", "displayName"),
			"ad":  nil, // schema unknown
			"aad": nil,
		},
		MVSchema: schema("person", "employeeID", "givenName", "sn", "displayName",
			"sourceSystem", "proxyAddresses", "mail", "cloudFiltered"),
	}
}
