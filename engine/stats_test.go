package engine

import (
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// TestSyncStatistics: every object a synchronization processes is counted
// once, by what happened to it (Azure AD Connect's run statistics), and the
// pending exports it staged are counted per target.
func TestSyncStatistics(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	seedTwoSources(h)
	h.conns["hr"].Put(&model.Object{Anchor: "x1", DN: "cn=room,ou=people,dc=example", Type: "contact", Attrs: model.Attrs{"cn": model.Str("room")}})
	sync := func(conn string, p Profile) *store.SyncStats {
		t.Helper()
		r := h.run(conn, p)
		if r.Sync == nil {
			t.Fatalf("%s of %s has no statistics", p, conn)
		}
		// What the store reads back is what the run recorded.
		runs, err := h.st.Runs(h.ctx, store.RunFilter{Limit: 1})
		if err != nil || runs[0].Sync == nil || runs[0].Sync.Processed() != r.Sync.Processed() {
			t.Fatalf("run history: %v, %+v; want the run's statistics %+v", err, runs[0].Sync, r.Sync)
		}
		return r.Sync
	}
	inbound := func(st *store.SyncStats) [7]int64 {
		return [7]int64{st.Projections, st.Joins, st.FlowUpdates, st.NoFlowUpdates, st.Disconnectors, st.DeletedConnectors, st.MVDeletes}
	}
	outbound := func(st *store.SyncStats, conn string) store.OutboundStats {
		for _, o := range st.Outbound {
			if o.Connector == conn {
				return o
			}
		}
		return store.OutboundStats{Connector: conn}
	}
	h.run("hr", FullImport)
	st := sync("hr", FullSync)
	// projections, joins, flow updates, no flow updates, disconnectors, deleted, MV deletes
	if got, want := inbound(st), [7]int64{3, 0, 0, 0, 1, 0, 0}; got != want {
		t.Errorf("first sync of hr: %v, want %v", got, want)
	}
	if got := outbound(st, "cloud"); got.ProvisioningAdds != 2 { // Carol is out of the outbound scope
		t.Errorf("first sync of hr staged %+v, want 2 provisioning adds", got)
	}
	h.run("ad", FullImport)
	st = sync("ad", FullSync)
	if got, want := inbound(st), [7]int64{2, 2, 0, 0, 0, 0, 0}; got != want { // alice, bob join; dave, staff project
		t.Errorf("first sync of ad: %v, want %v", got, want)
	}
	h.run("cloud", Export)

	// Nothing changed: a delta sync processes nothing, a full sync finds
	// no flow update.
	if st = sync("hr", DeltaSync); st.Processed() != 0 {
		t.Errorf("delta sync without changes processed %+v", st)
	}
	if got, want := inbound(sync("hr", FullSync)), [7]int64{0, 0, 0, 3, 1, 0, 0}; got != want {
		t.Errorf("full sync without changes: %v, want %v", got, want)
	}

	// Bob changes department; Carol leaves HR.
	bob := h.conns["hr"].Get("h2")
	bob.Attrs["department"] = model.Str("Support")
	h.conns["hr"].Put(bob)
	h.conns["hr"].Remove("h3")
	h.run("hr", FullImport)
	st = sync("hr", DeltaSync)
	if got, want := inbound(st), [7]int64{0, 0, 1, 0, 0, 1, 1}; got != want {
		t.Errorf("delta sync after a change and a deletion: %v, want %v", got, want)
	}
	if got := outbound(st, "cloud"); got.ExportAttributeFlow != 1 || got.Deprovisioning != 0 {
		t.Errorf("delta sync staged %+v, want Bob's attribute flow (Carol was never exported)", got)
	}
}
