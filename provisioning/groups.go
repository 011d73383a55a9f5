package provisioning

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/idsync/idsync/connector"
)

// maxShownMembers is how many member names an activity entry lists.
const maxShownMembers = 50

// groupScope resolves the groups to provision: the assigned groups (and,
// with nestedGroups, the groups nested in them) that pass the groupScope
// filter, with their app roles. It returns the deletes of the groups
// provisioned earlier that are no longer assigned, in scope or in the
// metaverse, and reports the skipped ones.
func (c *cycle) groupScope(mv *metaverse) (inScope map[string][]string, deletes []*item) {
	a := c.app
	assigned := mv.groupAssignments(a)
	inScope = map[string][]string{}
	ids := make([]string, 0, len(mv.groups))
	for id := range mv.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := mv.groups[id]
		acct := c.state.Groups[id]
		name := g.Attrs.First("displayName")
		if acct != nil && acct.Name != "" {
			name = acct.Name
		}
		report := c.since.IsZero() || g.Modified.After(c.since)
		reason := ""
		sub := &subject{mv: mv, obj: g, roles: assigned[id], app: a}
		if len(sub.roles) == 0 {
			reason = ReasonNotAssigned
		} else if ok, err := a.GroupScope.Match(sub); err != nil {
			c.fail(id, name, accountID(acct), "group scoping filter: "+err.Error())
			continue
		} else if !ok {
			reason = ReasonOutOfScope
		}
		if reason == "" {
			inScope[id] = sub.roles
			continue
		}
		if acct != nil {
			deletes = append(deletes, c.deleteGroup(id, acct, reason))
		} else {
			c.skip(id, name, reason, report)
		}
	}
	var gone []string
	for id := range c.state.Groups {
		if mv.groups[id] == nil {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		deletes = append(deletes, c.deleteGroup(id, c.state.Groups[id], ReasonNotAssigned+" (deleted from the metaverse)"))
	}
	return inScope, deletes
}

// deleteGroup plans deleting a provisioned group (SCIM groups have no
// active attribute: they are deleted whatever deprovision says).
func (c *cycle) deleteGroup(mvID string, acct *Account, reason string) *item {
	it := &item{mvID: mvID, name: acct.Name, reason: reason, acct: acct, k: c.groupKind(), act: ActDelete}
	it.op = connector.ExportOp{ID: "group:" + mvID, Op: connector.OpDelete, Anchor: acct.ID, ObjectType: c.app.GroupObjectType}
	return it
}

// groups creates and updates the groups in scope, after the users were
// exported: a group's members are the SCIM ids of its members (persons in
// active, groups in scope) that the application has. Member changes are
// sent as value additions and removals, which the connector batches.
func (c *cycle) groups(ctx context.Context, mv *metaverse, inScope map[string][]string, active map[string]bool) error {
	k := c.groupKind()
	ids := make([]string, 0, len(inScope))
	for id := range inScope {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var creates, updates []*item
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := mv.groups[id]
		acct := c.state.Groups[id]
		sub := &subject{mv: mv, obj: g, roles: inScope[id], app: c.app}
		it, err := c.plan(ctx, k, sub, acct)
		if err != nil {
			c.fail(id, g.Attrs.First("displayName"), accountID(acct), err.Error())
			continue
		}
		// The op ids of groups must not clash with those of users.
		it.op.ID = "group:" + id
		if it.act == ActCreate {
			creates = append(creates, it)
		} else {
			updates = append(updates, it)
		}
	}
	c.mu.Lock()
	c.res.InScope += len(creates)
	c.progressLocked()
	c.mu.Unlock()
	creates = c.match(ctx, k, creates)

	// The value that names each group in scope in member lists: its SCIM
	// id, or, for a group created in this export, its MV id (the anchor
	// the connector proposes, which it resolves once the group exists).
	ref := map[string]string{}
	var adds []*item
	for _, it := range creates {
		if it.act == ActCreate {
			ref[it.mvID] = it.mvID
			adds = append(adds, it)
		} else {
			updates = append(updates, it)
		}
	}
	for _, it := range updates {
		ref[it.mvID] = it.op.Anchor
	}

	names := map[string]string{} // SCIM id → name, for the report
	for _, accts := range []map[string]*Account{c.state.Accounts, c.state.Groups} {
		for _, a := range accts {
			if a.Name != "" {
				names[a.ID] = a.Name
			}
		}
	}
	var todo []*item
	counted := 0 // creates and matched groups are in InScope already
	for _, it := range append(adds, updates...) {
		c.planMembers(mv, it, ref, active, names)
		switch {
		case it.act == ActCreate, it.matched:
			todo = append(todo, it)
			counted++
		case len(it.op.Changes) > 0:
			todo = append(todo, it)
		default:
			c.skip(it.mvID, it.name, ReasonNoChange, c.since.IsZero() || mv.groups[it.mvID].Modified.After(c.since))
		}
	}
	c.mu.Lock()
	c.res.InScope += len(todo) - counted
	c.progressLocked()
	c.mu.Unlock()
	c.exportAll(ctx, todo)

	// Remember the members each exported group has now, by SCIM id.
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range todo {
		acct := c.state.Groups[it.mvID]
		if !it.ok || acct == nil {
			continue
		}
		var members []string
		for _, m := range it.members {
			if a := c.state.Accounts[m]; a != nil {
				members = append(members, a.ID)
			} else if a := c.state.Groups[m]; a != nil {
				members = append(members, a.ID)
			}
		}
		slices.Sort(members)
		acct.Members = slices.Compact(members)
	}
	return nil
}

