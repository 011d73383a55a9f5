package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// An application runs on the sync engine: it is a target connector (its
// SCIM connector, named after the application) with outbound sync rules
// generated from its configuration, the way outofbox generates the
// directory rules. Rules() generates them:
//
//   - the users rule (MV type mvObjectType → SCIM type objectType,
//     Provision): its assignments are the application's user assignments
//     and the members of its assigned groups (nested with nestedGroups),
//     each with its app role, which flows read as [appRoleAssignments];
//     its scope is the application's scoping filter; its join groups are
//     the matching attributes in matchingPrecedence order, each comparing
//     the value its mapping computes with the account's (FromFlow); its
//     flows are the mappings (Expression flows in the provisioning
//     dialect; apply: create is ApplyOnce), plus active = true unless
//     mapped (the SCIM connector sets externalId to the anchor idsync
//     proposes, unless mapped: it finds the resource again after a lost
//     answer and resolves references to it); its
//     deprovisioning is the application's (disable: active = false, or
//     delete);
//   - the groups rule (with provisionGroups): the assigned groups
//     themselves (and with nestedGroups the groups nested in them), the
//     groupScope filter, the group mappings, members from the MV member
//     attribute (references: the engine sends the ids of the accounts and
//     groups the application has from idsync), deleted when unassigned.
//
// Everything else — what exists in the application, what to send, the
// journal, the accidental-delete guard, retries, run history — is the
// engine's.

// RulePrecedenceBase is the precedence of the first application's users
// rule; application i (in file order) uses RulePrecedenceBase+10*i and the
// next one for groups. Precedences are unique among all rules: keep the
// directory rules below it.
const RulePrecedenceBase = 100000

// UsersRuleName names an application's generated users rule.
func UsersRuleName(app string) string { return "App " + app + ": users" }

// GroupsRuleName names an application's generated groups rule.
func GroupsRuleName(app string) string { return "App " + app + ": groups" }

// Rules returns the outbound sync rules of the application; index is its
// position among the applications (it sets their precedences). The rules
// are compiled and ready for a rules.RuleSet.
func (a *App) Rules(index int) ([]*rules.Rule, error) {
	src := fmt.Sprintf("application %s", a.Name)
	users := &rules.Rule{
		Name:           UsersRuleName(a.Name),
		Description:    fmt.Sprintf("Generated from the provisioning configuration of %s: its assigned users in scope become accounts.", a.Name),
		Connector:      a.Name,
		Direction:      rules.Outbound,
		CSObjectType:   a.ObjectType,
		MVObjectType:   a.MVObjectType,
		LinkType:       rules.Provision,
		Precedence:     RulePrecedenceBase + 10*index,
		Immutable:      true,
		Scope:          a.Scope,
		Assignments:    a.userAssignments(),
		RolesAttribute: RolesAttribute,
		Join:           matchJoin(a.matchers),
		Flows:          mappingFlows(a.Mappings, true),
		Source:         src,
	}
	if a.Deprovision == "delete" {
		users.Deprovision = rules.DeprovisionDelete
	} else {
		users.Deprovision, users.DisableAttribute, users.DisableValue = rules.DeprovisionDisable, "active", "false"
	}
	out := []*rules.Rule{users}
	if a.GroupsOn() {
		members := "none"
		if a.Assignments.NestedGroups {
			members = "nested"
		}
		var as []rules.Assignment
		for _, g := range a.Assignments.Groups {
			as = append(as, rules.Assignment{Group: g.key(), Self: true, Members: members, Role: or(g.Role, DefaultRole)})
		}
		if as == nil {
			as = nothingAssigned
		}
		flows := mappingFlows(a.GroupMappings, false)
		flows = append(flows, rules.Flow{Type: rules.Direct, Source: a.MemberAttribute, Target: "members"})
		out = append(out, &rules.Rule{
			Name:           GroupsRuleName(a.Name),
			Description:    fmt.Sprintf("Generated from the provisioning configuration of %s: its assigned groups in scope, with their members that the application has.", a.Name),
			Connector:      a.Name,
			Direction:      rules.Outbound,
			CSObjectType:   a.GroupObjectType,
			MVObjectType:   a.GroupType,
			LinkType:       rules.Provision,
			Precedence:     RulePrecedenceBase + 10*index + 1,
			Immutable:      true,
			Scope:          a.GroupScope,
			Assignments:    as,
			RolesAttribute: RolesAttribute,
			Join:           matchJoin(a.groupMatchers),
			Flows:          flows,
			Deprovision:    rules.DeprovisionDelete,
			Source:         src,
		})
	}
	for _, r := range out {
		if err := r.Compile(); err != nil {
			return nil, fmt.Errorf("application %q: generated rule %q: %w", a.Name, r.Name, err)
		}
	}
	return out, nil
}

