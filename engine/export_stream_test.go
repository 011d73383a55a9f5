package engine

import (
	"fmt"
	"testing"

	"github.com/idsync/idsync/connector"
)

// TestExportStreams: an export of more pending exports than it holds in
// memory reads them again once per kind and sends them in the same order
// (plain adds, adds that reference others, updates, deletes) and all of
// them, journaled as always.
func TestExportStreams(t *testing.T) {
	for _, held := range []int64{exportHeld, 3} {
		t.Run(fmt.Sprint("held", held), func(t *testing.T) {
			defer func(v int64) { exportHeld = v }(exportHeld)
			exportHeld = held
			h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
			for i := range 12 {
				h.conns["ad"].Put(user(fmt.Sprint("a", i), fmt.Sprint("u", i), fmt.Sprintf("u%d@x", i), "", "employeeID", fmt.Sprint(i)))
			}
			h.conns["ad"].Put(group("g1", "staff", "cn=u1,ou=people,dc=example", "cn=u2,ou=people,dc=example"),
				group("g2", "ops", "cn=u3,ou=people,dc=example"))
			fullCycle(h, "ad")
			r := h.run("cloud", Export)
			if r.Counts.Adds != 14 || r.Counts.Errors != 0 {
				t.Fatalf("first export: %+v, want 14 adds", r.Counts)
			}
			ops := h.conns["cloud"].Exported()
			for i, op := range ops {
				isGroup := op.ObjectType == "group"
				if isGroup != (i >= 12) {
					t.Fatalf("export order: op %d is %s %s; want the 12 users before the 2 groups", i, op.ObjectType, op.DN)
				}
			}
			// Updates and a delete, then again in order.
			h.conns["ad"].Put(user("a1", "u1", "new1@x", "", "employeeID", "1"), user("a2", "u2", "new2@x", "", "employeeID", "2"))
			h.conns["ad"].Remove("a5")
			h.run("ad", DeltaImport)
			h.run("ad", DeltaSync)
			r = h.run("cloud", Export)
			if r.Counts.Updates != 2 || r.Counts.Deletes != 1 {
				t.Fatalf("second export: %+v, want 2 updates and 1 delete", r.Counts)
			}
			ops = h.conns["cloud"].Exported()[len(ops):]
			if len(ops) != 3 || ops[0].Op != connector.OpUpdate || ops[2].Op != connector.OpDelete {
				t.Fatalf("second export sent %v, want the updates, then the delete", ops)
			}
			if p := h.pending("cloud"); len(p) != 0 {
				t.Fatalf("pending after the exports: %v", p)
			}
		})
	}
}
