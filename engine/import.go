package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// partitions returns the partitions an import of c runs over: the selected
// ones, else every partition the connector reports, else the single "".
func (e *Engine) partitions(ctx context.Context, c *Connector, only string) ([]string, error) {
	if only != "" {
		return []string{only}, nil
	}
	if len(c.Partitions) > 0 {
		return c.Partitions, nil
	}
	if p, ok := c.Conn.(connector.Partitioner); ok {
		ps, err := p.Partitions(ctx)
		if err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", c.Name, err)
		}
		out := make([]string, len(ps))
		for i, x := range ps {
			out[i] = x.Name
		}
		return out, nil
	}
	return []string{""}, nil
}

// importRuns runs one import step per partition.
func (e *Engine) importRuns(ctx context.Context, c *Connector, p Profile, o RunOptions) ([]*store.Run, error) {
	parts, err := e.partitions(ctx, c, o.Partition)
	if err != nil {
		return nil, err
	}
	// The store keeps the keys synchronizations look objects up by as it
	// writes the imported objects (declared once; later a no-op).
	if err := e.declareIndexes(ctx, newRuleView(e.Rules)); err != nil {
		return nil, err
	}
	var runs []*store.Run
	for _, part := range parts {
		rr, err := e.startRunOpt(ctx, c.Name, p, part, o.Quiet)
		if err != nil {
			return runs, err
		}
		runs = append(runs, rr.r)
		if err := rr.finish(ctx, e.importPartition(ctx, rr, c, part, p == FullImport, o)); err != nil {
			return runs, fmt.Errorf("%s of %s: %w", p, c.Name, err)
		}
	}
	return runs, nil
}

// importer applies imported objects to one connector space partition.
type importer struct {
	e     *Engine
	rr    *runRec
	c     *Connector
	part  string
	byAnc map[string]*store.CSObject
	byDN  map[string]*store.CSObject // placeholders by lower(DN)
	// anchors: what the import knows of each anchor it met (anchorState).
	// One map for all of it, since a full import meets every anchor of
	// the partition: at a million objects each map keyed by anchor costs
	// some 50 MiB of live heap, twice that at the garbage collector's
	// default target.
	anchors map[string]anchorState
	batch   store.Batch
	done    int64
	total   int64
	// live counts the partition's objects that exist in the connected
	// system (neither deleted nor placeholders) before the import.
	live int
	// deletes are the objects this import found deleted, and drops the
	// placeholders it showed were never created; both are applied only
	// at the end, once the import-shrink guard let them through.
	deletes map[string]*store.CSObject
	drops   []string
	// targeted: a delta import reads the objects its changes name, not
	// the partition (missing: anchors known to be absent from it), until
	// loadPartition reads it all (loadedAll). adopted: the anchors of the
	// placeholders it adopted under their real anchors. err is the first
	// store error of a lookup.
	targeted, loadedAll bool
	missing, adopted    map[string]bool
	err                 error
	// wo are the connector's write-only attributes: never asked for,
	// carried over from the connector space (writeonly.go).
	wo writeOnly
	// added: the anchors of the objects this import created since the
	// last flush. Once stored they are let go (anchorEvicted), so that a
	// full import's memory does not grow with the objects it imports; an
	// anchor seen again in the same import is read back from the store.
	added []string
	// kept: the placeholders a targeted import holds after a flush (it
	// lets go of the other objects it read).
	kept int
	// present: for a full import of a partition too big to hold
	// (scanPartition), the anchors of the partition's objects and their
	// IDs, instead of the objects; deleteUnseen reads those it did not see.
	present map[string]string
	// queued and ahead: such an import takes the connector's objects
	// importAhead at a time (queue) and reads the stored objects of those
	// in present in one batch (ahead, by anchor) before it imports them,
	// instead of one query each in lookup. br is the store's batch reader
	// (nil: none, one query each).
	queued []queuedObject
	ahead  map[string]*store.CSObject
	br     store.BatchReader
}

// importAhead is how many emitted objects a full import of a big partition
// holds to read their stored objects in one batch.
const importAhead = 500

