package scim

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFlatten(t *testing.T) {
	m := testMapper(CoreUser, EnterpriseUser)
	res := decodeJSON(t, `{
		"schemas": ["`+CoreUser+`", "`+EnterpriseUser+`"],
		"id": "u1", "externalId": "p1", "meta": {"resourceType": "User"},
		"userName": "bjensen", "active": true, "displayName": "Babs",
		"name": {"givenName": "Barbara", "familyName": "Jensen"},
		"emails": [{"type": "work", "value": "b@work", "primary": true}, {"type": "home", "value": "b@home"}, {"value": "untyped@x"}],
		"phoneNumbers": [{"type": "mobile", "value": "+1 555"}],
		"addresses": [{"type": "work", "streetAddress": "1 Main", "locality": "Town"}],
		"groups": [{"value": "g1", "display": "G"}, {"value": "g2"}, {"value": "g1"}],
		"x509Certificates": [{"value": "AQID"}],
		"roles": [{"value": "admin"}, {"value": "dev"}],
		"nickName": null,
		"custom": {"value": "c"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42", "manager": {"value": "m1", "displayName": "Boss"}},
		"urn:example:ext": {"level": 3}
	}`)
	got := m.flatten(res)
	want := model.Attrs{
		"externalId":                              model.Str("p1"),
		"userName":                                model.Str("bjensen"),
		"active":                                  {Type: model.Boolean, Values: []string{"true"}},
		"displayName":                             model.Str("Babs"),
		"name.givenName":                          model.Str("Barbara"),
		"name.familyName":                         model.Str("Jensen"),
		`emails[type eq "work"].value`:            model.Str("b@work"),
		`emails[type eq "work"].primary`:          {Type: model.Boolean, Values: []string{"true"}},
		`emails[type eq "home"].value`:            model.Str("b@home"),
		"emails.value":                            model.Str("untyped@x"),
		`phoneNumbers[type eq "mobile"].value`:    model.Str("+1 555"),
		`addresses[type eq "work"].streetAddress`: model.Str("1 Main"),
		`addresses[type eq "work"].locality`:      model.Str("Town"),
		"groups":                                  model.Ref("g1", "g2"),
		"x509Certificates":                        {Type: model.Binary, Values: []string{"\x01\x02\x03"}},
		"roles":                                   model.Str("admin", "dev"),
		"custom":                                  model.Str("c"),
		EnterpriseUser + ":employeeNumber":        model.Str("42"),
		EnterpriseUser + ":manager":               model.Ref("m1"),
		"urn:example:ext:level":                   {Type: model.Integer, Values: []string{"3"}},
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range got {
			if w, ok := want[k]; !ok || !reflect.DeepEqual(v, w) {
				t.Errorf("%s = %+v, want %+v", k, v, want[k])
			}
		}
		for k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("missing %s", k)
			}
		}
	}
}

func TestLookupErrors(t *testing.T) {
	m := testMapper(CoreUser, EnterpriseUser)
	for _, tt := range []struct{ name, want string }{
		{"nosuch", "not in the schema"},
		{"emails", `e.g. emails[type eq "work"].value`},
		{"emails.value", `name the type`},
		{`emails[type eq "work"]`, `name the type`},
		{`emails[type eq "work"].nope`, "no sub-attribute nope"},
		{`emails[type eq "work"].type`, "no sub-attribute type"},
		{"name", "name a sub-attribute"},
		{"name.nope", "no sub-attribute"},
		{"userName.x", "simple attribute"},
		{"urn:example:nope:attr", "no schema extension"},
		{EnterpriseUser + ":manager.displayName", "its values are the value sub-attribute"},
	} {
		if _, err := m.lookup(tt.name); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("lookup(%q) = %v, want %q", tt.name, err, tt.want)
		}
	}
	// Names are case-insensitive and come back canonical.
	tg, err := m.lookup(`EMAILS[TYPE eq "work"].VALUE`)
	if err != nil || tg.name != `emails[type eq "work"].value` {
		t.Errorf("canonical name: %v %v", tg, err)
	}
	tg, err = m.lookup(strings.ToUpper(EnterpriseUser) + ":Manager.Value")
	if err != nil || tg.name != EnterpriseUser+":manager" || tg.typ != model.Reference {
		t.Errorf("manager: %+v %v", tg, err)
	}
	if tg, _ := m.lookup("groups"); !tg.ro {
		t.Error("groups should be read-only")
	}
}

