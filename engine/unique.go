package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// checkUnique enforces a target's unique attributes (Connector.Unique) on
// the computed pending exports, before they are applied: an export that
// would give an object a value another object of the connector (linked to a
// different MV object) has or is about to get is an error on that object,
// naming both (R1.10) — never a silent merge. An object that already holds
// the value in the target keeps it; when neither does yet, both fail, so
// the outcome does not depend on the order objects were synchronized in.
func (sy *syncer) checkUnique(results []outResult) {
	for tc, cc := range sy.e.Connectors {
		if cc == nil || len(cc.Unique) == 0 {
			continue
		}
		sy.checkUniqueIn(tc, cc.Unique, results)
	}
}

func (sy *syncer) checkUniqueIn(tc string, attrs []string, results []outResult) {
	s := sy.s
	// The state each object of tc is heading for: its confirmed attributes
	// with its pending changes applied.
	pendingOf := map[string]*store.PendingExport{} // CS ID → newly computed pending
	touched := map[string]int{}                    // CS ID → index in results
	for i, r := range results {
		if r.target == tc && r.t != nil && r.err == nil && !r.skip {
			pendingOf[r.t.ID] = r.pending
			touched[r.t.ID] = i
		}
	}
	if len(touched) == 0 {
		return
	}
	if !s.whole {
		sy.loadUniqueHolders(tc, attrs, results, touched)
	}
	// A refused export leaves its object as it is, holding the values it
	// holds (and bringing those of its earlier pending export): the check
	// runs again with it so, until nothing more is refused, so that an
	// object is never let through on a value a refused one keeps.
	refused := map[string]bool{}
	for again := true; again; {
		again = false
		owners := map[string][]uniqueHolder{} // attr \x00 lower(value) → holders
		for _, id := range s.byConn[tc] {
			t := s.cs[id]
			if t == nil || t.Deleted || s.delCS[id] || t.MVID == "" {
				continue
			}
			p := t.Pending
			if _, ok := touched[id]; ok && !refused[id] {
				p = pendingOf[id]
			}
			if p != nil && p.Op == connector.OpDelete {
				continue
			}
			for _, a := range attrs {
				cur := t.Object.Attrs[a].Values
				want := cur
				if p != nil {
					want = futureValues(cur, p.Changes, a)
				}
				if t.Placeholder {
					cur = nil // not in the target yet
				}
				for _, v := range want {
					k := a + "\x00" + strings.ToLower(v)
					has := containsFold(cur, v) || p != nil && p.State == store.ExportSending
					owners[k] = append(owners[k], uniqueHolder{csid: id, mvid: t.MVID, has: has})
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(owners)) {
			hs := owners[k]
			mvs := map[string]bool{}
			for _, h := range hs {
				mvs[h.mvid] = true
			}
			if len(mvs) < 2 {
				continue
			}
			attr, _, _ := strings.Cut(k, "\x00")
			for _, h := range hs {
				if h.has {
					continue
				}
				i, ok := touched[h.csid]
				if !ok {
					// Not recomputed in this run, but its pending export brings
					// the value: withdraw it too, so the outcome does not depend
					// on which object was synchronized first.
					sy.withdraw(s.cs[h.csid], attr, k, hs, h.mvid, tc)
					continue
				}
				if results[i].err != nil {
					continue
				}
				suffix := ""
				if t := results[i].t; t.Pending != nil && t.Pending.State != store.ExportSending && bringsValue(t, attr, k) {
					// Its earlier pending export brings the value too: it
					// is withdrawn, as that of an object not recomputed
					// is, so that a full synchronization leaves what a
					// delta one does.
					t.Pending = nil
					s.dirtyCS[t.ID] = true
					suffix = "; its pending export was withdrawn"
				}
				results[i].err = uniqueErr(sy.s, attr, k, results[i].t, results[i].pending, hs, h.mvid, tc, suffix)
				refused[h.csid] = true
				again = true
			}
		}
	}
}

// loadUniqueHolders reads, into a targeted state, every object of tc that
// has (or is to get) a value of a unique attribute that a recomputed object
// has or is to get, or that an object with a pending export is to get: the
// only collisions the check can find. The store's keys are of the values
// objects have; those an object is to get are in its pending export, so
// every object of tc with one is read too (few, but for a target that has
// not been exported to).
func (sy *syncer) loadUniqueHolders(tc string, attrs []string, results []outResult, touched map[string]int) {
	s := sy.s
	var withPending []*store.CSObject
	if err := s.st.ScanCSExports(s.ctx, tc, func(c *store.CSObject) error {
		withPending = append(withPending, s.loaded(c))
		return nil
	}); err != nil {
		s.fail(fmt.Errorf("read the pending exports of %s: %w", tc, err))
	}
	lookup := func(a string, vals []string) {
		for _, v := range vals {
			if k := store.ValueKey(a, v); !s.uniqueKeys[tc+"\x00"+k] {
				s.uniqueKeys[tc+"\x00"+k] = true
				s.csByKey(tc, k)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(touched)) {
		r := results[touched[id]]
		for _, a := range attrs {
			vals := r.t.Object.Attrs[a].Values
			if r.pending != nil {
				vals = append(slices.Clone(vals), futureValues(vals, r.pending.Changes, a)...)
			}
			lookup(a, vals)
		}
	}
	// An object whose pending export brings a value collides with the
	// objects that have it, whether or not this run recomputed either.
	for _, t := range withPending {
		if t.Pending == nil {
			continue
		}
		for _, a := range attrs {
			lookup(a, futureValues(t.Object.Attrs[a].Values, t.Pending.Changes, a))
		}
	}
}

// uniqueSources returns, by MV object type, the MV attributes whose values
// become values of a unique attribute of some target: the sources of
// Direct flows into one, and for other flows the MV attribute of the same
// name (the usual shape of an expression that normalizes it).
func (e *Engine) uniqueSources(rv *ruleView) map[string][]string {
	out := map[string][]string{}
	for _, tc := range rv.targets {
		cc := e.Connectors[tc]
		if cc == nil || len(cc.Unique) == 0 {
			continue
		}
		for _, r := range rv.outbound[tc] {
			for _, f := range r.Flows {
				if !slices.Contains(cc.Unique, f.Target) {
					continue
				}
				src := f.Target
				if f.Type == rules.Direct {
					src = f.Source
				}
				if src != "" && !slices.Contains(out[r.MVObjectType], src) {
					out[r.MVObjectType] = append(out[r.MVObjectType], src)
				}
			}
		}
	}
	return out
}

// uniquePeers returns the MV objects, other than ids, that share a value
// of a unique attribute's source (uniqueSources) with one of ids. They are
// recomputed with them: a collision on a unique attribute concerns both
// objects, and a delta synchronization that recomputed only one would
// leave what a full one, recomputing both, does not (R1.1).
func (sy *syncer) uniquePeers(ids []string) []string {
	srcs := sy.e.uniqueSources(sy.rv)
	if len(srcs) == 0 {
		return nil
	}
	s := sy.s
	in := make(map[string]bool, len(ids))
	for _, id := range ids {
		in[id] = true
	}
	// The values it had too: an object that collided with one of them may
	// be free of it now.
	values := func(m *store.MVObject, a string) []string {
		vals := m.Attrs[a].Values
		if old, ok := sy.oldAttrs[m.ID]; ok {
			vals = append(slices.Clone(vals), old[a].Values...)
		}
		return vals
	}
	if !s.whole {
		// All the values in one batch per MV object type (mvLookup
		// finds the answers).
		s.prefetchMVs(ids)
		keys := map[string][]string{}
		for _, id := range ids {
			if m := s.mv[id]; m != nil {
				for _, a := range srcs[m.Type] {
					for _, v := range values(m, a) {
						keys[m.Type] = append(keys[m.Type], store.ValueKey(a, v))
					}
				}
			}
		}
		s.prefetchMVKeys(keys)
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		m := s.getMV(id)
		if m == nil {
			continue
		}
		for _, a := range srcs[m.Type] {
			for _, v := range values(m, a) {
				for _, p := range s.mvLookup(m.Type, a, false, v) {
					if !in[p] && !seen[p] {
						seen[p] = true
						out = append(out, p)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// withdraw drops the pending export of an object that was not recomputed in
// this run but collides on a unique attribute, reports it, and leaves its MV
// object marked for the next synchronization.
func (sy *syncer) withdraw(t *store.CSObject, attr, k string, hs []uniqueHolder, mvid, tc string) {
	if t == nil || t.Pending == nil || sy.failed[mvid] {
		return
	}
	err := uniqueErr(sy.s, attr, k, t, t.Pending, hs, mvid, tc, "; its pending export was withdrawn")
	t.Pending = nil
	sy.s.dirtyCS[t.ID] = true
	sy.failed[mvid] = true
	sy.rr.objectError(objName(t), t.ID, err)
}

// bringsValue reports whether t's pending export gives it the value of
// attr whose key is k, which it does not have.
func bringsValue(t *store.CSObject, attr, k string) bool {
	cur := t.Object.Attrs[attr].Values
	for _, v := range futureValues(cur, t.Pending.Changes, attr) {
		if attr+"\x00"+strings.ToLower(v) == k && !containsFold(cur, v) {
			return true
		}
	}
	return false
}

// uniqueErr describes a collision on a unique attribute.
func uniqueErr(s *state, attr, key string, t *store.CSObject, p *store.PendingExport, hs []uniqueHolder, mvid, tc, suffix string) error {
	var others []string
	for _, o := range hs {
		if o.mvid != mvid {
			others = append(others, objName(s.cs[o.csid]))
		}
	}
	slices.Sort(others)
	shown := ""
	vals := t.Object.Attrs[attr].Values
	if p != nil {
		vals = futureValues(vals, p.Changes, attr)
	}
	for _, v := range vals {
		if key == "" || attr+"\x00"+strings.ToLower(v) == key {
			shown = v
			break
		}
	}
	return fmt.Errorf("%s %q is also on %s: two metaverse objects would share a value that must be unique in %s; join them (for example with a join rule on %s) or fix the data%s",
		attr, shown, strings.Join(slices.Compact(others), ", "), tc, attr, suffix)
}

// uniqueHolder is an object that has or will have a unique value.
type uniqueHolder struct {
	csid, mvid string
	has        bool // the value is in the target already (or being sent)
}

// futureValues returns the values of attr after the changes.
func futureValues(cur []string, changes []connector.AttrChange, attr string) []string {
	vals := slices.Clone(cur)
	for _, ch := range changes {
		if ch.Name != attr {
			continue
		}
		switch ch.Mode {
		case connector.Replace:
			vals = slices.Clone(ch.Values)
		case connector.AddVals:
			vals = append(vals, ch.Values...)
		case connector.DelVals:
			vals = slices.DeleteFunc(vals, func(v string) bool { return slices.Contains(ch.Values, v) })
		}
	}
	return vals
}

func containsFold(vals []string, v string) bool {
	for _, x := range vals {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// DesiredValues returns the values of attribute attr that target object o
// has once its pending export is applied (its imported values without
// one): what a review of pending exports shows.
func DesiredValues(o *store.CSObject, attr string) []string {
	vals := o.Object.Attrs[attr].Values
	if o.Pending == nil {
		return slices.Clone(vals)
	}
	if o.Pending.Op == connector.OpDelete {
		return nil
	}
	return futureValues(vals, o.Pending.Changes, attr)
}
