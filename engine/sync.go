package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// syncer is one synchronization run over the loaded state.
type syncer struct {
	e   *Engine
	rr  *runRec
	s   *state
	rv  *ruleView
	now time.Time
	// outTouched: MV objects whose outbound state must be recomputed.
	outTouched map[string]bool
	// outRules: in-scope outbound rules per "mvid\x00target" (pass 1 → pass 2).
	outRules map[string][]*rules.Rule
	// failed: MV objects with an error in this run: left as they were.
	failed map[string]bool
	// retry: CS objects with an error in this run; they stay pending so that
	// every delta synchronization retries (and reports) them until fixed.
	retry map[string]*store.CSObject
	// created: MV objects projected in this run.
	created     map[string]bool
	provisioned []string
	// rescoped: MV objects whose target object left or came back in scope,
	// or was joined, in this run: their referrers are recomputed.
	rescoped []string
	// kept caches keptIn (outbound.go).
	keptMu  sync.RWMutex
	kept    map[keptKey]bool
	exports map[string]*exportTally
	// processed: the CS objects this run processed, and joined those of
	// them it joined to an existing MV object (for the run statistics).
	processed map[string]*store.CSObject
	joined    map[string]bool
	mvDeletes int64
	// oldAttrs: the attributes MV objects this run changed had before
	// (a deleted object keeps its own).
	oldAttrs map[string]model.Attrs
	// assign: the group assignments the outbound pass resolved, and the
	// roles it found (assign.go).
	assign *assignCache
	// assignMu guards the assignment caches (assign.go), which the
	// parallel computeOut reaches through keptIn and outRoles.
	assignMu sync.Mutex
	// valueIdx: the values objects of a target have or are about to get,
	// by "connector\x00attribute" (SelectUniqueValue, unique_value.go).
	valueIdx   map[string]map[string][]string
	valueIdxMu sync.Mutex
	// reapply: the applyOnce flows applied again (RunOptions.Reapply).
	reapply map[string][]string
	// nums: the numbers NextFreeNumber gave in this run (number.go).
	nums  map[string]*numberPool
	numMu sync.Mutex
	// writeOnly: the write-only attributes of each target (writeonly.go).
	writeOnly map[string]writeOnly
}

type exportTally struct{ adds, updates, deletes, renames int }

func (e *Engine) syncRun(ctx context.Context, c *Connector, full bool, o RunOptions) (*store.Run, error) {
	p := DeltaSync
	if full {
		p = FullSync
	}
	rr, err := e.startRun(ctx, c.Name, p, "")
	if err != nil {
		return nil, err
	}
	err = e.synchronize(ctx, rr, c, full, o.Reapply)
	if err != nil {
		err = fmt.Errorf("%s of %s: %w", p, c.Name, err)
	}
	return rr.r, rr.finish(ctx, err)
}

func (e *Engine) synchronize(ctx context.Context, rr *runRec, c *Connector, full bool, reapply map[string][]string) error {
	t0 := time.Now()
	rv := newRuleView(e.Rules)
	if err := e.declareIndexes(ctx, rv); err != nil {
		return err
	}
	if full {
		if chunk, err := e.chunkedFull(ctx, c, rv); err != nil {
			return err
		} else if chunk > 0 {
			return e.synchronizeInChunks(ctx, rr, c, rv, chunk, reapply)
		}
	}
	s, queue, err := e.loadFor(ctx, c, rv, full)
	if err != nil {
		return err
	}
	var outAll []string
	if full && len(rv.outbound[c.Name]) > 0 {
		// A full synchronization of a target re-evaluates every MV object
		// against its outbound rules (a rule change takes effect).
		outAll = slices.Collect(maps.Keys(s.mv))
	}
	acc := syncTotals{total: int64(len(queue))}
	return e.syncPart(ctx, rr, c, rv, s, queue, outAll, full, reapply, t0, &acc)
}

