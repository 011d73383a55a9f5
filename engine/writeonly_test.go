package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// writeOnlyRules flow a source's pwd into the metaverse's password and on
// into the target's unicodePwd.
const writeOnlyRules = `
rules:
  - name: in
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: pwd, target: password}
  - name: out
    connector: dom
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 2
    dn: "cn={employeeID},ou=users,dc=dom"
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: password, target: unicodePwd}
`

// undeclared is a memory connector that hides its write-only attributes
// without declaring them.
type undeclared struct{ c *memory.Connector }

func (u undeclared) Close() error { return u.c.Close() }
func (u undeclared) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	return u.c.FullImport(ctx, req, emit)
}
func (u undeclared) DeltaImport(ctx context.Context, req connector.ImportRequest, wm string, emit func(connector.Change) error) (string, error) {
	return u.c.DeltaImport(ctx, req, wm, emit)
}
func (u undeclared) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	return u.c.Export(ctx, ops)
}

// pwdOps returns, for every export op the target received since the
// first n, the object's DN and the unicodePwd it carried.
func pwdOps(ops []connector.ExportOp, n int) []string {
	var out []string
	for _, op := range ops[n:] {
		for _, ch := range op.Changes {
			if ch.Name == "unicodePwd" {
				out = append(out, fmt.Sprintf("%s %s %s %q", op.Op, op.DN, ch.Mode, ch.Values))
			}
		}
	}
	return out
}

// TestWriteOnlyAttribute: a target attribute the connector declares
// write-only (AD's unicodePwd) is exported when the object is created and
// when its desired value changes, never again because the target's import
// does not return it, and its removal is never exported — whole and
// targeted, full and delta. Without the declaration the same target
// re-exports the value after every import (what the declaration prevents).
func TestWriteOnlyAttribute(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loading   Loading
		sync      Profile
		writeOnly bool
	}{
		{"whole/full-sync", LoadWhole, FullSync, true},
		{"whole/delta-sync", LoadWhole, DeltaSync, true},
		{"targeted/delta-sync", LoadTargeted, DeltaSync, true},
		{"targeted/full-sync", LoadTargeted, FullSync, true},
		{"not-declared", LoadWhole, DeltaSync, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, writeOnlyRules, "hr", "dom")
			h.e.Loading = tc.loading
			dom := h.conns["dom"]
			dom.SetWriteOnly("unicodepwd") // names compare without case
			if !tc.writeOnly {
				// The target hides the attribute, the connector does not
				// say so.
				h.e.Connectors["dom"].Conn = undeclared{dom}
			}
			hr := h.conns["hr"]
			hr.Put(user("a", "ann", "", "", "employeeID", "1", "pwd", "Ann-Pa55-1"),
				user("b", "bob", "", "", "employeeID", "2"))
			cycle := func() {
				t.Helper()
				for _, c := range []string{"hr", "dom"} {
					h.run(c, DeltaImport)
					h.run(c, tc.sync)
				}
				h.run("dom", Export)
			}
			cycle()
			want := []string{`add cn=1,ou=users,dc=dom replace ["Ann-Pa55-1"]`}
			if got := pwdOps(dom.Exported(), 0); !slices.Equal(got, want) {
				t.Fatalf("first cycle sent %q, want %q", got, want)
			}
			if got := dom.GetByDN("cn=1,ou=users,dc=dom").Attrs["unicodePwd"].Values; !slices.Equal(got, []string{"Ann-Pa55-1"}) {
				t.Fatalf("the target holds %q", got)
			}
			// Two more cycles (the domain's import confirms the add):
			// nothing to send.
			n := len(dom.Exported())
			cycle()
			cycle()
			got := pwdOps(dom.Exported(), n)
			if !tc.writeOnly {
				if len(got) == 0 {
					t.Fatalf("an attribute not declared write-only was not re-exported: the test cannot tell the difference")
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("cycles without a change sent %q (a re-export loop)", got)
			}
			if p := h.pending("dom"); len(p) != 0 {
				t.Fatalf("pending exports without a change: %v", p)
			}
			// A new password is sent once.
			hr.Put(user("a", "ann", "", "", "employeeID", "1", "pwd", "Ann-Pa55-2"))
			n = len(dom.Exported())
			cycle()
			cycle()
			want = []string{`update cn=1,ou=users,dc=dom replace ["Ann-Pa55-2"]`}
			if got := pwdOps(dom.Exported(), n); !slices.Equal(got, want) {
				t.Fatalf("after a change: sent %q, want %q", got, want)
			}
			// The password leaves the source: the target keeps its own,
			// nothing is sent.
			hr.Put(user("a", "ann", "", "", "employeeID", "1"))
			n = len(dom.Exported())
			cycle()
			if got := pwdOps(dom.Exported(), n); len(got) != 0 {
				t.Fatalf("a removed password sent %q", got)
			}
			if got := dom.GetByDN("cn=1,ou=users,dc=dom").Attrs["unicodePwd"].Values; !slices.Equal(got, []string{"Ann-Pa55-2"}) {
				t.Fatalf("the target holds %q after the source dropped the password", got)
			}
			// The connector space never took the import's word for it: it
			// keeps what was exported (sealed by the store wrapper in
			// production), and a full import changes nothing.
			h.run("dom", FullImport)
			r := h.run("dom", FullSync)
			if p := h.pending("dom"); len(p) != 0 || r.Counts.Errors != 0 {
				t.Fatalf("after a full import and synchronization: pending %v, errors %d", p, r.Counts.Errors)
			}
			var held []string
			if err := h.st.ScanCS(h.ctx, "dom", func(c *store.CSObject) error {
				held = append(held, c.Object.Attrs["unicodePwd"].Values...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(held, []string{"Ann-Pa55-2"}) {
				t.Errorf("the domain's connector space holds the passwords %q, want the last exported one", held)
			}
		})
	}
}
