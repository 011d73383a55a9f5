package engine

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// Assignments (rules.Assignment) restrict an outbound rule to the MV objects
// they name and give those objects roles, which the rule's scope and flows
// read under the rule's roles attribute (rules.Rule.RolesAttr).
//
// A rule's assignments are indexed once per synchronization run (by MV ID,
// by attribute value in lower case, and by the MV objects group
// assignments name), so that checking an object costs a few lookups however
// many assignments the rule has. A group assignment is resolved once per
// run: the MV objects of type group it names (by MV ID, else displayName,
// else sourceAnchor, case-insensitively), and their direct or nested
// members (the MV attribute member holds MV IDs). Everything is resolved in
// the outbound pass's sequential phase (outLink), after every MV object of
// the run was recomputed, when the MV no longer changes; the parallel phase
// (computeOut) only reads the roles outLink recorded (syncer.outRoles).

// groupType is the MV object type group assignments name.
const groupType = "group"

// assignCache holds what the run resolved of assignments.
type assignCache struct {
	groups map[string][]string        // assignment group value → MV group IDs
	direct map[string]map[string]bool // MV group ID → its direct members
	nested map[string]map[string]bool // MV group ID → its members through nested groups
	byRule map[*rules.Rule]*ruleAssign
	roles  map[string]model.Values // "mvid\x00rule" → roles, for computeOut
}

func (sy *syncer) assignments() *assignCache {
	if sy.assign == nil {
		sy.assign = &assignCache{groups: map[string][]string{}, direct: map[string]map[string]bool{},
			nested: map[string]map[string]bool{}, roles: map[string]model.Values{}, byRule: map[*rules.Rule]*ruleAssign{}}
	}
	return sy.assign
}

// ruleInScope reports whether MV object m is in the scope of outbound rule
// r: named by one of its assignments, if it has any, and matching its
// scoping filter, which reads the assignments' roles under the roles
// attribute. It is safe for concurrent use: references check the scope of
// the objects they name from the parallel computeOut (keptIn).
func (sy *syncer) ruleInScope(r *rules.Rule, m *store.MVObject) (bool, error) {
	if len(r.Assignments) == 0 {
		return r.Scope.Match(mvSubject{sy.s, m})
	}
	sy.assignMu.Lock()
	defer sy.assignMu.Unlock()
	ok, roles := sy.assigned(r, m)
	if !ok {
		return false, nil
	}
	sy.assignments().roles[m.ID+"\x00"+r.Name] = roles
	return r.Scope.Match(assignedSubject{mvSubject{sy.s, m}, r.RolesAttr(), roles})
}

// outRoles returns the roles ruleInScope found for MV object id and rule
// r (safe for concurrent use).
func (sy *syncer) outRoles(id string, r *rules.Rule) model.Values {
	sy.assignMu.Lock()
	defer sy.assignMu.Unlock()
	if sy.assign == nil {
		return model.Values{}
	}
	return sy.assign.roles[id+"\x00"+r.Name]
}

// assignedSubject is an MV object with the roles of its assignments.
type assignedSubject struct {
	mvSubject
	rolesAttr string
	roles     model.Values
}

func (x assignedSubject) Attr(name string) model.Values {
	if name == x.rolesAttr {
		return x.roles
	}
	return x.mvSubject.Attr(name)
}