// syncTotals adds up the statistics of the parts of a synchronization run
// in chunks (one part otherwise).
type syncTotals struct {
	stats   store.SyncStats
	exports map[string]*exportTally
	done    int64
	total   int64
}

func (t *syncTotals) add(sy *syncer) {
	st := sy.stats()
	t.stats.Projections += st.Projections
	t.stats.Joins += st.Joins
	t.stats.FlowUpdates += st.FlowUpdates
	t.stats.NoFlowUpdates += st.NoFlowUpdates
	t.stats.Disconnectors += st.Disconnectors
	t.stats.DeletedConnectors += st.DeletedConnectors
	t.stats.MVDeletes += st.MVDeletes
	if t.exports == nil {
		t.exports = map[string]*exportTally{}
	}
	for conn, x := range sy.exports {
		y := t.exports[conn]
		if y == nil {
			y = &exportTally{}
			t.exports[conn] = y
		}
		y.adds += x.adds
		y.updates += x.updates
		y.deletes += x.deletes
		y.renames += x.renames
	}
	t.stats.Outbound = t.stats.Outbound[:0]
	for _, conn := range slices.Sorted(maps.Keys(t.exports)) {
		x := t.exports[conn]
		t.stats.Outbound = append(t.stats.Outbound, store.OutboundStats{Connector: conn, ProvisioningAdds: int64(x.adds),
			ExportAttributeFlow: int64(x.updates), Renames: int64(x.renames), Deprovisioning: int64(x.deletes)})
	}
}

// syncPart synchronizes the objects of queue (and re-evaluates the MV
// objects of outAll against their outbound rules) over state s, then
// writes the results in one transaction and adds its statistics to acc.
func (e *Engine) syncPart(ctx context.Context, rr *runRec, c *Connector, rv *ruleView, s *state, queue []*store.CSObject,
	outAll []string, full bool, reapply map[string][]string, t0 time.Time, acc *syncTotals) error {
	tLoad := time.Since(t0)
	sy := &syncer{e: e, rr: rr, s: s, rv: rv, now: time.Now().UTC(),
		outTouched: make(map[string]bool, len(outAll)), outRules: map[string][]*rules.Rule{}, failed: map[string]bool{}, retry: map[string]*store.CSObject{}, created: map[string]bool{},
		exports: map[string]*exportTally{}, processed: make(map[string]*store.CSObject, len(queue)), joined: map[string]bool{},
		oldAttrs: map[string]model.Attrs{}, writeOnly: writeOnlyByTarget(e, rv), reapply: reapply}
	for _, id := range outAll {
		sy.outTouched[id] = true
	}
	for len(queue) > 0 || len(s.recompute) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		sortByAnchor(queue)
		sy.prefetchJoins(queue)
		for _, o := range queue {
			sy.processed[o.ID] = o
			sy.inbound(o)
			if o.SyncPending && !s.delCS[o.ID] {
				o.SyncPending = false
				s.dirtyCS[o.ID] = true
			}
			acc.done++
			if acc.done%5000 == 0 {
				rr.progress(ctx, acc.done, acc.total)
			}
		}
		queue = queue[:0]
		ids := slices.Sorted(maps.Keys(s.recompute))
		s.recompute = map[string]bool{}
		for _, id := range ids {
			sy.outTouched[id] = true
		}
		changed := sy.recomputeMVs(ids)
		sy.prefetchReverseJoins(changed)
		for _, id := range changed {
			queue = append(queue, sy.reverseJoinCandidates(id)...)
		}
		// Provisional projections (join.go) are merged when an object
		// they share a join value with changes, and by a full
		// synchronization for every object it recomputes, so that those
		// left by an earlier version are merged too.
		if full {
			changed = ids
		}
		sy.prefetchSharing(changed)
		for _, id := range changed {
			sy.mergeProvisional(id)
			// Objects that shared a join value it no longer has (or
			// had, deleted) may now yield to another object alone.
			for _, o := range sy.sharingOldJoinValue(id) {
				sy.mergeProvisional(o)
			}
		}
	}
	sy.outbound()
	sy.keepFailedPending()
	if s.err != nil {
		return fmt.Errorf("read the store: %w", s.err)
	}
	rr.progress(ctx, acc.done, acc.total)
	tCompute := time.Since(t0) - tLoad
	acc.add(sy)
	st := acc.stats
	st.Outbound = slices.Clone(st.Outbound)
	rr.r.Sync = &st
	b := s.batch()
	e.heapProfile(c.Name)
	rr.r.Message = summary(acc.exports)
	if err := e.Store.Apply(ctx, b); err != nil {
		return fmt.Errorf("store synchronization results: %w", err)
	}
	if e.log().Enabled(ctx, slog.LevelDebug) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		e.log().Debug("synchronization phases", "connector", c.Name, "whole", s.whole, "load", tLoad, "compute", tCompute,
			"write", time.Since(t0)-tLoad-tCompute, "csWritten", len(b.PutCS)+len(b.PutCSState), "mvWritten", len(b.PutMV),
			"heapInuseMiB", ms.HeapInuse>>20, "objects", len(s.cs)+len(s.mv), "readTargeted", s.reads)
	}
	return nil
}

