// Microsoft Graph is faked in these tests (internal/graphfake), because no
// Graph is runnable here.
package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/graphfake"
	"github.com/idsync/idsync/model"
)

func TestExportUserLifecycle(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	rec := record(c)

	add := userAdd("1", "alice@contoso.com",
		replace("telephoneNumber", "+1 555 0100"), replace("mobile", "+1 555 0199"), replace("department", "IT"),
		replace("proxyAddresses", "SMTP:alice@contoso.com"), replace("onPremisesSamAccountName", "alice"),
		replace("jobTitle"))
	add2 := userAdd("2", "bob@contoso.com", replace("proxyAddresses", "SMTP:bob@contoso.com"))
	res := export(t, c, add, add2)
	mustOK(t, res)
	id := res["1"].Anchor
	u := srv.Object(id)
	if u == nil {
		t.Fatalf("no user %s in %s", id, srv.DebugDump())
	}
	for k, v := range map[string]any{"userPrincipalName": "alice@contoso.com", "displayName": "User 1", "mailNickname": "u1",
		"accountEnabled": true, "onPremisesImmutableId": "anchor-1", "mobilePhone": "+1 555 0199", "department": "IT"} {
		if u[k] != v {
			t.Errorf("%s = %v, want %v", k, u[k], v)
		}
	}
	if fmt.Sprint(u["businessPhones"]) != "[+1 555 0100]" || u["proxyAddresses"] != nil || u["jobTitle"] != nil || u["passwordProfile"] != nil {
		t.Errorf("user = %v", u)
	}
	// Read-only attributes are skipped, and logged once per attribute.
	logs := c.logs.String()
	if strings.Count(logs, "attribute=proxyAddresses") != 1 || strings.Count(logs, "attribute=onPremisesSamAccountName") != 1 {
		t.Errorf("log:\n%s", logs)
	}
	// Passwords: random, complex, different, never shown.
	pws := rec.passwords()
	if len(pws) != 2 || pws[0] == pws[1] {
		t.Fatalf("passwords sent: %d", len(pws))
	}
	for _, pw := range pws {
		if len(pw) < 24 || !strings.ContainsFunc(pw, unicode.IsUpper) || !strings.ContainsFunc(pw, unicode.IsLower) ||
			!strings.ContainsFunc(pw, unicode.IsDigit) || !strings.ContainsAny(pw, "!#$%&*+-=?@^_") {
			t.Errorf("weak password of %d characters", len(pw))
		}
		if strings.Contains(logs, pw) || strings.Contains(fmt.Sprint(res), pw) {
			t.Error("a password shows in the log or the results")
		}
	}

	// Update: replace, clear, value adds.
	res = export(t, c, connector.ExportOp{ID: "3", Op: connector.OpUpdate, Anchor: id, ObjectType: TypeUser, Changes: []connector.AttrChange{
		replace("department", "Sales"), replace("mobile"), replace("displayName", "Alice A."),
		{Name: "telephoneNumber", Mode: connector.AddVals, Values: []string{"+1 555 0101"}},
	}})
	mustOK(t, res)
	u = srv.Object(id)
	if u["department"] != "Sales" || u["mobilePhone"] != nil || u["displayName"] != "Alice A." ||
		fmt.Sprint(u["businessPhones"]) != "[+1 555 0100 +1 555 0101]" {
		t.Errorf("after the update: %v", u)
	}
	// A rename is an update: Graph objects have no DN.
	res = export(t, c, connector.ExportOp{ID: "4", Op: connector.OpRename, Anchor: id, ObjectType: TypeUser, NewDN: "CN=x",
		Changes: []connector.AttrChange{replace("city", "Lisbon")}})
	mustOK(t, res)
	if srv.Object(id)["city"] != "Lisbon" {
		t.Error("rename did not update")
	}

	// Delete, then the replays.
	res = export(t, c, connector.ExportOp{ID: "5", Op: connector.OpDelete, Anchor: id, ObjectType: TypeUser})
	mustOK(t, res)
	if srv.Object(id) != nil {
		t.Error("not deleted")
	}
	res = export(t, c,
		connector.ExportOp{ID: "6", Op: connector.OpDelete, Anchor: id, ObjectType: TypeUser},
		connector.ExportOp{ID: "7", Op: connector.OpUpdate, Anchor: id, ObjectType: TypeUser, Changes: []connector.AttrChange{replace("city", "Porto")}},
	)
	for _, k := range []string{"6", "7"} {
		if err := res[k].Err; !errors.Is(err, connector.ErrNotFound) || !strings.Contains(err.Error(), "404 Request_ResourceNotFound") {
			t.Errorf("op %s on a missing user: %v", k, err)
		}
	}
}

