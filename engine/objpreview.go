package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/view"
)

// The single-object preview (Azure AD Connect's "Preview" of a metaverse
// object's synchronization): what synchronizing one metaverse object would
// do, rule by rule, computed without changing anything.
//
// It runs the synchronization's own code — the scope evaluation, the flows,
// the resolution of contributions, the outbound link decisions and the
// pending export computation — over a targeted state read from the store,
// and never applies the result: the store is left as it was. The object is
// synchronized as a full synchronization would synchronize it: every
// connector space object joined to it is processed (not only those marked
// for synchronization), its attributes are recomputed, the disconnectors
// that then match its join rules are joined, and its outbound state is
// computed for every target. Only this object is followed: the effects a
// synchronization would go on to have on other objects (the referrers of
// an object provisioned, the members of a group whose name changed,
// provisional projections merged into it) are not. Join lookups use the
// value keys the store keeps for the rules of the last synchronization: a
// preview declares none (it writes nothing).

// ObjectPreview is what synchronizing one metaverse object would do, rule by
// rule, computed without changing anything.
type ObjectPreview struct {
	MVID string `json:"mvid"`
	Type string `json:"type"`
	// Deleted: no authoritative connector space object would remain
	// joined: the metaverse object would be deleted (and its target
	// objects deprovisioned).
	Deleted  bool            `json:"deleted,omitempty"`
	Inbound  InboundPreview  `json:"inbound"`
	Outbound []TargetPreview `json:"outbound"`
	// Errors are the per-object errors the synchronization would report
	// (its run errors).
	Errors []string `json:"errors,omitempty"`
}

// InboundPreview is the inbound side: every connector space object joined to
// the metaverse object (or that would join it) with its inbound rules, then
// the attributes that result.
type InboundPreview struct {
	Sources []SourcePreview `json:"sources"`
	// Attributes: per metaverse attribute, the value the contributions
	// resolve to, the winning contribution and the current value.
	Attributes []MVAttributePreview `json:"attributes"`
	// Error: the synchronization would fail on this object (a flow or a
	// scoping filter failed) and leave it as it is, exporting nothing for
	// it. Attributes then show what the flows that did evaluate give.
	Error string `json:"error,omitempty"`
}

// ObjectRef names a connector space object.
type ObjectRef struct {
	ID         string `json:"id"`
	Connector  string `json:"connector"`
	ObjectType string `json:"objectType"`
	Anchor     string `json:"anchor"`
	DN         string `json:"dn,omitempty"`
	// State: see view.CSObject.State (after the synchronization).
	State string `json:"state"`
}

// Source link changes.
const (
	SourceJoined     = "joined"     // joined, and stays joined
	SourceJoin       = "join"       // a disconnector that would join the object
	SourceDisconnect = "disconnect" // in scope of no inbound rule any more: would be disconnected
	SourceDelete     = "delete"     // deleted in its connector: would be removed
)

// SourcePreview is one connector space object and its inbound rules.
type SourcePreview struct {
	Object   ObjectRef `json:"object"`
	LinkRule string    `json:"linkRule,omitempty"`
	// Link: joined, join, disconnect or delete (Source* constants).
	Link string `json:"link"`
	// Authoritative: joined by an inbound rule (or a provisioned object
	// flowing values back does not keep the metaverse object alive).
	Authoritative bool                 `json:"authoritative"`
	Rules         []InboundRulePreview `json:"rules"`
}

// InboundRulePreview is one inbound rule of a source object's connector and
// object type.
type InboundRulePreview struct {
	Rule         string      `json:"rule"`
	Precedence   int         `json:"precedence"`
	MVObjectType string      `json:"mvObjectType"`
	Scope        ScopeResult `json:"scope"`
	// Applies: the rule's flows contribute (in scope, of the metaverse
	// object's type, and the source object stays joined).
	Applies bool          `json:"applies"`
	Flows   []FlowPreview `json:"flows,omitempty"`
}

// ScopeResult is whether an object is in a rule's scope, and why not.
type ScopeResult struct {
	InScope bool `json:"inScope"`
	// Failing: when out of scope, the first clause that failed in each
	// scope group (the groups are ORed, the clauses of a group ANDed).
	Failing []FailingClause `json:"failing,omitempty"`
	// Error: the scoping filter failed (a synchronization reports it on
	// the object).
	Error string `json:"error,omitempty"`
	// Assignments, for a rule with assignments: whether one names the
	// object, and the roles of those that do.
	Assignments *AssignmentResult `json:"assignments,omitempty"`
}