// Loading says how a synchronization reads the store.
type Loading int

// Loadings. LoadAuto reads targeted when the objects to synchronize are
// few (at most targetedAlways, or less than one in targetedRatio of the
// store's objects: a delta, or the full synchronization of a small source
// connector), and the whole store otherwise (and for the full
// synchronization of a target, which re-evaluates every MV object):
// reading everything in one scan is cheaper per object than looking up
// most of it one object at a time.
const (
	LoadAuto Loading = iota
	LoadTargeted
	LoadWhole
	// LoadChunked runs every full synchronization in parts of
	// Engine.SyncChunk objects, each reading what it touches (chunked.go).
	LoadChunked
)

// loadingFromEnv reads IDSYNC_SYNC_LOADING (targeted, whole or auto), which
// forces every synchronization of engines left at LoadAuto to one way of
// reading the store: the test suite runs with each to prove they agree,
// and an operator can rule the choice out when investigating.
func loadingFromEnv() Loading {
	switch os.Getenv("IDSYNC_SYNC_LOADING") {
	case "targeted":
		return LoadTargeted
	case "whole":
		return LoadWhole
	case "chunked":
		return LoadChunked
	}
	return LoadAuto
}

const (
	targetedAlways = 1000
	targetedRatio  = 32
)

// fewOf reports whether n objects are few enough for a targeted state: at
// most targetedAlways, or less than one in targetedRatio of the store's
// objects.
func (e *Engine) fewOf(ctx context.Context, n int64) (bool, error) {
	if n <= targetedAlways {
		return true, nil
	}
	ncs, err := e.Store.CountCS(ctx, "")
	if err != nil {
		return false, fmt.Errorf("count connector space objects: %w", err)
	}
	nmv, err := e.Store.CountMV(ctx)
	if err != nil {
		return false, fmt.Errorf("count metaverse objects: %w", err)
	}
	return n*targetedRatio < ncs+nmv, nil
}