func TestExportUserAddReplayAndMatches(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	add := userAdd("1", "o'brien@contoso.com")
	res := export(t, c, add)
	mustOK(t, res)
	id := res["1"].Anchor

	// Replayed after a crash: ErrAlreadyExists with the same id, and this
	// object's identity (the immutable id).
	res = export(t, c, add)
	if err := res["1"].Err; !errors.Is(err, connector.ErrAlreadyExists) || !errors.Is(err, connector.ErrIdentityMatch) || res["1"].Anchor != id {
		t.Fatalf("replay: %v, anchor %s (want %s)", err, res["1"].Anchor, id)
	}
	// The same add under another userPrincipalName (hard match on the
	// immutable id).
	moved := userAdd("1", "obrien@contoso.com")
	res = export(t, c, moved)
	if err := res["1"].Err; !errors.Is(err, connector.ErrAlreadyExists) || !errors.Is(err, connector.ErrIdentityMatch) || res["1"].Anchor != id {
		t.Fatalf("hard match: %v, anchor %s (want %s)", err, res["1"].Anchor, id)
	}
	if n := len(srv.Users()); n != 1 {
		t.Fatalf("%d users after replays", n)
	}

	// Soft match: a cloud user with the name and no immutable id. The same
	// name only, not this object's identity: the engine takes it over only
	// when an earlier sending may have created it...
	cloud := srv.AddUser(map[string]any{"userPrincipalName": "carol@contoso.com", "displayName": "Carol"})
	res = export(t, c, userAdd("2", "carol@contoso.com"))
	if err := res["2"].Err; !errors.Is(err, connector.ErrAlreadyExists) || errors.Is(err, connector.ErrIdentityMatch) || res["2"].Anchor != cloud {
		t.Errorf("soft match: %v, anchor %s (want %s, no identity match)", err, res["2"].Anchor, cloud)
	}
	// ... or with softMatch, as Azure AD Connect does.
	soft := newConn(t, srv, func(c *Config) { c.SoftMatch = true })
	res = export(t, soft, userAdd("2", "carol@contoso.com"))
	if err := res["2"].Err; !errors.Is(err, connector.ErrAlreadyExists) || !errors.Is(err, connector.ErrIdentityMatch) || res["2"].Anchor != cloud {
		t.Errorf("soft match with softMatch: %v, anchor %s (want %s, identity match)", err, res["2"].Anchor, cloud)
	}
	// A user synchronized from another source object holds the name.
	other := srv.AddUser(map[string]any{"userPrincipalName": "dave@contoso.com", "onPremisesImmutableId": "someone-else"})
	res = export(t, c, userAdd("3", "dave@contoso.com"))
	err := res["3"].Err
	if err == nil || errors.Is(err, connector.ErrAlreadyExists) || !strings.Contains(err.Error(), other) ||
		!strings.Contains(err.Error(), "someone-else") || !strings.Contains(err.Error(), "Another object with the same value for property userPrincipalName already exists") {
		t.Errorf("conflict: %v", err)
	}
}

func TestExportUserErrors(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	existing := srv.AddUser(map[string]any{"userPrincipalName": "x@contoso.com"})
	res := export(t, c,
		connector.ExportOp{ID: "missing", Op: connector.OpAdd, Anchor: "p1", ObjectType: TypeUser, Changes: []connector.AttrChange{replace("displayName", "No Name")}},
		connector.ExportOp{ID: "unknown-attr", Op: connector.OpUpdate, Anchor: existing, ObjectType: TypeUser, Changes: []connector.AttrChange{replace("objectClass", "user")}},
		connector.ExportOp{ID: "two-values", Op: connector.OpUpdate, Anchor: existing, ObjectType: TypeUser, Changes: []connector.AttrChange{replace("city", "a", "b")}},
		connector.ExportOp{ID: "not-bool", Op: connector.OpUpdate, Anchor: existing, ObjectType: TypeUser, Changes: []connector.AttrChange{boolean("accountEnabled", "yes")}},
		connector.ExportOp{ID: "bad-upn", Op: connector.OpUpdate, Anchor: existing, ObjectType: TypeUser, Changes: []connector.AttrChange{replace("userPrincipalName", "no-at-sign")}},
		connector.ExportOp{ID: "bad-type", Op: connector.OpAdd, Anchor: "p2", ObjectType: "printer"},
	)
	for id, want := range map[string]string{
		"missing":      `add user "No Name": no value for accountEnabled, mailNickname, userPrincipalName, which Microsoft Graph requires to create a user`,
		"unknown-attr": `attribute "objectClass" is not in the graph connector's user model`,
		"two-values":   "city takes one value in Graph (city), not 2",
		"not-bool":     `accountEnabled is a boolean in Graph: "yes"`,
		"bad-upn":      "PATCH /users/" + existing + ": 400 Request_BadRequest: Property userPrincipalName is invalid.",
		"bad-type":     `unknown object type "printer"`,
	} {
		err := res[id].Err
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), `graph connector "aad": `) {
			t.Errorf("%s: %v\nwant %q", id, err, want)
		}
	}
	if srv.Count("POST /users") != 0 {
		t.Error("an invalid add reached Graph")
	}
}

