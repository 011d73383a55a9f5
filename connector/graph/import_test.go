// Microsoft Graph is faked in these tests (internal/graphfake), because no
// Graph is runnable here.
package graph

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/graphfake"
	"github.com/idsync/idsync/model"
)

func TestFullImportPagingAndMembers(t *testing.T) {
	srv := graphfake.New(t)
	var users []string
	for i := range 2500 {
		users = append(users, srv.AddUser(map[string]any{
			"userPrincipalName": fmt.Sprintf("user%04d@contoso.com", i), "displayName": fmt.Sprintf("User %d", i),
			"accountEnabled": i%2 == 0, "mailNickname": fmt.Sprintf("user%04d", i),
		}))
	}
	alice := srv.AddUser(map[string]any{
		"userPrincipalName": "alice@contoso.com", "displayName": "Alice", "accountEnabled": false,
		"onPremisesImmutableId": "AbCd==", "businessPhones": []any{"+1 555 0100"}, "mobilePhone": "+1 555 0199",
		"proxyAddresses": []any{"SMTP:alice@contoso.com", "smtp:a@contoso.com"}, "department": "",
		"onPremisesSamAccountName": "alice",
	})
	contact := srv.AddContact(map[string]any{"displayName": "Partner", "mail": "partner@fabrikam.com"})
	big := srv.AddGroup(map[string]any{"displayName": "All", "mailNickname": "all", "mailEnabled": false, "securityEnabled": true},
		users[:1200]...)
	small := srv.AddGroup(map[string]any{"displayName": "Small", "mailNickname": "small", "mailEnabled": false, "securityEnabled": true},
		alice, contact, big)
	empty := srv.AddGroup(map[string]any{"displayName": "Empty", "mailNickname": "empty", "mailEnabled": false, "securityEnabled": true})

	c := newConn(t, srv, nil)
	got, wm := fullImport(t, c, connector.ImportRequest{})
	if len(got) != 2501+1+3 {
		t.Fatalf("%d objects, want %d", len(got), 2501+1+3)
	}
	if n := srv.Count("GET /users"); n != 3 {
		t.Errorf("%d pages of users, want 3 (2,501 users, 999 a page)", n)
	}
	a := got[alice]
	want := model.Attrs{
		"userPrincipalName": model.Str("alice@contoso.com"), "displayName": model.Str("Alice"),
		"accountEnabled": {Type: model.Boolean, Values: []string{"false"}}, "sourceAnchor": model.Str("AbCd=="),
		"telephoneNumber": model.Str("+1 555 0100"), "mobile": model.Str("+1 555 0199"),
		"proxyAddresses": model.Str("SMTP:alice@contoso.com", "smtp:a@contoso.com"), "onPremisesSamAccountName": model.Str("alice"),
		"objectId": model.Str(alice), // the id, read-only
	}
	if a.Type != TypeUser || a.DN != "" || !a.Attrs.Equal(want) {
		t.Errorf("alice = %+v\nwant %+v", a.Attrs, want)
	}
	if g := got[big]; g.Type != TypeGroup || len(g.Attrs["member"].Values) != 1200 || g.Attrs["member"].Type != model.Reference {
		t.Errorf("big group: %d members", len(g.Attrs["member"].Values))
	}
	if g := got[small].Attrs["member"].Sorted(); !slices.Equal(g.Values, model.Ref(alice, contact, big).Sorted().Values) {
		t.Errorf("small group members = %v", g.Values)
	}
	if got[small].Attrs.First("mailNickname") != "small" || got[small].Attrs.First("securityEnabled") != "true" {
		t.Errorf("small group = %+v", got[small].Attrs)
	}
	if got[empty].Attrs.Has("member") {
		t.Errorf("empty group has members %v", got[empty].Attrs["member"])
	}
	if o := got[contact]; o.Type != TypeContact || o.Attrs.First("mail") != "partner@fabrikam.com" {
		t.Errorf("contact = %+v", o)
	}
	if n := srv.Count("GET /groups/{id}/members"); n != 4 {
		t.Errorf("%d member pages, want 4 (two for 1,200 members, one each for the others)", n)
	}
	w, err := parseWatermark(wm, c.s.base)
	if err != nil {
		t.Fatalf("watermark %s: %v", wm, err)
	}
	if len(w.Delta) != 3 || srv.Count("GET /users/delta") != 1 || srv.Count("GET /groups/delta") != 1 || srv.Count("GET /contacts/delta") != 1 {
		t.Errorf("watermark %s after %v", wm, srv.Counts())
	}
}

