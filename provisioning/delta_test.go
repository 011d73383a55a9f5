package provisioning

import (
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// hrRules feed the metaverse from an HR source: persons and the group
// Sales, as a directory's rules would.
const hrRules = `
rules:
  - name: in-person
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: accountName, target: accountName}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: mail, target: mail}
  - name: in-group
    connector: hr
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: member, target: member}
`

// TestDeltaCycles: with the application's rules in the one rule set, a
// directory's delta synchronization stages the application's changes, and
// the next cycle only synchronizes the application by delta (what its own
// import changed) before exporting them; a change of the application's
// configuration makes the next cycle synchronize it fully.
func TestDeltaCycles(t *testing.T) {
	srv := peers.SCIM(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	a := parseApp(t, srv.URL, srv.Token, "", nil)
	conn := newConnector(t, a.SCIMConfig())

	hr := memory.New("hr")
	old := time.Now().Add(-time.Hour)
	hf, err := rules.Parse("hr.yaml", []byte(hrRules))
	if err != nil {
		t.Fatal(err)
	}
	newEngine := func(a *App) *engine.Engine {
		e := testEngine(t, a, st)
		rf, err := (&File{Path: "provisioning.yaml", Applications: []*App{a}}).RuleFile()
		if err != nil {
			t.Fatal(err)
		}
		if e.Rules, err = rules.Merge(hf, rf); err != nil {
			t.Fatal(err)
		}
		e.Connectors["hr"] = &engine.Connector{Name: "hr", Conn: hr, DeleteThreshold: -1}
		return e
	}
	hrObj := func(i int, dn string) *model.Object {
		p := person(i, old)
		return &model.Object{Anchor: p.ID, Type: "user", Attrs: model.Attrs{"accountName": p.Attrs["accountName"],
			"displayName": model.Str(dn), "department": p.Attrs["department"], "mail": p.Attrs["mail"]}}
	}
	for i := range 3 {
		hr.Put(hrObj(i, "User "+person(i, old).Attrs.First("accountName")))
	}
	hr.Put(&model.Object{Anchor: "g-sales", Type: "group", Attrs: model.Attrs{"displayName": model.Str("Sales"),
		"member": model.Ref("mv-u000", "mv-u001", "mv-u002")}})
	e := newEngine(a)
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		if _, err := e.Run(ctx, "hr", p, engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Run(ctx, e, a, Options{DataDir: dataDir})
	if err != nil || !r.FullSync || r.Created != 4 {
		t.Fatalf("first cycle: %v %+v, want a full synchronization creating 3 accounts and Sales", err, r)
	}
	if r, err := Run(ctx, e, a, Options{DataDir: dataDir}); err != nil || r.FullSync || r.Created+r.Updated+r.Errors != 0 {
		t.Fatalf("second cycle: %v %+v, want a delta synchronization with nothing to do", err, r)
	}

	// A rename in HR: the directory's delta synchronization stages it for
	// the application; the cycle exports it without a full synchronization.
	hr.Put(hrObj(1, "Renamed One"))
	for _, p := range []engine.Profile{engine.DeltaImport, engine.DeltaSync} {
		if _, err := e.Run(ctx, "hr", p, engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r, err = Run(ctx, e, a, Options{DataDir: dataDir})
	if err != nil || r.FullSync || r.Updated != 1 {
		t.Fatalf("cycle after the rename: %v %+v, want a delta synchronization and 1 update", err, r)
	}
	if got := serverUsers(t, conn)["u001@example.test"].Attrs.First("displayName"); got != "Renamed One" {
		t.Errorf("u001 displayName in the application = %q", got)
	}

	// The configuration changes (a mapping): the next cycle synchronizes
	// fully and sends the new value to every account.
	changed := parseApp(t, srv.URL, srv.Token, "", func(y string) string {
		return strings.Replace(y, "{target: displayName, source: displayName}", "{target: displayName, expression: 'ToUpper([displayName])'}", 1)
	})
	e = newEngine(changed)
	r, err = Run(ctx, e, changed, Options{DataDir: dataDir})
	if err != nil || !r.FullSync || r.Updated != 3 {
		t.Fatalf("cycle after the configuration change: %v %+v, want a full synchronization and 3 updates", err, r)
	}
}
