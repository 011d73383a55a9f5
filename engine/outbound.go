package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// outbound computes, for every touched MV object and every target connector,
// the link (provision, join, deprovision) and then the pending export. Links
// come first for all objects so that references (member, manager) can resolve
// to target objects provisioned in the same run.
func (sy *syncer) outbound() {
	if len(sy.rv.targets) == 0 {
		return
	}
	for _, id := range sy.uniquePeers(slices.Sorted(maps.Keys(sy.outTouched))) {
		sy.outTouched[id] = true
	}
	ids := slices.Sorted(maps.Keys(sy.outTouched))
	sy.prefetchDNKeys(ids)
	for _, id := range ids {
		if sy.failed[id] {
			continue
		}
		for _, t := range sy.rv.targets {
			sy.outLink(id, t)
		}
	}
	if changed := slices.Concat(sy.provisioned, sy.rescoped); len(changed) > 0 {
		// Objects that reference an object newly provisioned or joined, or
		// that left or came back in scope, must now export the reference
		// (or drop it).
		extra := sy.mvReferrers(changed)
		for _, id := range extra {
			if !sy.outTouched[id] {
				sy.outTouched[id] = true
				ids = append(ids, id)
				for _, t := range sy.rv.targets {
					sy.outLink(id, t)
				}
			}
		}
	}
	type job struct{ id, target string }
	var jobs []job
	for _, id := range ids {
		if sy.failed[id] {
			continue
		}
		for _, t := range sy.rv.targets {
			jobs = append(jobs, job{id, t})
		}
	}
	results := parallel(!sy.s.whole, len(jobs), func(i int) outResult { return sy.computeOut(jobs[i].id, jobs[i].target) })
	sy.checkUnique(results)
	for _, r := range results {
		sy.applyOut(r)
	}
	// A deleted MV object keeps no links.
	for _, id := range ids {
		if sy.s.delMV[id] {
			for _, c := range sy.s.linked(id) {
				sy.s.unlink(c)
			}
		}
	}
}

