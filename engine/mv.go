package engine

import (
	"fmt"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// mvResult is the computed state of one MV object, before it is applied.
type mvResult struct {
	id            string
	authoritative bool
	attrs         model.Attrs
	lineage       store.Lineage
	errCS         *store.CSObject // the CS object whose rule failed
	err           error
}

// computeMV computes an MV object's attributes from every CS object joined to
// it and every inbound rule in scope for them. The result depends only on
// those CS objects and the rules, never on the order they arrived in. It only
// reads the state, so MV objects can be computed in parallel.
func (sy *syncer) computeMV(id string) mvResult {
	s := sy.s
	res := mvResult{id: id}
	m := s.getMV(id)
	var cbuf [32]contribution // on the stack unless an object has more
	contribs := cbuf[:0]
	for _, c := range s.linked(id) {
		rs := sy.inboundRules(c)
		if len(rs) == 0 {
			continue
		}
		// An object idsync provisioned into a target (linked by an
		// outbound rule) may still flow values back through the target's
		// inbound rules (cloudSourceAnchor, R1.11), but it never keeps the
		// MV object alive.
		if !sy.rv.isOutbound(c.LinkRule) {
			res.authoritative = true
		}
		ev, ref := sy.inboundEnv(c)
		for _, r := range rs {
			if r.MVObjectType != m.Type {
				continue
			}
			ok, err := r.Scope.Match(csSubject{s, c})
			if err != nil {
				res.errCS, res.err = c, fmt.Errorf("scoping filter of rule %q: %w", r.Name, err)
				return res
			}
			if !ok {
				continue
			}
			src := &source{prec: r.Precedence, rule: r.Name, conn: c.Connector, anchor: c.Object.Anchor, csid: c.ID}
			contribs, err = evalFlows(r, ev, src, ref, contribs)
			if err != nil {
				res.errCS, res.err = c, err
				return res
			}
		}
	}
	if !res.authoritative {
		return res
	}
	var buf [32]int
	attrs, win := resolveContributions(contribs, buf[:0])
	res.attrs = attrs
	var lb store.LineageBuilder
	lb.Grow(len(win))
	for _, wi := range win {
		if w := &contribs[wi]; !w.auth {
			lb.Add(w.attr, store.Contribution{Rule: w.src.rule, Connector: w.src.conn, CSID: w.src.csid, Precedence: w.src.prec})
		}
	}
	res.lineage = lb.Lineage()
	return res
}

// inboundEnv returns the expression environment of inbound flows over CS
// object c, and the function that maps its reference values to MV IDs.
func (sy *syncer) inboundEnv(c *store.CSObject) (env, func(string) (string, bool)) {
	s := sy.s
	var params map[string]string
	if cc := sy.e.Connectors[c.Connector]; cc != nil {
		params = cc.Parameters
	}
	ev := env{attrs: c.Object.Attrs, params: params, dn: c.Object.DN, part: c.Partition, conn: c.Connector}
	ref := func(v string) (string, bool) {
		t := s.resolve(c.Connector, v)
		if t == nil || t.MVID == "" || s.delCS[t.ID] {
			return "", false
		}
		return t.MVID, true
	}
	return ev, ref
}

// recomputeMVs recomputes the given MV objects (in parallel) and applies the
// results in order. It returns the IDs whose attributes changed or that were
// deleted.
func (sy *syncer) recomputeMVs(ids []string) []string {
	s := sy.s
	live := ids[:0:0]
	for _, id := range ids {
		if m := s.getMV(id); m != nil && !s.delMV[id] {
			live = append(live, id)
		}
	}
	results := parallel(!s.whole, len(live), func(i int) mvResult { return sy.computeMV(live[i]) })
	var changed []string
	for _, res := range results {
		if sy.applyMV(res) {
			changed = append(changed, res.id)
		}
	}
	return changed
}

// applyMV applies a computed result: an error leaves the object as it was; no
// authoritative connector left deletes it; otherwise its attributes and
// lineage are replaced when they differ.
func (sy *syncer) applyMV(res mvResult) bool {
	s := sy.s
	id := res.id
	m := s.mv[id]
	if res.err != nil {
		sy.fail(id, res.errCS, res.err)
		if sy.created[id] {
			// Projected in this run and failed at once: undo the projection,
			// so that no empty MV object is left; the object stays pending
			// and the next synchronization tries again.
			for _, c := range s.linked(id) {
				sy.retry[c.ID] = c
				s.unlink(c)
			}
			s.deleteMV(id)
			delete(sy.created, id)
			sy.rr.r.Counts.Adds--
		}
		return false
	}
	if !res.authoritative {
		// The last authoritative connector disconnected: delete the MV object.
		// Its target objects are deprovisioned by the outbound pass.
		sy.assignMembersChanged(m, m.Attrs, nil)
		s.deleteMV(id)
		sy.outTouched[id] = true
		sy.rr.r.Counts.Deletes++
		sy.mvDeletes++
		return true
	}
	if res.attrs.Equal(m.Attrs) && res.lineage.Equal(m.Lineage) {
		sy.rr.r.Counts.NoChange++
		return false
	}
	created := len(m.Attrs) == 0 && m.Lineage.Len() == 0
	// Objects that joined or left a group are in or out of a scope that
	// tests membership (ISMEMBEROF, group-based filtering) from now on:
	// when a rule has one, they are recomputed.
	if oldM, newM := m.Attrs["member"], res.attrs["member"]; sy.rv.membership && !oldM.Equal(newM) {
		for _, mid := range symmetricDiff(oldM.Values, newM.Values) {
			if s.getMV(mid) != nil {
				s.recompute[mid] = true
			}
		}
	}
	sy.assignMembersChanged(m, m.Attrs, res.attrs)
	s.unindexMV(m)
	if _, ok := sy.oldAttrs[id]; !ok {
		// The values it had when the run began: objects that shared one
		// with it may be free of it now (join.go, unique.go).
		sy.oldAttrs[id] = m.Attrs
	}
	m.Attrs = res.attrs
	m.Lineage = res.lineage
	m.Modified = sy.now
	s.indexMV(m)
	s.changedMV[id] = true
	if !created {
		sy.rr.r.Counts.Updates++
	}
	return true
}

func (sy *syncer) fail(mvid string, c *store.CSObject, err error) {
	sy.failed[mvid] = true
	sy.csError(c, err)
}

// symmetricDiff returns the values in exactly one of a and b.
func symmetricDiff(a, b []string) []string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	in := make(map[string]int, len(a)+len(b))
	for _, v := range a {
		in[v] |= 1
	}
	for _, v := range b {
		in[v] |= 2
	}
	var out []string
	for v, w := range in {
		if w != 3 {
			out = append(out, v)
		}
	}
	return out
}
