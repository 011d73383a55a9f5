package engine

import (
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// TestExportOnly: an export restricted to one metaverse object (on-demand
// provisioning) creates its object and puts it in its groups — creating a
// group that does not exist yet with only that member — and leaves every
// other change pending; the next export sends the rest, and a confirming
// import finds the target as a full export would have made it.
func TestExportOnly(t *testing.T) {
	h := newHarness(t, disableRules, "hr", "cloud")
	hr, cloud := h.conns["hr"], h.conns["cloud"]
	hr.Put(user("h1", "alice", "", "Sales", "employeeID", "1"), user("h2", "bob", "", "IT", "employeeID", "2"),
		group("g1", "staff", "cn=alice,ou=people,dc=example", "cn=bob,ou=people,dc=example"))
	h.run("hr", FullImport)
	h.run("hr", FullSync)
	alice := ""
	if err := h.e.Store.ScanMV(t.Context(), func(m *store.MVObject) error {
		if m.Attrs.First("employeeID") == "1" {
			alice = m.ID
		}
		return nil
	}); err != nil || alice == "" {
		t.Fatalf("alice's MV object: %q %v", alice, err)
	}
	if _, err := h.e.Run(t.Context(), "cloud", Export, RunOptions{Only: []string{alice}}); err != nil {
		t.Fatal(err)
	}
	if o := cloud.GetByDN("cn=1,ou=users,dc=cloud"); o == nil {
		t.Fatal("alice was not created")
	}
	if o := cloud.GetByDN("cn=2,ou=users,dc=cloud"); o != nil {
		t.Fatalf("bob was created by an export restricted to alice: %+v", o)
	}
	if g := cloud.GetByDN("cn=staff,ou=groups,dc=cloud"); g == nil || !g.Attrs["member"].Equal(model.Ref("cn=1,ou=users,dc=cloud")) {
		t.Fatalf("staff = %+v, want it created with alice only", g)
	}
	if got := h.pending("cloud"); got["add"] != 1 || got["update"] != 1 || len(got) != 2 {
		t.Fatalf("pending = %v, want bob's add and the group's update (bob)", got)
	}
	h.run("cloud", Export)
	if g := cloud.GetByDN("cn=staff,ou=groups,dc=cloud"); g == nil || !g.Attrs["member"].Equal(model.Ref("cn=1,ou=users,dc=cloud", "cn=2,ou=users,dc=cloud")) {
		t.Fatalf("staff after the full export = %+v", g)
	}
	h.run("cloud", FullImport)
	h.run("cloud", DeltaSync)
	if got := h.pending("cloud"); len(got) != 0 {
		t.Fatalf("pending after the confirming import = %v\n%s", got, h.canonical())
	}

	// Bob leaves the group: an export restricted to him takes him out of
	// it (his account stays: the scope is the department).
	hr.Put(group("g1", "staff", "cn=alice,ou=people,dc=example"), user("h1", "alice", "", "Marketing", "employeeID", "1"))
	h.run("hr", DeltaImport)
	h.run("hr", DeltaSync)
	bob := ""
	_ = h.e.Store.ScanMV(t.Context(), func(m *store.MVObject) error {
		if m.Attrs.First("employeeID") == "2" {
			bob = m.ID
		}
		return nil
	})
	if _, err := h.e.Run(t.Context(), "cloud", Export, RunOptions{Only: []string{bob}}); err != nil {
		t.Fatal(err)
	}
	if g := cloud.GetByDN("cn=staff,ou=groups,dc=cloud"); !g.Attrs["member"].Equal(model.Ref("cn=1,ou=users,dc=cloud")) {
		t.Fatalf("staff = %+v, want bob removed", g)
	}
	if got := h.pending("cloud"); len(got) != 0 {
		t.Fatalf("pending = %v, want nothing (alice's department is not exported)", got)
	}
}
