package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// listSource is a source whose full import emits a fixed list, an anchor
// possibly more than once (a file listing an object twice).
type listSource struct{ objs []*model.Object }

func (listSource) Close() error { return nil }

func (l listSource) FullImport(_ context.Context, _ connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	for _, o := range l.objs {
		c := *o
		c.Attrs = o.Attrs.Clone()
		if err := emit(&c); err != nil {
			return "", err
		}
	}
	return "", nil
}

// TestImportLetsGoOfStoredObjects: a full import lets go of the objects it
// created once they are stored (its memory does not grow with what it
// imports), and an anchor seen again later in the same import — refused,
// only the first object with an anchor is imported — is read back from the
// store for its error (which names the stored object): never created
// twice, on an empty connector space and on one that had objects.
func TestImportLetsGoOfStoredObjects(t *testing.T) {
	for _, before := range []int{0, 5} {
		t.Run(fmt.Sprint(before, " objects before"), func(t *testing.T) {
			h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
			h.e.BatchSize = 3
			mk := func(i int, dept string) *model.Object {
				return &model.Object{Anchor: fmt.Sprintf("x%02d", i), DN: fmt.Sprintf("cn=x%02d,dc=test", i), Type: "user",
					Attrs: model.Attrs{"cn": model.Str(fmt.Sprint("x", i)), "department": model.Str(dept)}}
			}
			src := listSource{}
			for i := range before {
				src.objs = append(src.objs, mk(100+i, "old"))
			}
			h.e.Connectors["hr"].Conn = src
			h.run("hr", FullImport)
			src.objs = nil
			for i := range 10 {
				src.objs = append(src.objs, mk(i, "first"))
			}
			// x01 again, after its batch was stored and let go, and x09
			// again in the batch it is in (not stored yet).
			src.objs = append(src.objs, mk(1, "again"), mk(9, "again"))
			for i := range before {
				src.objs = append(src.objs, mk(100+i, "old"))
			}
			h.e.Connectors["hr"].Conn = src
			r := h.run("hr", FullImport)
			if r.Counts.Adds != 10 || r.Counts.Updates != 0 || r.Counts.Deletes != 0 || r.Counts.Errors != 2 {
				t.Errorf("counts %+v, want 10 adds and 2 errors", r.Counts)
			}
			stored := map[string]string{}
			if err := h.st.ScanCS(h.ctx, "hr", func(o *store.CSObject) error {
				stored[o.Object.Anchor] = o.ID
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, e := range h.runErrors(r) {
				if e.CSID == "" || (e.CSID != stored["x01"] && e.CSID != stored["x09"]) {
					t.Errorf("error %q names CS object %q, want the stored x01 or x09", e.Message, e.CSID)
				}
			}
			n := 0
			depts := map[string]string{}
			if err := h.st.ScanCS(h.ctx, "hr", func(o *store.CSObject) error {
				n++
				if _, dup := depts[o.Object.Anchor]; dup {
					t.Errorf("anchor %s stored twice", o.Object.Anchor)
				}
				depts[o.Object.Anchor] = o.Object.Attrs.First("department")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != 10+before || depts["x01"] != "first" || depts["x09"] != "first" || depts["x02"] != "first" {
				t.Errorf("%d objects, departments %v", n, depts)
			}
		})
	}
}

// TestFullImportOfABigPartition: a full import of a connector holding more
// objects than Engine.WholeSyncLimit reads the partition's anchors, not its
// objects, and finds the same updates and deletions, and meets the same
// import-shrink guard, as one that loads the partition whole.
func TestFullImportOfABigPartition(t *testing.T) {
	type result struct {
		counts   store.RunCounts
		state    string
		guardErr bool
	}
	run := func(t *testing.T, limit int64) result {
		h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
		h.e.Loading = LoadAuto
		h.e.WholeSyncLimit = limit
		h.e.BatchSize = 4
		h.e.Connectors["hr"].Shrink = ShrinkGuard{Percent: 40, Minimum: 1}
		for i := range 12 {
			h.conns["hr"].Put(user(fmt.Sprintf("h%02d", i), fmt.Sprintf("p%02d", i), "", "Sales"))
		}
		h.run("hr", FullImport)
		// 3 deleted, 2 changed, 2 new: the guard lets 3 of 12 through.
		for _, a := range []string{"h01", "h05", "h11"} {
			h.conns["hr"].Remove(a)
		}
		h.conns["hr"].Put(user("h02", "p02", "", "IT"), user("h03", "p03-renamed", "", "Sales"),
			user("h20", "p20", "", "IT"), user("h21", "p21", "", "IT"))
		r := h.run("hr", FullImport)
		// Then 6 more deleted: 6 of 11 is more than the guard's 40 %.
		for _, a := range []string{"h00", "h04", "h06", "h07", "h08", "h09"} {
			h.conns["hr"].Remove(a)
		}
		_, err := h.e.Run(h.ctx, "hr", FullImport, RunOptions{})
		var st []string
		if err := h.st.ScanCS(h.ctx, "hr", func(o *store.CSObject) error {
			st = append(st, fmt.Sprintf("%s %s deleted=%v %s", o.Object.Anchor, o.Object.DN, o.Deleted, o.Object.Attrs.First("department")))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(st)
		return result{r.Counts, strings.Join(st, "\n"), errors.Is(err, ErrImportShrink)}
	}
	whole, big := run(t, -1), run(t, 1)
	if whole != big {
		t.Fatalf("whole:\n%+v\nanchors only:\n%+v", whole, big)
	}
	if whole.counts.Deletes != 3 || whole.counts.Adds != 2 || whole.counts.Updates != 1 || whole.counts.Renames != 1 || !whole.guardErr {
		t.Errorf("counts %+v, guard stopped the second import: %v", whole.counts, whole.guardErr)
	}
}

// TestFullImportOfABigPartitionLetsGo: a full import of a partition read
// by anchors (scanPartition) reads each object it imports from the store
// and lets go of it once the store has it, changed or not: it never holds
// much more than a batch, whatever the partition's size.
func TestFullImportOfABigPartitionLetsGo(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Loading = LoadAuto
	h.e.WholeSyncLimit = 1
	h.e.BatchSize = 3
	for i := range 20 {
		h.conns["hr"].Put(user(fmt.Sprintf("h%02d", i), fmt.Sprintf("p%02d", i), "", "Sales"))
	}
	h.run("hr", FullImport)
	h.conns["hr"].Put(user("h04", "p04", "", "IT"), user("h17", "p17", "", "IT"))
	most := 0
	h.e.importFlushed = func(held int) { most = max(most, held) }
	r := h.run("hr", FullImport)
	if r.Counts.Updates != 2 || r.Counts.NoChange != 18 || r.Counts.Adds != 0 || r.Counts.Deletes != 0 {
		t.Errorf("counts %+v, want 2 updates and 18 unchanged", r.Counts)
	}
	if most > h.e.BatchSize {
		t.Errorf("the import held %d objects at a flush, want at most a batch (%d)", most, h.e.BatchSize)
	}
	if got := h.csState("hr", "h17").Object.Attrs.First("department"); got != "IT" {
		t.Errorf("h17's department %q, want IT", got)
	}
}

// probeSource is a listSource that calls probe when its full import starts:
// after the importer has read the partition.
type probeSource struct {
	listSource
	probe func()
}

func (p probeSource) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	p.probe()
	return p.listSource.FullImport(ctx, req, emit)
}

// TestScanPartitionKeepsNoObjects: what a full import of a big partition
// keeps of each object it read (its anchor and ID) holds nothing else of
// it alive. The store decodes an object's strings as slices of its whole
// encoding, so keeping them as they are would keep every object, here 300
// of 32 KiB.
func TestScanPartitionKeepsNoObjects(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Loading = LoadAuto
	h.e.WholeSyncLimit = 1
	src := bigUsers() // the objects as they are, all their attributes
	h.e.Connectors["hr"].Conn = src
	h.run("hr", FullImport)
	var grew int64
	before := liveHeap()
	h.e.Connectors["hr"].Conn = probeSource{src, func() { grew = liveHeap() - before }}
	if r := h.run("hr", FullImport); r.Counts.NoChange != 300 {
		t.Fatalf("counts %+v, want 300 unchanged", r.Counts)
	}
	if grew > 2<<20 {
		t.Errorf("reading the partition's anchors kept %d KiB alive, want a few (the objects are %d KiB)", grew>>10, 300*32)
	}
}

// probeLog is a slog handler that calls probe on the first record with
// the message msg.
type probeLog struct {
	msg   string
	probe func()
}

func (p *probeLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *probeLog) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *probeLog) WithGroup(string) slog.Handler            { return p }
func (p *probeLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == p.msg && p.probe != nil {
		p.probe()
		p.probe = nil
	}
	return nil
}

// TestSyncInPartsKeepsNoObjects: the IDs a full synchronization in parts
// reads first hold nothing else of the objects alive (see
// TestScanPartitionKeepsNoObjects): 300 objects of 32 KiB.
func TestSyncInPartsKeepsNoObjects(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Loading = LoadChunked
	h.e.SyncChunk = 50
	src := bigUsers() // the objects as they are, all their attributes
	h.e.Connectors["hr"].Conn = src
	h.run("hr", FullImport)
	grew := int64(-1)
	before := liveHeap()
	// Logged once the IDs are read, before the first part.
	h.e.Log = slog.New(&probeLog{msg: "full synchronization in parts", probe: func() { grew = liveHeap() - before }})
	h.run("hr", FullSync)
	if grew < 0 {
		t.Fatal("the synchronization did not run in parts")
	}
	if grew > 2<<20 {
		t.Errorf("reading the IDs to synchronize kept %d KiB alive, want a few (the objects are %d KiB)", grew>>10, 300*32)
	}
}

// bigUsers is a source of 300 users of 32 KiB each (a description), so
// that keeping them alive shows in the heap.
func bigUsers() listSource {
	src := listSource{}
	for i := range 300 {
		o := user(fmt.Sprintf("h%03d", i), fmt.Sprintf("p%03d", i), "", "Sales")
		o.Attrs["description"] = model.Str(strings.Repeat(fmt.Sprint(i%10), 32<<10))
		src.objs = append(src.objs, o)
	}
	return src
}

// liveHeap returns the bytes of heap in use after a garbage collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