// FailingClause is a scope clause an object fails.
type FailingClause struct {
	Group  int    `json:"group"` // 1-based
	Clause string `json:"clause"`
}

// AssignmentResult is an outbound rule's assignments for an object.
type AssignmentResult struct {
	Assigned  bool     `json:"assigned"`
	RolesAttr string   `json:"rolesAttribute"`
	Roles     []string `json:"roles"`
}

// FlowPreview is one attribute flow of a rule and what it gives.
type FlowPreview struct {
	Target     string `json:"target"`
	Type       string `json:"type"`
	Source     string `json:"source,omitempty"`
	Expression string `json:"expression,omitempty"`
	Value      string `json:"value,omitempty"`
	// ValueType and Values: the contribution (references mapped into
	// the target space). No values and not AuthoritativeNull: the flow
	// contributes nothing (no source value, or Null / IgnoreThisFlow).
	ValueType         string   `json:"valueType,omitempty"`
	Values            []string `json:"values"`
	AuthoritativeNull bool     `json:"authoritativeNull,omitempty"`
	Merge             bool     `json:"merge,omitempty"`
	ApplyOnce         bool     `json:"applyOnce,omitempty"`
	// Wins: the contribution is its attribute's winner.
	Wins  bool   `json:"wins,omitempty"`
	Error string `json:"error,omitempty"`
}

// Contributor is the rule a winning contribution came from.
type Contributor struct {
	Connector  string `json:"connector,omitempty"`
	Anchor     string `json:"anchor,omitempty"`
	Rule       string `json:"rule"`
	Precedence int    `json:"precedence"`
	// Merged: the winner merges: the values are the union of every
	// merging contribution.
	Merged bool `json:"merged,omitempty"`
	// AuthoritativeNull: the winner removes the value.
	AuthoritativeNull bool `json:"authoritativeNull,omitempty"`
}

// MVAttributePreview is one metaverse attribute after the synchronization.
type MVAttributePreview struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Values []string `json:"values"`
	// Winner: the winning contribution (none: no contribution, the
	// attribute is removed).
	Winner  *Contributor `json:"winner,omitempty"`
	Current []string     `json:"current"`
	Changed bool         `json:"changed"`
}

// Target link actions.
const (
	LinkNone      = "none"      // no target object, and none would be created or joined
	LinkKeep      = "keep"      // stays linked to its target object
	LinkProvision = "provision" // a target object would be created
	LinkJoin      = "join"      // an existing target object would be joined
	// LinkDeprovision: the linked target object is deprovisioned
	// (LinkPreview.Deprovision says how).
	LinkDeprovision = "deprovision"
)

// TargetPreview is one target connector: its outbound rules for the object,
// the link, and what its flows give against the target object.
type TargetPreview struct {
	Connector string                `json:"connector"`
	Rules     []OutboundRulePreview `json:"rules"`
	Link      LinkPreview           `json:"link"`
	// Attributes: the values the flows give against the target object's
	// current ones (managed attributes: those the outbound rules of its
	// type flow into).
	Attributes []OutAttributePreview `json:"attributes"`
	// Export: the pending exports of the target objects afterwards, as
	// `idsync preview` lists them: what the next export would write.
	Export []PreviewRow `json:"export"`
	// Error: the synchronization would fail on the object for this
	// target (its outbound state left as it is).
	Error string `json:"error,omitempty"`
}

// OutboundRulePreview is one outbound rule of the object's type.
type OutboundRulePreview struct {
	Rule         string      `json:"rule"`
	Precedence   int         `json:"precedence"`
	CSObjectType string      `json:"csObjectType"`
	LinkType     string      `json:"linkType"`
	Scope        ScopeResult `json:"scope"`
	// Applies: the rule's flows feed the export (in scope, and of the
	// target object's type). The flows of a rule in scope are shown even
	// when they do not apply, evaluated without a target object.
	Applies bool          `json:"applies"`
	Flows   []FlowPreview `json:"flows,omitempty"`
}

