package graph

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// maxBind is the most member references Graph accepts in one request
// ("Add members": up to 20).
const maxBind = 20

// errContactReadOnly is the answer to every export of a contact.
var errContactReadOnly = errors.New("organizational contacts cannot be written through Microsoft Graph (orgContact is read-only in Graph v1.0): " +
	"the graph connector imports contacts so that joins work, but never creates, changes or deletes them. " +
	"Clone the outbound contact rule (\"Out to AAD - Contact Join\") for this connector and disable the original for it, " +
	"or reach the cloud directory through a SCIM or LDAP connector that can write contacts")

// errMailEnabledGroup explains which groups Graph can create.
var errMailEnabledGroup = errors.New("a mail-enabled group without groupTypes Unified cannot be created through Microsoft Graph: " +
	"Graph creates security groups (mailEnabled false, securityEnabled true) and Microsoft 365 groups (groupTypes [Unified], mailEnabled true), " +
	"not mail-enabled security groups or distribution groups, which Exchange Online manages; " +
	"flow mailEnabled false, or groupTypes Unified for a Microsoft 365 group")

// Export writes a batch of changes, up to `concurrency` ops at a time, in
// phases: adds of objects without members, adds of groups with members
// (after the objects they name), updates and renames, deletes. It returns
// one result per op.
func (c *Connector) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	results := make([]connector.ExportResult, len(ops))
	var phases [4][]int
	for i, op := range ops {
		phases[exportPhase(op)] = append(phases[exportPhase(op)], i)
	}
	for _, ph := range phases {
		_ = parallel(context.WithoutCancel(ctx), c.s.concurrency, len(ph), func(k int) error {
			i := ph[k]
			var anchor string
			err := ctx.Err()
			if err == nil {
				anchor, err = c.exportOne(ctx, ops[i])
			}
			results[i] = connector.ExportResult{ID: ops[i].ID, Anchor: anchor, Err: err}
			return nil
		})
	}
	return results
}

func exportPhase(op connector.ExportOp) int {
	switch op.Op {
	case connector.OpAdd:
		for _, ch := range op.Changes {
			if ch.Type == model.Reference && len(ch.Values) > 0 || ch.Name == "member" && len(ch.Values) > 0 {
				return 1
			}
		}
		return 0
	case connector.OpUpdate, connector.OpRename:
		return 2
	}
	return 3
}

// objName names the object of op in messages: for an add its
// userPrincipalName, displayName or mailNickname, else the anchor.
func objName(op connector.ExportOp) string {
	if op.Op == connector.OpAdd {
		for _, a := range []string{"userPrincipalName", "displayName", "mailNickname"} {
			for _, ch := range op.Changes {
				if ch.Name == a && len(ch.Values) > 0 {
					return strconv.Quote(ch.Values[0])
				}
			}
		}
	}
	return op.Anchor
}

func (c *Connector) exportOne(ctx context.Context, op connector.ExportOp) (anchor string, err error) {
	defer func() {
		if err != nil {
			err = c.errorf("%s %s %s: %w", op.Op, op.ObjectType, objName(op), err)
		}
	}()
	ot := typeByName(op.ObjectType)
	switch {
	case ot == nil:
		return "", fmt.Errorf("unknown object type %q: the graph connector has user, group and contact", op.ObjectType)
	case ot.name == TypeContact:
		return "", errContactReadOnly
	}
	switch op.Op {
	case connector.OpAdd:
		return c.add(ctx, ot, op)
	case connector.OpUpdate, connector.OpRename:
		// Graph objects have no DN: a rename is an update of its attributes.
		return "", c.update(ctx, ot, c.resolve(op.Anchor), op.Changes)
	case connector.OpDelete:
		return "", c.remove(ctx, ot, c.resolve(op.Anchor))
	}
	return "", fmt.Errorf("unknown export operation %q", op.Op)
}

// plan is an op's changes in Graph's terms.
type plan struct {
	props   map[string]any         // property → value; nil is null
	valueOp []connector.AttrChange // value adds and removes, applied to the current values
	members []memberChange
}

type memberChange struct {
	mode connector.Mode
	ids  []string
}