// loadFor reads the state a synchronization of c needs and returns it with
// the objects to process.
func (e *Engine) loadFor(ctx context.Context, c *Connector, rv *ruleView, full bool) (*state, []*store.CSObject, error) {
	mode := e.Loading
	if mode == LoadAuto {
		mode = loadingFromEnv()
	}
	if mode == LoadAuto && full {
		// A full synchronization of a target re-evaluates every MV object:
		// the whole store. One of a source reads its connector space whole
		// and, when that is a small part of the store, what it touches.
		mode = LoadWhole
		if len(rv.outbound[c.Name]) == 0 {
			n, err := e.Store.CountCS(ctx, c.Name)
			if err != nil {
				return nil, nil, fmt.Errorf("count connector space objects: %w", err)
			}
			if few, err := e.fewOf(ctx, n); err != nil {
				return nil, nil, err
			} else if few {
				mode = LoadAuto
			}
		}
	}
	if mode != LoadWhole {
		var pending []*store.CSObject
		scan := e.Store.ScanCSSyncPending
		if full {
			scan = e.Store.ScanCS
		}
		if err := scan(ctx, c.Name, func(o *store.CSObject) error {
			pending = append(pending, o)
			return nil
		}); err != nil {
			return nil, nil, fmt.Errorf("read the objects to synchronize: %w", err)
		}
		if mode == LoadAuto && !full {
			if few, err := e.fewOf(ctx, int64(len(pending))); err != nil {
				return nil, nil, err
			} else if !few {
				mode = LoadWhole
			}
		}
		if mode != LoadWhole {
			s := newState(ctx, e.Store, false)
			for i, o := range pending {
				pending[i] = s.loaded(o)
			}
			if full && len(rv.outbound[c.Name]) > 0 {
				// Every MV object is re-evaluated: read them all.
				if err := e.Store.ScanMV(ctx, func(m *store.MVObject) error {
					if s.mv[m.ID] == nil {
						s.mv[m.ID] = m
						s.indexMV(m)
					}
					return nil
				}); err != nil {
					return nil, nil, fmt.Errorf("load metaverse: %w", err)
				}
			}
			return s, pending, nil
		}
	}
	s, err := loadState(ctx, e.Store)
	if err != nil {
		return nil, nil, err
	}
	var queue []*store.CSObject
	for _, id := range s.byConn[c.Name] {
		if o := s.cs[id]; full || o.SyncPending {
			queue = append(queue, o)
		}
	}
	return s, queue, nil
}

// declareIndexes tells the store which attributes the join rules and the
// unique attributes look objects up by, so that it keeps keys for them.
func (e *Engine) declareIndexes(ctx context.Context, rv *ruleView) error {
	// Value keys: of a connector's objects, the attributes its rules'
	// joins look them up by (an inbound rule's source, when an MV object
	// appears that disconnectors may join; an outbound rule's target) and
	// its unique attributes; of MV objects, the inbound joins' targets.
	csAttrs, mvAttrs := map[string][]string{}, map[string]bool{}
	addCS := func(conn, a string) {
		if !slices.Contains(csAttrs[conn], a) {
			csAttrs[conn] = append(csAttrs[conn], a)
		}
	}
	for _, r := range rv.byName {
		for _, g := range r.Join {
			if len(g.Conditions) == 0 {
				continue
			}
			first := g.Conditions[0]
			if r.Direction == rules.Outbound {
				// Also for a fromFlow condition: its source value is
				// computed, its target looked up like any other.
				addCS(r.Connector, first.Target)
			} else {
				addCS(r.Connector, first.Source)
				mvAttrs[first.Target] = true
			}
		}
	}
	for name, c := range e.Connectors {
		if c != nil {
			for _, a := range c.Unique {
				addCS(name, a)
			}
		}
	}
	// SelectUniqueValue and NextFreeNumber in an outbound flow look the
	// candidates up in the target's attribute (unique_value.go,
	// number.go): a targeted state needs its keys
	// whether or not the attribute is one of the connector's unique ones.
	for _, r := range rv.byName {
		if r.Direction != rules.Outbound {
			continue
		}
		for _, f := range r.Flows {
			if f.Type == rules.Expression && (f.Dialect == "provisioning" && strings.Contains(f.Expression, "SelectUniqueValue") ||
				strings.Contains(f.Expression, "NextFreeNumber")) {
				addCS(r.Connector, f.Target)
			}
		}
	}
	if len(rv.assignGroups) > 0 {
		// Group assignments name groups by displayName or sourceAnchor
		// (assign.go); the keys are lower-cased, as the names compare.
		mvAttrs["displayName"], mvAttrs["sourceAnchor"] = true, true
	}
	for _, attrs := range e.uniqueSources(rv) {
		for _, a := range attrs {
			mvAttrs[a] = true
		}
	}
	// References are looked up (referrers) in the connectors sync rules
	// read from.
	var refs []string
	for name, rs := range rv.inbound {
		if len(rs) > 0 {
			refs = append(refs, name)
		}
	}
	slices.Sort(refs)
	spec := store.IndexSpec{RefConnectors: refs, CS: csAttrs, MV: slices.Sorted(maps.Keys(mvAttrs))}
	if err := e.Store.Index(ctx, spec); err != nil {
		return fmt.Errorf("declare the attributes joins look up: %w", err)
	}
	return nil
}

