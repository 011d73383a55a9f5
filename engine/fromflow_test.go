package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// fromFlowRules: hr projects persons; the app target joins existing users
// on the userName its own Expression flow computes (fromFlow), and
// provisions the others.
const fromFlowRules = `
rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: login, target: accountName}
      - {type: Direct, source: cn, target: displayName}
  - name: out-app
    connector: app
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    join: [{conditions: [{fromFlow: true, target: userName}]}]
    flows:
      - {type: Expression, expression: 'IIF(IsPresent([accountName]), [accountName] & "@example.com", Error("no account name"))', target: userName}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Constant, value: "true", targetType: boolean, target: active}
`

// TestOutboundJoinFromFlow: an outbound join on the value the rule's flow
// computes links the existing target object (not a duplicate) and exports
// only the attributes that differ; a flow error is an error on that object,
// which is left alone. Whole and targeted loading agree.
func TestOutboundJoinFromFlow(t *testing.T) {
	for _, l := range []Loading{LoadWhole, LoadTargeted} {
		t.Run(map[Loading]string{LoadWhole: "whole", LoadTargeted: "targeted"}[l], func(t *testing.T) {
			h := newHarness(t, fromFlowRules, "hr", "app")
			h.e.Loading = l
			app := h.conns["app"]
			app.Put(&model.Object{Anchor: "app-1", Type: "user", Attrs: model.Attrs{
				"userName": model.Str("alice@example.com"), "displayName": model.Str("Old Name"),
				"active": {Type: model.Boolean, Values: []string{"true"}}}})
			h.conns["hr"].Put(
				user("h1", "Alice", "", "", "login", "alice"),
				user("h2", "Bob", "", "", "login", "bob"),
				user("h3", "Carol", "", ""), // no login: the userName flow fails
			)
			h.run("app", FullImport)
			h.run("app", DeltaSync)
			h.run("hr", FullImport)
			r := h.run("hr", DeltaSync)
			if r.Counts.Errors != 1 {
				t.Fatalf("sync counts = %+v, want 1 error (carol)", r.Counts)
			}
			if errs := h.runErrors(r); len(errs) != 1 || !strings.Contains(errs[0].Message, "no account name") ||
				!strings.Contains(errs[0].Message, `rule "out-app"`) {
				t.Fatalf("run errors = %+v", errs)
			}
			if got := h.pending("app"); got["add"] != 1 || got["update"] != 1 || len(got) != 2 {
				t.Fatalf("pending = %v, want 1 add (bob) and 1 update (alice)\n%s", got, h.canonical())
			}
			if r := h.run("app", Export); r.Counts.Adds != 1 || r.Counts.Updates != 1 || r.Counts.Errors != 0 {
				t.Fatalf("export counts = %+v", r.Counts)
			}
			if app.Len() != 2 {
				t.Fatalf("target holds %d objects, want 2 (alice joined, bob added): %v", app.Len(), app.All())
			}
			var update connector.ExportOp
			for _, op := range app.Exported() {
				if op.Op == connector.OpUpdate {
					update = op
				}
			}
			if update.Anchor != "app-1" || len(update.Changes) != 1 || update.Changes[0].Name != "displayName" ||
				!slices.Equal(update.Changes[0].Values, []string{"Alice"}) {
				t.Fatalf("update sent = %+v, want only displayName of app-1", update)
			}
			// Confirmed: nothing more to export.
			h.run("app", FullImport)
			h.run("app", DeltaSync)
			h.run("hr", FullSync)
			if got := h.pending("app"); len(got) != 0 {
				t.Fatalf("pending after the confirming import = %v\n%s", got, h.canonical())
			}
			if app.Len() != 2 {
				t.Fatalf("target holds %d objects, want 2", app.Len())
			}
		})
	}
}
