package engine

import (
	"fmt"

	"github.com/idsync/idsync/store"
)

// recomputeMV recomputes an MV object's attributes from every CS object
// joined to it and every inbound rule in scope for them. The result depends
// only on those CS objects and the rules, never on the order they arrived in.
// It returns true when the attributes changed (or the object was deleted).
func (sy *syncer) recomputeMV(id string) bool {
	s := sy.s
	m := s.mv[id]
	if m == nil || s.delMV[id] {
		return false
	}
	linked := s.linked(id)
	authoritative := false
	contribs := make([]contribution, 0, 16)
	for _, c := range linked {
		rs := sy.inboundRules(c)
		if sy.rv.isOutbound(c.LinkRule) || len(rs) == 0 {
			continue
		}
		authoritative = true
		var params map[string]string
		if cc := sy.e.Connectors[c.Connector]; cc != nil {
			params = cc.Parameters
		}
		ev := env{attrs: c.Object.Attrs, params: params}
		ref := func(v string) (string, bool) {
			t := s.resolve(c.Connector, v)
			if t == nil || t.MVID == "" || s.delCS[t.ID] {
				return "", false
			}
			return t.MVID, true
		}
		for _, r := range rs {
			if r.MVObjectType != m.Type {
				continue
			}
			ok, err := r.Scope.Match(csSubject{s, c})
			if err != nil {
				sy.fail(id, c, fmt.Errorf("scoping filter of rule %q: %w", r.Name, err))
				return false
			}
			if !ok {
				continue
			}
			base := contribution{prec: r.Precedence, rule: r.Name, conn: c.Connector, anchor: c.Object.Anchor, csid: c.ID}
			contribs, err = evalFlows(r, ev, base, ref, contribs)
			if err != nil {
				sy.fail(id, c, err)
				return false
			}
		}
	}
	if !authoritative {
		// The last authoritative connector disconnected: delete the MV object.
		// Its target objects are deprovisioned by the outbound pass.
		s.deleteMV(id)
		sy.outTouched[id] = true
		sy.rr.r.Counts.Deletes++
		return true
	}
	attrs, win := resolveContributions(contribs)
	lineage := make(map[string]store.Contribution, len(win))
	for a, w := range win {
		if !w.auth {
			lineage[a] = store.Contribution{Rule: w.rule, Connector: w.conn, CSID: w.csid, Precedence: w.prec}
		}
	}
	if attrs.Equal(m.Attrs) && lineageEqual(lineage, m.Lineage) {
		sy.rr.r.Counts.NoChange++
		return false
	}
	created := len(m.Attrs) == 0 && len(m.Lineage) == 0
	s.unindexMV(m)
	m.Attrs = attrs
	m.Lineage = lineage
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
	sy.rr.objectError(objName(c), c.ID, err)
}

func lineageEqual(a, b map[string]store.Contribution) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
