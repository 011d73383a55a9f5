package engine

import (
	"slices"
	"sort"
	"strings"

	"github.com/idsync/idsync/rules"
)

// ruleView indexes the enabled sync rules the way a synchronization uses them.
type ruleView struct {
	inbound map[string][]*rules.Rule // connector → rules, by precedence
	// inboundByType: "connector\x00csObjectType" → rules, by precedence
	inboundByType map[string][]*rules.Rule
	outbound      map[string][]*rules.Rule
	byName        map[string]*rules.Rule
	targets       []string // connectors with outbound rules, sorted
	// joinByMVType: inbound rules with join groups, by MV object type
	joinByMVType map[string][]*rules.Rule
	// membership: some rule's scope tests group membership (ISMEMBEROF,
	// ISNOTMEMBEROF, as group-based filtering does).
	membership bool
	// assignGroups: the group names of outbound rules' group assignments
	// (lower case; see assign.go), and assignNested: one of them assigns
	// nested members.
	assignGroups map[string]bool
	assignNested bool
	// joinTargets: the first condition of every join group of those
	// rules, one per MV attribute and case sensitivity, by MV object type
	joinTargets map[string][]rules.JoinCondition
	// managed: target connector → CS object type → attributes the outbound
	// rules flow into (only these are ever changed in the target).
	managed map[string]map[string][]string
}

func newRuleView(rs *rules.RuleSet) *ruleView {
	v := &ruleView{
		inbound:       map[string][]*rules.Rule{},
		inboundByType: map[string][]*rules.Rule{},
		outbound:      map[string][]*rules.Rule{},
		byName:        map[string]*rules.Rule{},
		joinByMVType:  map[string][]*rules.Rule{},
		joinTargets:   map[string][]rules.JoinCondition{},
		managed:       map[string]map[string][]string{},
		assignGroups:  map[string]bool{},
	}
	if rs == nil {
		return v
	}
	all := make([]*rules.Rule, 0, len(rs.Rules))
	for _, r := range rs.Rules {
		if !r.Disabled {
			all = append(all, r)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Precedence != all[j].Precedence {
			return all[i].Precedence < all[j].Precedence
		}
		return all[i].Name < all[j].Name
	})
	seenAttr := map[string]bool{}
	for _, r := range all {
		v.byName[r.Name] = r
		for _, g := range r.Scope {
			for _, c := range g.Clauses {
				if strings.EqualFold(string(c.Operator), string(rules.IsMemberOf)) || strings.EqualFold(string(c.Operator), string(rules.IsNotMemberOf)) {
					v.membership = true
				}
			}
		}
		if r.Direction == rules.Outbound {
			if len(v.outbound[r.Connector]) == 0 {
				v.targets = append(v.targets, r.Connector)
				v.managed[r.Connector] = map[string][]string{}
			}
			v.outbound[r.Connector] = append(v.outbound[r.Connector], r)
			for _, a := range r.Assignments {
				if a.Group != "" {
					// Members joining or leaving a group enter or leave
					// the rule's assignments.
					v.membership = true
					v.assignGroups[strings.ToLower(a.Group)] = true
					v.assignNested = v.assignNested || strings.EqualFold(a.Members, rules.MembersNested)
				}
			}
			for _, f := range r.Flows {
				k := r.Connector + "\x00" + r.CSObjectType + "\x00" + f.Target
				if !seenAttr[k] {
					seenAttr[k] = true
					v.managed[r.Connector][r.CSObjectType] = append(v.managed[r.Connector][r.CSObjectType], f.Target)
				}
			}
			if r.Deprovision == rules.DeprovisionDisable && r.DisableAttribute != "" {
				k := r.Connector + "\x00" + r.CSObjectType + "\x00" + r.DisableAttribute
				if !seenAttr[k] {
					seenAttr[k] = true
					v.managed[r.Connector][r.CSObjectType] = append(v.managed[r.Connector][r.CSObjectType], r.DisableAttribute)
				}
			}
			continue
		}
		v.inbound[r.Connector] = append(v.inbound[r.Connector], r)
		k := r.Connector + "\x00" + r.CSObjectType
		v.inboundByType[k] = append(v.inboundByType[k], r)
		if len(r.Join) > 0 {
			v.joinByMVType[r.MVObjectType] = append(v.joinByMVType[r.MVObjectType], r)
		}
		for _, g := range r.Join {
			if len(g.Conditions) == 0 {
				continue
			}
			t := rules.JoinCondition{Target: g.Conditions[0].Target, CaseSensitive: g.Conditions[0].CaseSensitive}
			if !slices.Contains(v.joinTargets[r.MVObjectType], t) {
				v.joinTargets[r.MVObjectType] = append(v.joinTargets[r.MVObjectType], t)
			}
		}
	}
	sort.Strings(v.targets)
	for _, m := range v.managed {
		for _, attrs := range m {
			sort.Strings(attrs)
		}
	}
	return v
}

func (v *ruleView) isOutbound(rule string) bool {
	r := v.byName[rule]
	return r != nil && r.Direction == rules.Outbound
}

func (v *ruleView) isInbound(rule string) bool {
	r := v.byName[rule]
	return r != nil && r.Direction == rules.Inbound
}
