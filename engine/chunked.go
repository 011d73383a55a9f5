package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// A full synchronization of a store too big to load whole runs in parts:
// the connector's objects a part at a time, each part read, computed and
// written like a delta synchronization of those objects (targeted: it reads
// what they touch through the store's keys, state.go); for a target, then
// every MV object a part at a time against its outbound rules. Its memory
// is that of a part, not of the store. What a part writes, the next part
// reads, so the outcome is that of one full synchronization, by the same
// order independence (R1.1) that makes a targeted delta synchronization
// agree with a whole one (targeted_test.go). Objects without reference
// values go first, so that groups find their members already joined and
// are not computed twice.

// Defaults of Engine.WholeSyncLimit and Engine.SyncChunk. A synchronization
// that holds the store whole needs about 2 KiB of heap per object (twice
// that in peak memory, with the garbage collector's headroom): 400,000
// objects stay under about 1.5 GiB; a part of 20,000 objects is about 0.1.
const (
	DefaultWholeSyncLimit = 400_000
	DefaultSyncChunk      = 20_000
)

func (e *Engine) syncChunk() int {
	if n, err := strconv.Atoi(os.Getenv("IDSYNC_SYNC_CHUNK")); err == nil && n > 0 {
		return n // the test suite runs every full synchronization in tiny parts
	}
	if e.SyncChunk > 0 {
		return e.SyncChunk
	}
	return DefaultSyncChunk
}

// chunkedFull returns the size of the parts a full synchronization of c
// runs in, 0 for one part (loadFor then reads the store whole or targeted).
func (e *Engine) chunkedFull(ctx context.Context, c *Connector, rv *ruleView) (int, error) {
	mode := e.Loading
	if mode == LoadAuto {
		mode = loadingFromEnv()
	}
	switch mode {
	case LoadChunked:
		return e.syncChunk(), nil
	case LoadAuto:
	default:
		return 0, nil
	}
	limit := e.WholeSyncLimit
	if limit == 0 {
		limit = DefaultWholeSyncLimit
	}
	if limit < 0 {
		return 0, nil
	}
	ncs, err := e.Store.CountCS(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("count connector space objects: %w", err)
	}
	nmv, err := e.Store.CountMV(ctx)
	if err != nil {
		return 0, fmt.Errorf("count metaverse objects: %w", err)
	}
	if ncs+nmv <= limit {
		return 0, nil
	}
	return e.syncChunk(), nil
}