// userAssignments are the users rule's assignments: the users assigned
// directly, and the members of the assigned groups.
func (a *App) userAssignments() []rules.Assignment {
	var out []rules.Assignment
	for _, u := range a.Assignments.Users {
		role := or(u.Role, DefaultRole)
		if u.ID != "" {
			out = append(out, rules.Assignment{ID: u.ID, Role: role})
			continue
		}
		out = append(out, rules.Assignment{Attribute: or(u.Attribute, "accountName"), Value: u.Value, Role: role})
	}
	members := "direct"
	if a.Assignments.NestedGroups {
		members = "nested"
	}
	for _, g := range a.Assignments.Groups {
		out = append(out, rules.Assignment{Group: g.key(), Members: members, Role: or(g.Role, DefaultRole)})
	}
	if out == nil {
		out = nothingAssigned
	}
	return out
}

// nothingAssigned is the assignment of a rule with nothing assigned: it
// names no MV object (an empty list would put every object in scope).
var nothingAssigned = []rules.Assignment{{ID: "(nothing is assigned)"}}

// key is how the engine finds the assigned group: its MV ID, displayName
// or sourceAnchor.
func (g GroupAssignment) key() string {
	switch {
	case g.ID != "":
		return g.ID
	case g.DisplayName != "":
		return g.DisplayName
	}
	return g.SourceAnchor
}

// matchJoin turns matching mappings (in precedence order) into join
// groups: each compares the value the mapping computes with the target's.
func matchJoin(matchers []*Mapping) []rules.JoinGroup {
	var out []rules.JoinGroup
	for _, m := range matchers {
		out = append(out, rules.JoinGroup{Conditions: []rules.JoinCondition{{FromFlow: true, Target: m.Target}}})
	}
	return out
}

// mappingFlows turns mappings into flows; users also get active = true
// unless mapped.
func mappingFlows(ms []*Mapping, user bool) []rules.Flow {
	var out []rules.Flow
	mapped := map[string]bool{}
	for _, m := range ms {
		mapped[strings.ToLower(m.Target)] = true
		f := rules.Flow{Target: m.Target, ApplyOnce: m.Apply == "create"}
		switch {
		case m.Source != "":
			f.Type, f.Source = rules.Direct, m.Source
		case m.Constant != "":
			f.Type, f.Value = rules.Constant, m.Constant
		default:
			f.Type, f.Expression, f.Dialect = rules.Expression, m.Expression, "provisioning"
		}
		out = append(out, f)
	}
	if user && !mapped["active"] {
		// A re-assigned user's disabled account is enabled again.
		out = append(out, rules.Flow{Type: rules.Constant, Value: "true", TargetType: model.Boolean.String(), Target: "active"})
	}
	return out
}

// RulesHash identifies the application's generated rules (whatever its
// position in the file): a cycle synchronizes the application fully when
// they changed since the last full synchronization.
func (a *App) RulesHash() (string, error) {
	rs, err := a.Rules(0)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12]), nil
}