// assigned reports whether one of r's assignments names m, and returns the
// roles of those that do: sorted, without duplicates (case-insensitively,
// the first in sort order kept) and without empty roles.
func (sy *syncer) assigned(r *rules.Rule, m *store.MVObject) (bool, model.Values) {
	ix := sy.ruleAssignments(r)
	var hit []int
	hit = append(hit, ix.byID[m.ID]...)
	hit = append(hit, ix.byMember[m.ID]...)
	for attr, byVal := range ix.byValue {
		for _, v := range m.Attrs[attr].Values {
			hit = append(hit, byVal[strings.ToLower(v)]...)
		}
	}
	if len(hit) == 0 {
		return false, model.Values{}
	}
	var roles []string
	for _, i := range hit {
		if role := r.Assignments[i].Role; role != "" {
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 {
		return true, model.Values{}
	}
	slices.SortFunc(roles, func(x, y string) int {
		if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	roles = slices.CompactFunc(roles, strings.EqualFold)
	return true, model.Values{Type: model.String, Values: roles}
}

// ruleAssign indexes a rule's assignments by what names an object: the
// indexes of the assignments that name an MV ID, of those that name a value
// of an attribute (by attribute, then value in lower case), and of the
// group assignments that name an MV object (a member, or the group itself).
type ruleAssign struct {
	byID     map[string][]int
	byValue  map[string]map[string][]int
	byMember map[string][]int
}

// ruleAssignments returns r's index, built the first time the run needs it
// (resolving its group assignments).
func (sy *syncer) ruleAssignments(r *rules.Rule) *ruleAssign {
	c := sy.assignments()
	if ix := c.byRule[r]; ix != nil {
		return ix
	}
	ix := &ruleAssign{byID: map[string][]int{}, byValue: map[string]map[string][]int{}, byMember: map[string][]int{}}
	for i := range r.Assignments {
		a := &r.Assignments[i]
		switch {
		case a.ID != "":
			ix.byID[a.ID] = append(ix.byID[a.ID], i)
		case a.Value != "":
			attr := a.ValueAttribute()
			if ix.byValue[attr] == nil {
				ix.byValue[attr] = map[string][]int{}
			}
			v := strings.ToLower(a.Value)
			ix.byValue[attr][v] = append(ix.byValue[attr][v], i)
		case a.Group != "":
			named := map[string]bool{}
			for _, g := range sy.assignedGroups(a.Group) {
				if a.Self {
					named[g] = true
				}
				var members map[string]bool
				switch {
				case strings.EqualFold(a.Members, rules.MembersNone):
				case strings.EqualFold(a.Members, rules.MembersNested):
					members = sy.nestedMembers(g)
				default:
					members = sy.directMembers(g)
				}
				for id := range members {
					named[id] = true
				}
			}
			for id := range named {
				ix.byMember[id] = append(ix.byMember[id], i)
			}
		}
	}
	c.byRule[r] = ix
	return ix
}

// assignedGroups returns the MV groups an assignment's group names: the
// group with that MV ID; else the groups whose displayName has the value,
// else those whose sourceAnchor has it, compared case-insensitively. In a
// targeted state the lookups go through the store's value keys of those
// attributes (declared by declareIndexes), which are lower-cased
// (store.ValueKey): every group whose value equals the assignment's in
// lower case is found, and the state's own check (mvLookupTargeted)
// compares in lower case too.
func (sy *syncer) assignedGroups(name string) []string {
	c := sy.assignments()
	if ids, ok := c.groups[name]; ok {
		return ids
	}
	s := sy.s
	var ids []string
	if g := s.getMV(name); g != nil && g.Type == groupType && !s.delMV[name] {
		ids = []string{name}
	} else {
		for _, attr := range []string{"displayName", "sourceAnchor"} {
			for _, id := range s.mvLookup(groupType, attr, false, name) {
				if !s.delMV[id] {
					ids = append(ids, id)
				}
			}
			if len(ids) > 0 {
				break
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	c.groups[name] = ids
	return ids
}

// directMembers returns the direct members of MV group g.
func (sy *syncer) directMembers(g string) map[string]bool {
	c := sy.assignments()
	if set, ok := c.direct[g]; ok {
		return set
	}
	set := map[string]bool{}
	if m := sy.s.getMV(g); m != nil && !sy.s.delMV[g] {
		for _, v := range m.Attrs["member"].Values {
			set[v] = true
		}
	}
	c.direct[g] = set
	return set
}

// nestedMembers returns the members of MV group g, directly or through
// nested groups (members that have members); a cycle back to g does not
// make g a member of itself.
func (sy *syncer) nestedMembers(g string) map[string]bool {
	c := sy.assignments()
	if set, ok := c.nested[g]; ok {
		return set
	}
	set := map[string]bool{}
	if m := sy.s.getMV(g); m != nil && !sy.s.delMV[g] {
		sy.walkMembers(m.Attrs["member"].Values, map[string]bool{g: true}, func(id string) { set[id] = true })
	}
	c.nested[g] = set
	return set
}

// walkMembers calls fn once for every live MV object among ids and, through
// nested groups, their members (cycles cut; seen are skipped, and then
// marked). A targeted state reads the objects it does not hold yet: a
// member is known to be a group only once read.
func (sy *syncer) walkMembers(ids []string, seen map[string]bool, fn func(id string)) {
	s := sy.s
	queue := slices.Clone(ids)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		m := s.getMV(id)
		if m == nil || s.delMV[id] {
			continue
		}
		fn(id)
		queue = append(queue, m.Attrs["member"].Values...)
	}
}

// assignMembersChanged is called when MV object m changes from old to cur
// (cur nil: deleted), when some outbound rule has group assignments. The
// objects whose assignments may change with it are re-evaluated against
// the outbound rules: when m is deleted, or is a group whose name (MV ID,
// displayName or sourceAnchor) names an assigned group before or after the
// change and that name changed, its members; with nested assignments, the
// members through nested groups of those and of the members m gained or
// lost (the direct ones are recomputed by applyMV, as for ISMEMBEROF).
func (sy *syncer) assignMembersChanged(m *store.MVObject, old, cur model.Attrs) {
	if len(sy.rv.assignGroups) == 0 {
		return
	}
	var touch []string
	oldM, curM := old["member"], cur["member"]
	switch {
	case cur == nil:
		touch = oldM.Values
	case m.Type == groupType && (sy.namesAssignedGroup(m.ID, old) || sy.namesAssignedGroup(m.ID, cur)) &&
		(!old["displayName"].Equal(cur["displayName"]) || !old["sourceAnchor"].Equal(cur["sourceAnchor"])):
		touch = append(slices.Clone(oldM.Values), curM.Values...)
	case sy.rv.assignNested && !oldM.Equal(curM):
		touch = symmetricDiff(oldM.Values, curM.Values)
	}
	if len(touch) == 0 {
		return
	}
	mark := func(id string) { sy.outTouched[id] = true }
	if sy.rv.assignNested {
		sy.walkMembers(touch, map[string]bool{}, mark)
		return
	}
	for _, id := range touch {
		if x := sy.s.getMV(id); x != nil && !sy.s.delMV[id] {
			mark(id)
		}
	}
}

// namesAssignedGroup reports whether a group with MV ID id and attributes
// attrs is named by a group assignment.
func (sy *syncer) namesAssignedGroup(id string, attrs model.Attrs) bool {
	if sy.rv.assignGroups[strings.ToLower(id)] {
		return true
	}
	for _, a := range []string{"displayName", "sourceAnchor"} {
		for _, v := range attrs[a].Values {
			if sy.rv.assignGroups[strings.ToLower(v)] {
				return true
			}
		}
	}
	return false
}