// synchronizeInChunks runs a full synchronization of c in parts of chunk
// objects.
func (e *Engine) synchronizeInChunks(ctx context.Context, rr *runRec, c *Connector, rv *ruleView, chunk int, reapply map[string][]string) error {
	// The IDs only: a part reads its objects when it runs, as the parts
	// before it left them. Copies: the store's strings are slices of the
	// object's whole encoding, which they would keep alive for the whole
	// synchronization.
	type item struct {
		id   string
		refs int
	}
	var items []item
	if err := e.Store.ScanCS(ctx, c.Name, func(o *store.CSObject) error {
		items = append(items, item{strings.Clone(o.ID), references(o.Object.Attrs)})
		return nil
	}); err != nil {
		return fmt.Errorf("read the objects to synchronize: %w", err)
	}
	// Those without reference values first, in ID order: IDs are
	// time-ordered (UUIDv7), so a part is a run of neighbouring rows in
	// the store, whose reads and writes touch a few pages where a part
	// in anchor order (random GUIDs) touched a page per object — at 1M
	// objects, most of the time of its writes. Each part is then
	// processed in anchor order, as a whole synchronization is.
	slices.SortFunc(items, func(a, b item) int {
		if (a.refs > 0) != (b.refs > 0) {
			return cmpBool(a.refs > 0, b.refs > 0)
		}
		return strings.Compare(a.id, b.id)
	})
	// A part holds chunk objects, or fewer when they have reference
	// values: the part reads the objects they name (a group of 20 members
	// weighs 21), so that its memory stays that of chunk objects.
	ids := make([]string, len(items))
	var parts []int // the index in ids where each part ends
	weight := 0
	for i, it := range items {
		ids[i] = it.id
		weight += 1 + it.refs
		if weight >= chunk {
			parts = append(parts, i+1)
			weight = 0
		}
	}
	if weight > 0 {
		parts = append(parts, len(ids))
	}
	items = nil
	var mvids []string
	var mvParts []int
	if len(rv.outbound[c.Name]) > 0 {
		// A full synchronization of a target re-evaluates every MV object
		// against its outbound rules, in parts weighed the same way.
		weight := 0
		if err := e.Store.ScanMV(ctx, func(m *store.MVObject) error {
			mvids = append(mvids, strings.Clone(m.ID))
			weight += 1 + references(m.Attrs)
			if weight >= chunk {
				mvParts = append(mvParts, len(mvids))
				weight = 0
			}
			return nil
		}); err != nil {
			return fmt.Errorf("read the metaverse: %w", err)
		}
		if weight > 0 {
			mvParts = append(mvParts, len(mvids))
		}
	}
	acc := &syncTotals{total: int64(len(ids) + len(mvids))}
	e.log().Info("full synchronization in parts", "connector", c.Name, "objects", len(ids), "parts", len(parts), "metaverseObjects", len(mvids), "metaverseParts", len(mvParts), "partSize", chunk)
	start := 0
	for _, end := range parts {
		t0 := time.Now()
		s := newState(ctx, e.Store, false)
		objs, err := e.getCSMany(ctx, ids[start:end])
		if err != nil {
			return err
		}
		queue := make([]*store.CSObject, 0, len(objs))
		var linked, keys []string
		for _, o := range objs {
			queue = append(queue, s.loaded(o))
			linked = append(linked, o.MVID)
			// What the synchronization of o looks up by key: the objects
			// that reference it (referrers), and those its references
			// name, by DN (a group's members).
			keys = append(keys, store.RefKey(o.Object.Anchor))
			if o.Object.DN != "" {
				keys = append(keys, store.RefKey(o.Object.DN))
			}
			for _, v := range o.Object.Attrs {
				if v.Type == model.Reference {
					for _, r := range v.Values {
						keys = append(keys, store.DNKey(r))
					}
				}
			}
		}
		linked = append(linked, s.prefetchKeys(c.Name, keys)...)
		s.prefetch(linked)
		if err := e.syncPart(ctx, rr, c, rv, s, queue, nil, true, reapply, t0, acc); err != nil {
			return err
		}
		start = end
	}
	start = 0
	for _, end := range mvParts {
		t0 := time.Now()
		s := newState(ctx, e.Store, false)
		ms, err := e.getMVMany(ctx, mvids[start:end])
		if err != nil {
			return err
		}
		part := make([]string, 0, len(ms))
		for _, m := range ms {
			if s.mv[m.ID] == nil {
				s.mv[m.ID] = m
				s.indexMV(m)
			}
			part = append(part, m.ID)
		}
		// Their objects, and the MV objects they name (a group's members)
		// with theirs, which the outbound rules' references look up.
		s.prefetch(part)
		s.prefetch(s.referencedMVs(part))
		acc.done += int64(len(part))
		if err := e.syncPart(ctx, rr, c, rv, s, nil, part, true, reapply, t0, acc); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// references returns the number of reference values in attrs.
func references(attrs model.Attrs) int {
	n := 0
	for _, v := range attrs {
		if v.Type == model.Reference {
			n += len(v.Values)
		}
	}
	return n
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// getCSMany reads the CS objects ids in the order of ids, leaving out
// those an earlier part removed (a merged provisional object): in one
// batch query when the store has them.
func (e *Engine) getCSMany(ctx context.Context, ids []string) ([]*store.CSObject, error) {
	var many func(context.Context, []string) ([]*store.CSObject, error)
	if br, ok := e.Store.(store.BatchReader); ok {
		many = br.GetCSMany
	}
	objs, err := getMany(ctx, ids, many, e.Store.GetCS, func(o *store.CSObject) string { return o.ID })
	if err != nil {
		return nil, fmt.Errorf("read the objects of a part: %w", err)
	}
	return objs, nil
}

// getMVMany reads the MV objects ids in the order of ids, leaving out
// those an earlier part deleted.
func (e *Engine) getMVMany(ctx context.Context, ids []string) ([]*store.MVObject, error) {
	var many func(context.Context, []string) ([]*store.MVObject, error)
	if br, ok := e.Store.(store.BatchReader); ok {
		many = br.GetMVMany
	}
	ms, err := getMany(ctx, ids, many, e.Store.GetMV, func(m *store.MVObject) string { return m.ID })
	if err != nil {
		return nil, fmt.Errorf("read the metaverse objects of a part: %w", err)
	}
	return ms, nil
}

// getMany reads objects by ID in the order of ids, leaving out absent
// ones: with many (a batch read, in any order) when it is not nil, else
// one at a time with one.
func getMany[T any](ctx context.Context, ids []string, many func(context.Context, []string) ([]T, error),
	one func(context.Context, string) (T, error), idOf func(T) string) ([]T, error) {
	var out []T
	if many != nil {
		got, err := many(ctx, ids)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]T, len(got))
		for _, o := range got {
			byID[idOf(o)] = o
		}
		for _, id := range ids {
			if o, ok := byID[id]; ok {
				out = append(out, o)
			}
		}
		return out, nil
	}
	for _, id := range ids {
		o, err := one(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", id, err)
		}
		out = append(out, o)
	}
	return out, nil
}
