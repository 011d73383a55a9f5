package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
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
	owners := map[string][]uniqueHolder{} // attr \x00 lower(value) → holders
	for _, id := range s.byConn[tc] {
		t := s.cs[id]
		if t == nil || t.Deleted || s.delCS[id] || t.MVID == "" {
			continue
		}
		p := t.Pending
		if _, ok := touched[id]; ok {
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
			results[i].err = uniqueErr(sy.s, attr, k, results[i].t, results[i].pending, hs, h.mvid, tc, "")
		}
	}
}

// loadUniqueHolders reads, into a targeted state, every object of tc that
// has (or is to get) a value of a unique attribute that a recomputed object
// has or is to get: the only collisions this run can make. The store's keys
// are of the values objects have; those an object is to get are in its
// pending export, so every object of tc with one is read too (few, but for
// a target that has not been exported to).
func (sy *syncer) loadUniqueHolders(tc string, attrs []string, results []outResult, touched map[string]int) {
	s := sy.s
	if !s.exportsLoaded[tc] {
		s.exportsLoaded[tc] = true
		if err := s.st.ScanCSExports(s.ctx, tc, func(c *store.CSObject) error {
			s.loaded(c)
			return nil
		}); err != nil {
			s.fail(fmt.Errorf("read the pending exports of %s: %w", tc, err))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(touched)) {
		r := results[touched[id]]
		for _, a := range attrs {
			vals := r.t.Object.Attrs[a].Values
			if r.pending != nil {
				vals = append(slices.Clone(vals), futureValues(vals, r.pending.Changes, a)...)
			}
			for _, v := range vals {
				sy.s.csByKey(tc, store.ValueKey(a, v))
			}
		}
	}
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