func TestFullImportSelectsAttributes(t *testing.T) {
	srv := graphfake.New(t)
	u := srv.AddUser(map[string]any{"userPrincipalName": "a@contoso.com", "displayName": "A", "department": "IT"})
	srv.AddGroup(map[string]any{"displayName": "G", "mailNickname": "g", "mailEnabled": false, "securityEnabled": true}, u)
	c := newConn(t, srv, nil)
	got, wm := fullImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeUser, TypeGroup}, Attributes: []string{"department", "sourceAnchor"}})
	if len(got) != 2 {
		t.Fatalf("%d objects", len(got))
	}
	if !got[u].Attrs.Equal(model.Attrs{"department": model.Str("IT")}) {
		t.Errorf("user = %+v", got[u].Attrs)
	}
	if n := srv.Count("GET /groups/{id}/members"); n != 0 {
		t.Errorf("members read %d times though no rule reads member", n)
	}
	if srv.Count("GET /contacts") != 0 || strings.Contains(wm, `"contact"`) {
		t.Errorf("contacts read though not asked for: %v %s", srv.Counts(), wm)
	}
}

func TestFullImportOddValues(t *testing.T) {
	srv := graphfake.New(t)
	good := srv.AddUser(map[string]any{"userPrincipalName": "good@contoso.com", "displayName": "Good"})
	bad := srv.AddUser(map[string]any{"userPrincipalName": "bad@contoso.com", "accountEnabled": "yes"})
	worse := srv.AddUser(map[string]any{"userPrincipalName": "worse@contoso.com", "businessPhones": map[string]any{"x": 1}})
	c := newConn(t, srv, nil)
	var errs []string
	got, _ := fullImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeUser}, ObjectError: func(anchor, dn string, err error) {
		errs = append(errs, anchor+": "+err.Error())
	}})
	if len(got) != 1 || got[good] == nil {
		t.Errorf("imported %v", got)
	}
	if len(errs) != 2 || !strings.HasPrefix(errs[0], bad+": ") || !strings.Contains(errs[0], `property accountEnabled: want true or false, got "yes"`) ||
		!strings.HasPrefix(errs[1], worse+": ") || !strings.Contains(errs[1], "businessPhones: want a list of strings") {
		t.Errorf("object errors: %q", errs)
	}
}

func TestDeltaImport(t *testing.T) {
	srv := graphfake.New(t)
	srv.DeltaPageSize = 2 // several pages a round
	u1 := srv.AddUser(map[string]any{"userPrincipalName": "u1@contoso.com", "displayName": "One", "department": "IT"})
	u2 := srv.AddUser(map[string]any{"userPrincipalName": "u2@contoso.com", "displayName": "Two"})
	u3 := srv.AddUser(map[string]any{"userPrincipalName": "u3@contoso.com", "displayName": "Three"})
	u5 := srv.AddUser(map[string]any{"userPrincipalName": "u5@contoso.com", "displayName": "Five"})
	g := srv.AddGroup(map[string]any{"displayName": "G", "mailNickname": "g", "mailEnabled": false, "securityEnabled": true}, u1, u2)
	quiet := srv.AddGroup(map[string]any{"displayName": "Quiet", "mailNickname": "quiet", "mailEnabled": false, "securityEnabled": true}, u1)
	c := newConn(t, srv, nil)
	_, wm := fullImport(t, c, connector.ImportRequest{})

	// No change: nothing.
	changes, wm := deltaImport(t, c, connector.ImportRequest{}, wm)
	if len(changes) != 0 {
		t.Fatalf("changes without a change: %v", changes)
	}

	u4 := srv.AddUser(map[string]any{"userPrincipalName": "u4@contoso.com", "displayName": "Four", "accountEnabled": true})
	srv.Update(u1, map[string]any{"displayName": "One!"})
	srv.Delete(u2, false) // soft: "changed"; also leaves the group
	srv.Delete(u3, true)  // permanently: "deleted"
	srv.AddMember(g, u4)
	srv.Update(u5, map[string]any{"jobTitle": "Boss"})
	srv.SetFault(func(r *http.Request) (int, string, bool) { // u5 is deleted before it is read again
		return http.StatusNotFound, "", r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/users/"+u5)
	})
	changes, wm = deltaImport(t, c, connector.ImportRequest{}, wm)
	srv.SetFault(nil)
	byAnchor := map[string]connector.Change{}
	for _, ch := range changes {
		if _, dup := byAnchor[ch.Object.Anchor]; dup {
			t.Errorf("two changes for %s", ch.Object.Anchor)
		}
		byAnchor[ch.Object.Anchor] = ch
	}
	if len(changes) != 6 {
		t.Errorf("%d changes, want 6: %+v", len(changes), changes)
	}
	check := func(id string, kind connector.ChangeKind, typ string, attrs model.Attrs) {
		t.Helper()
		ch, ok := byAnchor[id]
		switch {
		case !ok:
			t.Errorf("no change for %s", id)
		case ch.Kind != kind || ch.Object.Type != typ:
			t.Errorf("%s: kind %v type %s", id, ch.Kind, ch.Object.Type)
		case attrs != nil && !ch.Object.Attrs.Equal(attrs):
			t.Errorf("%s = %+v\nwant %+v", id, ch.Object.Attrs, attrs)
		}
	}
	check(u4, connector.Upsert, TypeUser, model.Attrs{"userPrincipalName": model.Str("u4@contoso.com"), "displayName": model.Str("Four"),
		"accountEnabled": {Type: model.Boolean, Values: []string{"true"}}, "objectId": model.Str(u4)})
	// The full state, not only the changed property.
	check(u1, connector.Upsert, TypeUser, model.Attrs{"userPrincipalName": model.Str("u1@contoso.com"), "displayName": model.Str("One!"), "department": model.Str("IT"), "objectId": model.Str(u1)})
	check(u2, connector.Delete, TypeUser, nil)
	check(u3, connector.Delete, TypeUser, nil)
	check(u5, connector.Delete, TypeUser, nil)
	check(g, connector.Upsert, TypeGroup, nil)
	if m := byAnchor[g].Object.Attrs["member"].Sorted().Values; !slices.Equal(m, model.Ref(u1, u4).Sorted().Values) {
		t.Errorf("group members = %v, want u1 and u4", m)
	}
	if _, ok := byAnchor[quiet]; ok {
		t.Error("an unchanged group was reported")
	}

	// The new watermark continues from here.
	changes, _ = deltaImport(t, c, connector.ImportRequest{}, wm)
	if len(changes) != 0 {
		t.Errorf("changes reported twice: %+v", changes)
	}
}