// LinkPreview is what happens to the object's link in a target.
type LinkPreview struct {
	// Action: none, keep, provision, join or deprovision (Link*
	// constants). An object replaced by one of another type is
	// provisioned or joined, with Deprovision set.
	Action string `json:"action"`
	// Rule: the rule that links (or would link) the object.
	Rule string `json:"rule,omitempty"`
	// Object: the target object linked afterwards (for provision, the
	// object to be created; for join, the candidate joined).
	Object *ObjectRef `json:"object,omitempty"`
	// Deprovision: the target object linked before is deprovisioned (out
	// of scope, the metaverse object deleted, or replaced by an object of
	// another type).
	Deprovision *DeprovisionPreview `json:"deprovision,omitempty"`
	// Note explains an action.
	Note string `json:"note,omitempty"`
}

// DeprovisionPreview is a target object deprovisioned.
type DeprovisionPreview struct {
	Object ObjectRef `json:"object"`
	Rule   string    `json:"rule,omitempty"`
	// Action: the rule's deprovisioning action: delete, disable or keep.
	Action string `json:"action"`
	// Dropped: a placeholder never exported: removed, nothing is sent.
	Dropped bool `json:"dropped,omitempty"`
	// Unlinked: disconnected from the metaverse object.
	Unlinked bool `json:"unlinked,omitempty"`
}

// OutAttributePreview is one attribute of a target object.
type OutAttributePreview struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Values  []string `json:"values"`
	Rule    string   `json:"rule,omitempty"` // the winning rule
	Current []string `json:"current"`
	// Changed: the export would change it (for an object to create:
	// it has a value).
	Changed bool `json:"changed"`
	// ApplyOnce: the winning flow applies only when the object is
	// created.
	ApplyOnce bool `json:"applyOnce,omitempty"`
}