func (c *Connector) plan(ot *objectType, changes []connector.AttrChange) (*plan, error) {
	p := &plan{props: map[string]any{}}
	for _, ch := range changes {
		a := ot.attr(ch.Name)
		if a == nil {
			return nil, fmt.Errorf("attribute %q is not in the graph connector's %s model (`idsync connector schema` lists it)", ch.Name, ot.name)
		}
		if a.readOnly {
			c.warnReadOnly(ot.name, a)
			continue
		}
		if ch.Mode != connector.Replace && ch.Mode != connector.AddVals && ch.Mode != connector.DelVals {
			return nil, fmt.Errorf("%s: unknown change mode %q", ch.Name, ch.Mode)
		}
		switch {
		case a.kind == kRefs:
			ids, err := c.memberIDs(ch.Values)
			if err != nil {
				return nil, err
			}
			p.members = append(p.members, memberChange{ch.Mode, ids})
		case ch.Mode == connector.Replace:
			v, err := encodeValue(a, ch.Type, ch.Values)
			if err != nil {
				return nil, err
			}
			p.props[a.prop] = v
		default:
			p.valueOp = append(p.valueOp, ch)
		}
	}
	return p, nil
}

// memberIDs translates member values into Graph object ids: the anchor of
// an object added earlier by this process becomes its id; other values are
// ids already.
func (c *Connector) memberIDs(values []string) ([]string, error) {
	ids := make([]string, 0, len(values))
	seen := map[string]bool{}
	for _, v := range values {
		id := c.resolve(strings.TrimSpace(v))
		if !guidRE.MatchString(id) {
			return nil, fmt.Errorf("member %q is not a Graph object id: references to a graph connector are the anchors (ids) of its objects; outbound rules for it must not set dn", v)
		}
		if id = strings.ToLower(id); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (c *Connector) objPath(ot *objectType, id string) string {
	return "/" + ot.coll + "/" + url.PathEscape(id)
}

// notFound wraps connector.ErrNotFound around a 404.
func notFound(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", connector.ErrNotFound, err)
	}
	return err
}

// conflict returns the property of a uniqueness conflict ("Another object
// with the same value for property userPrincipalName already exists."), or
// "".
func conflict(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		return ""
	}
	if m := conflictRE.FindStringSubmatch(ae.Message); m != nil {
		return m[1]
	}
	if strings.Contains(strings.ToLower(ae.Message), "already exists") && ae.Target != "" {
		return ae.Target
	}
	return ""
}

var conflictRE = regexp.MustCompile(`(?i)same value for property (\w+) already exists`)

// ---- add ----

func (c *Connector) add(ctx context.Context, ot *objectType, op connector.ExportOp) (string, error) {
	p, err := c.plan(ot, op.Changes)
	if err != nil {
		return "", err
	}
	// A new object has no values to add to or remove from.
	for _, ch := range p.valueOp {
		if ch.Mode == connector.AddVals {
			a := ot.attr(ch.Name)
			v, err := encodeValue(a, ch.Type, ch.Values)
			if err != nil {
				return "", err
			}
			p.props[a.prop] = v
		}
	}
	for k, v := range p.props {
		if list, isList := v.([]string); v == nil || isList && len(list) == 0 {
			delete(p.props, k)
		}
	}
	if ot.name == TypeUser {
		return c.addUser(ctx, op, p)
	}
	return c.addGroup(ctx, op, p)
}

func missing(props map[string]any, required ...string) []string {
	var out []string
	for _, r := range required {
		if _, ok := props[r]; !ok {
			out = append(out, r)
		}
	}
	return out
}

