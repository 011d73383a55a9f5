package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
)

func TestSCIMTestConnection(t *testing.T) {
	srv := peers.SCIM(t)
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr error
		wantMsg string
	}{
		{name: "good token"},
		{name: "wrong token", mod: func(c *Config) { c.Auth.Token = "wrong-token" }, wantErr: ErrCredentials, wantMsg: "check auth.token"},
		{name: "wrong port", mod: func(c *Config) {
			c.URL = fmt.Sprintf("http://127.0.0.1:%d/scim/v2", peers.FreePort(t))
			zero := 0
			c.MaxRetries = &zero
		}, wantErr: ErrUnreachable, wantMsg: "check url, that the server is running"},
		{name: "wrong base path", mod: func(c *Config) { c.URL = strings.TrimSuffix(c.URL, "/scim/v2") + "/api" }, wantErr: ErrDiscovery, wantMsg: "GET /ServiceProviderConfig: 404"},
		{name: "unknown resource type", mod: func(c *Config) { c.ObjectTypes = map[string]string{"user": "Person"} }, wantErr: ErrDiscovery, wantMsg: "its resource types: User, Group"},
		{name: "endpoint", mod: func(c *Config) { c.ObjectTypes = map[string]string{"person": "/Users"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(t, srv, tt.mod)
			err := c.TestConnection(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			for _, other := range []error{ErrUnreachable, ErrCredentials, ErrDiscovery} {
				if !errors.Is(tt.wantErr, other) && errors.Is(err, other) {
					t.Errorf("error also wraps %v", other)
				}
			}
			if strings.Contains(err.Error(), srv.Token) || strings.Contains(err.Error(), "wrong-token") {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
}

func TestSCIMDiscoveryAndSchema(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, nil)
	ct := count(c)
	s, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := c.discovery(context.Background())
	if !d.patch || !d.filter || d.etag || d.types["user"].endpoint != "/Users" || d.types["group"].kind != kindGroup {
		t.Errorf("discovery: %+v %+v", d, d.types["user"])
	}
	for _, p := range []string{"GET /ServiceProviderConfig", "GET /ResourceTypes", "GET /Schemas"} {
		if ct.get(p) != 1 {
			t.Errorf("%s: %d requests", p, ct.get(p))
		}
	}
	if len(s.ObjectTypes) != 2 || s.ObjectTypes[0].Name != "group" || s.ObjectTypes[1].Name != "user" {
		t.Fatalf("object types: %+v", s.ObjectTypes)
	}
	user, group := s.ObjectType("user"), s.ObjectType("group")
	for _, w := range []struct {
		o *model.ObjectTypeSchema
		a model.AttributeSchema
	}{
		{user, model.AttributeSchema{Name: "userName", Type: model.String}},
		{user, model.AttributeSchema{Name: "active", Type: model.Boolean}},
		{user, model.AttributeSchema{Name: "name.familyName", Type: model.String}},
		{user, model.AttributeSchema{Name: `emails[type eq "work"].value`, Type: model.String}},
		{user, model.AttributeSchema{Name: `phoneNumbers[type eq "mobile"].value`, Type: model.String}},
		{user, model.AttributeSchema{Name: `addresses[type eq "work"].streetAddress`, Type: model.String}},
		{user, model.AttributeSchema{Name: "groups", Type: model.Reference, MultiValued: true}},
		{user, model.AttributeSchema{Name: "x509Certificates", Type: model.Binary, MultiValued: true}},
		{user, model.AttributeSchema{Name: EnterpriseUser + ":employeeNumber", Type: model.String}},
		{user, model.AttributeSchema{Name: EnterpriseUser + ":manager", Type: model.Reference}},
		{group, model.AttributeSchema{Name: "displayName", Type: model.String}},
		{group, model.AttributeSchema{Name: "members", Type: model.Reference, MultiValued: true}},
		{group, model.AttributeSchema{Name: "externalId", Type: model.String}},
	} {
		if got := w.o.Attribute(w.a.Name); got == nil || *got != w.a {
			t.Errorf("%s %s: got %+v, want %+v", w.o.Name, w.a.Name, got, w.a)
		}
	}
}

func TestSCIMFactory(t *testing.T) {
	f, err := connector.Lookup(TypeName)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(src string) func(any) error {
		return func(v any) error { return yaml.UnmarshalWithOptions([]byte(src), v, yaml.Strict()) }
	}
	conn, err := f(context.Background(), "crm", decode(`
url: https://crm.example.com/scim/v2/
auth: {type: oauth2, tokenURL: "https://login.example.com/token", clientID: idsync, clientSecret: s3cret, scopes: [scim]}
timeout: 10s
concurrency: 8
pageSize: 50
memberBatch: 25
maxRetries: 0
retryCap: 5s
objectTypes: {user: User}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := conn.(*Connector)
	if s := c.s; s.base.String() != "https://crm.example.com/scim/v2" || s.timeout.Seconds() != 10 || s.concurrency != 8 || s.pageSize != 50 ||
		s.memberBatch != 25 || s.maxRetries != 0 || s.retryCap.Seconds() != 5 || s.retryBase != DefaultRetryBase || s.auth.Type != AuthOAuth2 || len(s.objectTypes) != 1 {
		t.Errorf("settings: %+v", s)
	}
	c.Close()

	for _, tt := range []struct{ src, want string }{
		{"url: https://x/scim\nauth: {token: t}\nbogus: 1", "bogus"},
		{"auth: {token: t}", "url is required"},
		{"url: ftp://x\nauth: {token: t}", "want an http:// or https:// URL"},
		{"url: http://crm.example.com/scim\nauth: {token: t}", "plain http would send the credentials in clear text"},
		{"url: https://user:pw@x/scim\nauth: {token: t}", "put credentials under auth"},
		{"url: https://x/scim", "auth is required"},
		{"url: https://x/scim\nauth: {type: bearer}", "auth.token is required"},
		{"url: https://x/scim\nauth: {type: basic, username: u}", "auth.username and auth.password are required"},
		{"url: https://x/scim\nauth: {type: oauth2, clientID: a}", "auth.tokenURL, auth.clientID and auth.clientSecret are required"},
		{"url: https://x/scim\nauth: {type: kerberos}", `auth.type "kerberos"`},
		{"url: https://x/scim\nauth: {type: bearer, token: t, password: p}", "keys set that auth.type bearer does not use"},
		{"url: https://x/scim\nauth: {token: t}\ntimeout: soon", "invalid duration"},
		{"url: https://x/scim\nauth: {token: t}\nconcurrency: -1", "concurrency must be positive"},
		{"url: https://x/scim\nauth: {token: t}\nmaxRetries: -1", "maxRetries must be 0 or more"},
		{"url: https://x/scim\nauth: {token: t}\nretryBase: 1m\nretryCap: 1s", "retryBase 1m0s is more than retryCap"},
		{"url: https://x/scim\nauth: {token: t}\ncaFile: /nonexistent/ca.pem", "caFile"},
		{"url: https://x/scim\nauth: {token: t}\nobjectTypes: {}", "objectTypes is empty"},
	} {
		_, err := f(context.Background(), "crm", decode(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), `scim connector "crm": config: `) {
			t.Errorf("%q: got %v, want %q", tt.src, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), ":pw@")) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
	c2, err := New("x", Config{URL: "http://127.0.0.1:1/scim", Auth: Auth{Token: "t"}})
	if err != nil || c2.s.auth.Type != AuthBearer {
		t.Errorf("loopback http: %v", err)
	}
	cfg := Config{CAFile: "ca.pem"}
	cfg.ResolvePaths("/etc/idsync")
	if cfg.CAFile != "/etc/idsync/ca.pem" {
		t.Errorf("ResolvePaths: %s", cfg.CAFile)
	}
}

func TestSCIMFullImportPagination(t *testing.T) {
	srv := peers.SCIM(t)
	const n = 250
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, u := range names("user", n) {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); rawUser(t, srv, u); <-sem }()
	}
	wg.Wait()
	gid := func() string {
		code, g := raw(t, srv, http.MethodPost, "/Groups", map[string]any{"schemas": []string{CoreGroup}, "displayName": "All", "externalId": "g-ext"})
		if code != 201 {
			t.Fatal(code, g)
		}
		return g["id"].(string)
	}()

	c := newConn(t, srv, func(c *Config) { c.PageSize = 100 })
	ct := count(c)
	seen := map[string]*model.Object{}
	wm, err := c.FullImport(context.Background(), connector.ImportRequest{}, func(o *model.Object) error {
		if seen[o.Anchor] != nil {
			t.Errorf("%s emitted twice", o.Anchor)
		}
		seen[o.Anchor] = o
		return nil
	})
	if err != nil || wm != "" {
		t.Fatal(wm, err)
	}
	if len(seen) != n+1 {
		t.Fatalf("imported %d objects, want %d", len(seen), n+1)
	}
	if got := ct.get("GET /Users"); got != 3 {
		t.Errorf("%d pages of users, want 3", got)
	}
	userNames := map[string]bool{}
	for _, o := range seen {
		if o.Type == "user" {
			userNames[o.Attrs.First("userName")] = true
			if o.DN != "" || o.Anchor == "" {
				t.Errorf("object %+v", o)
			}
		}
	}
	if len(userNames) != n {
		t.Errorf("%d distinct userNames", len(userNames))
	}
	if g := seen[gid]; g == nil || g.Type != "group" || g.Attrs.First("displayName") != "All" || g.Attrs.First("externalId") != "g-ext" {
		t.Errorf("group: %+v", g)
	}

	// Only the attributes asked for (and externalId); emit errors stop the import.
	var got *model.Object
	stop := errors.New("stop")
	_, err = c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{"user"}, Attributes: []string{"USERNAME"}}, func(o *model.Object) error {
		got = o
		return stop
	})
	if !errors.Is(err, stop) || got == nil || len(got.Attrs) != 1 || !got.Attrs.Has("userName") {
		t.Errorf("attributes: %v %+v", err, got)
	}
	if _, err := c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{"contact"}}, func(*model.Object) error { return nil }); err == nil || !strings.Contains(err.Error(), `object type "contact" is not configured`) {
		t.Errorf("unknown object type: %v", err)
	}
}

func TestSCIMExportRoundTrip(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, nil)
	ctx := context.Background()
	res := export(t, c, addUser("p-ada", "ada",
		set("displayName", "Ada Lovelace"),
		set("name.givenName", "Ada"),
		set("name.familyName", "Lovelace"),
		set("active", "true"),
		set(`emails[type eq "work"].value`, "ada@work.test"),
		set(`phoneNumbers[type eq "mobile"].value`, "+44 1"),
		set(`addresses[type eq "work"].streetAddress`, "12 St James's Square"),
		set(`addresses[type eq "work"].locality`, "London"),
		set("title", "Analyst"),
		set(EnterpriseUser+":employeeNumber", "1815"),
		set(EnterpriseUser+":department", "Engines"),
	))
	id := res[0].Anchor
	if id == "" || id == "p-ada" {
		t.Fatalf("anchor %q: want the server's id", id)
	}
	want := model.Attrs{
		"userName":                             model.Str("ada"),
		"externalId":                           model.Str("p-ada"),
		"displayName":                          model.Str("Ada Lovelace"),
		"name.givenName":                       model.Str("Ada"),
		"name.familyName":                      model.Str("Lovelace"),
		"active":                               {Type: model.Boolean, Values: []string{"true"}},
		`emails[type eq "work"].value`:         model.Str("ada@work.test"),
		`phoneNumbers[type eq "mobile"].value`: model.Str("+44 1"),
		`addresses[type eq "work"].streetAddress`: model.Str("12 St James's Square"),
		`addresses[type eq "work"].locality`:      model.Str("London"),
		"title":                                   model.Str("Analyst"),
		EnterpriseUser + ":employeeNumber":        model.Str("1815"),
		EnterpriseUser + ":department":            model.Str("Engines"),
	}
	check := func(step string) {
		t.Helper()
		o, err := c.Get(ctx, "user", id)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if o.Anchor != id || o.Type != "user" || !o.Attrs.Equal(want) {
			t.Fatalf("%s:\n got  %v\n want %v", step, o.Attrs, want)
		}
	}
	check("after add")

	ct := count(c)
	upd := connector.ExportOp{ID: "u1", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{
		set("displayName", "Countess of Lovelace"),
		set(`emails[type eq "work"].value`, "ada@engine.test"),
		set(`phoneNumbers[type eq "mobile"].value`),
		set(`addresses[type eq "work"].locality`, "Marylebone"),
		set("title"),
		set(EnterpriseUser+":department", "Analytical Engines"),
	}}
	if r := export(t, c, upd); r[0].Anchor != id {
		t.Errorf("update anchor %q", r[0].Anchor)
	}
	want["displayName"] = model.Str("Countess of Lovelace")
	want[`emails[type eq "work"].value`] = model.Str("ada@engine.test")
	want[`addresses[type eq "work"].locality`] = model.Str("Marylebone")
	want[EnterpriseUser+":department"] = model.Str("Analytical Engines")
	delete(want, `phoneNumbers[type eq "mobile"].value`)
	delete(want, "title")
	check("after update")
	if ct.get("PATCH /Users/{id}") != 1 || ct.get("PUT /Users/{id}") != 0 {
		t.Errorf("update requests: %v", ct.n)
	}

	// Setting a typed value the resource does not have: the server answers
	// 400 noTarget to the PATCH, and the connector writes the resource with PUT.
	ct.reset()
	export(t, c, connector.ExportOp{ID: "u2", Op: connector.OpRename, Anchor: id, ObjectType: "user", NewDN: "ignored", Changes: []connector.AttrChange{
		set(`emails[type eq "home"].value`, "ada@home.test"),
		set(`phoneNumbers[type eq "mobile"].value`, "+44 2"),
	}})
	if ct.get("PATCH /Users/{id}") != 1 || ct.get("GET /Users/{id}") != 1 || ct.get("PUT /Users/{id}") != 1 {
		t.Errorf("fallback requests: %v", ct.n)
	}
	want[`emails[type eq "home"].value`] = model.Str("ada@home.test")
	want[`phoneNumbers[type eq "mobile"].value`] = model.Str("+44 2")
	check("after noTarget fallback")

	// Disable is a plain update of active.
	export(t, c, connector.ExportOp{ID: "u3", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{set("active", "false")}})
	want["active"] = model.Values{Type: model.Boolean, Values: []string{"false"}}
	check("after disable")

	// Errors are per object: the rest of the batch goes on.
	res = c.Export(ctx, []connector.ExportOp{
		{ID: "bad-attr", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{set("shoeSize", "9")}},
		{ID: "bad-bool", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{set("active", "perhaps")}},
		{ID: "ro", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{refs("groups", connector.Replace, "g")}},
		{ID: "missing", Op: connector.OpUpdate, Anchor: "no-such-id", ObjectType: "user", Changes: []connector.AttrChange{set("title", "x")}},
		{ID: "bad-type", Op: connector.OpAdd, Anchor: "p-x", ObjectType: "contact"},
		{ID: "no-username", Op: connector.OpAdd, Anchor: "p-y", ObjectType: "user", Changes: []connector.AttrChange{set("displayName", "Y")}},
		{ID: "ok", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{set("nickName", "Ada")}},
	})
	wantErrs := map[string]string{
		"bad-attr":    `scim connector "app": update user "` + id + `": attribute "shoeSize" is not in the schema`,
		"bad-bool":    `active: "perhaps" is not a boolean`,
		"ro":          "attribute groups is read-only",
		"missing":     `PATCH /Users/no-such-id: 404`,
		"bad-type":    `object type "contact" is not configured`,
		"no-username": `POST /Users: 400`,
	}
	for _, r := range res {
		w, bad := wantErrs[r.ID]
		switch {
		case !bad && r.Err != nil:
			t.Errorf("%s: %v", r.ID, r.Err)
		case bad && (r.Err == nil || !strings.Contains(r.Err.Error(), w)):
			t.Errorf("%s: got %v, want %q", r.ID, r.Err, w)
		}
		if r.ID == "missing" && !errors.Is(r.Err, connector.ErrNotFound) {
			t.Errorf("update of a missing user: %v, want ErrNotFound", r.Err)
		}
	}
	want["nickName"] = model.Str("Ada")
	check("after errors")

	// Delete, then delete again: ErrNotFound, with the status and detail.
	export(t, c, connector.ExportOp{ID: "d1", Op: connector.OpDelete, Anchor: id, ObjectType: "user"})
	if _, err := c.Get(ctx, "user", id); !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	res = c.Export(ctx, []connector.ExportOp{{ID: "d2", Op: connector.OpDelete, Anchor: id, ObjectType: "user"}})
	if !errors.Is(res[0].Err, connector.ErrNotFound) || !strings.Contains(res[0].Err.Error(), "DELETE /Users/"+id+": 404: Resource "+id+" not found") {
		t.Errorf("delete of a missing user: %v", res[0].Err)
	}
	if n := len(rawList(t, srv, "/Users")); n != 0 {
		t.Errorf("%d users left", n)
	}
}

func TestSCIMAddConflictReplay(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, nil)
	first := export(t, c, addUser("p-1", "grace"), connector.ExportOp{ID: "g", Op: connector.OpAdd, Anchor: "p-g", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "Admirals")}})

	// A replay after a crash (same ops), and another object with the same
	// userName: ErrAlreadyExists with the existing id, from a fresh
	// connector that knows nothing.
	c2 := newConn(t, srv, nil)
	res := c2.Export(context.Background(), []connector.ExportOp{
		addUser("p-1", "grace"),
		addUser("p-2", "grace", set("displayName", "Grace Hopper")),
		{ID: "g", Op: connector.OpAdd, Anchor: "p-g", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "Admirals")}},
	})
	// The replays find their own externalId (this object: identity match);
	// p-2 only meets another object's userName.
	for i, want := range []string{first[0].Anchor, first[0].Anchor, first[1].Anchor} {
		r := res[i]
		if !errors.Is(r.Err, connector.ErrAlreadyExists) || r.Anchor != want {
			t.Errorf("op %d: %+v, want ErrAlreadyExists with anchor %s", i, r, want)
		}
		if same := errors.Is(r.Err, connector.ErrIdentityMatch); same != (i != 1) {
			t.Errorf("op %d: identity match %v, want %v: %v", i, same, i != 1, r.Err)
		}
		if r.Err != nil && !strings.Contains(r.Err.Error(), "POST /") || !strings.Contains(r.Err.Error(), ": 409 uniqueness: ") {
			t.Errorf("op %d: message %v", i, r.Err)
		}
	}
	if n := len(rawList(t, srv, "/Users")); n != 1 {
		t.Errorf("%d users", n)
	}
}

func TestSCIMGroupMembersSameBatch(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, func(c *Config) { c.Concurrency = 8 })
	// The group comes first in the batch and names its members by the
	// anchors idsync proposes for them; a user names its manager likewise.
	ops := []connector.ExportOp{
		{ID: "grp", Op: connector.OpAdd, Anchor: "p-grp", ObjectType: "group", Changes: []connector.AttrChange{
			set("displayName", "Engineers"), refs("members", connector.Replace, "p-a", "p-b", "p-c", "p-sub")}},
		addUser("p-d", "dora", refs(EnterpriseUser+":manager", connector.Replace, "p-a")),
		addUser("p-a", "alice"),
		addUser("p-b", "bob"),
		{ID: "sub", Op: connector.OpAdd, Anchor: "p-sub", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "Sub"), refs("members", connector.Replace, "p-c")}},
		addUser("p-c", "carol"),
	}
	res := export(t, c, ops...)
	ids := map[string]string{}
	for i, r := range res {
		ids[ops[i].Anchor] = r.Anchor
	}
	if got, want := memberIDs(t, srv, ids["p-grp"]), sorted([]string{ids["p-a"], ids["p-b"], ids["p-c"], ids["p-sub"]}); !reflect.DeepEqual(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	d, err := c.Get(context.Background(), "user", ids["p-d"])
	if err != nil || d.Attrs.First(EnterpriseUser+":manager") != ids["p-a"] {
		t.Errorf("manager: %+v %v", d, err)
	}

	// A later export in a fresh process still resolves proposed anchors
	// (via externalId), real ids, and reports what it cannot resolve.
	c2 := newConn(t, srv, nil)
	ct := count(c2)
	res = c2.Export(context.Background(), []connector.ExportOp{
		{ID: "more", Op: connector.OpUpdate, Anchor: ids["p-sub"], ObjectType: "group", Changes: []connector.AttrChange{refs("members", connector.AddVals, "p-d", ids["p-a"])}},
		{ID: "bad", Op: connector.OpUpdate, Anchor: ids["p-grp"], ObjectType: "group", Changes: []connector.AttrChange{refs("members", connector.AddVals, "p-ghost", "p-d")}},
	})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if got, want := memberIDs(t, srv, ids["p-sub"]), sorted([]string{ids["p-c"], ids["p-d"], ids["p-a"]}); !reflect.DeepEqual(got, want) {
		t.Errorf("sub members %v, want %v", got, want)
	}
	if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), `members: no resource has the id or externalId "p-ghost"`) {
		t.Errorf("unresolvable member: %v", res[1].Err)
	}
	if got := ct.get("GET /Users") + ct.get("GET /Groups"); got > 4 {
		t.Errorf("%d lookups for 3 references", got)
	}
}

func TestSCIMCyclicReferences(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, nil)
	res := export(t, c,
		connector.ExportOp{ID: "a", Op: connector.OpAdd, Anchor: "p-a", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "A"), refs("members", connector.Replace, "p-b", "p-u")}},
		connector.ExportOp{ID: "b", Op: connector.OpAdd, Anchor: "p-b", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "B"), refs("members", connector.Replace, "p-a")}},
		addUser("p-u", "u"),
	)
	if got := memberIDs(t, srv, res[0].Anchor); !reflect.DeepEqual(got, sorted([]string{res[1].Anchor, res[2].Anchor})) {
		t.Errorf("A members %v", got)
	}
	if got := memberIDs(t, srv, res[1].Anchor); !reflect.DeepEqual(got, []string{res[0].Anchor}) {
		t.Errorf("B members %v", got)
	}
}

func TestSCIMMembershipBatches(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, func(c *Config) { c.Concurrency = 8 })
	const n = 250
	var ops []connector.ExportOp
	for _, u := range names("m", n) {
		ops = append(ops, addUser("p-"+u, u))
	}
	res := export(t, c, ops...)
	var ids []string
	for _, r := range res {
		ids = append(ids, r.Anchor)
	}
	gid := export(t, c, connector.ExportOp{ID: "g", Op: connector.OpAdd, Anchor: "p-g", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "Big")}})[0].Anchor

	tests := []struct {
		name      string
		batch     int
		change    connector.AttrChange
		want      []string
		wantPatch int
	}{
		{"add 250", 100, refs("members", connector.AddVals, ids...), ids, 3},
		{"remove 250", 100, refs("members", connector.DelVals, ids...), nil, 3},
		{"replace with 250", 100, refs("members", connector.Replace, ids...), ids, 3},
		{"replace with 50", 100, refs("members", connector.Replace, ids[:50]...), ids[:50], 1},
		{"add 200 by 50", 50, refs("members", connector.AddVals, ids[50:]...), ids, 4},
		{"remove 10 by 50", 50, refs("members", connector.DelVals, ids[:10]...), ids[10:], 1},
		{"replace with none", 100, refs("members", connector.Replace), nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(t, srv, func(c *Config) { c.MemberBatch = tt.batch })
			ct := count(c)
			export(t, c, connector.ExportOp{ID: "u", Op: connector.OpUpdate, Anchor: gid, ObjectType: "group", Changes: []connector.AttrChange{tt.change}})
			if got := ct.get("PATCH /Groups/{id}"); got != tt.wantPatch {
				t.Errorf("%d PATCH requests, want %d (%v)", got, tt.wantPatch, ct.n)
			}
			if got := memberIDs(t, srv, gid); !reflect.DeepEqual(got, sorted(tt.want)) {
				t.Errorf("%d members, want %d", len(got), len(tt.want))
			}
		})
	}
}

func TestSCIMEnterpriseExtension(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, nil)
	boss := export(t, c, addUser("p-boss", "boss"))[0].Anchor
	ext := func(a string) string { return EnterpriseUser + ":" + a }
	id := export(t, c, addUser("p-emp", "emp",
		set(ext("employeeNumber"), "701"),
		set(ext("costCenter"), "CC-9"),
		set(ext("organization"), "Contoso"),
		set(ext("division"), "R&D"),
		set(ext("department"), "Tools"),
		refs(ext("manager"), connector.Replace, boss),
	))[0].Anchor
	var got *model.Object
	_, err := c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{"user"}}, func(o *model.Object) error {
		if o.Anchor == id {
			got = o
		}
		return nil
	})
	if err != nil || got == nil {
		t.Fatal(err)
	}
	want := model.Attrs{
		"userName": model.Str("emp"), "externalId": model.Str("p-emp"),
		ext("employeeNumber"): model.Str("701"), ext("costCenter"): model.Str("CC-9"), ext("organization"): model.Str("Contoso"),
		ext("division"): model.Str("R&D"), ext("department"): model.Str("Tools"), ext("manager"): model.Ref(boss),
	}
	if !got.Attrs.Equal(want) {
		t.Fatalf("imported %v\nwant %v", got.Attrs, want)
	}
	// Clear the extension: it disappears from the resource.
	export(t, c, connector.ExportOp{ID: "u", Op: connector.OpUpdate, Anchor: id, ObjectType: "user", Changes: []connector.AttrChange{
		set(ext("employeeNumber")), set(ext("costCenter")), set(ext("organization")), set(ext("division")), set(ext("department")),
		refs(ext("manager"), connector.Replace),
	}})
	_, res := raw(t, srv, http.MethodGet, "/Users/"+id, nil)
	if e, ok := res[EnterpriseUser].(map[string]any); ok && len(e) > 0 {
		t.Errorf("extension left: %v", e)
	}
}

func TestSCIMFindGet(t *testing.T) {
	srv := peers.SCIM(t)
	c := newConn(t, srv, nil)
	ctx := context.Background()
	res := export(t, c,
		addUser("p-1", "ann", set(`emails[type eq "work"].value`, "ann@x.test"), set("displayName", "Twin")),
		addUser("p-2", "ben", set("displayName", "Twin"), set("active", "true")),
	)
	for _, tt := range []struct {
		attr, value, want, err string
	}{
		{"userName", "ann", res[0].Anchor, ""},
		{`emails[type eq "work"].value`, "ann@x.test", res[0].Anchor, ""},
		{"externalId", "p-2", res[1].Anchor, ""},
		{"active", "true", res[1].Anchor, ""},
		{"userName", "nobody", "", ""},
		{"displayName", "Twin", "", "several resources match (2)"},
		{"shoeSize", "9", "", "not in the schema"},
	} {
		o, err := c.Find(ctx, "user", tt.attr, tt.value)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Find(%s, %s): %v, want %q", tt.attr, tt.value, err, tt.err)
			}
		case err != nil:
			t.Errorf("Find(%s, %s): %v", tt.attr, tt.value, err)
		case tt.want == "" && o != nil:
			t.Errorf("Find(%s, %s) = %+v, want nil", tt.attr, tt.value, o)
		case tt.want != "" && (o == nil || o.Anchor != tt.want || o.Type != "user"):
			t.Errorf("Find(%s, %s) = %+v, want %s", tt.attr, tt.value, o, tt.want)
		}
	}
	if o, err := c.Get(ctx, "user", res[1].Anchor); err != nil || o.Attrs.First("userName") != "ben" {
		t.Errorf("Get: %+v %v", o, err)
	}
	if _, err := c.Get(ctx, "user", "nope/../x"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("Get of a missing id: %v", err)
	}
}

func TestSCIMNoPatchServer(t *testing.T) {
	srv := peers.StartSCIM(t, peers.SCIMOptions{NoPatch: true})
	c := newConn(t, srv, nil)
	res := export(t, c,
		addUser("p-a", "a", set(`emails[type eq "work"].value`, "a@x")),
		addUser("p-b", "b"),
		connector.ExportOp{ID: "g", Op: connector.OpAdd, Anchor: "p-g", ObjectType: "group", Changes: []connector.AttrChange{set("displayName", "G"), refs("members", connector.Replace, "p-a")}},
	)
	ct := count(c)
	export(t, c,
		connector.ExportOp{ID: "u", Op: connector.OpUpdate, Anchor: res[0].Anchor, ObjectType: "user", Changes: []connector.AttrChange{
			set("displayName", "A"), set(`emails[type eq "work"].value`), set(`emails[type eq "home"].value`, "a@home")}},
		connector.ExportOp{ID: "m", Op: connector.OpUpdate, Anchor: res[2].Anchor, ObjectType: "group", Changes: []connector.AttrChange{
			refs("members", connector.AddVals, res[1].Anchor), refs("members", connector.DelVals, res[0].Anchor)}},
	)
	if ct.get("PATCH /Users/{id}")+ct.get("PATCH /Groups/{id}") != 0 || ct.get("PUT /Users/{id}") != 1 || ct.get("PUT /Groups/{id}") != 1 {
		t.Errorf("requests: %v", ct.n)
	}
	o, err := c.Get(context.Background(), "user", res[0].Anchor)
	if err != nil || !o.Attrs.Equal(model.Attrs{"userName": model.Str("a"), "externalId": model.Str("p-a"), "displayName": model.Str("A"), `emails[type eq "home"].value`: model.Str("a@home")}) {
		t.Errorf("user after PUT: %v %v", o, err)
	}
	if got := memberIDs(t, srv, res[2].Anchor); !reflect.DeepEqual(got, []string{res[1].Anchor}) {
		t.Errorf("members after PUT: %v", got)
	}
}
