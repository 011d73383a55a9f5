package engine

import (
	"iter"
	"strings"

	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// Batch lookups of a targeted state. The synchronization asks the store
// one key at a time, as each object needs it (join candidates, objects
// that share a join value, referrers); before each step that asks for
// many, these functions ask for all of the step's keys in a few batch
// queries (store.BatchReader) and record the answers where the one-key
// lookups find them (state.keyIDs, state.mvKeyIDs). They change what is
// read when, never what is computed: without batch reads, or in a whole
// state, they do nothing. In a 1M-object store, the one-key lookups they
// replace were a third of a full synchronization in parts.

// prefetchJoins looks up the join values of the objects of queue that are
// not joined: the first condition of each join group of their inbound
// rules (joinCandidates).
func (sy *syncer) prefetchJoins(queue []*store.CSObject) {
	if sy.s.whole {
		return
	}
	keys := map[string][]string{}
	for _, c := range queue {
		if c.MVID != "" || c.Deleted {
			continue
		}
		for r, first := range firstConditions(sy.inboundRules(c)) {
			for _, v := range c.Object.Attrs[first.Source].Values {
				keys[r.MVObjectType] = append(keys[r.MVObjectType], store.ValueKey(first.Target, v))
			}
		}
	}
	sy.s.prefetchMVKeys(keys)
}

// prefetchReverseJoins looks up, for the MV objects ids, the objects of
// other connectors that a join rule could join to them
// (reverseJoinCandidates).
func (sy *syncer) prefetchReverseJoins(ids []string) {
	s := sy.s
	if s.whole {
		return
	}
	keys := map[string][]string{}
	for m := range s.liveMVs(ids) {
		for r, first := range firstConditions(sy.rv.joinByMVType[m.Type]) {
			for _, v := range m.Attrs[first.Target].Values {
				keys[r.Connector] = append(keys[r.Connector], store.ValueKey(first.Source, v))
			}
		}
	}
	s.prefetchCSKeys(keys)
}

// prefetchSharing looks up the MV objects that share a join value with
// the MV objects ids, now or when the run began (sharingJoinValue,
// sharingOldJoinValue).
func (sy *syncer) prefetchSharing(ids []string) {
	s := sy.s
	if s.whole {
		return
	}
	keys := map[string][]string{}
	for _, id := range ids {
		m := s.mv[id]
		if m == nil {
			continue
		}
		old := sy.oldAttrs[id]
		for _, jc := range sy.rv.joinTargets[m.Type] {
			for _, v := range m.Attrs[jc.Target].Values {
				keys[m.Type] = append(keys[m.Type], store.ValueKey(jc.Target, v))
			}
			for _, v := range old[jc.Target].Values {
				keys[m.Type] = append(keys[m.Type], store.ValueKey(jc.Target, v))
			}
		}
	}
	s.prefetchMVKeys(keys)
}

// prefetchReferrers looks up the objects that reference the objects joined
// to the MV objects ids, and reads the MV objects those are joined to
// (loadMVReferrers).
func (sy *syncer) prefetchReferrers(ids []string) {
	s := sy.s
	if s.whole {
		return
	}
	s.prefetch(ids) // their links
	keys := map[string][]string{}
	for _, id := range ids {
		for _, c := range s.linked(id) {
			keys[c.Connector] = append(keys[c.Connector], store.RefKey(c.Object.Anchor))
			if c.Object.DN != "" {
				keys[c.Connector] = append(keys[c.Connector], store.RefKey(c.Object.DN))
			}
		}
	}
	s.prefetchMVs(s.prefetchCSKeys(keys))
}

// prefetchDNKeys looks up the DNs that the MV objects ids would be
// provisioned with in each target they have no object in (outLink checks
// that no other object has the DN). The DN templates are expanded
// whatever the rules' scopes say, so a DN outLink will not need may be
// asked for as well; a template that names the rule's own values ({@attr})
// is left to outLink.
func (sy *syncer) prefetchDNKeys(ids []string) {
	s := sy.s
	if s.whole {
		return
	}
	s.prefetch(ids) // their links, which linkedIn reads
	keys := map[string][]string{}
	for m := range s.liveMVs(ids) {
		if sy.failed[m.ID] {
			continue
		}
		for _, tc := range sy.rv.targets {
			if s.linkedIn(m.ID, tc) != nil {
				continue
			}
			for _, r := range sy.rv.outbound[tc] {
				if r.MVObjectType != m.Type || r.LinkType != rules.Provision || r.DN == "" {
					continue
				}
				dn, err := rules.ExpandDN(r.DN, func(a string) (string, bool) {
					if v := m.Attrs[a].Values; len(v) > 0 && !strings.HasPrefix(a, rules.OwnPrefix) {
						return v[0], true
					}
					return "", false
				})
				if err == nil {
					keys[tc] = append(keys[tc], store.DNKey(dn))
				}
			}
		}
	}
	s.prefetchCSKeys(keys)
}

// liveMVs yields the MV objects ids that the state holds and that are not
// deleted.
func (s *state) liveMVs(ids []string) iter.Seq[*store.MVObject] {
	return func(yield func(*store.MVObject) bool) {
		for _, id := range ids {
			if m := s.mv[id]; m != nil && !s.delMV[id] && !yield(m) {
				return
			}
		}
	}
}