// PreviewObject returns what synchronizing metaverse object mvid would do,
// without changing anything (see ObjectPreview). An unknown ID is
// store.ErrNotFound. Errors of rules (expressions, scoping filters) are
// reported where they occur, not returned.
func (e *Engine) PreviewObject(ctx context.Context, mvid string) (*ObjectPreview, error) {
	if _, err := e.Store.GetMV(ctx, mvid); err != nil {
		return nil, fmt.Errorf("metaverse object %s: %w", mvid, err)
	}
	rv := newRuleView(e.Rules)
	s := newState(ctx, e.Store, false)
	rr := &runRec{e: e, r: &store.Run{}, deferred: true, silent: true}
	sy := &syncer{e: e, rr: rr, s: s, rv: rv, now: time.Now().UTC(),
		outTouched: map[string]bool{}, outRules: map[string][]*rules.Rule{}, failed: map[string]bool{}, retry: map[string]*store.CSObject{}, created: map[string]bool{},
		exports: map[string]*exportTally{}, processed: map[string]*store.CSObject{}, joined: map[string]bool{},
		oldAttrs: map[string]model.Attrs{}, writeOnly: writeOnlyByTarget(e, rv)}
	m := s.getMV(mvid)
	if m == nil {
		if s.err != nil {
			return nil, s.err
		}
		return nil, fmt.Errorf("metaverse object %s: %w", mvid, store.ErrNotFound)
	}
	cur := maps.Clone(m.Attrs)
	p := &ObjectPreview{MVID: mvid, Type: m.Type, Outbound: []TargetPreview{}}

	// Before: the source objects and the target links.
	start := s.linked(mvid)
	before := map[string]*store.CSObject{}
	for _, tc := range rv.targets {
		before[tc] = s.linkedIn(mvid, tc)
	}

	// Inbound, as the synchronization loop runs it for this object.
	queue := slices.Clone(start)
	s.recompute[mvid] = true
	for round := 0; round < 10 && (len(queue) > 0 || s.recompute[mvid]); round++ {
		sortByAnchor(queue)
		for _, o := range queue {
			sy.inbound(o)
		}
		queue = nil
		again := s.recompute[mvid]
		s.recompute = map[string]bool{}
		if again && len(sy.recomputeMVs([]string{mvid})) > 0 {
			queue = sy.reverseJoinCandidates(mvid)
		}
	}
	failed := sy.failed[mvid]
	p.Deleted = s.delMV[mvid]
	p.Inbound = sy.previewInbound(m, cur, start)
	p.Inbound.Error = inboundError(rr.errs, p.Inbound.Sources, failed)

	// Outbound, as the outbound pass runs it for this object.
	linkErrs, outErrs := map[string][]string{}, map[string][]string{}
	var results []outResult
	if !failed {
		for _, tc := range rv.targets {
			n := len(rr.errs)
			sy.outLink(mvid, tc)
			for _, x := range rr.errs[n:] {
				linkErrs[tc] = append(linkErrs[tc], x.Message)
			}
		}
		if !sy.failed[mvid] {
			for _, tc := range rv.targets {
				results = append(results, sy.computeOut(mvid, tc))
			}
			sy.checkUnique(results)
			for _, r := range results {
				n := len(rr.errs)
				sy.applyOut(r)
				for _, x := range rr.errs[n:] {
					outErrs[r.target] = append(outErrs[r.target], x.Message)
				}
			}
		}
		if s.delMV[mvid] {
			for _, c := range s.linked(mvid) {
				s.unlink(c)
			}
		}
	}
	for _, tc := range rv.targets {
		if tp, ok := sy.previewTarget(m, tc, before[tc], failed, linkErrs[tc], outErrs[tc]); ok {
			p.Outbound = append(p.Outbound, tp)
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("preview metaverse object %s: %w", mvid, s.err)
	}
	for _, x := range rr.errs {
		p.Errors = append(p.Errors, x.Object+": "+x.Message)
	}
	return p, nil
}

// inboundError returns the error the synchronization would report on the
// metaverse object's source objects: the first run error on one of them
// (failed: the object failed; a scoping filter error may also leave a
// source object pending without failing the object).
func inboundError(errs []store.RunError, srcs []SourcePreview, failed bool) string {
	ids := map[string]bool{}
	for _, sp := range srcs {
		ids[sp.Object.ID] = true
	}
	for _, x := range errs {
		if ids[x.CSID] {
			return x.Message
		}
	}
	if failed && len(errs) > 0 {
		return errs[0].Message
	}
	return ""
}

// flowPos is where a contribution came from: source, rule and flow indexes.
type flowPos struct{ src, rule, flow int }

// previewInbound describes the inbound side after the synchronization ran
// on the state: start are the objects joined before.
func (sy *syncer) previewInbound(m *store.MVObject, cur model.Attrs, start []*store.CSObject) InboundPreview {
	s := sy.s
	in := InboundPreview{Sources: []SourcePreview{}, Attributes: []MVAttributePreview{}}
	objs := slices.Clone(start)
	was := map[string]bool{}
	for _, c := range start {
		was[c.ID] = true
	}
	// Target objects without inbound rules have no part in it.
	objs = slices.DeleteFunc(objs, func(c *store.CSObject) bool {
		return len(sy.inboundRules(c)) == 0 && !sy.rv.isInbound(c.LinkRule)
	})
	if !s.delMV[m.ID] {
		for _, c := range s.linked(m.ID) {
			if !was[c.ID] {
				objs = append(objs, c)
			}
		}
	}
	sortByAnchor(objs)
	var contribs []contribution
	var pos []flowPos
	for si, c := range objs {
		sp := SourcePreview{Object: objectRef(s, c), LinkRule: c.LinkRule, Rules: []InboundRulePreview{}}
		joined := c.MVID == m.ID && !s.delCS[c.ID]
		switch {
		case c.Deleted:
			sp.Link = SourceDelete
		case !was[c.ID]:
			sp.Link = SourceJoin
		case !joined:
			sp.Link = SourceDisconnect
		default:
			sp.Link = SourceJoined
		}
		rs := sy.inboundRules(c)
		sp.Authoritative = len(rs) > 0 && !sy.rv.isOutbound(c.LinkRule)
		ev, ref := sy.inboundEnv(c)
		for ri, r := range rs {
			rp := InboundRulePreview{Rule: r.Name, Precedence: r.Precedence, MVObjectType: r.MVObjectType}
			ok, err := r.Scope.Match(csSubject{s, c})
			rp.Scope = scopeResult(r.Scope, csSubject{s, c}, ok, err)
			if err == nil && ok {
				rp.Applies = joined && !c.Deleted && !s.delMV[m.ID] && r.MVObjectType == m.Type
				src := &source{prec: r.Precedence, rule: r.Name, conn: c.Connector, anchor: c.Object.Anchor, csid: c.ID}
				var got []contribution
				var from []int
				rp.Flows, got, from = previewFlows(r, ev, src, ref)
				if rp.Applies {
					for i, x := range got {
						contribs = append(contribs, x)
						pos = append(pos, flowPos{si, ri, from[i]})
					}
				}
			}
			sp.Rules = append(sp.Rules, rp)
		}
		in.Sources = append(in.Sources, sp)
	}
	attrs, win := resolveContributions(contribs, nil)
	winner := map[string]int{}
	for _, wi := range win {
		w := &contribs[wi]
		winner[w.attr] = wi
		fp := pos[wi]
		in.Sources[fp.src].Rules[fp.rule].Flows[fp.flow].Wins = true
	}
	names := map[string]bool{}
	for _, n := range slices.Concat(cur.Names(), attrs.Names(), slices.Collect(maps.Keys(winner))) {
		names[n] = true
	}
	for _, n := range sortedFold(names) {
		v, old := attrs[n], cur[n]
		a := MVAttributePreview{Name: n, Type: typeOf(v, old), Values: vals(v), Current: vals(old), Changed: !v.Equal(old)}
		if wi, ok := winner[n]; ok {
			w := &contribs[wi]
			a.Winner = &Contributor{Connector: w.src.conn, Anchor: w.src.anchor, Rule: w.src.rule, Precedence: w.src.prec,
				Merged: w.merge && !w.auth, AuthoritativeNull: w.auth}
		}
		in.Attributes = append(in.Attributes, a)
	}
	return in
}

// previewTarget describes target tc after the outbound pass ran on the
// state; t0 is the object linked before. It reports false for a target
// with no rule of the object's type and no object linked. linkErrs and
// outErrs are the errors of the link decision and of the export's
// computation.
func (sy *syncer) previewTarget(m *store.MVObject, tc string, t0 *store.CSObject, failed bool, linkErrs, outErrs []string) (TargetPreview, bool) {
	s := sy.s
	id := m.ID
	var own []*rules.Rule
	for _, r := range sy.rv.outbound[tc] {
		if r.MVObjectType == m.Type {
			own = append(own, r)
		}
	}
	t1 := s.linkedIn(id, tc)
	if len(own) == 0 && t0 == nil && t1 == nil {
		return TargetPreview{}, false
	}
	tp := TargetPreview{Connector: tc, Rules: []OutboundRulePreview{}, Attributes: []OutAttributePreview{}, Export: []PreviewRow{},
		Error: strings.Join(slices.Concat(linkErrs, outErrs), "; ")}
	deleted := s.delMV[id]

	// The link.
	lp := &tp.Link
	lp.Action = LinkNone
	switch {
	case failed:
		lp.Action, lp.Note = LinkNone, "the synchronization fails on the metaverse object: its targets are left as they are"
		if t0 != nil {
			lp.Action, lp.Rule, lp.Object = LinkKeep, t0.LinkRule, ptr(objectRef(s, t0))
		}
	case t1 != nil && t0 != nil && t1.ID == t0.ID:
		lp.Action, lp.Rule, lp.Object = LinkKeep, t1.LinkRule, ptr(objectRef(s, t1))
		if !sy.rv.isOutbound(t1.LinkRule) {
			lp.Note = "linked by an inbound rule: a source object that is also a target"
		}
	case t1 != nil && s.created[t1.ID]:
		lp.Action, lp.Rule, lp.Object = LinkProvision, t1.LinkRule, ptr(objectRef(s, t1))
	case t1 != nil:
		lp.Action, lp.Rule, lp.Object = LinkJoin, t1.LinkRule, ptr(objectRef(s, t1))
	}
	if !failed && len(linkErrs) == 0 && t0 != nil && !t0.Deleted && sy.rv.isOutbound(t0.LinkRule) {
		links, known := sy.kept[keptKey{id, tc}]
		if deleted || known && !links || t1 == nil || t1.ID != t0.ID {
			r := sy.rv.byName[t0.LinkRule]
			action := rules.DeprovisionDelete
			if r != nil && r.Deprovision != "" {
				action = r.Deprovision
			}
			lp.Deprovision = &DeprovisionPreview{Object: objectRef(s, t0), Rule: t0.LinkRule, Action: string(action),
				Dropped: s.delCS[t0.ID], Unlinked: t0.MVID != id}
			if t1 == nil || t1.ID == t0.ID {
				lp.Action, lp.Rule, lp.Object = LinkDeprovision, t0.LinkRule, nil
			}
		}
	}
	if t0 != nil && t0.Deleted && t1 == nil {
		lp.Note = "its target object was deleted in the target"
	}
	if lp.Action == LinkNone && lp.Deprovision == nil && lp.Note == "" && !deleted {
		lp.Note = "in scope of no rule that links it here, or no join candidate and no Provision rule"
	}
	if t1 != nil && t1.Pending != nil && t1.Pending.State == store.ExportSending {
		lp.Note = "an export to its target object is in flight: the next synchronization recomputes it"
	}

	// The rules: scope, and their flows against the target object.
	var tev env
	if t1 != nil {
		tev = sy.outEnv(tc, t1, m)
	} else {
		tev = sy.outEnv(tc, &store.CSObject{Connector: tc, Object: model.Object{Attrs: model.Attrs{}}}, m)
		tev.taken = nil
	}
	ref := sy.refIn(tc)
	var contribs []contribution
	var pos []flowPos
	for ri, r := range own {
		rp := OutboundRulePreview{Rule: r.Name, Precedence: r.Precedence, CSObjectType: r.CSObjectType, LinkType: string(r.LinkType)}
		if deleted {
			rp.Scope = ScopeResult{Error: "the metaverse object would be deleted"}
			tp.Rules = append(tp.Rules, rp)
			continue
		}
		rp.Scope = sy.outScopeResult(r, m)
		if rp.Scope.InScope {
			rp.Applies = !failed && t1 != nil && r.CSObjectType == t1.Object.Type && slices.Contains(sy.outRules[id+"\x00"+tc], r)
			ev := tev
			if t1 == nil || r.CSObjectType != t1.Object.Type {
				ev = sy.outEnv(tc, &store.CSObject{Connector: tc, Object: model.Object{Type: r.CSObjectType, Attrs: model.Attrs{}}}, m)
				ev.taken = nil
			}
			var got []contribution
			var from []int
			rp.Flows, got, from = previewFlows(r, sy.outRuleEnv(ev, id, r), &source{prec: r.Precedence, rule: r.Name}, ref)
			if rp.Applies {
				for i, x := range got {
					contribs = append(contribs, x)
					pos = append(pos, flowPos{0, ri, from[i]})
				}
			}
		}
		tp.Rules = append(tp.Rules, rp)
	}

	// The attributes the applying flows give against the target object's.
	if t1 != nil && !failed && len(sy.outRules[id+"\x00"+tc]) > 0 {
		desired, win := resolveContributions(contribs, nil)
		winner := map[string]*contribution{}
		for _, wi := range win {
			winner[contribs[wi].attr] = &contribs[wi]
			fp := pos[wi]
			tp.Rules[fp.rule].Flows[fp.flow].Wins = true
		}
		names := map[string]bool{}
		for _, a := range sy.rv.managed[tc][t1.Object.Type] {
			names[a] = true
		}
		for _, a := range desired.Names() {
			names[a] = true
		}
		for _, n := range sortedFold(names) {
			want := desired[n]
			var have model.Values
			if !t1.Placeholder {
				have = t1.Object.Attrs[n]
			}
			oa := OutAttributePreview{Name: n, Type: typeOf(want, have), Values: vals(want), Current: vals(have)}
			if w := winner[n]; w != nil {
				oa.Rule, oa.ApplyOnce = w.src.rule, w.once
			}
			switch {
			case t1.Placeholder:
				oa.Changed = len(want.Values) > 0
			case oa.ApplyOnce:
			default:
				oa.Changed = !have.Equal(want)
			}
			tp.Attributes = append(tp.Attributes, oa)
		}
	}

	// What the next export would write.
	for i, t := range []*store.CSObject{t0, t1} {
		if t == nil || s.delCS[t.ID] || i == 1 && t0 != nil && t0.ID == t.ID {
			continue
		}
		tp.Export = appendPreviewRows(tp.Export, t)
	}
	return tp, true
}

// outScopeResult evaluates whether MV object m is in the scope of outbound
// rule r as the synchronization does (ruleInScope), and why not.
func (sy *syncer) outScopeResult(r *rules.Rule, m *store.MVObject) ScopeResult {
	ok, err := sy.ruleInScope(r, m)
	var subj rules.Subject = mvSubject{sy.s, m}
	var ar *AssignmentResult
	if len(r.Assignments) > 0 {
		sy.assignMu.Lock()
		assigned, roles := sy.assigned(r, m)
		sy.assignMu.Unlock()
		ar = &AssignmentResult{Assigned: assigned, RolesAttr: r.RolesAttr(), Roles: vals(roles)}
		if !assigned {
			return ScopeResult{Assignments: ar}
		}
		subj = assignedSubject{mvSubject{sy.s, m}, r.RolesAttr(), roles}
	}
	res := scopeResult(r.Scope, subj, ok, err)
	res.Assignments = ar
	return res
}

// scopeResult describes a scoping filter's verdict ok, err on subj: when
// out of scope, the first failing clause of every group.
func scopeResult(f rules.ScopingFilter, subj rules.Subject, ok bool, err error) ScopeResult {
	if err != nil {
		return ScopeResult{Error: err.Error()}
	}
	if ok {
		return ScopeResult{InScope: true}
	}
	res := ScopeResult{}
	for gi := range f {
		for ci := range f[gi].Clauses {
			c := &f[gi].Clauses[ci]
			if m, err := c.Match(subj); err != nil || !m {
				res.Failing = append(res.Failing, FailingClause{Group: gi + 1, Clause: c.String()})
				break
			}
		}
	}
	return res
}

// previewFlows evaluates r's flows one by one, as evalFlows evaluates them
// together, so that an error is reported on its flow and the others still
// give their values. It returns the flows and the contributions of those
// that evaluated, in flow order (what evalFlows gives when none fails),
// with the index of the flow each came from.
func previewFlows(r *rules.Rule, ev env, src *source, ref func(string) (string, bool)) ([]FlowPreview, []contribution, []int) {
	out := make([]FlowPreview, len(r.Flows))
	var contribs []contribution
	var from []int
	one := *r
	for i := range r.Flows {
		f := &r.Flows[i]
		fp := FlowPreview{Target: f.Target, Type: string(f.Type), Source: f.Source, Expression: f.Expression, Value: f.Value,
			Merge: f.Merge == rules.MergeMerge, ApplyOnce: f.ApplyOnce, Values: []string{}}
		one.Flows = r.Flows[i : i+1]
		n := len(contribs)
		var err error
		contribs, err = evalFlows(&one, ev, src, ref, contribs)
		switch {
		case err != nil:
			fp.Error = err.Error()
		case len(contribs) > n:
			c := &contribs[n]
			from = append(from, i)
			fp.AuthoritativeNull = c.auth
			if !c.auth {
				fp.ValueType, fp.Values = c.vals.Type.String(), vals(c.vals)
			}
		}
		out[i] = fp
	}
	return out, contribs, from
}

func objectRef(s *state, c *store.CSObject) ObjectRef {
	st := view.State(c)
	if s.delCS[c.ID] {
		st = view.StateDeleted
	}
	return ObjectRef{ID: c.ID, Connector: c.Connector, ObjectType: c.Object.Type, Anchor: c.Object.Anchor, DN: c.Object.DN, State: st}
}

func ptr[T any](v T) *T { return &v }

func vals(v model.Values) []string {
	if v.Values == nil {
		return []string{}
	}
	return slices.Clone(v.Values)
}

// typeOf names the type of want, or of have when want has no values.
func typeOf(want, have model.Values) string {
	if len(want.Values) == 0 && len(have.Values) > 0 {
		return have.Type.String()
	}
	return want.Type.String()
}

// sortedFold returns the keys sorted case-insensitively.
func sortedFold(set map[string]bool) []string {
	out := slices.Collect(maps.Keys(set))
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i]), strings.ToLower(out[j])
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}