// planMembers adds the member changes of a group to its item: the members
// of the MV group that the application has (persons whose accounts are
// enabled, groups in scope), all of them for a create, else the values
// to add and to remove compared with what was exported last.
func (c *cycle) planMembers(mv *metaverse, it *item, ref map[string]string, active map[string]bool, names map[string]string) {
	g := mv.groups[it.mvID]
	want := map[string]string{} // value → MV id
	for _, m := range g.Attrs[c.app.MemberAttribute].Values {
		switch {
		case mv.persons[m] != nil:
			if a := c.state.Accounts[m]; a != nil && active[m] && !a.Disabled {
				want[a.ID] = m
			}
		case mv.groups[m] != nil && m != it.mvID:
			if v, ok := ref[m]; ok {
				want[v] = m
			}
		}
	}
	it.members = make([]string, 0, len(want))
	for _, m := range want {
		it.members = append(it.members, m)
	}
	sort.Strings(it.members)

	var had []string
	if it.acct != nil {
		had = it.acct.Members
	}
	if it.found != nil {
		had = it.found.Attrs["members"].Values
	}
	hadSet := map[string]bool{}
	for _, v := range had {
		hadSet[v] = true
	}
	var add, del []string
	for v := range want {
		if !hadSet[v] {
			add = append(add, v)
		}
	}
	if it.acct != nil {
		// Only the members idsync exported are removed: a group matched in
		// the application keeps the members it had.
		for _, v := range had {
			if _, ok := want[v]; !ok {
				del = append(del, v)
			}
		}
	}
	sort.Strings(add)
	sort.Strings(del)
	mode := connector.AddVals
	if it.act == ActCreate {
		mode = connector.Replace
	}
	if len(add) > 0 {
		it.op.Changes = append(it.op.Changes, connector.AttrChange{Name: "members", Mode: mode, Values: add})
		it.changes["members (added)"] = memberNames(mv, add, want, names)
	}
	if len(del) > 0 {
		it.op.Changes = append(it.op.Changes, connector.AttrChange{Name: "members", Mode: connector.DelVals, Values: del})
		it.changes["members (removed)"] = memberNames(mv, del, want, names)
	}
}

// memberNames names member values for the activity report: the account
// name (userName) or group displayName, else the SCIM id.
func memberNames(mv *metaverse, vals []string, mvIDs, byID map[string]string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		name := byID[v]
		if name == "" {
			if g := mv.groups[mvIDs[v]]; g != nil {
				name = g.Attrs.First("displayName")
			}
		}
		out = append(out, or(name, v))
	}
	sort.Strings(out)
	if len(out) > maxShownMembers {
		out = append(out[:maxShownMembers], fmt.Sprintf("… and %d more", len(out)-maxShownMembers))
	}
	return out
}