// addUser creates a user with a random password that nobody knows: the user
// signs in after a password reset, or with the password hash idsync does
// not synchronize.
func (c *Connector) addUser(ctx context.Context, op connector.ExportOp, p *plan) (string, error) {
	if m := missing(p.props, "accountEnabled", "displayName", "mailNickname", "userPrincipalName"); len(m) > 0 {
		return "", fmt.Errorf("no value for %s, which Microsoft Graph requires to create a user: add an outbound flow", strings.Join(m, ", "))
	}
	pw, err := newPassword()
	if err != nil {
		return "", err
	}
	body := make(map[string]any, len(p.props)+1)
	for k, v := range p.props {
		body[k] = v
	}
	body["passwordProfile"] = map[string]any{"forceChangePasswordNextSignIn": true, "password": pw}
	immutable, _ := p.props["onPremisesImmutableId"].(string)
	upn, _ := p.props["userPrincipalName"].(string)
	resp, err := c.cl.do(ctx, &request{method: http.MethodPost, path: "/users", body: body,
		recover: func(ctx context.Context) (*response, bool, error) {
			// The first POST may have created the user: find it rather than
			// meet our own user as a conflict.
			if id, _, err := c.findOwnUser(ctx, immutable, upn); err == nil && id != "" {
				return &response{status: http.StatusCreated, body: []byte(`{"id":` + strconv.Quote(id) + `}`)}, true, nil
			}
			return nil, false, nil // not found (or not known yet): send it again
		}})
	if prop := conflict(err); prop == "userPrincipalName" || prop == "onPremisesImmutableId" {
		return c.existingUser(ctx, op, immutable, upn, err)
	}
	if err != nil {
		return "", err
	}
	id, err := createdID(resp)
	if err != nil {
		return "", err
	}
	c.recordAdd(op.Anchor, id, true)
	return id, nil
}

// findOwnUser finds a user by onPremisesImmutableId, else (without one) by
// userPrincipalName; it returns "" when there is none.
func (c *Connector) findOwnUser(ctx context.Context, immutable, upn string) (id, theirImmutable string, err error) {
	if immutable != "" {
		return c.findUser(ctx, "onPremisesImmutableId", immutable)
	}
	return c.findUser(ctx, "userPrincipalName", upn)
}

// findUser looks a user up with $filter=prop eq 'value'.
func (c *Connector) findUser(ctx context.Context, prop, value string) (id, immutable string, err error) {
	resp, err := c.cl.getPage(ctx, &request{method: http.MethodGet, path: "/users", query: [][2]string{
		{"$filter", prop + " eq '" + strings.ReplaceAll(value, "'", "''") + "'"},
		{"$select", "id,userPrincipalName,onPremisesImmutableId"}, {"$top", "2"}}})
	if err != nil || len(resp.values) == 0 {
		return "", "", err
	}
	var u struct {
		ID        json.RawMessage `json:"id"`
		Immutable json.RawMessage `json:"onPremisesImmutableId"`
	}
	if err := json.Unmarshal(resp.values[0], &u); err != nil {
		return "", "", fmt.Errorf("GET /users?$filter=%s: %w", prop, err)
	}
	return rawStr(u.ID), rawStr(u.Immutable), nil
}

// existingUser turns a uniqueness conflict into ErrAlreadyExists with the
// existing user's id: the user with this onPremisesImmutableId (a hard
// match: this object's identity, ErrIdentityMatch), or with this
// userPrincipalName when it has no other onPremisesImmutableId (a soft
// match: the same name only, which the engine takes over only when an
// earlier sending may have created it, or with softMatch, as Azure AD
// Connect does). A user that holds the userPrincipalName for another
// source anchor is a conflict to fix in the data.
func (c *Connector) existingUser(ctx context.Context, op connector.ExportOp, immutable, upn string, conflictErr error) (string, error) {
	if immutable != "" {
		id, _, err := c.findUser(ctx, "onPremisesImmutableId", immutable)
		if err != nil {
			return "", fmt.Errorf("%w; and looking the existing user up failed: %w", conflictErr, err)
		}
		if id != "" {
			c.recordAdd(op.Anchor, id, false)
			return id, fmt.Errorf("%w (%w): user %s has onPremisesImmutableId %q", connector.ErrAlreadyExists, connector.ErrIdentityMatch, id, immutable)
		}
	}
	if upn != "" {
		id, theirs, err := c.findUser(ctx, "userPrincipalName", upn)
		if err != nil {
			return "", fmt.Errorf("%w; and looking the existing user up failed: %w", conflictErr, err)
		}
		if id != "" {
			if immutable != "" && theirs != "" && theirs != immutable {
				return "", fmt.Errorf("userPrincipalName %q belongs to user %s, which has onPremisesImmutableId %q, not this object's %q: "+
					"two source objects claim the same name; fix the data or the rules (%w)", upn, id, theirs, immutable, conflictErr)
			}
			c.recordAdd(op.Anchor, id, false)
			if c.s.softMatch && theirs == "" {
				return id, fmt.Errorf("%w (%w, softMatch): user %s has userPrincipalName %q", connector.ErrAlreadyExists, connector.ErrIdentityMatch, id, upn)
			}
			return id, fmt.Errorf("%w: user %s has userPrincipalName %q", connector.ErrAlreadyExists, id, upn)
		}
	}
	// Graph's indexes may lag: the next export retries.
	return "", conflictErr
}