func TestExportBinarySourceAnchor(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	guid := string([]byte{0x01, 0xff, 0x10, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	op := userAdd("1", "bin@contoso.com")
	op.Changes = append(op.Changes[:4], connector.AttrChange{Name: "sourceAnchor", Mode: connector.Replace, Type: model.Binary, Values: []string{guid}})
	res := export(t, c, op)
	mustOK(t, res)
	if got := srv.Object(res["1"].Anchor)["onPremisesImmutableId"]; got != base64.StdEncoding.EncodeToString([]byte(guid)) {
		t.Errorf("onPremisesImmutableId = %v", got)
	}
}

func TestExportContactsAreRefused(t *testing.T) {
	srv := graphfake.New(t)
	ct := srv.AddContact(map[string]any{"displayName": "Partner", "mail": "p@fabrikam.com"})
	c := newConn(t, srv, nil)
	res := export(t, c,
		connector.ExportOp{ID: "a", Op: connector.OpAdd, Anchor: "p", ObjectType: TypeContact, Changes: []connector.AttrChange{replace("mail", "n@fabrikam.com")}},
		connector.ExportOp{ID: "u", Op: connector.OpUpdate, Anchor: ct, ObjectType: TypeContact, Changes: []connector.AttrChange{replace("displayName", "P")}},
		connector.ExportOp{ID: "d", Op: connector.OpDelete, Anchor: ct, ObjectType: TypeContact},
	)
	for _, id := range []string{"a", "u", "d"} {
		err := res[id].Err
		if err == nil || !strings.Contains(err.Error(), "organizational contacts cannot be written through Microsoft Graph") ||
			!strings.Contains(err.Error(), "Out to AAD - Contact Join") || !strings.Contains(err.Error(), "SCIM or LDAP") ||
			errors.Is(err, connector.ErrNotFound) {
			t.Errorf("contact %s: %v", id, err)
		}
	}
	if n := len(srv.Contacts()); n != 1 || srv.Object(ct)["displayName"] != "Partner" {
		t.Error("a contact changed")
	}
}

// memberIDs returns the group's member ids, sorted.
func members(srv *graphfake.Server, gid string) []string {
	m, _ := srv.Object(gid)["members"].([]string)
	m = slices.Clone(m)
	slices.Sort(m)
	return m
}

func TestExportGroupMembers(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)

	// 45 users and a group naming them by the anchors idsync proposed, in
	// one batch: the group goes after the users, and its references are
	// translated to the ids Graph gave them.
	var ops []connector.ExportOp
	var proposed []string
	for i := range 45 {
		op := userAdd(fmt.Sprint(100+i), fmt.Sprintf("m%d@contoso.com", i))
		ops = append(ops, op)
		proposed = append(proposed, op.Anchor)
	}
	gadd := groupAdd("g", "staff", refs("member", connector.Replace, proposed...), replace("description", "All staff"),
		replace("sourceAnchor", "group-anchor"))
	ops = append([]connector.ExportOp{gadd}, ops...)
	res := export(t, c, ops...)
	mustOK(t, res)
	gid := res["g"].Anchor
	var ids []string
	for i := range 45 {
		ids = append(ids, res[fmt.Sprint(100+i)].Anchor)
	}
	slices.Sort(ids)
	if got := members(srv, gid); !slices.Equal(got, ids) {
		t.Fatalf("members = %d, want the 45 users", len(got))
	}
	if got := srv.BindSizes(); !slices.Equal(got, []int{20, 20, 5}) {
		t.Errorf("bind sizes %v, want [20 20 5]", got)
	}
	if srv.Count("POST /groups") != 1 || srv.Count("PATCH /groups/{id}") != 2 {
		t.Errorf("requests: %v", srv.Counts())
	}
	if g := srv.Object(gid); g["description"] != "All staff" || g["securityEnabled"] != true || g["mailEnabled"] != false {
		t.Errorf("group = %v", g)
	}
	if !strings.Contains(c.logs.String(), "attribute=sourceAnchor") {
		t.Error("the skipped group sourceAnchor was not logged")
	}

	// The add replayed: the group is found by its mailNickname, a name, not
	// an identity (the engine takes it over only on a replay).
	res = export(t, c, gadd)
	if err := res["g"].Err; !errors.Is(err, connector.ErrAlreadyExists) || errors.Is(err, connector.ErrIdentityMatch) || res["g"].Anchor != gid {
		t.Fatalf("replayed group add: %v, %s (want %s)", err, res["g"].Anchor, gid)
	}

	// Remove the 45 members one by one.
	before := srv.Count("DELETE /groups/{id}/members/{id}/$ref")
	res = export(t, c, connector.ExportOp{ID: "del", Op: connector.OpUpdate, Anchor: gid, ObjectType: TypeGroup,
		Changes: []connector.AttrChange{refs("member", connector.DelVals, ids...)}})
	mustOK(t, res)
	if n := srv.Count("DELETE /groups/{id}/members/{id}/$ref") - before; n != 45 || len(members(srv, gid)) != 0 {
		t.Errorf("%d removes, %d members left", n, len(members(srv, gid)))
	}
	// Replayed: already removed is fine.
	mustOK(t, export(t, c, connector.ExportOp{ID: "del", Op: connector.OpUpdate, Anchor: gid, ObjectType: TypeGroup,
		Changes: []connector.AttrChange{refs("member", connector.DelVals, ids[:3]...)}}))

	// Add the 45 back with value adds: three PATCHes of 20, 20 and 5.
	patches := srv.Count("PATCH /groups/{id}")
	addOp := connector.ExportOp{ID: "add", Op: connector.OpUpdate, Anchor: gid, ObjectType: TypeGroup,
		Changes: []connector.AttrChange{refs("member", connector.AddVals, ids...)}}
	mustOK(t, export(t, c, addOp))
	if n := srv.Count("PATCH /groups/{id}") - patches; n != 3 || len(members(srv, gid)) != 45 {
		t.Errorf("%d PATCHes, %d members", n, len(members(srv, gid)))
	}
	// Replayed: Graph refuses members that are members already; the
	// connector reads the list once and converges.
	mustOK(t, export(t, c, addOp))
	if len(members(srv, gid)) != 45 {
		t.Error("replayed add changed the members")
	}
	// Partly applied: 40 members, then the 45 again.
	for _, id := range ids[40:] {
		srv.RemoveMember(gid, id)
	}
	mustOK(t, export(t, c, addOp))
	if got := members(srv, gid); !slices.Equal(got, ids) {
		t.Errorf("after a partial replay: %d members", len(got))
	}

	// Replace: the difference only.
	extra := srv.AddUser(map[string]any{"userPrincipalName": "extra@contoso.com"})
	patches, deletes := srv.Count("PATCH /groups/{id}"), srv.Count("DELETE /groups/{id}/members/{id}/$ref")
	want := append(slices.Clone(ids[:30]), extra)
	mustOK(t, export(t, c, connector.ExportOp{ID: "rep", Op: connector.OpUpdate, Anchor: gid, ObjectType: TypeGroup,
		Changes: []connector.AttrChange{refs("member", connector.Replace, want...)}}))
	slices.Sort(want)
	if got := members(srv, gid); !slices.Equal(got, want) {
		t.Errorf("after replace: %v", got)
	}
	if p, d := srv.Count("PATCH /groups/{id}")-patches, srv.Count("DELETE /groups/{id}/members/{id}/$ref")-deletes; p != 1 || d != 15 {
		t.Errorf("replace sent %d PATCHes and %d DELETEs, want 1 and 15", p, d)
	}

	// Delete the group, then again.
	mustOK(t, export(t, c, connector.ExportOp{ID: "gd", Op: connector.OpDelete, Anchor: gid, ObjectType: TypeGroup}))
	res = export(t, c,
		connector.ExportOp{ID: "gd", Op: connector.OpDelete, Anchor: gid, ObjectType: TypeGroup},
		connector.ExportOp{ID: "gu", Op: connector.OpUpdate, Anchor: gid, ObjectType: TypeGroup, Changes: []connector.AttrChange{refs("member", connector.AddVals, extra)}},
		connector.ExportOp{ID: "gr", Op: connector.OpUpdate, Anchor: gid, ObjectType: TypeGroup, Changes: []connector.AttrChange{refs("member", connector.DelVals, extra)}},
	)
	for _, k := range []string{"gd", "gu", "gr"} {
		if !errors.Is(res[k].Err, connector.ErrNotFound) {
			t.Errorf("%s on a deleted group: %v", k, res[k].Err)
		}
	}
}

func TestExportGroupErrors(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	u := srv.AddUser(map[string]any{"userPrincipalName": "u@contoso.com"})
	ghost := "6f9619ff-8b86-d011-b42d-00c04fc964ff"
	g := srv.AddGroup(map[string]any{"displayName": "G", "mailNickname": "g", "mailEnabled": false, "securityEnabled": true})
	srv.AddGroup(map[string]any{"displayName": "Twin 1", "mailNickname": "twin", "mailEnabled": false, "securityEnabled": true})
	srv.AddGroup(map[string]any{"displayName": "Twin 2", "mailNickname": "twin", "mailEnabled": false, "securityEnabled": true})
	var many []string
	for i := range 25 {
		many = append(many, srv.AddUser(map[string]any{"userPrincipalName": fmt.Sprintf("x%d@contoso.com", i)}))
	}
	res := export(t, c,
		groupAdd("1", "ghosted", refs("member", connector.Replace, u, ghost)),
		groupAdd("2", "ghosted-late", refs("member", connector.Replace, append(slices.Clone(many), ghost)...)),
		groupAdd("3", "mail", boolean("mailEnabled", "true")),
		groupAdd("4", "twin"),
		groupAdd("5", "dn", refs("member", connector.Replace, "CN=u,OU=Users,DC=contoso,DC=com")),
		connector.ExportOp{ID: "6", Op: connector.OpUpdate, Anchor: g, ObjectType: TypeGroup, Changes: []connector.AttrChange{refs("member", connector.AddVals, u, ghost)}},
		connector.ExportOp{ID: "7", Op: connector.OpAdd, Anchor: "p", ObjectType: TypeGroup, Changes: []connector.AttrChange{replace("displayName", "X")}},
		groupAdd("8", "m365", boolean("mailEnabled", "true"), boolean("securityEnabled", "false"), replace("groupTypes", "Unified")),
	)
	for id, want := range map[string]string{
		"1": "member " + ghost + ": Microsoft Graph has no directory object with this id",
		"2": "member " + ghost + ": Microsoft Graph has no directory object with this id",
		"3": "not mail-enabled security groups or distribution groups",
		"4": `2 groups have mailNickname "twin"`,
		"5": `member "CN=u,OU=Users,DC=contoso,DC=com" is not a Graph object id`,
		"6": "member " + ghost + ": Microsoft Graph has no directory object",
		"7": "no value for mailEnabled, mailNickname, securityEnabled, which Microsoft Graph requires to create a group",
	} {
		if err := res[id].Err; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("op %s: %v\nwant %q", id, err, want)
		}
	}
	for _, id := range []string{"1", "2", "6"} {
		if errors.Is(res[id].Err, connector.ErrNotFound) {
			t.Errorf("op %s: an unknown member is not a missing group: %v", id, res[id].Err)
		}
	}
	if res["2"].Err != nil && !strings.Contains(res["2"].Err.Error(), "deleted again") {
		t.Errorf("op 2 does not say the group was rolled back: %v", res["2"].Err)
	}
	if res["8"].Err != nil {
		t.Errorf("Microsoft 365 group: %v", res["8"].Err)
	}
	for _, grp := range srv.Groups() {
		if n := grp["mailNickname"]; n == "ghosted" || n == "ghosted-late" || n == "mail" || n == "dn" {
			t.Errorf("group %v was left behind", n)
		}
	}
	if len(members(srv, g)) != 0 {
		t.Error("a failed member add was partly applied")
	}
}

func TestExportCancelled(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := c.Export(ctx, []connector.ExportOp{userAdd("1", "a@contoso.com"), userAdd("2", "b@contoso.com")})
	if len(res) != 2 || res[0].Err == nil || res[1].Err == nil || res[0].ID != "1" || res[1].ID != "2" {
		t.Errorf("results: %+v", res)
	}
}