// stats classifies every CS object the run processed by what happened to
// it, as Azure AD Connect's synchronization statistics do, and adds what
// the run staged for each target.
func (sy *syncer) stats() *store.SyncStats {
	s := sy.s
	st := &store.SyncStats{MVDeletes: sy.mvDeletes}
	for id, c := range sy.processed {
		switch {
		case s.delCS[id]:
			if c.Deleted {
				st.DeletedConnectors++
			}
		case c.MVID == "":
			st.Disconnectors++
		case sy.joined[id]:
			st.Joins++
		case sy.created[c.MVID]:
			st.Projections++
		case s.changedMV[c.MVID]:
			st.FlowUpdates++
		default:
			st.NoFlowUpdates++
		}
	}
	for _, t := range slices.Sorted(maps.Keys(sy.exports)) {
		x := sy.exports[t]
		st.Outbound = append(st.Outbound, store.OutboundStats{Connector: t, ProvisioningAdds: int64(x.adds),
			ExportAttributeFlow: int64(x.updates), Renames: int64(x.renames), Deprovisioning: int64(x.deletes)})
	}
	return st
}

// summary says what a synchronization staged for each target.
func summary(exports map[string]*exportTally) string {
	msg := ""
	for _, t := range slices.Sorted(maps.Keys(exports)) {
		x := exports[t]
		msg += fmt.Sprintf("pending exports to %s: %d adds, %d updates, %d renames, %d deletes; ", t, x.adds, x.updates, x.renames, x.deletes)
	}
	if msg != "" {
		msg = msg[:len(msg)-2]
	}
	return msg
}

func sortByAnchor(q []*store.CSObject) {
	sort.Slice(q, func(i, j int) bool {
		if q[i].Connector != q[j].Connector {
			return q[i].Connector < q[j].Connector
		}
		return q[i].Object.Anchor < q[j].Object.Anchor
	})
}

func objName(c *store.CSObject) string {
	if c.Object.DN != "" {
		return c.Connector + ":" + c.Object.DN
	}
	return c.Connector + ":" + c.Object.Anchor
}

// inboundRules returns the enabled inbound rules of the object's connector for
// its object type.
func (sy *syncer) inboundRules(c *store.CSObject) []*rules.Rule {
	return sy.rv.inboundByType[c.Connector+"\x00"+c.Object.Type]
}

