package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/store"
)

// TestOnExport: OnExport reports every export outcome the engine records —
// adds, updates, deletes (the CS object removed), errors from the target and
// exports refused before sending — with the operation as sent.
func TestOnExport(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	var events []ExportEvent
	h.e.OnExport = func(ev ExportEvent) { events = append(events, ev) }
	seedTwoSources(h)
	fullCycle(h, "hr", "ad", "cloud")
	export := func() (*store.Run, []ExportEvent) {
		t.Helper()
		events = nil
		return h.run("cloud", Export), events
	}
	resync := func() {
		h.run("hr", FullImport)
		h.run("hr", DeltaSync)
	}

	r, evs := export()
	if len(evs) != 4 {
		t.Fatalf("add events = %+v, want 4", evs)
	}
	var alice ExportEvent
	for _, ev := range evs {
		if ev.Op != connector.OpAdd || ev.Err != nil || ev.Run != r.ID || ev.Connector != "cloud" || ev.CSID == "" || ev.MVID == "" || ev.Anchor == "" {
			t.Errorf("add event = %+v", ev)
		}
		if ev.DN == "cn=1,ou=users,dc=cloud" {
			alice = ev
		}
	}
	if alice.Rule != "out-person" || alice.ObjectType != "user" || !slices.ContainsFunc(alice.Changes, func(c connector.AttrChange) bool {
		return c.Name == "displayName" && slices.Equal(c.Values, []string{"alice"})
	}) {
		t.Fatalf("alice's add = %+v", alice)
	}
	if o := h.conns["cloud"].GetByDN(alice.DN); o == nil || o.Anchor != alice.Anchor {
		t.Fatalf("the target's object %+v, want anchor %s", o, alice.Anchor)
	}

	// An update: only the changed attribute, as sent.
	h.conns["hr"].Put(user("h1", "Alice Hr", "alice@hr", "IT", "employeeID", "1"))
	resync()
	_, evs = export()
	if len(evs) != 1 || evs[0].Op != connector.OpUpdate || evs[0].Err != nil || evs[0].CSID != alice.CSID || evs[0].MVID != alice.MVID ||
		len(evs[0].Changes) != 1 || evs[0].Changes[0].Name != "department" || !slices.Equal(evs[0].Changes[0].Values, []string{"IT"}) {
		t.Fatalf("update events = %+v", evs)
	}

	// The target refuses one.
	h.conns["hr"].Put(user("h1", "Alice Hr", "alice@hr", "Sales", "employeeID", "1"))
	resync()
	h.conns["cloud"].FailNext(1, errors.New("target says no"))
	r, evs = export()
	if r.Counts.Errors != 1 || len(evs) != 1 || evs[0].Op != connector.OpUpdate || evs[0].Err == nil ||
		!strings.Contains(evs[0].Err.Error(), "target says no") || evs[0].CSID != alice.CSID {
		t.Fatalf("error events = %+v (run errors %d)", evs, r.Counts.Errors)
	}

	// The engine refuses one before sending it (the target's limits).
	h.e.Connectors["cloud"].Limits.MaxStringBytes = 3
	_, evs = export()
	if len(evs) != 1 || evs[0].Op != connector.OpUpdate || evs[0].Err == nil || !strings.Contains(evs[0].Err.Error(), "not sent") {
		t.Fatalf("refused events = %+v", evs)
	}
	h.e.Connectors["cloud"].Limits.MaxStringBytes = 0
	if _, evs = export(); len(evs) != 1 || evs[0].Err != nil {
		t.Fatalf("retried update events = %+v", evs)
	}

	// A delete: alice leaves the scope.
	h.conns["hr"].Put(user("h1", "Alice Hr", "alice@hr", "Excluded", "employeeID", "1"))
	resync()
	_, evs = export()
	var del []ExportEvent
	for _, ev := range evs {
		if ev.Op == connector.OpDelete {
			del = append(del, ev)
		}
	}
	if len(del) != 1 || del[0].Err != nil || del[0].CSID != alice.CSID || del[0].DN != alice.DN || del[0].Rule != "out-person" {
		t.Fatalf("delete events = %+v (all: %+v)", del, evs)
	}
	if h.conns["cloud"].GetByDN(alice.DN) != nil {
		t.Fatalf("alice is still in the target")
	}
}