// mvReferrers returns the MV objects whose reference attributes name any of ids.
func (sy *syncer) mvReferrers(ids []string) []string {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	if !sy.s.whole {
		sy.loadMVReferrers(ids)
	}
	var out []string
	for id, m := range sy.s.mv {
		if sy.s.delMV[id] {
			continue
		}
		for _, v := range m.Attrs {
			if v.Type == model.Reference && slices.ContainsFunc(v.Values, func(x string) bool { return want[x] }) {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// loadMVReferrers reads, into a targeted state, every MV object that can
// reference one of ids: an MV reference is a CS reference resolved, so its
// object is joined to a CS object that references one joined to ids.
func (sy *syncer) loadMVReferrers(ids []string) {
	s := sy.s
	sy.prefetchReferrers(ids)
	for _, id := range ids {
		for _, c := range s.linked(id) {
			for _, rid := range s.referrers(c) {
				if r := s.getCS(rid); r != nil && r.MVID != "" {
					s.getMV(r.MVID)
				}
			}
		}
	}
}

func (sy *syncer) tally(target string) *exportTally {
	x := sy.exports[target]
	if x == nil {
		x = &exportTally{}
		sy.exports[target] = x
	}
	return x
}

// outLink decides, for MV object id and target connector tc, whether a target
// object should exist: provision, join, keep, or deprovision.
func (sy *syncer) outLink(id, tc string) {
	s := sy.s
	t := s.linkedIn(id, tc)
	m := s.getMV(id)
	if m == nil || s.delMV[id] {
		if t != nil && sy.rv.isOutbound(t.LinkRule) {
			sy.deprovision(t, sy.rv.byName[t.LinkRule], true)
		}
		return
	}
	inScope, links, err := sy.outScope(m, tc)
	if err != nil {
		sy.failed[id] = true
		sy.rr.objectError("metaverse:"+id, "", err)
		return
	}
	sy.setKept(id, tc, links)
	if !links {
		if t != nil && sy.rv.isOutbound(t.LinkRule) {
			sy.deprovision(t, sy.rv.byName[t.LinkRule], false)
			// References resolve to it no more (refIn): its referrers
			// drop it.
			sy.rescoped = append(sy.rescoped, id)
		}
		return
	}
	sy.outRules[id+"\x00"+tc] = inScope
	if t != nil && !sy.rv.isOutbound(t.LinkRule) {
		return // linked by an inbound rule (a source that is also a target)
	}
	if t != nil {
		for _, r := range inScope {
			if r.CSObjectType == t.Object.Type && canLink(r) {
				if sy.mayBeDeprovisioned(t) {
					// Back in scope: references resolve to it again.
					sy.rescoped = append(sy.rescoped, id)
				}
				return
			}
		}
		// The object must become another type in the target (a contact
		// promoted to a user when the real user joins, R1.9): deprovision the
		// old object and provision a new one.
		sy.deprovision(t, sy.rv.byName[t.LinkRule], true)
	}
	for _, r := range inScope {
		for gi, g := range r.Join {
			cands, err := sy.outJoinCandidates(r, g, m)
			if err != nil {
				sy.failed[id] = true
				sy.rr.objectError("metaverse:"+id, "", fmt.Errorf("join to %s (join group %d): %w", tc, gi+1, err))
				return
			}
			if len(cands) == 0 {
				continue
			}
			if len(cands) > 1 {
				sy.failed[id] = true
				sy.rr.objectError("metaverse:"+id, "", fmt.Errorf("ambiguous join: join group %d of rule %q matches %d objects in %s; make the join rule more specific or fix the duplicates", gi+1, r.Name, len(cands), tc))
				return
			}
			s.link(s.cs[cands[0]], id, r.Name)
			delete(s.recompute, id) // a target link does not change the MV object
			// References resolve to it now.
			sy.rescoped = append(sy.rescoped, id)
			return
		}
	}
	for _, r := range inScope {
		if r.LinkType != rules.Provision {
			continue
		}
		dn := ""
		c := &store.CSObject{ID: newID(), Connector: tc, Provisioned: true, Placeholder: true, Modified: sy.now,
			Object: model.Object{Anchor: newID(), Type: r.CSObjectType, Attrs: model.Attrs{}}}
		if r.DN != "" {
			var err error
			var own model.Attrs // what the rule computes, for {@attr}
			var ownErr error
			dn, err = rules.ExpandDN(r.DN, func(a string) (string, bool) {
				v := m.Attrs[a]
				if name, ok := strings.CutPrefix(a, rules.OwnPrefix); ok {
					if own == nil && ownErr == nil {
						own, ownErr = sy.ownValues(tc, c, m, r)
					}
					v = own[name]
				}
				if len(v.Values) == 0 {
					return "", false
				}
				return v.Values[0], true
			})
			if ownErr != nil {
				err = ownErr
			}
			if err != nil {
				sy.failed[id] = true
				sy.rr.objectError("metaverse:"+id, "", fmt.Errorf("provision to %s with rule %q: %w", tc, r.Name, err))
				return
			}
			if other := s.byDN(tc, dn); other != nil {
				sy.failed[id] = true
				sy.rr.objectError("metaverse:"+id, "", fmt.Errorf("provision to %s with rule %q: DN %q is already used by %s; make the DN template unique", tc, r.Name, dn, objName(other)))
				return
			}
		}
		c.Object.DN = dn
		s.newCS(c)
		s.link(c, id, r.Name)
		delete(s.recompute, id)
		sy.provisioned = append(sy.provisioned, id)
		return
	}
}

// outScope returns the outbound rules of target tc whose scope MV object m
// is in, and whether one of them can link it (canLink).
func (sy *syncer) outScope(m *store.MVObject, tc string) (inScope []*rules.Rule, links bool, err error) {
	for _, r := range sy.rv.outbound[tc] {
		if r.MVObjectType != m.Type {
			continue
		}
		ok, err := sy.ruleInScope(r, m)
		if err != nil {
			return nil, false, fmt.Errorf("scoping filter of rule %q: %w", r.Name, err)
		}
		if ok {
			inScope = append(inScope, r)
			links = links || canLink(r)
		}
	}
	return inScope, links, nil
}

// canLink reports whether an outbound rule can link: only a Provision rule,
// or a Join rule with join conditions, keeps a target object in existence;
// a Join rule without conditions (User Identity) only contributes flows to
// an object another rule linked.
func canLink(r *rules.Rule) bool { return r.LinkType == rules.Provision || len(r.Join) > 0 }

// keptIn reports whether MV object id is in scope of a rule of target tc
// that can link it (what outLink checks): references resolve only to target
// objects kept in scope (refIn), not to one a deprovisioning left linked
// (disabled, or awaiting its delete). The answer is cached for the run; it
// is safe for concurrent use (computeOut). A scoping filter that fails
// (reported on the object by outLink) leaves references as they resolve.
func (sy *syncer) keptIn(id, tc string) bool {
	sy.keptMu.RLock()
	k, ok := sy.kept[keptKey{id, tc}]
	sy.keptMu.RUnlock()
	if ok {
		return k
	}
	k = true
	if m := sy.s.getMV(id); m == nil || sy.s.delMV[id] {
		k = false
	} else if _, links, err := sy.outScope(m, tc); err == nil {
		k = links
	}
	sy.setKept(id, tc, k)
	return k
}

func (sy *syncer) setKept(id, tc string, k bool) {
	sy.keptMu.Lock()
	defer sy.keptMu.Unlock()
	if sy.kept == nil {
		sy.kept = map[keptKey]bool{}
	}
	sy.kept[keptKey{id, tc}] = k
}

// keptKey is an MV object and a target connector.
type keptKey struct{ id, target string }

// mayBeDeprovisioned reports whether target object t, linked by an outbound
// rule, may be deprovisioned while still linked: its delete is pending, or
// it holds (or is about to get) its link rule's disable value. Objects that
// merely have that value otherwise are included: what an object in scope
// was before the run is not recorded, and recomputing its referrers once
// more only costs time.
func (sy *syncer) mayBeDeprovisioned(t *store.CSObject) bool {
	p := t.Pending
	if p != nil && p.Op == connector.OpDelete {
		return true
	}
	r := sy.rv.byName[t.LinkRule]
	if r == nil || r.Deprovision != rules.DeprovisionDisable || r.DisableAttribute == "" {
		return false
	}
	if p != nil && p.Op == connector.OpUpdate {
		for _, ch := range p.Changes {
			if ch.Name == r.DisableAttribute && ch.Mode == connector.Replace && slices.Equal(ch.Values, []string{r.DisableValue}) {
				return true
			}
		}
	}
	return slices.Equal(t.Object.Attrs[r.DisableAttribute].Values, []string{r.DisableValue})
}

// outJoinCandidates returns the disconnectors of the rule's target connector
// that match every condition of g for MV object m (source: MV attribute, or
// for a fromFlow condition the value the rule's flow into the target computes;
// target: CS attribute). The objects are looked up by the first condition.
func (sy *syncer) outJoinCandidates(r *rules.Rule, g rules.JoinGroup, m *store.MVObject) ([]string, error) {
	if len(g.Conditions) == 0 {
		return nil, nil
	}
	src := make([][]string, len(g.Conditions))
	for i, cd := range g.Conditions {
		if !cd.FromFlow {
			src[i] = m.Attrs[cd.Source].Values
		} else {
			v, err := sy.flowValue(r, cd.Target, m)
			if err != nil {
				return nil, err
			}
			src[i] = v
		}
		if len(src[i]) == 0 {
			return nil, nil // a condition without a source value matches nothing
		}
	}
	first := g.Conditions[0]
	seen := map[string]bool{}
	var out []string
	for _, v := range src[0] {
		for _, cid := range sy.s.csLookup(r.Connector, r.CSObjectType, first.Target, first.CaseSensitive, v) {
			c := sy.s.cs[cid]
			if seen[cid] || c == nil || c.MVID != "" {
				continue
			}
			seen[cid] = true
			match := true
			for i, cd := range g.Conditions[1:] {
				if !anyEqual(src[i+1], c.Object.Attrs[cd.Target].Values, cd.CaseSensitive) {
					match = false
					break
				}
			}
			if match {
				out = append(out, cid)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// anyEqual reports whether a value of a equals one of b (normalized: norm).
func anyEqual(a, b []string, exact bool) bool {
	for _, x := range a {
		if hasNorm(b, norm(x, exact), exact) {
			return true
		}
	}
	return false
}

// flowValue returns the values the flows of outbound rule r into attribute
// target compute for MV object m, as for a target object about to be
// created (no imported values, no DN): nil when they give none.
func (sy *syncer) flowValue(r *rules.Rule, target string, m *store.MVObject) ([]string, error) {
	var params map[string]string
	if cc := sy.e.Connectors[r.Connector]; cc != nil {
		params = cc.Parameters
	}
	ev := env{attrs: m.Attrs, imported: model.Attrs{}, params: params, conn: r.Connector}
	one := *r
	one.Flows = nil
	for i := range r.Flows {
		if r.Flows[i].Target == target {
			one.Flows = append(one.Flows, r.Flows[i])
		}
	}
	var buf [1]contribution
	contribs, err := evalFlows(&one, ev, &source{prec: r.Precedence, rule: r.Name}, sy.refIn(r.Connector), buf[:0])
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range contribs {
		if !c.auth {
			out = append(out, c.vals.Values...)
		}
	}
	return out, nil
}

// deprovision handles a target object whose MV object left the scope of every
// outbound rule (or was deleted). Only objects idsync linked through an
// outbound rule get here: objects created in the target by anything else are
// never touched (R2.2). unlink also disconnects it from its MV object (the MV
// object is gone, or another object replaces it in the target).
func (sy *syncer) deprovision(t *store.CSObject, r *rules.Rule, unlink bool) {
	s := sy.s
	action := rules.DeprovisionDelete
	if r != nil && r.Deprovision != "" {
		action = r.Deprovision
	}
	sending := t.Pending != nil && t.Pending.State == store.ExportSending
	switch action {
	case rules.DeprovisionKeep:
		if !sending {
			t.Pending = nil
		}
		s.unlink(t)
	case rules.DeprovisionDisable:
		if t.Placeholder && !sending && (t.Pending == nil || !t.Pending.MayExist) {
			s.deleteCS(t)
			return
		}
		// A placeholder whose add failed but may have created the object:
		// its disable waits for the next import of the target, as a delete
		// does below (awaitsImport).
		cur := t.Object.Attrs[r.DisableAttribute]
		want := model.Values{Type: cur.Type, Values: []string{r.DisableValue}}
		if !sending {
			if cur.Equal(want) {
				t.Pending = nil
			} else {
				sy.setPending(t, &store.PendingExport{Op: connector.OpUpdate, Rule: r.Name,
					Changes: []connector.AttrChange{{Name: r.DisableAttribute, Mode: connector.Replace, Type: cur.Type, Values: want.Values}}})
			}
		}
		if unlink {
			s.unlink(t)
		}
	default:
		if t.Placeholder && !sending && (t.Pending == nil || !t.Pending.MayExist) {
			// Never sent: nothing exists in the target.
			s.deleteCS(t)
			return
		}
		// A placeholder whose add failed but may have created the object
		// gets a pending delete that waits for the next import of the
		// target (awaitsImport): sent by the proposed anchor it would miss
		// an object the target gave an anchor of its own.
		if !sending {
			name := ""
			if r != nil {
				name = r.Name
			}
			sy.setPending(t, &store.PendingExport{Op: connector.OpDelete, Rule: name})
		}
		if unlink {
			s.unlink(t)
		}
	}
}

// setPending stores p as t's pending export unless an equal one is pending.
func (sy *syncer) setPending(t *store.CSObject, p *store.PendingExport) {
	if t.Pending != nil && t.Pending.State != store.ExportSending && samePending(t.Pending, p) {
		return
	}
	p.ID = newID()
	p.State = store.ExportPending
	p.Created = sy.now
	// What is known of the earlier sendings of the same op carries over:
	// the attempts, and whether one may have created the object (a crash
	// left it sending, or it failed).
	if o := t.Pending; o != nil && (o.State == store.ExportError || o.State == store.ExportSending) && o.Op == p.Op {
		p.Attempts, p.Error = o.Attempts, o.Error
		p.MayExist = o.MayExist || o.State == store.ExportSending
	}
	t.Pending = p
	sy.s.dirtyCS[t.ID] = true
	x := sy.tally(t.Connector)
	switch p.Op {
	case connector.OpAdd:
		x.adds++
	case connector.OpDelete:
		x.deletes++
	case connector.OpRename:
		x.renames++
	default:
		x.updates++
	}
}

func samePending(a, b *store.PendingExport) bool {
	if a.Op != b.Op || a.NewDN != b.NewDN || len(a.Changes) != len(b.Changes) {
		return false
	}
	for i := range a.Changes {
		x, y := a.Changes[i], b.Changes[i]
		if x.Name != y.Name || x.Mode != y.Mode || x.Type != y.Type || !slices.Equal(x.Values, y.Values) {
			return false
		}
	}
	return true
}

// ownValues returns what outbound rule r's flows into the attributes the
// DN template's {@attr} placeholders name compute from MV object m for c, a
// target object of tc about to be provisioned (the other flows are not
// evaluated). SelectUniqueValue sees the connector space as it is, without
// c.
func (sy *syncer) ownValues(tc string, c *store.CSObject, m *store.MVObject, r *rules.Rule) (model.Attrs, error) {
	names, _ := rules.DNTemplateAttributes(r.DN)
	only := *r
	only.Flows = nil
	for _, f := range r.Flows {
		if slices.Contains(names, rules.OwnPrefix+f.Target) {
			only.Flows = append(only.Flows, f)
		}
	}
	ev := sy.outRuleEnv(sy.outEnv(tc, c, m), m.ID, r)
	contribs, err := evalFlows(&only, ev, &source{prec: r.Precedence, rule: r.Name}, sy.refIn(tc), nil)
	if err != nil {
		return nil, err
	}
	desired, _ := resolveContributions(contribs, nil)
	return desired, nil
}
