package engine

import (
	"testing"

	"github.com/idsync/idsync/model"
)

// uniqueValueRules: hr projects persons; the app gets a userName from
// SelectUniqueValue (provisioning dialect): the first candidate no other
// object of the app has.
const uniqueValueRules = `
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
    flows:
      - type: Expression
        dialect: provisioning
        expression: 'SelectUniqueValue(Join("", [accountName], "@example.com"), Join("", [accountName], "2@example.com"), Join("", [accountName], "3@example.com"))'
        target: userName
`

// TestSelectUniqueValue: SelectUniqueValue in an outbound flow skips the
// candidates another object of the target holds (an account idsync did not
// create, and one it provisioned earlier), case-insensitively, and an
// object keeps the value it has. Whole and targeted loading agree.
func TestSelectUniqueValue(t *testing.T) {
	for _, tc := range []struct {
		l      Loading
		unique bool
	}{{LoadWhole, true}, {LoadTargeted, true}, {LoadWhole, false}, {LoadTargeted, false}} {
		l := tc.l
		name := map[Loading]string{LoadWhole: "whole", LoadTargeted: "targeted"}[l]
		if !tc.unique {
			// userName is not a unique attribute: the lookups of a targeted
			// state find the candidates all the same.
			name += "-not-unique"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, uniqueValueRules, "hr", "app")
			h.e.Loading = l
			if tc.unique {
				h.e.Connectors["app"].Unique = []string{"userName"}
			}
			app, hr := h.conns["app"], h.conns["hr"]
			app.Put(&model.Object{Anchor: "foreign", Type: "user", Attrs: model.Attrs{"userName": model.Str("JDOE@example.com")}})
			hr.Put(user("h1", "John Doe", "", "", "login", "jdoe"))
			h.run("app", FullImport)
			h.run("app", DeltaSync)
			h.run("hr", FullImport)
			h.run("hr", DeltaSync)
			h.run("app", Export)
			userNames := func() map[string]bool {
				out := map[string]bool{}
				for _, o := range app.All() {
					out[o.Attrs.First("userName")] = true
				}
				return out
			}
			if got := userNames(); !got["jdoe2@example.com"] || len(got) != 2 {
				t.Fatalf("userNames in the app = %v, want jdoe2@example.com beside the foreign account", got)
			}
			// A second jdoe (another person with the same login) gets the
			// third candidate; the first keeps the value it has.
			hr.Put(user("h2", "Jane Doe", "", "", "login", "jdoe"))
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			h.run("app", Export)
			if got := userNames(); !got["jdoe2@example.com"] || !got["jdoe3@example.com"] || len(got) != 3 {
				t.Fatalf("userNames in the app = %v, want jdoe2 and jdoe3 beside the foreign account", got)
			}
			h.run("app", FullImport)
			h.run("app", DeltaSync)
			h.run("hr", FullSync)
			if got := h.pending("app"); len(got) != 0 {
				t.Fatalf("pending after a confirming import and a full synchronization = %v\n%s", got, h.canonical())
			}
		})
	}
}