func TestDeltaImportExpiredToken(t *testing.T) {
	srv := graphfake.New(t)
	srv.AddUser(map[string]any{"userPrincipalName": "u1@contoso.com"})
	c := newConn(t, srv, nil)
	_, wm := fullImport(t, c, connector.ImportRequest{})
	srv.ExpireDeltaTokens()
	_, err := c.DeltaImport(context.Background(), connector.ImportRequest{}, wm, func(connector.Change) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "410") || !strings.Contains(err.Error(), "syncStateNotFound") ||
		!strings.Contains(err.Error(), "run a full import") {
		t.Fatalf("expired token: %v", err)
	}
}

func TestDeltaImportWatermarkProblems(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	_, usersOnly := fullImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeUser}})
	for _, tt := range []struct{ wm, want string }{
		{"", "no full import yet"},
		{"42", "not a graph connector watermark"},
		{usersOnly, "no delta link for groups"},
		{`{"v":1,"delta":{"user":"https://evil.example.com/v1.0/users/delta?$deltatoken=x"}}`, "not " + srv.URL + "/users/delta"},
	} {
		_, err := c.DeltaImport(context.Background(), connector.ImportRequest{}, tt.wm, func(connector.Change) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "run a full import") {
			t.Errorf("watermark %q: %v, want %q", tt.wm, err, tt.want)
		}
	}
	// A delta import of users alone works from the users-only watermark
	// and keeps its place.
	if _, err := c.DeltaImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{TypeUser}}, usersOnly,
		func(connector.Change) error { return nil }); err != nil {
		t.Error(err)
	}
}

func TestDeltaLinkWithoutLatest(t *testing.T) {
	// Should Graph refuse $deltatoken=latest, the full import runs an
	// initial delta round to its end instead.
	srv := graphfake.New(t)
	srv.DeltaPageSize = 3
	for i := range 10 {
		srv.AddUser(map[string]any{"userPrincipalName": fmt.Sprintf("u%d@contoso.com", i)})
	}
	srv.SetFault(func(r *http.Request) (int, string, bool) {
		return http.StatusBadRequest, "", r.URL.Query().Get("$deltatoken") == "latest"
	})
	c := newConn(t, srv, nil)
	_, wm := fullImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeUser}})
	srv.SetFault(nil)
	if n := srv.Count("GET /users/delta"); n != 1+4 {
		t.Errorf("%d delta requests, want 1 refused and 4 pages", n)
	}
	u := srv.AddUser(map[string]any{"userPrincipalName": "new@contoso.com"})
	changes, _ := deltaImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeUser}}, wm)
	if len(changes) != 1 || changes[0].Object.Anchor != u {
		t.Errorf("changes %+v", changes)
	}
}

func TestDeltaImportOddValue(t *testing.T) {
	srv := graphfake.New(t)
	u := srv.AddUser(map[string]any{"userPrincipalName": "u@contoso.com", "accountEnabled": true})
	c := newConn(t, srv, nil)
	_, wm := fullImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeUser}})
	srv.Update(u, map[string]any{"accountEnabled": "maybe"})
	var errs []string
	req := connector.ImportRequest{ObjectTypes: []string{TypeUser}, ObjectError: func(anchor, _ string, err error) {
		errs = append(errs, anchor+": "+err.Error())
	}}
	changes, _ := deltaImport(t, c, req, wm)
	if len(changes) != 0 || len(errs) != 1 || !strings.HasPrefix(errs[0], u+": ") || !strings.Contains(errs[0], "want true or false") {
		t.Errorf("changes %+v, errors %q", changes, errs)
	}
}
