package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/expr"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// The rule detail and the expression tester.

func (s *Server) rule(name string) *rules.Rule {
	rs := s.currentRules()
	if rs == nil {
		return nil
	}
	for _, r := range rs.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func (s *Server) pageRule(w http.ResponseWriter, r *http.Request, p *principal) {
	rule := s.rule(r.URL.Query().Get("name"))
	if rule == nil {
		s.fail(w, r, false, http.StatusNotFound, fmt.Sprintf("no sync rule is named %q", r.URL.Query().Get("name")))
		return
	}
	s.render(w, r, p, "rule", rule.Name, "rules", ruleView{Rule: rule, Edit: s.canConfigure(), FreePrecedence: s.freePrecedence()})
}

// ruleView is the rule detail page: the rule, whether the console can
// change rules, and a precedence below 100 no rule has (the clone form's
// default).
type ruleView struct {
	*rules.Rule
	Edit           bool
	FreePrecedence int
}

func (s *Server) freePrecedence() int {
	used := map[int]bool{}
	if rs := s.currentRules(); rs != nil {
		for _, r := range rs.Rules {
			used[r.Precedence] = true
		}
	}
	for n := config.MaxCustomPrecedence - 1; n > 0; n-- {
		if !used[n] {
			return n
		}
	}
	return 0
}

func (s *Server) apiRule(w http.ResponseWriter, r *http.Request, _ *principal) {
	rule := s.rule(r.URL.Query().Get("name"))
	if rule == nil {
		s.fail(w, r, true, http.StatusNotFound, fmt.Sprintf("no sync rule is named %q", r.URL.Query().Get("name")))
		return
	}
	writeJSON(w, http.StatusOK, rule)
}

// ExprResult is what the expression tester answers.
type ExprResult struct {
	Kind   string   `json:"kind"` // value, null, authoritative-null, ignore
	Type   string   `json:"type,omitempty"`
	Values []string `json:"values,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// evalExpr evaluates an expression of a dialect on attributes and
// parameters given as "name=value" lines (a name repeated is a
// multi-valued attribute).
func evalExpr(src, dialect, attrs, params string) ExprResult {
	d := expr.SyncRules
	switch dialect {
	case "", "sync":
	case "provisioning":
		d = expr.Provisioning
	default:
		return ExprResult{Error: fmt.Sprintf("unknown dialect %q (sync or provisioning)", dialect)}
	}
	env := expr.Object{Attrs: model.Attrs{}, Params: map[string]string{}}
	for line := range strings.SplitSeq(attrs, "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "="); ok && strings.TrimSpace(k) != "" {
			k = strings.TrimSpace(k)
			cur := env.Attrs[k]
			cur.Values = append(cur.Values, v)
			env.Attrs[k] = cur
		}
	}
	for line := range strings.SplitSeq(params, "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "="); ok {
			env.Params[strings.TrimSpace(k)] = v
		}
	}
	c, err := expr.CompileDialect(src, d)
	if err != nil {
		return ExprResult{Error: err.Error()}
	}
	res, err := c.Eval(env)
	if err != nil {
		return ExprResult{Error: err.Error()}
	}
	out := ExprResult{Kind: map[rules.ResultKind]string{rules.Value: "value", rules.Null: "null",
		rules.AuthoritativeNull: "authoritative-null", rules.IgnoreThisFlow: "ignore"}[res.Kind]}
	if res.Kind == rules.Value {
		out.Type, out.Values = res.Values.Type.String(), res.Values.Values
		if expr.IsRedacted(c) {
			out.Values = []string{"[Redact]"}
		}
	}
	return out
}

func (s *Server) pageExpr(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	data := map[string]any{"Expression": q.Get("expression"), "Dialect": q.Get("dialect"), "Attrs": q.Get("attrs"), "Params": q.Get("params")}
	if q.Get("expression") != "" {
		data["Result"] = evalExpr(q.Get("expression"), q.Get("dialect"), q.Get("attrs"), q.Get("params"))
	}
	s.render(w, r, p, "expr", "Expression tester", "rules", data)
}

func (s *Server) apiExpr(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	if q.Get("expression") == "" {
		s.fail(w, r, true, http.StatusBadRequest, "give the expression (and attrs, params as name=value lines, dialect sync or provisioning)")
		return
	}
	writeJSON(w, http.StatusOK, evalExpr(q.Get("expression"), q.Get("dialect"), q.Get("attrs"), q.Get("params")))
}
