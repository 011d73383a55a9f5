package provisioning

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// metaverse is the part of the metaverse provisioning reads: the persons
// and groups, with group membership resolved.
type metaverse struct {
	persons map[string]*store.MVObject
	groups  map[string]*store.MVObject
	// groupKeys finds groups by lower-case displayName, sourceAnchor or ID.
	groupKeys map[string][]string
	// memberOf is the transitive group membership of every person.
	memberOf map[string]map[string]bool
}

// loadMetaverse reads the persons and groups of the application's types.
func loadMetaverse(ctx context.Context, st store.Store, a *App) (*metaverse, error) {
	mv := &metaverse{persons: map[string]*store.MVObject{}, groups: map[string]*store.MVObject{},
		groupKeys: map[string][]string{}, memberOf: map[string]map[string]bool{}}
	err := st.ScanMV(ctx, func(o *store.MVObject) error {
		switch o.Type {
		case a.MVObjectType:
			mv.persons[o.ID] = o
		case a.GroupType:
			mv.groups[o.ID] = o
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the metaverse: %w", err)
	}
	addKey := func(k, id string) {
		if k != "" {
			k = strings.ToLower(k)
			mv.groupKeys[k] = append(mv.groupKeys[k], id)
		}
	}
	for id, g := range mv.groups {
		addKey("id:"+id, id)
		addKey("dn:"+g.Attrs.First("displayName"), id)
		addKey("sa:"+g.Attrs.First("sourceAnchor"), id)
	}
	// Transitive membership: walk each group's members.
	for gid := range mv.groups {
		for _, pid := range mv.members(a, gid, true) {
			m := mv.memberOf[pid]
			if m == nil {
				m = map[string]bool{}
				mv.memberOf[pid] = m
			}
			m[gid] = true
		}
	}
	return mv, nil
}

// members returns the persons that are members of group gid, directly or,
// when nested, through member groups (cycles are cut).
func (mv *metaverse) members(a *App, gid string, nested bool) []string {
	seen := map[string]bool{gid: true}
	var out []string
	outSeen := map[string]bool{}
	queue := []string{gid}
	for len(queue) > 0 {
		g := mv.groups[queue[0]]
		queue = queue[1:]
		if g == nil {
			continue
		}
		for _, m := range g.Attrs[a.MemberAttribute].Values {
			switch {
			case mv.persons[m] != nil:
				if !outSeen[m] {
					outSeen[m] = true
					out = append(out, m)
				}
			case nested && mv.groups[m] != nil && !seen[m]:
				seen[m] = true
				queue = append(queue, m)
			}
		}
	}
	sort.Strings(out)
	return out
}

// findGroups resolves a group assignment.
func (mv *metaverse) findGroups(g GroupAssignment) []string {
	switch {
	case g.DisplayName != "":
		return mv.groupKeys[strings.ToLower("dn:"+g.DisplayName)]
	case g.SourceAnchor != "":
		return mv.groupKeys[strings.ToLower("sa:"+g.SourceAnchor)]
	}
	return mv.groupKeys[strings.ToLower("id:"+g.ID)]
}

// assignments resolves the application's assignments to the roles of every
// assigned person, and reports assignments that match nothing.
func (mv *metaverse) assignments(a *App) (roles map[string][]string, warnings []string) {
	roles = map[string][]string{}
	add := func(pid, role string) {
		role = or(role, DefaultRole)
		for _, r := range roles[pid] {
			if strings.EqualFold(r, role) {
				return
			}
		}
		roles[pid] = append(roles[pid], role)
	}
	index := map[string]map[string][]string{} // attribute → lower value → person IDs
	for _, u := range a.Assignments.Users {
		if u.ID != "" {
			if mv.persons[u.ID] == nil {
				warnings = append(warnings, fmt.Sprintf("assigned user %s is not in the metaverse", u.ID))
				continue
			}
			add(u.ID, u.Role)
			continue
		}
		attr := or(u.Attribute, "accountName")
		idx := index[attr]
		if idx == nil {
			idx = map[string][]string{}
			for id, p := range mv.persons {
				for _, v := range p.Attrs[attr].Values {
					idx[strings.ToLower(v)] = append(idx[strings.ToLower(v)], id)
				}
			}
			index[attr] = idx
		}
		ids := idx[strings.ToLower(u.Value)]
		if len(ids) == 0 {
			warnings = append(warnings, fmt.Sprintf("assigned user %s is not in the metaverse", u.describe()))
		}
		for _, id := range ids {
			add(id, u.Role)
		}
	}
	for _, g := range a.Assignments.Groups {
		gids := mv.findGroups(g)
		if len(gids) == 0 {
			warnings = append(warnings, fmt.Sprintf("assigned %s is not in the metaverse", g))
		}
		for _, gid := range gids {
			for _, pid := range mv.members(a, gid, a.Assignments.NestedGroups) {
				add(pid, g.Role)
			}
		}
	}
	for pid := range roles {
		sort.Strings(roles[pid])
	}
	return roles, warnings
}

// subject is a metaverse person as a scoping-filter subject and an
// expression environment.
type subject struct {
	mv    *metaverse
	obj   *store.MVObject
	roles []string
	app   *App

	// unique, when set, tells whether a value is taken in the target
	// (SelectUniqueValue).
	unique func(value string) (bool, error)
}

// Attr returns an MV attribute; appRoleAssignments holds the app roles.
func (s *subject) Attr(name string) model.Values {
	if name == RolesAttribute {
		return model.Str(s.roles...)
	}
	return s.obj.Attrs[name]
}

// ImportedValue is Attr: provisioning reads the metaverse.
func (s *subject) ImportedValue(name string) model.Values { return s.Attr(name) }

// Param returns an application parameter.
func (s *subject) Param(name string) string { return s.app.Parameters[name] }

// MemberOf reports whether the person is a member (direct or nested) of
// the group with the displayName, sourceAnchor or MV ID.
func (s *subject) MemberOf(group string) bool {
	m := s.mv.memberOf[s.obj.ID]
	for _, prefix := range []string{"id:", "dn:", "sa:"} {
		for _, gid := range s.mv.groupKeys[strings.ToLower(prefix+group)] {
			if m[gid] {
				return true
			}
		}
	}
	return false
}

// ValueExists implements expr.UniqueChecker for SelectUniqueValue.
func (s *subject) ValueExists(value string) (bool, error) {
	if s.unique == nil {
		return false, nil
	}
	return s.unique(value)
}

// groupAssignments returns the app roles of every group assigned to the
// application: the assigned groups and, with nestedGroups, the groups
// nested in them (cycles are cut).
func (mv *metaverse) groupAssignments(a *App) map[string][]string {
	roles := map[string][]string{}
	add := func(gid, role string) {
		role = or(role, DefaultRole)
		for _, r := range roles[gid] {
			if strings.EqualFold(r, role) {
				return
			}
		}
		roles[gid] = append(roles[gid], role)
	}
	for _, g := range a.Assignments.Groups {
		for _, gid := range mv.findGroups(g) {
			add(gid, g.Role)
			if !a.Assignments.NestedGroups {
				continue
			}
			seen := map[string]bool{gid: true}
			queue := []string{gid}
			for len(queue) > 0 {
				grp := mv.groups[queue[0]]
				queue = queue[1:]
				if grp == nil {
					continue
				}
				for _, m := range grp.Attrs[a.MemberAttribute].Values {
					if mv.groups[m] != nil && !seen[m] {
						seen[m] = true
						add(m, g.Role)
						queue = append(queue, m)
					}
				}
			}
		}
	}
	for gid := range roles {
		sort.Strings(roles[gid])
	}
	return roles
}