// createdID reads the id of a created object.
func createdID(resp *response) (string, error) {
	var o struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(resp.body, &o); err != nil || rawStr(o.ID) == "" {
		return "", fmt.Errorf("the answer (%d) carries no id of the new object", resp.status)
	}
	return rawStr(o.ID), nil
}

// addGroup creates a group with its first 20 members, then adds the others
// 20 at a time. A replayed add finds the group by mailNickname (Graph has
// no immutable id to set on groups) and returns ErrAlreadyExists.
func (c *Connector) addGroup(ctx context.Context, op connector.ExportOp, p *plan) (string, error) {
	if m := missing(p.props, "displayName", "mailEnabled", "mailNickname", "securityEnabled"); len(m) > 0 {
		return "", fmt.Errorf("no value for %s, which Microsoft Graph requires to create a group: add an outbound flow", strings.Join(m, ", "))
	}
	if p.props["mailEnabled"] == true {
		types, _ := p.props["groupTypes"].([]string)
		if !slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, "Unified") }) {
			return "", errMailEnabledGroup
		}
	}
	nick, _ := p.props["mailNickname"].(string)
	ids, err := c.findGroups(ctx, nick)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
	case 1:
		c.recordAdd(op.Anchor, ids[0], false)
		return ids[0], fmt.Errorf("%w: group %s has mailNickname %q", connector.ErrAlreadyExists, ids[0], nick)
	default:
		return "", fmt.Errorf("%d groups have mailNickname %q (%s): idsync finds a group it created by its mailNickname, and cannot tell which one is this group; give them distinct mailNicknames",
			len(ids), nick, strings.Join(ids, ", "))
	}
	var members []string
	seen := map[string]bool{}
	for _, mc := range p.members {
		if mc.mode != connector.DelVals {
			for _, id := range mc.ids {
				if !seen[id] {
					seen[id] = true
					members = append(members, id)
				}
			}
		}
	}
	first := members[:min(maxBind, len(members))]
	body := make(map[string]any, len(p.props)+1)
	for k, v := range p.props {
		body[k] = v
	}
	if len(first) > 0 {
		body["members@odata.bind"] = c.binds(first)
	}
	var resp *response
	err = c.retryFresh(ctx, first, func() error {
		var err error
		resp, err = c.cl.do(ctx, &request{method: http.MethodPost, path: "/groups", body: body,
			recover: func(ctx context.Context) (*response, bool, error) {
				if ids, err := c.findGroups(ctx, nick); err == nil && len(ids) == 1 {
					return &response{status: http.StatusCreated, body: []byte(`{"id":` + strconv.Quote(ids[0]) + `}`)}, true, nil
				}
				return nil, false, nil // not found (or not known yet): send it again
			}})
		return err
	})
	if err != nil {
		err, _ = c.explainBindError(ctx, first, err)
		return "", err
	}
	id, err := createdID(resp)
	if err != nil {
		return "", err
	}
	c.recordAdd(op.Anchor, id, true)
	if err := c.bindMembers(ctx, id, members[len(first):]); err != nil {
		// Leave nothing half-done: the next export adds the group again.
		if _, derr := c.cl.do(ctx, &request{method: http.MethodDelete, path: "/groups/" + url.PathEscape(id)}); derr != nil {
			return "", fmt.Errorf("%w; the group was created (id %s) and could not be deleted again: %w (the next export finds it by its mailNickname)", err, id, derr)
		}
		c.proposed.Delete(op.Anchor)
		return "", fmt.Errorf("%w (the group was created, then deleted again so that nothing half-done remains)", err)
	}
	return id, nil
}

// findGroups returns the ids of the groups with a mailNickname.
func (c *Connector) findGroups(ctx context.Context, nick string) ([]string, error) {
	var ids []string
	_, err := c.cl.eachPage(ctx, &request{method: http.MethodGet, path: "/groups", query: [][2]string{
		{"$filter", "mailNickname eq '" + strings.ReplaceAll(nick, "'", "''") + "'"}, {"$select", "id"}}},
		func(values []json.RawMessage) error {
			for _, raw := range values {
				var g struct {
					ID json.RawMessage `json:"id"`
				}
				if json.Unmarshal(raw, &g) == nil && rawStr(g.ID) != "" {
					ids = append(ids, rawStr(g.ID))
				}
			}
			return nil
		})
	return ids, err
}

