package engine

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// ownDNRules: the app's objects are named by what a flow computes ({@cn}):
// the first cn no other object of the app has.
const ownDNRules = `
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
  - name: out-app
    connector: app
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={@cn},ou=app"
    flows:
      - {type: Direct, source: accountName, target: description}
      - type: Expression
        dialect: provisioning
        applyOnce: true
        expression: 'SelectUniqueValue([accountName], Join("", [accountName], "2"), Join("", [accountName], "3"))'
        target: cn
`

// TestOwnDNPlaceholder: a DN template's {@cn} is the value the rule's flow
// computes: a new object is named by the first free candidate (another
// object of the target has the first), the next one with the same name by
// the next candidate, whether they arrive in one synchronization or two;
// a changed value renames the object without sending cn (applyOnce); whole
// and targeted loading agree.
func TestOwnDNPlaceholder(t *testing.T) {
	for _, l := range []Loading{LoadWhole, LoadTargeted} {
		t.Run(map[Loading]string{LoadWhole: "whole", LoadTargeted: "targeted"}[l], func(t *testing.T) {
			h := newHarness(t, ownDNRules, "hr", "app")
			h.e.Loading = l
			app, hr := h.conns["app"], h.conns["hr"]
			app.Put(&model.Object{Anchor: "foreign", DN: "cn=jdoe,ou=app", Type: "user", Attrs: model.Attrs{"cn": model.Str("jdoe")}})
			hr.Put(user("h1", "John Doe", "", "", "login", "jdoe"))
			h.run("app", FullImport)
			h.run("app", DeltaSync)
			h.run("hr", FullImport)
			h.run("hr", DeltaSync)
			h.run("app", Export)
			dns := func() map[string]string {
				out := map[string]string{}
				for _, o := range app.All() {
					out[strings.ToLower(o.DN)] = o.Attrs.First("cn")
				}
				return out
			}
			if got := dns(); got["cn=jdoe2,ou=app"] != "jdoe2" || len(got) != 2 {
				t.Fatalf("the app holds %v, want cn=jdoe2 beside the foreign cn=jdoe", got)
			}
			// A second jdoe gets the third candidate.
			hr.Put(user("h2", "Jane Doe", "", "", "login", "jdoe"))
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			h.run("app", Export)
			if got := dns(); got["cn=jdoe3,ou=app"] != "jdoe3" || got["cn=jdoe2,ou=app"] != "jdoe2" || len(got) != 3 {
				t.Fatalf("the app holds %v, want jdoe2 and jdoe3 beside the foreign account", got)
			}
			h.run("app", FullImport)
			h.run("app", DeltaSync)
			h.run("hr", FullSync)
			if got := h.pending("app"); len(got) != 0 {
				t.Fatalf("pending after a confirming import and a full synchronization = %v\n%s", got, h.canonical())
			}
			// John's login changes: his object is renamed; cn is not sent
			// as a modification (applyOnce), the rename carries it.
			hr.Put(user("h1", "John Doe", "", "", "login", "john"))
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			var rename *store.PendingExport
			if err := h.st.ScanCSExports(h.ctx, "app", func(c *store.CSObject) error {
				if c.Pending != nil && c.Pending.NewDN != "" {
					rename = c.Pending
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if rename == nil || !strings.EqualFold(rename.NewDN, "cn=john,ou=app") {
				t.Fatalf("pending exports %v, want a rename to cn=john,ou=app\n%s", h.pending("app"), h.canonical())
			}
			for _, ch := range rename.Changes {
				if ch.Name == "cn" {
					t.Errorf("the rename also modifies cn: %+v", rename.Changes)
				}
			}
			h.run("app", Export)
			if got := dns(); got["cn=john,ou=app"] == "" || len(got) != 3 {
				t.Errorf("after the export the app holds %v, want cn=john", got)
			}
		})
	}
}
