package expr_test

import (
	"strings"
	"testing"

	_ "github.com/idsync/idsync/expr" // registers the language
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// TestFlowDialect: a rule's Expression flow is compiled with the functions
// of its dialect; application rules use the provisioning dialect.
func TestFlowDialect(t *testing.T) {
	for _, tc := range []struct {
		dialect, expr, wantErr string
	}{
		{"", `Join([a], ",")`, ""},
		{"sync", `Join([a], ",")`, ""},
		{"provisioning", `SingleAppRoleAssignment([appRoleAssignments])`, ""},
		{"", `SingleAppRoleAssignment([appRoleAssignments])`, "SingleAppRoleAssignment"},
		{"sql", `[a]`, `unknown expression dialect "sql"`},
	} {
		r := &rules.Rule{Name: "r", Connector: "c", Direction: rules.Outbound, CSObjectType: "user", MVObjectType: "person",
			LinkType: rules.Provision, Flows: []rules.Flow{{Type: rules.Expression, Expression: tc.expr, Target: "x", Dialect: tc.dialect}}}
		err := r.Compile()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("dialect %q, %s: %v", tc.dialect, tc.expr, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("dialect %q, %s: error %v, want one naming %q", tc.dialect, tc.expr, err, tc.wantErr)
		}
		if err != nil {
			continue
		}
		got, err := r.Flows[0].Compiled().Eval(mapEnv{"a": model.Str("x", "y"), "appRoleAssignments": model.Str("Admin")})
		if err != nil || len(got.Values.Values) != 1 {
			t.Errorf("dialect %q, %s: eval = %v, %v", tc.dialect, tc.expr, got, err)
		}
	}
}

type mapEnv map[string]model.Values

func (m mapEnv) Attr(n string) model.Values          { return m[n] }
func (m mapEnv) ImportedValue(n string) model.Values { return m[n] }
func (mapEnv) Param(string) string                   { return "" }
