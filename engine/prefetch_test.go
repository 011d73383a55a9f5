package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/store"
)

// keyLookups counts the one-key lookups of DNs (CSByKey with a DN key)
// and of MV values (MVByKey), and passes everything, batch reads included,
// to the store under it.
type keyLookups struct {
	store.Store
	store.BatchReader
	one, mv atomic.Int64
}

func (d *keyLookups) MVByKey(ctx context.Context, mvType, key string) ([]string, error) {
	d.mv.Add(1)
	return d.Store.MVByKey(ctx, mvType, key)
}

func (d *keyLookups) CSByKey(ctx context.Context, conn, key string) ([]string, error) {
	if strings.HasPrefix(key, "dn\x00") {
		d.one.Add(1)
	}
	return d.Store.CSByKey(ctx, conn, key)
}

// TestPartsLookUpKeysInBatches: a synchronization in parts that provisions
// objects to a target asks whether their DNs are taken in one batch per
// part (prefetchDNKeys), not once per object (outLink's byDN), and still
// refuses a DN that another object of the target has. So are the values
// of a target's unique attribute that other MV objects may share
// (uniquePeers), and the join values (prefetchJoins).
func TestPartsLookUpKeysInBatches(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Loading = LoadChunked
	h.e.SyncChunk = 10
	h.e.Connectors["cloud"].Unique = []string{"mail"}
	for i := range 40 {
		h.conns["hr"].Put(user(fmt.Sprintf("h%03d", i), fmt.Sprintf("P %03d", i), fmt.Sprintf("p%03d@example.com", i), "Sales", "employeeID", fmt.Sprint(1000+i)))
	}
	// An object already in the target with the DN the first user would be
	// provisioned with, and linked to nothing: the DN is taken.
	taken := user("c1", "1000", "", "Sales")
	taken.DN = "cn=1000,ou=users,dc=cloud"
	h.conns["cloud"].Put(taken)
	h.run("cloud", FullImport)
	h.run("hr", FullImport)
	d := &keyLookups{Store: h.st, BatchReader: h.st.(store.BatchReader)}
	h.e.Store = d
	r := h.run("hr", FullSync)
	if n := d.one.Load(); n != 0 {
		t.Errorf("%d DNs looked up one at a time, want all in batches", n)
	}
	if n := d.mv.Load(); n != 0 {
		t.Errorf("%d MV values looked up one at a time, want all in batches", n)
	}
	pending, err := PendingCounts(h.ctx, h.st, "cloud")
	if err != nil {
		t.Fatal(err)
	}
	if pending[connector.OpAdd] != 39 {
		t.Errorf("pending exports to cloud: %v, want 39 adds (the 40th user's DN is taken)", pending)
	}
	if r.Counts.Errors != 1 {
		t.Errorf("run counts %+v, want the user whose DN is taken in error", r.Counts)
	}
}

// anchorLookups counts GetCSByAnchor and passes everything, batch reads
// included, to the store under it.
type anchorLookups struct {
	store.Store
	store.BatchReader
	n atomic.Int64
}

func (d *anchorLookups) GetCSByAnchor(ctx context.Context, conn, anchor string) (*store.CSObject, error) {
	d.n.Add(1)
	return d.Store.GetCSByAnchor(ctx, conn, anchor)
}

// TestBigImportReadsAhead: a full import of a partition too big to hold
// reads the stored objects of what the connector emits in batches
// (readAhead), not one query per object, and imports the same: the changed
// objects updated, the unchanged left alone, a new one added, a missing
// one deleted.
func TestBigImportReadsAhead(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Loading = LoadChunked
	n := 2*importAhead + 17
	for i := range n {
		h.conns["hr"].Put(user(fmt.Sprintf("h%04d", i), fmt.Sprintf("P %04d", i), fmt.Sprintf("p%04d@example.com", i), "Sales", "employeeID", fmt.Sprint(10000+i)))
	}
	h.run("hr", FullImport)
	for i := range n {
		if i%3 == 0 {
			h.conns["hr"].Put(user(fmt.Sprintf("h%04d", i), fmt.Sprintf("P %04d", i), fmt.Sprintf("p%04d@example.com", i), "Legal", "employeeID", fmt.Sprint(10000+i)))
		}
	}
	h.conns["hr"].Remove("h0001")
	h.conns["hr"].Put(user("h9999", "P 9999", "p9999@example.com", "Sales", "employeeID", "19999"))
	d := &anchorLookups{Store: h.st, BatchReader: h.st.(store.BatchReader)}
	h.e.Store = d
	r := h.run("hr", FullImport)
	h.e.Store = h.st
	// Only the new object is looked up alone (it is not in the partition).
	if got := d.n.Load(); got > 1 {
		t.Errorf("%d objects read one by one, want only the new one", got)
	}
	wantUpdates := int64(n+2) / 3
	if r.Counts.Adds != 1 || r.Counts.Updates != wantUpdates || r.Counts.Deletes != 1 || r.Counts.Errors != 0 {
		t.Errorf("counts %+v, want 1 add, %d updates, 1 delete", r.Counts, wantUpdates)
	}
	for _, c := range []struct{ anchor, dept string }{{"h0000", "Legal"}, {"h0002", "Sales"}, {"h0999", "Legal"}, {"h9999", "Sales"}} {
		o, err := h.st.GetCSByAnchor(h.ctx, "hr", c.anchor)
		if err != nil || fmt.Sprint(o.Object.Attrs["department"].Values) != "["+c.dept+"]" {
			t.Errorf("%s: %v, %v; want department %s", c.anchor, o, err, c.dept)
		}
	}
}
