package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// deltaThreshold: reference attributes with more values than this are
// exported as value additions and removals instead of a full replace (large
// groups).
const deltaThreshold = 10

// The pending export is the difference between the desired state (outbound
// flows) and the target's last confirmed state.
// outResult is a computed pending export, before it is applied.
type outResult struct {
	id, target string
	t          *store.CSObject
	pending    *store.PendingExport // nil: nothing to export
	skip       bool                 // nothing to do at all
	err        error
}

// applyOut applies a computed pending export.
func (sy *syncer) applyOut(r outResult) {
	switch {
	case r.skip:
	case r.err != nil:
		sy.failed[r.id] = true
		sy.rr.objectError(objName(r.t), r.t.ID, r.err)
	case r.pending == nil:
		if r.t.Pending != nil {
			r.t.Pending = nil
			sy.s.dirtyCS[r.t.ID] = true
		}
	default:
		if p := r.pending; p.Op == connector.OpAdd && p.NewDN != "" {
			// An object not yet created whose {@attr} DN changed: it is
			// created under the new DN.
			if other := sy.s.byDN(r.target, p.NewDN); other != nil && other != r.t {
				sy.failed[r.id] = true
				sy.rr.objectError(objName(r.t), r.t.ID, fmt.Errorf("provision to %s: DN %q is already used by %s; make the DN template unique", r.target, p.NewDN, objName(other)))
				return
			}
			sy.s.renameCS(r.t, p.NewDN)
			p.NewDN = ""
		}
		sy.setPending(r.t, r.pending)
	}
}

// computeOut computes the pending export of MV object id's target object in
// tc. It only reads the state, so objects can be computed in parallel.
func (sy *syncer) computeOut(id, tc string) outResult {
	s := sy.s
	res := outResult{id: id, target: tc, skip: true}
	rs := sy.outRules[id+"\x00"+tc]
	t := s.linkedIn(id, tc)
	m := s.getMV(id)
	if t == nil || m == nil || len(rs) == 0 || s.delMV[id] {
		return res
	}
	if t.Pending != nil && t.Pending.State == store.ExportSending {
		return res // an export in flight is replayed first; the next sync recomputes
	}
	res.t, res.skip = t, false
	ev := sy.outEnv(tc, t, m)
	ref := sy.refIn(tc)
	var cbuf [32]contribution // on the stack unless an object has more
	contribs := cbuf[:0]
	for _, r := range rs {
		if r.CSObjectType != t.Object.Type {
			continue
		}
		var err error
		contribs, err = evalFlows(r, sy.outRuleEnv(ev, id, r), &source{prec: r.Precedence, rule: r.Name}, ref, contribs)
		if err != nil {
			res.err = err
			return res
		}
	}
	var buf [32]int
	desired, winners := resolveContributions(contribs, buf[:0])
	var once map[string]bool
	for _, wi := range winners {
		if w := &contribs[wi]; w.once {
			if once == nil {
				once = map[string]bool{}
			}
			once[w.attr] = true
		}
	}
	rule := rs[0].Name
	if t.Placeholder {
		p := &store.PendingExport{Op: connector.OpAdd, Rule: rule}
		for _, a := range desired.Names() {
			v := desired[a]
			p.Changes = append(p.Changes, connector.AttrChange{Name: a, Mode: connector.Replace, Type: v.Type, Values: v.Values})
		}
		if lr := sy.rv.byName[t.LinkRule]; lr != nil && strings.Contains(lr.DN, "{"+rules.OwnPrefix) && t.Object.DN != "" {
			// The DN follows what the rule computes ({@attr}) until the
			// object is created.
			if dn, err := rules.ExpandDN(lr.DN, func(a string) (string, bool) {
				v := m.Attrs[a]
				if own, ok := strings.CutPrefix(a, rules.OwnPrefix); ok {
					v = desired[own]
				}
				if len(v.Values) == 0 {
					return "", false
				}
				return v.Values[0], true
			}); err == nil && !strings.EqualFold(dn, t.Object.DN) {
				p.NewDN = dn
			}
		}
		res.pending = p
		return res
	}
	p := &store.PendingExport{Op: connector.OpUpdate, Rule: rule}
	wo := sy.writeOnly[tc]
	for _, a := range sy.rv.managed[tc][t.Object.Type] {
		if once[a] && !slices.Contains(sy.reapply[id], a) {
			continue // applied only when the object is created (or reapplied)
		}
		cur, want := t.Object.Attrs[a], desired[a]
		if cur.Equal(want) {
			continue
		}
		if len(want.Values) == 0 && wo.has(a) {
			continue // a write-only attribute is set, never cleared (writeonly.go)
		}
		typ := want.Type
		if len(want.Values) == 0 {
			typ = cur.Type
		}
		if typ == model.Reference && len(cur.Values)+len(want.Values) > deltaThreshold && len(cur.Values) > 0 && len(want.Values) > 0 {
			add, del := valueDelta(cur.Values, want.Values)
			if len(add) > 0 {
				p.Changes = append(p.Changes, connector.AttrChange{Name: a, Mode: connector.AddVals, Type: typ, Values: add})
			}
			if len(del) > 0 {
				p.Changes = append(p.Changes, connector.AttrChange{Name: a, Mode: connector.DelVals, Type: typ, Values: del})
			}
			continue
		}
		p.Changes = append(p.Changes, connector.AttrChange{Name: a, Mode: connector.Replace, Type: typ, Values: want.Values})
	}
	if lr := sy.rv.byName[t.LinkRule]; lr != nil && lr.LinkType == rules.Provision && lr.DN != "" && t.Object.DN != "" {
		dn, err := rules.ExpandDN(lr.DN, func(a string) (string, bool) {
			v := m.Attrs[a]
			if own, ok := strings.CutPrefix(a, rules.OwnPrefix); ok {
				v = desired[own]
			}
			if len(v.Values) == 0 {
				return "", false
			}
			return v.Values[0], true
		})
		if err != nil {
			res.err = fmt.Errorf("rename with rule %q: %w", lr.Name, err)
			return res
		}
		if !strings.EqualFold(dn, t.Object.DN) {
			p.NewDN = dn
			if len(p.Changes) == 0 {
				p.Op = connector.OpRename
			}
		}
	}
	if len(p.Changes) == 0 && p.NewDN == "" {
		return res
	}
	res.pending = p
	return res
}