// binds returns the members@odata.bind references of ids.
func (c *Connector) binds(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = c.s.base.String() + "/directoryObjects/" + url.PathEscape(id)
	}
	return out
}

// retryFresh runs fn again, after a backoff, while it fails with 404 and
// ids holds an object this process has just created: Graph's replicas may
// not know it yet.
func (c *Connector) retryFresh(ctx context.Context, ids []string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		var ae *APIError
		if err == nil || attempt >= c.s.maxRetries || !errors.As(err, &ae) || ae.Status != http.StatusNotFound ||
			!slices.ContainsFunc(ids, c.fresh) {
			return err
		}
		if err := c.cl.sleep(ctx, c.cl.backoff(attempt)); err != nil {
			return err
		}
	}
}

// explainBindError names the members Graph does not know when a request
// that binds ids fails with 404; unknown reports whether it found one.
func (c *Connector) explainBindError(ctx context.Context, ids []string, err error) (_ error, unknown bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || len(ids) == 0 {
		return err, false
	}
	var missing []string
	for _, id := range ids {
		_, gerr := c.cl.do(ctx, &request{method: http.MethodGet, path: "/directoryObjects/" + url.PathEscape(id), query: [][2]string{{"$select", "id"}}})
		if errors.As(gerr, &ae) && ae.Status == http.StatusNotFound {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return err, false
	}
	return fmt.Errorf("member %s: Microsoft Graph has no directory object with this id (a member that idsync added in an earlier run is corrected by the next synchronization): %w",
		strings.Join(missing, ", "), err), true
}

// bindMembers adds members to a group 20 at a time (PATCH /groups/{id}
// with members@odata.bind). Graph refuses a whole request when one
// reference is a member already; the connector then reads the member list
// once and sends only the missing ones, so that a replayed add converges.
func (c *Connector) bindMembers(ctx context.Context, gid string, ids []string) error {
	var current map[string]bool
	for start := 0; start < len(ids); start += maxBind {
		todo := ids[start:min(start+maxBind, len(ids))]
		for {
			if current != nil {
				todo = slices.DeleteFunc(slices.Clone(todo), func(id string) bool { return current[id] })
				if len(todo) == 0 {
					break
				}
			}
			err := c.retryFresh(ctx, todo, func() error {
				_, err := c.cl.do(ctx, &request{method: http.MethodPatch, path: "/groups/" + url.PathEscape(gid),
					body: map[string]any{"members@odata.bind": c.binds(todo)}})
				return err
			})
			if err == nil {
				break
			}
			var ae *APIError
			if current == nil && errors.As(err, &ae) && ae.Status == http.StatusBadRequest &&
				strings.Contains(strings.ToLower(ae.Message), "already exist") {
				list, lerr := c.currentMembers(ctx, gid)
				if lerr != nil {
					return fmt.Errorf("%w; and reading the members failed: %w", err, lerr)
				}
				current = make(map[string]bool, len(list))
				for _, id := range list {
					current[strings.ToLower(id)] = true
				}
				continue
			}
			err, unknown := c.explainBindError(ctx, todo, err)
			if !unknown {
				err = notFound(err) // a 404 naming no unknown member: the group is gone
			}
			return err
		}
	}
	return nil
}

// removeMembers removes members one by one (DELETE
// /groups/{id}/members/{member}/$ref). A member already removed (404) is
// fine; when the group itself is gone the op fails with ErrNotFound.
func (c *Connector) removeMembers(ctx context.Context, gid string, ids []string) error {
	checked := false
	for _, id := range ids {
		_, err := c.cl.do(ctx, &request{method: http.MethodDelete,
			path: "/groups/" + url.PathEscape(gid) + "/members/" + url.PathEscape(id) + "/$ref"})
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			if !checked {
				if _, gerr := c.cl.do(ctx, &request{method: http.MethodGet, path: "/groups/" + url.PathEscape(gid),
					query: [][2]string{{"$select", "id"}}}); gerr != nil {
					return notFound(gerr)
				}
				checked = true
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- update, delete ----

func (c *Connector) update(ctx context.Context, ot *objectType, id string, changes []connector.AttrChange) error {
	p, err := c.plan(ot, changes)
	if err != nil {
		return err
	}
	if len(p.valueOp) > 0 {
		if err := c.applyValueOps(ctx, ot, id, p); err != nil {
			return err
		}
	}
	if len(p.props) > 0 {
		if _, err := c.cl.do(ctx, &request{method: http.MethodPatch, path: c.objPath(ot, id), body: p.props}); err != nil {
			return notFound(err)
		}
	}
	for _, mc := range p.members {
		var err error
		switch mc.mode {
		case connector.Replace:
			err = c.replaceMembers(ctx, id, mc.ids)
		case connector.AddVals:
			err = c.bindMembers(ctx, id, mc.ids)
		case connector.DelVals:
			err = c.removeMembers(ctx, id, mc.ids)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyValueOps reads the current values of the attributes with value adds
// or removes, and turns the changes into replaced values in p.props.
func (c *Connector) applyValueOps(ctx context.Context, ot *objectType, id string, p *plan) error {
	sel := &selection{ot: ot}
	for _, ch := range p.valueOp {
		sel.attrs = append(sel.attrs, ot.attr(ch.Name))
	}
	o, err := c.readObject(ctx, sel, id)
	if err != nil {
		return notFound(err)
	}
	for _, ch := range p.valueOp {
		a := ot.attr(ch.Name)
		vals := o.Attrs[a.name].Values
		if ch.Mode == connector.AddVals {
			for _, v := range ch.Values {
				if !slices.Contains(vals, v) {
					vals = append(vals, v)
				}
			}
		} else {
			vals = slices.DeleteFunc(slices.Clone(vals), func(v string) bool { return slices.Contains(ch.Values, v) })
		}
		v, err := encodeValue(a, ch.Type, vals)
		if err != nil {
			return err
		}
		p.props[a.prop] = v
	}
	return nil
}

// replaceMembers makes the member list of a group ids: it reads the current
// list and adds and removes the difference.
func (c *Connector) replaceMembers(ctx context.Context, gid string, ids []string) error {
	list, err := c.currentMembers(ctx, gid)
	if err != nil {
		return notFound(err)
	}
	cur := make(map[string]bool, len(list))
	for _, id := range list {
		cur[strings.ToLower(id)] = true
	}
	want := make(map[string]bool, len(ids))
	var add []string
	for _, id := range ids {
		want[id] = true
		if !cur[id] {
			add = append(add, id)
		}
	}
	var del []string
	for _, id := range list {
		if !want[strings.ToLower(id)] {
			del = append(del, id)
		}
	}
	if err := c.bindMembers(ctx, gid, add); err != nil {
		return err
	}
	return c.removeMembers(ctx, gid, del)
}

func (c *Connector) remove(ctx context.Context, ot *objectType, id string) error {
	_, err := c.cl.do(ctx, &request{method: http.MethodDelete, path: c.objPath(ot, id)})
	return notFound(err)
}

// ---- passwords ----

// newPassword returns a random 32-character password with lower and upper
// case letters, digits and symbols (Microsoft Entra ID's complexity rules),
// from crypto/rand. It is sent once, in the create request, and never
// logged or returned.
func newPassword() (string, error) {
	const (
		lower   = "abcdefghijkmnopqrstuvwxyz"
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits  = "23456789"
		symbols = "!#$%&*+-=?@^_"
		length  = 32
	)
	pick := func(set string) (byte, error) {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, fmt.Errorf("generate a password: %w", err)
		}
		return set[n.Int64()], nil
	}
	pw := make([]byte, 0, length)
	for _, set := range []string{lower, upper, digits, symbols} {
		b, err := pick(set)
		if err != nil {
			return "", err
		}
		pw = append(pw, b)
	}
	for len(pw) < length {
		b, err := pick(lower + upper + digits + symbols)
		if err != nil {
			return "", err
		}
		pw = append(pw, b)
	}
	for i := len(pw) - 1; i > 0; i-- { // Fisher-Yates with crypto/rand
		n, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("generate a password: %w", err)
		}
		j := n.Int64()
		pw[i], pw[j] = pw[j], pw[i]
	}
	return string(pw), nil
}
