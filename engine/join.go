package engine

import (
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
	m := sy.s.mv[id]
	if m == nil || sy.s.delMV[id] {
		return nil
	}
	var out []*store.CSObject
	seen := map[string]bool{}
	for _, r := range sy.rv.joinByMVType[m.Type] {
		for _, g := range r.Join {
			if len(g.Conditions) == 0 {
				continue
			}
			first := g.Conditions[0]
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
	}
	return out
}