// inbound processes one CS object: deletion, disconnection, join or projection.
func (sy *syncer) inbound(c *store.CSObject) {
	s := sy.s
	if s.delCS[c.ID] {
		return
	}
	if c.Deleted {
		if c.MVID != "" {
			sy.outTouched[c.MVID] = true
		}
		sy.markReferrers(c)
		s.deleteCS(c)
		return
	}
	rs := sy.inboundRules(c)
	if c.MVID != "" && (sy.rv.isOutbound(c.LinkRule) || len(rs) == 0 && !sy.rv.isInbound(c.LinkRule)) {
		// A target object: its MV object's outbound state is recomputed
		// against what the target now holds.
		sy.outTouched[c.MVID] = true
		return
	}
	if len(rs) == 0 {
		return
	}
	var inScope []*rules.Rule
	for _, r := range rs {
		ok, err := r.Scope.Match(csSubject{s, c})
		if err != nil {
			sy.csError(c, fmt.Errorf("scoping filter of rule %q: %w", r.Name, err))
			return
		}
		if ok {
			inScope = append(inScope, r)
		}
	}
	if c.MVID != "" {
		if len(inScope) == 0 {
			// Out of scope of every inbound rule: disconnect.
			sy.markReferrers(c)
			s.unlink(c)
			return
		}
		s.recompute[c.MVID] = true
		return
	}
	for _, r := range inScope {
		for gi, g := range r.Join {
			cands := sy.joinCandidates(r, g, c)
			if len(cands) == 0 {
				continue
			}
			if len(cands) > 1 {
				sy.csError(c, fmt.Errorf("ambiguous join: join group %d of rule %q matches %d metaverse objects; make the join rule more specific or fix the duplicate values", gi+1, r.Name, len(cands)))
				return
			}
			if other := s.linkedIn(cands[0], c.Connector); other != nil {
				sy.csError(c, fmt.Errorf("join conflict: rule %q matches metaverse object %s, which is already joined to %s; only one object per connector can join a metaverse object", r.Name, cands[0], objName(other)))
				return
			}
			s.link(c, cands[0], r.Name)
			sy.joined[c.ID] = true
			sy.markReferrers(c)
			return
		}
	}
	for _, r := range inScope {
		if r.LinkType != rules.Provision {
			continue
		}
		m := &store.MVObject{ID: newID(), Type: r.MVObjectType, Attrs: model.Attrs{}, Modified: sy.now}
		s.mv[m.ID] = m
		s.linksLoaded[m.ID] = true
		s.changedMV[m.ID] = true
		s.link(c, m.ID, r.Name)
		sy.markReferrers(c)
		sy.created[m.ID] = true
		sy.rr.r.Counts.Adds++
		return
	}
}

// csError records a per-object error on a CS object and keeps it pending.
func (sy *syncer) csError(c *store.CSObject, err error) {
	sy.retry[c.ID] = c
	sy.rr.objectError(objName(c), c.ID, err)
}

// keepFailedPending leaves every object that failed in this run (and the
// authoritative objects of every MV object that failed) marked for
// synchronization, so that the next delta synchronization retries it.
func (sy *syncer) keepFailedPending() {
	for id := range sy.failed {
		for _, c := range sy.s.linked(id) {
			if !sy.rv.isOutbound(c.LinkRule) {
				sy.retry[c.ID] = c
			}
		}
	}
	for id, c := range sy.retry {
		if !sy.s.delCS[id] && !c.SyncPending {
			c.SyncPending = true
			sy.s.dirtyCS[id] = true
		}
	}
}

// markReferrers marks the MV objects of CS objects that reference c for
// recomputation (their reference values resolve differently now).
func (sy *syncer) markReferrers(c *store.CSObject) {
	for _, id := range sy.s.referrers(c) {
		if r := sy.s.getCS(id); r != nil && r.MVID != "" && r.ID != c.ID {
			sy.s.recompute[r.MVID] = true
		}
	}
}

// heapProfile writes a heap profile to $IDSYNC_SYNC_HEAPPROFILE.<name>
// when that variable is set: after the computation of a synchronization,
// before its writes, where its heap is biggest (name is the connector's),
// and at the end of an import, before its last writes ("import.<connector>")
// (docs/benchmarks.md measures the memory per object with it). A
// diagnostic, never set in production.
func (e *Engine) heapProfile(conn string) {
	p := os.Getenv("IDSYNC_SYNC_HEAPPROFILE")
	if p == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(p + "." + conn)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		e.log().Warn("heap profile not written", "path", p+"."+conn, "error", err)
	}
}