// outEnv returns the expression environment of outbound flows from MV
// object m into target object t of tc.
func (sy *syncer) outEnv(tc string, t *store.CSObject, m *store.MVObject) env {
	var params map[string]string
	if cc := sy.e.Connectors[tc]; cc != nil {
		params = cc.Parameters
	}
	return env{attrs: m.Attrs, imported: t.Object.Attrs, params: params, dn: t.Object.DN, part: t.Partition, conn: tc,
		taken:  func(attr, v string) bool { return sy.taken(tc, t, attr, v) },
		number: func(attr string, start, end int64) (int64, error) { return sy.nextNumber(tc, t, attr, start, end) }}
}

// outRuleEnv returns ev for the flows of outbound rule r of MV object id:
// with assignments, the flows read the roles of its assignments.
func (sy *syncer) outRuleEnv(ev env, id string, r *rules.Rule) env {
	if len(r.Assignments) > 0 {
		ev.rolesAttr, ev.roles = r.RolesAttr(), sy.outRoles(id, r)
	}
	return ev
}

// refIn returns the function that maps a reference value (an MV ID) to the
// DN, or without one the anchor, of the object linked to it in target tc.
// An object an outbound rule linked is referenced only while its MV object
// is in scope of a rule of tc that can link it (keptIn): not once it is
// deprovisioned (disabled, or awaiting its delete) and only kept linked.
func (sy *syncer) refIn(tc string) func(string) (string, bool) {
	return func(v string) (string, bool) {
		o := sy.s.linkedIn(v, tc)
		if o == nil || sy.rv.isOutbound(o.LinkRule) && !sy.keptIn(v, tc) {
			return "", false
		}
		if o.Object.DN != "" {
			return o.Object.DN, true
		}
		return o.Object.Anchor, true
	}
}

// valueDelta returns the values to add to cur and to remove from it to reach want.
func valueDelta(cur, want []string) (add, del []string) {
	have := make(map[string]bool, len(cur))
	for _, v := range cur {
		have[v] = true
	}
	keep := make(map[string]bool, len(want))
	for _, v := range want {
		keep[v] = true
		if !have[v] {
			add = append(add, v)
		}
	}
	for _, v := range cur {
		if !keep[v] {
			del = append(del, v)
		}
	}
	return add, del
}