// anchorState is what an import knows of an anchor, a set of bits.
type anchorState uint8

const (
	// anchorSeen: the connector emitted the object, listed it present or
	// could not read it; a full import does not delete it.
	anchorSeen anchorState = 1 << iota
	// anchorChecked: a full import checked an object with the anchor
	// (refuse); another one with it is refused as a duplicate.
	// anchorRefused: that first object was refused, so the stored
	// object (if any) is not it.
	anchorChecked
	anchorRefused
	// anchorEvicted: the object was created by this import, stored and
	// let go; lookup reads it back from the store.
	anchorEvicted
)

// mark adds bits to what the import knows of anchor.
func (im *importer) mark(anchor string, bits anchorState) {
	im.anchors[anchor] |= bits
}

// is reports whether anchor has all the bits.
func (im *importer) is(anchor string, bits anchorState) bool {
	return im.anchors[anchor]&bits == bits
}

func (e *Engine) importPartition(ctx context.Context, rr *runRec, c *Connector, part string, full bool, o RunOptions) error {
	deltaOnly := o.Quiet
	im := &importer{e: e, rr: rr, c: c, part: part, byAnc: map[string]*store.CSObject{},
		byDN: map[string]*store.CSObject{}, anchors: map[string]anchorState{}, deletes: map[string]*store.CSObject{},
		missing: map[string]bool{}, adopted: map[string]bool{}, wo: writeOnlyOf(c)}
	req := connector.ImportRequest{Partition: part, Attributes: im.wo.request(e.Rules.Attributes(c.Name)),
		ObjectError: func(anchor, dn string, err error) {
			if len(im.queued) > 0 {
				// After the objects emitted before it, in the run's errors.
				im.queued = append(im.queued, queuedObject{anchor: anchor, dn: dn, err: err})
				return
			}
			im.objectError(anchor, dn, err)
		}}
	di, hasDelta := c.Conn.(connector.DeltaImporter)
	wm, err := e.Store.Watermark(ctx, c.Name, part)
	if err != nil {
		return fmt.Errorf("read watermark: %w", err)
	}
	if !full && (!hasDelta || wm == "") && deltaOnly {
		return nil // live mode polls change feeds only; the cycle does full imports
	}
	if !full && (!hasDelta || wm == "") {
		e.log().Info("delta import not possible, running a full import", "connector", c.Name, "partition", part,
			"reason", map[bool]string{true: "no watermark yet", false: "connector has no delta capability"}[hasDelta])
		full = true
	}
	if full {
		// A full import detects deletions (objects it does not see):
		// it needs the whole partition — or, when that is too big to
		// hold, its anchors, reading each object as it is imported.
		big, err := e.bigPartition(ctx, c)
		if err != nil {
			return err
		}
		if big {
			err = im.scanPartition(ctx)
		} else {
			err = im.loadPartition(ctx)
		}
		if err != nil {
			return err
		}
	} else {
		// A delta import reads the objects its changes name (lookup).
		im.targeted = true
	}
	var newWM string
	if full {
		fi, ok := c.Conn.(connector.FullImporter)
		if !ok {
			return fmt.Errorf("connector %s cannot import", c.Name)
		}
		im.br, _ = e.Store.(store.BatchReader)
		newWM, err = fi.FullImport(ctx, req, func(o *model.Object) error {
			return im.queue(ctx, o)
		})
		if err == nil {
			err = im.drain(ctx)
		}
		if err != nil {
			return err
		}
		// A full import also detects deletions: objects no longer present.
		if im.present != nil {
			if err := im.deleteUnseenPresent(ctx); err != nil {
				return err
			}
		} else {
			im.deleteUnseen()
		}
	} else {
		presence := false
		newWM, err = di.DeltaImport(ctx, req, wm, func(ch connector.Change) error {
			switch ch.Kind {
			case connector.Delete:
				if o := im.lookup(ctx, ch.Object.Anchor); o != nil && !o.Deleted {
					im.markDeleted(o)
				}
				return im.err
			case connector.Present:
				if !presence {
					// The connector lists every object that still
					// exists: the rest of the partition is deleted.
					presence = true
					if err := im.loadPartition(ctx); err != nil {
						return err
					}
				}
				im.mark(ch.Object.Anchor, anchorSeen)
				return nil
			}
			return im.upsert(ctx, ch.Object)
		})
		if err != nil {
			return err
		}
		if presence {
			im.deleteUnseen() // the connector listed every object that still exists
		}
	}
	if im.err != nil {
		return im.err
	}
	if len(im.deletes) > 0 && im.targeted && im.present == nil && !o.AllowShrink {
		// The import-shrink guard weighs the deletes against the
		// partition's objects: count them, as far as the decision needs.
		if err := im.countLive(ctx); err != nil {
			return err
		}
	}
	if err := im.applyDeletes(full, o.AllowShrink); err != nil {
		// What the import changed is kept; what it deleted is not, and its
		// watermark is not recorded: the next import reads the same
		// changes again.
		if ferr := im.flush(ctx, true); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	if newWM != "" {
		im.batch.Watermarks = append(im.batch.Watermarks, store.Watermark{Connector: c.Name, Partition: part, Value: newWM})
	}
	e.heapProfile("import." + c.Name)
	return im.flush(ctx, true)
}

// applyDeletes lets the deletions the import found into the batch, unless
// the import-shrink guard refuses them.
func (im *importer) applyDeletes(full, allow bool) error {
	n := len(im.deletes)
	if !allow && im.c.Shrink.refuses(n, im.live) {
		kind, run := "delta import", "delta-import"
		if full {
			kind, run = "full import", "full-import"
		}
		where := im.c.Name
		if im.part != "" {
			where += " [" + im.part + "]"
		}
		im.e.log().Warn("import stopped by the import-shrink guard", "connector", im.c.Name, "partition", im.part,
			"deletes", n, "objects", im.live)
		return fmt.Errorf("%w: the %s of %s stopped before deleting anything: it would delete %d of the %d objects of the connector space (%d%%), "+
			"more than the import-shrink guard allows (%s). An empty, truncated or unreadable source, an emptied base or a wrong filter looks the same as deleted objects: check the source first. "+
			"If the objects are really gone, run `idsync run %s %s --allow-shrink` (or `idsync cycle --allow-shrink`) once, or change safety.importShrinkPercent (connectors[].importShrinkPercent for this connector)",
			ErrImportShrink, kind, where, n, im.live, n*100/im.live, im.c.Shrink, im.c.Name, run)
	}
	for _, anc := range slices.Sorted(maps.Keys(im.deletes)) {
		o := im.deletes[anc]
		o.Deleted = true
		o.SyncPending = true
		o.Modified = time.Now().UTC()
		im.batch.PutCS = append(im.batch.PutCS, o)
		im.rr.r.Counts.Deletes++
	}
	im.batch.DeleteCS = append(im.batch.DeleteCS, im.drops...)
	return nil
}

func (im *importer) upsert(ctx context.Context, o *model.Object) error {
	if o.Anchor == "" {
		im.rr.objectError(o.DN, "", errors.New("imported object has no anchor; check the connector's anchor setting"))
		return nil
	}
	if im.refuse(ctx, o) {
		return nil // a value breaks the schema or limits: an error on this object (validate.go)
	}
	if o.Attrs == nil {
		o.Attrs = model.Attrs{}
	}
	im.mark(o.Anchor, anchorSeen)
	delete(im.deletes, o.Anchor) // deleted and back in the same delta
	im.done++
	cur := im.lookup(ctx, o.Anchor)
	if im.err != nil {
		return im.err
	}
	ok := cur != nil
	if !ok && o.DN != "" {
		// An add exported before a crash, before its result was recorded:
		// the target has it under its real anchor; adopt the placeholder.
		// Not when the add was never sent: then the object at its DN is
		// one something else created, which idsync never takes (R2.2).
		if ph := im.placeholderAt(ctx, o.DN); ph != nil && mayHaveLanded(ph) {
			delete(im.byAnc, ph.Object.Anchor)
			delete(im.byDN, strings.ToLower(o.DN))
			im.missing[ph.Object.Anchor] = true
			im.adopted[ph.Object.Anchor] = true
			cur, ok = ph, true
			cur.Placeholder = false
			if cur.Pending != nil && cur.Pending.Op == connector.OpAdd {
				cur.Pending = nil // the add landed; the next sync computes what is left
			}
			im.byAnc[o.Anchor] = cur
		}
	}
	im.wo.carry(cur, o) // cur is nil for a new object
	now := time.Now().UTC()
	switch {
	case !ok:
		cs := &store.CSObject{ID: newID(), Connector: im.c.Name, Partition: im.part, Object: *o,
			SyncPending: true, Modified: now}
		im.byAnc[o.Anchor] = cs
		im.added = append(im.added, o.Anchor)
		delete(im.missing, o.Anchor) // absent before, stored from now on
		im.batch.PutCS = append(im.batch.PutCS, cs)
		im.rr.r.Counts.Adds++
	case cur.Deleted || cur.Partition != im.part || cur.Object.DN != o.DN || cur.Object.Type != o.Type || cur.Object.Anchor != o.Anchor ||
		!cur.Object.Attrs.Equal(o.Attrs) || len(cur.Unconfirmed) > 0:
		if cur.Object.DN != o.DN && cur.Object.DN != "" {
			im.rr.r.Counts.Renames++
			for _, dn := range []string{cur.Object.DN, o.DN} {
				if err := im.markReferrers(ctx, dn); err != nil {
					return err
				}
			}
		} else {
			im.rr.r.Counts.Updates++
		}
		cur.Object = *o
		cur.Partition = im.part
		cur.Deleted = false
		cur.Unconfirmed = nil // the confirming import: what the target holds now
		cur.SyncPending = true
		cur.Modified = now
		im.batch.PutCS = append(im.batch.PutCS, cur)
	default:
		im.rr.r.Counts.NoChange++
	}
	return im.flush(ctx, false)
}

// loadPartition reads every object of the import's partition (once): a
// full import, or a delta import that lists the objects still present or
// found deletions, needs them all.
func (im *importer) loadPartition(ctx context.Context) error {
	if im.loadedAll {
		return nil
	}
	im.loadedAll, im.targeted = true, false
	// Objects read before are this import's copies, maybe changed (a
	// placeholder adopted under its real anchor): keep them.
	held := make(map[string]*store.CSObject, len(im.byAnc))
	for _, o := range im.byAnc {
		held[o.ID] = o
	}
	err := im.e.Store.ScanCS(ctx, im.c.Name, func(o *store.CSObject) error {
		// Objects provisioned by idsync carry no partition until an import
		// of the partition their DN lies in sees them.
		if !im.inPartition(o) {
			return nil
		}
		if have, ok := held[o.ID]; ok {
			o = have
		} else {
			im.byAnc[o.Object.Anchor] = o
		}
		if !o.Placeholder && !o.Deleted {
			im.live++
		}
		if o.Placeholder && o.Object.DN != "" {
			im.byDN[strings.ToLower(o.Object.DN)] = o
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load connector space: %w", err)
	}
	im.total = int64(len(im.byAnc))
	return nil
}

// bigPartition reports whether a full import of c reads its partition's
// anchors instead of its objects (scanPartition): when the connector holds
// more than the engine's whole-load limit (Engine.WholeSyncLimit), or
// always with IDSYNC_SYNC_LOADING=chunked (the test suite runs so).
func (e *Engine) bigPartition(ctx context.Context, c *Connector) (bool, error) {
	mode := e.Loading
	if mode == LoadAuto {
		mode = loadingFromEnv()
	}
	switch mode {
	case LoadChunked:
		return true, nil
	case LoadAuto:
	default:
		return false, nil
	}
	limit := e.WholeSyncLimit
	if limit == 0 {
		limit = DefaultWholeSyncLimit
	}
	if limit < 0 {
		return false, nil
	}
	n, err := e.Store.CountCS(ctx, c.Name)
	if err != nil {
		return false, fmt.Errorf("count connector space objects: %w", err)
	}
	return n > limit, nil
}

// scanPartition reads the anchors of the partition's objects (and counts
// those that exist in the connected system, for the import-shrink guard),
// not the objects: the import then reads each object it imports
// (targeted), and deleteUnseenPresent those it did not see.
func (im *importer) scanPartition(ctx context.Context) error {
	im.present = map[string]string{}
	im.targeted = true
	err := im.e.Store.ScanCS(ctx, im.c.Name, func(o *store.CSObject) error {
		if !im.inPartition(o) {
			return nil
		}
		// Copies: the store's strings are slices of the object's whole
		// encoding, which they would keep alive (at 1M objects, most
		// of a GiB).
		im.present[strings.Clone(o.Object.Anchor)] = strings.Clone(o.ID)
		if !o.Placeholder && !o.Deleted {
			im.live++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the anchors of the connector space: %w", err)
	}
	im.total = int64(len(im.present))
	return nil
}

// deleteUnseenPresent is deleteUnseen for a partition read by
// scanPartition: it reads the objects the import did not see.
func (im *importer) deleteUnseenPresent(ctx context.Context) error {
	for _, anc := range slices.Sorted(maps.Keys(im.present)) {
		if im.is(anc, anchorSeen) || im.adopted[anc] {
			continue // imported, or a placeholder adopted under its real anchor
		}
		o := im.byAnc[anc]
		if o == nil {
			var err error
			o, err = im.e.Store.GetCS(ctx, im.present[anc])
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s object %q: %w", im.c.Name, anc, err)
			}
			if o.Object.Anchor != anc || !im.inPartition(o) {
				continue // changed since the scan
			}
		}
		switch {
		case !o.Placeholder && !o.Deleted:
			im.markDeleted(o)
		case awaitsImport(o):
			im.drops = append(im.drops, o.ID)
		}
	}
	return nil
}

// errEnough stops a count that has seen enough.
var errEnough = errors.New("enough")

// countLive counts, into im.live, the partition's objects that exist in
// the connected system, up to the first number at which the import-shrink
// guard surely lets the import's deletes through: a delta import that
// deletes a few objects reads a few more, not the partition.
func (im *importer) countLive(ctx context.Context) error {
	n, g := len(im.deletes), im.c.Shrink
	if g.Percent <= 0 {
		return nil
	}
	enough := max(n+1, n*100/g.Percent+1)
	im.live = 0
	err := im.e.Store.ScanCS(ctx, im.c.Name, func(o *store.CSObject) error {
		if im.inPartition(o) && !o.Placeholder && !o.Deleted {
			im.live++
			if im.live >= enough {
				return errEnough
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("count the objects of the connector space: %w", err)
	}
	return nil
}

// inPartition reports whether o lies in the import's partition.
func (im *importer) inPartition(o *store.CSObject) bool {
	return o.Partition == im.part || o.Partition == "" && dnUnder(o.Object.DN, im.part)
}

// lookup returns the object of the partition with the anchor (nil when
// none), reading it from the store in a targeted import.
func (im *importer) lookup(ctx context.Context, anchor string) *store.CSObject {
	if o, ok := im.byAnc[anchor]; ok {
		return o
	}
	if !im.targeted && !im.is(anchor, anchorEvicted) {
		return nil // the partition is loaded: absent
	}
	if im.missing[anchor] {
		return nil
	}
	if o, ok := im.ahead[anchor]; ok {
		// Read ahead: taken once (the import's copy is in byAnc from now
		// on, or read again after a flush).
		delete(im.ahead, anchor)
		if im.inPartition(o) {
			im.byAnc[anchor] = o
			return o
		}
	}
	o, err := im.e.Store.GetCSByAnchor(ctx, im.c.Name, anchor)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		if im.err == nil {
			im.err = fmt.Errorf("read %s object %q: %w", im.c.Name, anchor, err)
		}
	case im.inPartition(o):
		im.byAnc[anchor] = o
		return o
	}
	im.missing[anchor] = true
	return nil
}

// objectError records an object the connector could not read.
func (im *importer) objectError(anchor, dn string, err error) {
	if anchor != "" {
		im.mark(anchor, anchorSeen) // unreadable is not deleted
	}
	if dn == "" {
		dn = anchor
	}
	im.rr.objectError(dn, "", err)
}

// queuedObject is an object emitted (o) or, without o, an object the
// connector could not read, waiting in queue.
type queuedObject struct {
	o          *model.Object
	anchor, dn string
	err        error
}

// queue imports o (upsert), or, in a full import of a big partition
// (present) from a store that reads in batches, holds it until importAhead
// objects wait (drain).
func (im *importer) queue(ctx context.Context, o *model.Object) error {
	if im.present == nil || im.br == nil {
		return im.upsert(ctx, o)
	}
	im.queued = append(im.queued, queuedObject{o: o})
	if len(im.queued) < importAhead {
		return nil
	}
	return im.drain(ctx)
}

// drain imports the queued objects (and records the errors of those the
// connector could not read) in the order they came, having read
// the stored objects of their anchors in one batch (readAhead).
func (im *importer) drain(ctx context.Context) error {
	q := im.queued
	im.queued = nil
	im.readAhead(ctx, q)
	for _, q := range q {
		if q.o == nil {
			im.objectError(q.anchor, q.dn, q.err)
			continue
		}
		if err := im.upsert(ctx, q.o); err != nil {
			return err
		}
	}
	im.ahead = nil
	return nil
}

// readAhead reads, in one batch, the stored objects of the anchors of objs
// that the partition holds (present) and the import does not: lookup takes
// them from ahead instead of reading each. Nothing is read ahead for the
// others (new objects, those held): lookup decides about them as before. A
// store error leaves lookup to read them one by one.
func (im *importer) readAhead(ctx context.Context, objs []queuedObject) {
	var ids []string
	for _, q := range objs {
		o := q.o
		if o == nil {
			continue
		}
		if _, held := im.byAnc[o.Anchor]; held || o.Anchor == "" {
			continue
		}
		if id, ok := im.present[o.Anchor]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	stored, err := im.br.GetCSMany(ctx, ids)
	if err != nil {
		return
	}
	im.ahead = make(map[string]*store.CSObject, len(stored))
	for _, c := range stored {
		if c.Connector == im.c.Name {
			im.ahead[c.Object.Anchor] = c
		}
	}
}

// placeholderAt returns the placeholder of the partition at the DN (nil
// when none).
func (im *importer) placeholderAt(ctx context.Context, dn string) *store.CSObject {
	if ph, ok := im.byDN[strings.ToLower(dn)]; ok || !im.targeted {
		return ph
	}
	ids, err := im.e.Store.CSByKey(ctx, im.c.Name, store.DNKey(dn))
	if err != nil {
		if im.err == nil {
			im.err = fmt.Errorf("look up %s objects at %q: %w", im.c.Name, dn, err)
		}
		return nil
	}
	for _, id := range ids {
		o, err := im.e.Store.GetCS(ctx, id)
		if err != nil {
			continue
		}
		if have, ok := im.byAnc[o.Object.Anchor]; ok {
			o = have
		}
		if o.Placeholder && strings.EqualFold(o.Object.DN, dn) && im.inPartition(o) {
			im.byAnc[o.Object.Anchor] = o
			im.byDN[strings.ToLower(dn)] = o
			return o
		}
	}
	return nil
}

// markReferrers marks for synchronization the objects of the connector
// whose reference values name dn, the old or the new DN of an object this
// import saw renamed: those values now resolve to another object, or to
// none, and the next synchronization must recompute what they contribute
// (a group keeps no member that is gone, and gains the one that came).
func (im *importer) markReferrers(ctx context.Context, dn string) error {
	if dn == "" {
		return nil
	}
	ids, err := im.e.Store.CSByKey(ctx, im.c.Name, store.RefKey(dn))
	if err != nil {
		return fmt.Errorf("look up the objects referencing %q: %w", dn, err)
	}
	for _, id := range ids {
		o, err := im.e.Store.GetCS(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read an object referencing %q: %w", dn, err)
		}
		switch have := im.byAnc[o.Object.Anchor]; {
		case have != nil && have.ID == o.ID:
			o = have // this import's copy, maybe changed
		case im.adopted[o.Object.Anchor]:
			// A placeholder this import adopted under its real anchor:
			// its copy is marked already, the stored one is stale.
			continue
		case im.inPartition(o):
			im.byAnc[o.Object.Anchor] = o
		}
		if !o.SyncPending {
			o.SyncPending = true
			im.batch.PutCS = append(im.batch.PutCS, o)
		}
	}
	return nil
}

// mayHaveLanded reports whether an object idsync provisioned may exist in
// the target: its add was sent (a crash left it sending, or it failed after
// being sent) or is done.
func mayHaveLanded(ph *store.CSObject) bool {
	p := ph.Pending
	return p == nil || p.Op != connector.OpAdd || p.State == store.ExportSending || p.MayExist
}

// deleteUnseen marks deleted every object of the partition the import
// neither emitted nor listed as present.
func (im *importer) deleteUnseen() {
	for anc, o := range im.byAnc {
		switch {
		case im.is(anc, anchorSeen):
		case !o.Placeholder && !o.Deleted:
			im.markDeleted(o)
		case awaitsImport(o):
			// Its failed add did not create it after all: nothing to
			// deprovision.
			im.drops = append(im.drops, o.ID)
		}
	}
}

// awaitsImport reports whether o is a placeholder to deprovision (delete or
// disable) whose add failed and may have created it: the change waits for
// an import of the target to find the object (adopting it by DN, with its
// real anchor) or to show it was never created.
func awaitsImport(o *store.CSObject) bool {
	return o.Placeholder && o.Pending != nil && o.Pending.Op != connector.OpAdd
}

// markDeleted records that o is gone from the connected system; the
// deletion is applied at the end of the import (applyDeletes).
func (im *importer) markDeleted(o *store.CSObject) {
	im.deletes[o.Object.Anchor] = o
}

// flush stores the batch once it is full (or at the end, final) and lets
// go of the objects the import holds that the store now has. A targeted
// import also flushes once it holds a batch's worth of objects read from
// the store, changed or not: a full import of a big partition reads every
// object of it.
func (im *importer) flush(ctx context.Context, final bool) error {
	n := im.e.batchSize()
	if !final && len(im.batch.PutCS) < n && (!im.targeted || len(im.byAnc)-im.kept < n) {
		if im.done%1000 == 0 {
			im.rr.progress(ctx, im.done, im.total)
		}
		return nil
	}
	if !im.batch.Empty() {
		if err := im.e.Store.Apply(ctx, &im.batch); err != nil {
			return fmt.Errorf("store imported objects: %w", err)
		}
		im.batch = store.Batch{}
	}
	if im.e.importFlushed != nil {
		im.e.importFlushed(len(im.byAnc))
	}
	for _, a := range im.added {
		if o := im.byAnc[a]; o != nil && !o.Placeholder {
			delete(im.byAnc, a)
			im.mark(a, anchorEvicted)
		}
	}
	im.added = im.added[:0]
	if im.targeted {
		// lookup reads again from the store what is not held. The
		// placeholders stay: they are looked up by DN (placeholderAt).
		for a, o := range im.byAnc {
			if !o.Placeholder {
				delete(im.byAnc, a)
			}
		}
		im.kept = len(im.byAnc)
	}
	im.rr.progress(ctx, im.done, im.total)
	return nil
}

// dnUnder reports whether dn lies in the partition (naming context) part,
// comparing case-insensitively and ignoring spaces after commas.
func dnUnder(dn, part string) bool {
	if dn == "" || part == "" {
		return false
	}
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, ", ", ",")) }
	d, p := norm(dn), norm(part)
	return d == p || strings.HasSuffix(d, ","+p)
}
