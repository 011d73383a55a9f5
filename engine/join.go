package engine

import (
	"iter"
	"slices"
	"sort"

	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// joinCandidates returns the MV objects (of the rule's MV object type) that
// match every condition of a join group for CS object c.
func (sy *syncer) joinCandidates(r *rules.Rule, g rules.JoinGroup, c *store.CSObject) []string {
	if len(g.Conditions) == 0 {
		return nil
	}
	first := g.Conditions[0]
	seen := map[string]bool{}
	var out []string
	for _, v := range c.Object.Attrs[first.Source].Values {
		for _, id := range sy.s.mvLookup(r.MVObjectType, first.Target, first.CaseSensitive, v) {
			if seen[id] || sy.s.delMV[id] {
				continue
			}
			seen[id] = true
			m := sy.s.mv[id]
			if m != nil && condsMatch(g.Conditions[1:], func(a string) []string { return c.Object.Attrs[a].Values },
				func(a string) []string { return m.Attrs[a].Values }) {
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out
}

// condsMatch reports whether every condition has a source value equal to a
// target value.
func condsMatch(conds []rules.JoinCondition, src, dst func(string) []string) bool {
	for _, cd := range conds {
		ok := false
		for _, a := range src(cd.Source) {
			for _, b := range dst(cd.Target) {
				if norm(a, cd.CaseSensitive) == norm(b, cd.CaseSensitive) {
					ok = true
					break
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// reverseJoinCandidates returns the disconnectors of every connector that a
// join rule could now join to MV object id (it was created or changed). This
// is what makes the result independent of synchronization order (R1.1): a
// connector synchronized before the object it joins to existed gets its
// disconnectors joined as soon as that object appears.
func (sy *syncer) reverseJoinCandidates(id string) []*store.CSObject {
	m := sy.s.getMV(id)
	if m == nil || sy.s.delMV[id] {
		return nil
	}
	var out []*store.CSObject
	seen := map[string]bool{}
	for r, first := range firstConditions(sy.rv.joinByMVType[m.Type]) {
		for _, v := range m.Attrs[first.Target].Values {
			for _, cid := range sy.s.csLookup(r.Connector, r.CSObjectType, first.Source, first.CaseSensitive, v) {
				if seen[cid] {
					continue
				}
				seen[cid] = true
				if c := sy.s.cs[cid]; c != nil && c.MVID == "" && !sy.s.delCS[cid] {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// firstConditions yields each rule of rs with the first condition of each
// of its join groups: the one a join looks candidates up by (the others
// are checked on the candidates found).
func firstConditions(rs []*rules.Rule) iter.Seq2[*rules.Rule, rules.JoinCondition] {
	return func(yield func(*rules.Rule, rules.JoinCondition) bool) {
		for _, r := range rs {
			for _, g := range r.Join {
				if len(g.Conditions) > 0 && !yield(r, g.Conditions[0]) {
					return
				}
			}
		}
	}
}

// A projection is provisional while the objects joined to it would join
// another MV object had theirs never existed. Join rules need not be
// symmetric: a contact joins any person with its mail (R1.7), but a user
// joins only on its own keys (users are not matched on mail, R1.10). A
// contact synchronized before its user projects a person of its own; the
// user, synchronized later, does not join it and projects another. In the
// other order the contact would have joined the user's person. So that the
// result does not depend on the order (R1.1), when an MV object appears or
// changes, every other MV object that shares a join value with it and
// yields to it (yieldsTo) is merged into it: its objects are joined to it
// as their own join rules say, and the emptied object is deleted (its
// target objects are deprovisioned like those of any deleted MV object).
// Two objects that would each join the other are left as they are: neither
// exists only because of the order.

// rejoin is one object of a yielding MV object and the rule that joins it
// to the one it yields to.
type rejoin struct {
	c    *store.CSObject
	rule string
}

// rejoinTarget returns the MV object x's join rules would join it to if
// its own MV object (own) did not exist, as inbound would choose it: the
// first join group, in rule order, that matches another object. It reports
// false when that group matches more than one object or one that another
// object of x's connector already joined (inbound would refuse the join),
// and when no group matches.
func (sy *syncer) rejoinTarget(x *store.CSObject, own string) (string, string, bool) {
	for _, r := range sy.inboundRules(x) {
		if len(r.Join) == 0 {
			continue
		}
		if ok, err := r.Scope.Match(csSubject{sy.s, x}); err != nil || !ok {
			continue
		}
		for _, g := range r.Join {
			var cand string
			n := 0
			for _, id := range sy.joinCandidates(r, g, x) {
				if id != own {
					cand = id
					n++
				}
			}
			if n == 0 {
				continue
			}
			if n > 1 || sy.s.linkedIn(cand, x.Connector) != nil {
				return "", "", false
			}
			return cand, r.Name, true
		}
	}
	return "", "", false
}

// yieldsTo returns the objects of MV object a, each with the rule that
// would join it to b, when every object that keeps a alive (every
// authoritative object, as computeMV counts them) would join b by its own
// join rules had a never existed; nil when one would not.
func (sy *syncer) yieldsTo(a, b string) []rejoin {
	var out []rejoin
	for _, x := range sy.s.linked(a) {
		if len(sy.inboundRules(x)) == 0 || sy.rv.isOutbound(x.LinkRule) {
			continue
		}
		to, rule, ok := sy.rejoinTarget(x, a)
		if !ok || to != b {
			return nil
		}
		out = append(out, rejoin{x, rule})
	}
	return out
}

// sharingJoinValue returns the other live MV objects that have a value of
// id's on an attribute a join rule matches first (sorted): the objects that
// id can yield to or that can yield to it.
func (sy *syncer) sharingJoinValue(id string) []string {
	s := sy.s
	m := s.getMV(id)
	var out []string
	for _, jc := range sy.rv.joinTargets[m.Type] {
		for _, v := range m.Attrs[jc.Target].Values {
			for _, o := range s.mvLookup(m.Type, jc.Target, jc.CaseSensitive, v) {
				if o != id && !s.delMV[o] && !slices.Contains(out, o) {
					out = append(out, o)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// sharingOldJoinValue returns the live MV objects other than id that have
// a value of a join attribute that id had when the run began and has no
// more (all its values when id was deleted), sorted.
func (sy *syncer) sharingOldJoinValue(id string) []string {
	s := sy.s
	m := s.getMV(id)
	old, ok := sy.oldAttrs[id]
	if m == nil || !ok && !s.delMV[id] {
		return nil
	}
	if !ok {
		old = m.Attrs
	}
	var out []string
	for _, jc := range sy.rv.joinTargets[m.Type] {
		for _, v := range old[jc.Target].Values {
			if !s.delMV[id] && hasNorm(m.Attrs[jc.Target].Values, norm(v, jc.CaseSensitive), jc.CaseSensitive) {
				continue
			}
			for _, o := range s.mvLookup(m.Type, jc.Target, jc.CaseSensitive, v) {
				if o != id && !s.delMV[o] && !slices.Contains(out, o) {
					out = append(out, o)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// mergeProvisional merges into MV object id every object that yields to it,
// or id into the object it yields to (see rejoin).
func (sy *syncer) mergeProvisional(id string) {
	s := sy.s
	if s.getMV(id) == nil || s.delMV[id] {
		return
	}
	for _, o := range sy.sharingJoinValue(id) {
		if s.delMV[o] {
			continue
		}
		if in := sy.yieldsTo(o, id); in != nil && sy.yieldsTo(id, o) == nil {
			sy.merge(o, id, in)
			continue
		}
		if out := sy.yieldsTo(id, o); out != nil && sy.yieldsTo(o, id) == nil {
			sy.merge(id, o, out)
			return
		}
	}
}

// merge joins the objects of MV object from to MV object to; from, left
// without authoritative objects, is deleted when it is recomputed.
func (sy *syncer) merge(from, to string, objs []rejoin) {
	for _, j := range objs {
		sy.s.unlink(j.c)
		sy.s.link(j.c, to, j.rule)
		sy.processed[j.c.ID] = j.c
		sy.joined[j.c.ID] = true
		sy.markReferrers(j.c)
	}
	sy.e.log().Debug("metaverse object merged into the one its objects join", "from", from, "to", to, "objects", len(objs))
}