func TestApplyDoc(t *testing.T) {
	m := testMapper(CoreUser, EnterpriseUser)
	g := testMapper(CoreGroup)
	doc := decodeJSON(t, `{"schemas":["`+CoreUser+`"],"userName":"a","emails":[{"type":"work","value":"w@x","primary":true},{"type":"home","value":"h@x"}],
		"addresses":[{"type":"work","streetAddress":"1 Main","locality":"Town"}]}`)
	apply := func(m *mapper, doc map[string]any, name string, mode connector.Mode, vals ...string) {
		t.Helper()
		tg, err := m.lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := applyDoc(doc, tg, mode, vals); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	apply(m, doc, "active", connector.Replace, "false")
	apply(m, doc, "name.givenName", connector.Replace, "Ann")
	apply(m, doc, `emails[type eq "work"].value`, connector.Replace, "w2@x")
	apply(m, doc, `emails[type eq "home"].value`, connector.Replace)
	apply(m, doc, `emails[type eq "other"].value`, connector.Replace, "o@x")
	apply(m, doc, `addresses[type eq "work"].streetAddress`, connector.Replace)
	apply(m, doc, EnterpriseUser+":employeeNumber", connector.Replace, "7")
	apply(m, doc, EnterpriseUser+":manager", connector.Replace, "m1")
	apply(m, doc, "roles", connector.AddVals, "a", "b")
	apply(m, doc, "roles", connector.AddVals, "b", "c")
	apply(m, doc, "roles", connector.DelVals, "a")
	want := decodeJSON(t, `{"schemas":["`+CoreUser+`","`+EnterpriseUser+`"],"userName":"a","active":false,"name":{"givenName":"Ann"},
		"emails":[{"type":"work","value":"w2@x","primary":true},{"type":"other","value":"o@x"}],
		"addresses":[{"type":"work","locality":"Town"}],
		"roles":[{"value":"b"},{"value":"c"}],
		"`+EnterpriseUser+`":{"employeeNumber":"7","manager":{"value":"m1"}}}`)
	if !reflect.DeepEqual(doc, want) {
		got, _ := json.Marshal(doc)
		w, _ := json.Marshal(want)
		t.Fatalf("got  %s\nwant %s", got, w)
	}
	apply(m, doc, EnterpriseUser+":employeeNumber", connector.Replace)
	apply(m, doc, EnterpriseUser+":manager", connector.DelVals, "m1")
	if _, ok := doc[EnterpriseUser]; ok || len(doc["schemas"].([]any)) != 1 {
		t.Errorf("empty extension kept: %v", doc)
	}
	for _, bad := range []struct{ name, val string }{{"active", "maybe"}, {"x509Certificates", ""}} {
		tg, _ := m.lookup(bad.name)
		if bad.val != "" {
			if err := applyDoc(doc, tg, connector.Replace, []string{bad.val}); err == nil {
				t.Errorf("%s = %q accepted", bad.name, bad.val)
			}
		}
	}
	if tg, _ := m.lookup("userName"); applyDoc(doc, tg, connector.Replace, []string{"a", "b"}) == nil {
		t.Error("two values for userName accepted")
	}

	grp := map[string]any{}
	apply(g, grp, "members", connector.Replace, "1", "2", "3")
	apply(g, grp, "members", connector.AddVals, "3", "4")
	apply(g, grp, "members", connector.DelVals, "1", "9")
	if got := grp["members"]; !reflect.DeepEqual(got, listElems([]any{"2", "3", "4"})) {
		t.Errorf("members = %v", got)
	}
	apply(g, grp, "members", connector.Replace)
	if _, ok := grp["members"]; ok {
		t.Error("members not removed")
	}
}

func TestPatchRequests(t *testing.T) {
	m := testMapper(CoreUser, EnterpriseUser)
	g := testMapper(CoreGroup)
	ch := func(m *mapper, name string, mode connector.Mode, vals ...string) change {
		tg, err := m.lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		return change{t: tg, mode: mode, vals: vals}
	}
	reqs, ok, err := patchRequests([]change{
		ch(m, "displayName", connector.Replace, "B"),
		ch(m, "nickName", connector.Replace),
		ch(m, "active", connector.Replace, "false"),
		ch(m, `emails[type eq "work"].value`, connector.Replace, "w@x"),
		ch(m, `emails[type eq "home"].value`, connector.Replace),
		ch(m, `addresses[type eq "work"].locality`, connector.DelVals, "Town"),
		ch(m, EnterpriseUser+":manager", connector.Replace, "m1"),
		ch(m, "roles", connector.AddVals, "r1"),
	}, 100)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	got, _ := json.Marshal(reqs)
	want := `[[{"op":"replace","path":"displayName","value":"B"},{"op":"remove","path":"nickName"},{"op":"replace","path":"active","value":false},` +
		`{"op":"replace","path":"emails[type eq \"work\"].value","value":"w@x"},{"op":"remove","path":"emails[type eq \"home\"]"},` +
		`{"op":"remove","path":"addresses[type eq \"work\"].locality"},` +
		`{"op":"replace","path":"` + EnterpriseUser + `:manager","value":{"value":"m1"}},{"op":"add","path":"roles","value":[{"value":"r1"}]}]]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// Members: 250 adds and 120 removes, at most 100 values per request,
	// after the other changes.
	ids := names("id", 250)
	reqs, ok, err = patchRequests([]change{
		ch(g, "members", connector.AddVals, ids...),
		ch(g, "displayName", connector.Replace, "G"),
		ch(g, "members", connector.DelVals, names("old", 120)...),
	}, 100)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	var sizes []string
	for _, r := range reqs {
		var parts []string
		for _, op := range r {
			n := 0
			if l, ok := op.Value.([]any); ok {
				n = len(l)
			} else if strings.Contains(op.Path, "[") {
				n = strings.Count(op.Path, " or ") + 1
			}
			parts = append(parts, op.Op+":"+strings.SplitN(op.Path, "[", 2)[0]+":"+itoa(n))
		}
		sizes = append(sizes, strings.Join(parts, ","))
	}
	wantSizes := []string{"replace:displayName:0,add:members:100", "add:members:100", "add:members:50,remove:members:50", "remove:members:70"}
	if !reflect.DeepEqual(sizes, wantSizes) {
		t.Errorf("requests = %q, want %q", sizes, wantSizes)
	}
	if p := reqs[3][0].Path; !strings.HasPrefix(p, `members[value eq "old0050" or value eq "old0051"`) {
		t.Errorf("remove path %s", p)
	}

	// Replace of many members: replace the first batch, add the rest.
	reqs, _, _ = patchRequests([]change{ch(g, "members", connector.Replace, ids...)}, 100)
	if len(reqs) != 3 || reqs[0][0].Op != "replace" || reqs[1][0].Op != "add" || reqs[2][0].Op != "add" {
		t.Errorf("replace of 250 members: %v", reqs)
	}
	// Removing values of a multi-valued simple attribute needs PUT.
	simple := &target{name: "tags", path: Path{Attr: "tags"}, top: &attrDef{Name: "tags", Type: "string", MultiValued: true}, shape: shapeSimple, multi: true}
	simple.leaf = simple.top
	if _, ok, _ := patchRequests([]change{{t: simple, mode: connector.DelVals, vals: []string{"x"}}}, 100); ok {
		t.Error("DelVals on a simple multi-valued attribute should need PUT")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSchemaFlatAttributes(t *testing.T) {
	attrs := map[string]model.AttributeSchema{}
	for _, a := range testMapper(CoreUser, EnterpriseUser).flatAttributes() {
		attrs[a.Name] = a
	}
	for _, w := range []model.AttributeSchema{
		{Name: "userName", Type: model.String},
		{Name: "externalId", Type: model.String},
		{Name: "active", Type: model.Boolean},
		{Name: "name.givenName", Type: model.String},
		{Name: `emails[type eq "work"].value`, Type: model.String},
		{Name: `emails[type eq "work"].primary`, Type: model.Boolean},
		{Name: `phoneNumbers[type eq "mobile"].value`, Type: model.String},
		{Name: `addresses[type eq "work"].streetAddress`, Type: model.String},
		{Name: "groups", Type: model.Reference, MultiValued: true},
		{Name: "roles", Type: model.String, MultiValued: true},
		{Name: "x509Certificates", Type: model.Binary, MultiValued: true},
		{Name: "profileUrl", Type: model.String},
		{Name: EnterpriseUser + ":employeeNumber", Type: model.String},
		{Name: EnterpriseUser + ":manager", Type: model.Reference},
	} {
		if got, ok := attrs[w.Name]; !ok || got != w {
			t.Errorf("%s: got %+v, want %+v", w.Name, got, w)
		}
	}
	ga := testMapper(CoreGroup).flatAttributes()
	if len(ga) != 3 || ga[2] != (model.AttributeSchema{Name: "members", Type: model.Reference, MultiValued: true}) {
		t.Errorf("group attributes: %+v", ga)
	}
}
