// These tests check that the fake answers with the shapes Microsoft
// documents for Graph v1.0 (no Graph is runnable here, which is why the
// fake exists).
package graphfake

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

type tc struct {
	t   *testing.T
	s   *Server
	hc  *http.Client
	tok string
}

func setup(t *testing.T) *tc {
	s := New(t)
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &tc{t: t, s: s, hc: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	status, body := c.token(s.ClientSecret)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	c.tok = body["access_token"].(string)
	return c
}

func (c *tc) token(secret string) (int, map[string]any) {
	resp, err := c.hc.PostForm(c.s.TokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.s.ClientID},
		"client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (c *tc) do(method, path string, body any) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = c.s.URL + path
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	return fmt.Sprint(e["code"], ": ", e["message"])
}

func TestToken(t *testing.T) {
	c := setup(t)
	status, m := c.token("wrong")
	if status != 401 || m["error"] != "invalid_client" || !strings.HasPrefix(fmt.Sprint(m["error_description"]), "AADSTS7000215: ") {
		t.Errorf("wrong secret: %d %v", status, m)
	}
	status, _, m = c.do("GET", "/users", nil)
	if status != 200 {
		t.Errorf("with a token: %d %v", status, m)
	}
	c.tok = "forged"
	if status, _, m = c.do("GET", "/users", nil); status != 401 || !strings.HasPrefix(errCode(m), "InvalidAuthenticationToken") {
		t.Errorf("forged token: %d %v", status, m)
	}
}

func TestListPagingSelectFilter(t *testing.T) {
	c := setup(t)
	for i := range 5 {
		c.s.AddUser(map[string]any{"userPrincipalName": fmt.Sprintf("u%d@contoso.com", i), "displayName": "O'Neil", "department": "IT"})
	}
	status, _, m := c.do("GET", "/users?$top=2&$select=id,department", nil)
	var n int
	for status == 200 {
		vals := m["value"].([]any)
		n += len(vals)
		if u := vals[0].(map[string]any); len(u) != 2 || u["department"] != "IT" {
			t.Errorf("selected: %v", u)
		}
		next, ok := m["@odata.nextLink"].(string)
		if !ok {
			break
		}
		status, _, m = c.do("GET", next, nil)
	}
	if n != 5 || c.s.Count("GET /users") != 3 {
		t.Errorf("%d users in %d pages", n, c.s.Count("GET /users"))
	}
	status, _, m = c.do("GET", "/users?$filter="+url.QueryEscape("displayName eq 'O''Neil'"), nil)
	if status != 200 || len(m["value"].([]any)) != 5 {
		t.Errorf("filter with a doubled quote: %d %v", status, m)
	}
	for q, want := range map[string]string{
		"$filter=" + url.QueryEscape("department eq 'IT'"):          "Request_UnsupportedQuery",
		"$filter=" + url.QueryEscape("startswith(displayName,'O')"): "Request_UnsupportedQuery",
		"$top=1000":        "Invalid page size",
		"$select=nickname": "Could not find a property named 'nickname'",
	} {
		if status, _, m := c.do("GET", "/users?"+q, nil); status != 400 || !strings.Contains(errCode(m), want) {
			t.Errorf("%s: %d %s", q, status, errCode(m))
		}
	}
}

func TestCreateUpdateDelete(t *testing.T) {
	c := setup(t)
	user := map[string]any{"accountEnabled": true, "displayName": "A", "mailNickname": "a", "userPrincipalName": "a@contoso.com",
		"onPremisesImmutableId": "imm", "passwordProfile": map[string]any{"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}}
	status, _, m := c.do("POST", "/users", user)
	if status != 201 || m["id"] == nil || m["passwordProfile"] != nil {
		t.Fatalf("create: %d %v", status, m)
	}
	id := m["id"].(string)
	for _, tt := range []struct {
		mod  func(map[string]any)
		want string
	}{
		{func(u map[string]any) {}, "Another object with the same value for property userPrincipalName already exists."},
		{func(u map[string]any) { u["userPrincipalName"] = "b@contoso.com" }, "same value for property onPremisesImmutableId"},
		{func(u map[string]any) { delete(u, "mailNickname") }, "'mailNickname' is required"},
		{func(u map[string]any) { u["passwordProfile"] = map[string]any{"password": "short"} }, "password complexity"},
		{func(u map[string]any) { u["proxyAddresses"] = []string{"SMTP:x@y"} }, "'proxyAddresses' is read-only"},
		{func(u map[string]any) { u["accountEnabled"] = "yes" }, "Invalid value specified for property 'accountEnabled'"},
		{func(u map[string]any) { u["favouriteColour"] = "blue" }, "'favouriteColour' does not exist"},
	} {
		u := map[string]any{}
		for k, v := range user {
			u[k] = v
		}
		tt.mod(u)
		if status, _, m := c.do("POST", "/users", u); status != 400 || !strings.Contains(errCode(m), tt.want) {
			t.Errorf("%d %s, want %q", status, errCode(m), tt.want)
		}
	}
	if status, _, _ := c.do("PATCH", "/users/"+id, map[string]any{"department": "IT", "jobTitle": nil}); status != 204 || c.s.Object(id)["department"] != "IT" {
		t.Errorf("patch: %d", status)
	}
	if status, _, _ := c.do("DELETE", "/users/"+id, nil); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, _, m := c.do("DELETE", "/users/"+id, nil); status != 404 || !strings.HasPrefix(errCode(m), "Request_ResourceNotFound") {
		t.Errorf("delete again: %d %v", status, m)
	}
	if status, _, _ := c.do("POST", "/contacts", map[string]any{"displayName": "x"}); status != 405 {
		t.Errorf("create a contact: %d", status)
	}
}

func TestMembers(t *testing.T) {
	c := setup(t)
	var binds []string
	var ids []string
	for i := range 21 {
		id := c.s.AddUser(map[string]any{"userPrincipalName": fmt.Sprintf("u%d@contoso.com", i)})
		ids = append(ids, id)
		binds = append(binds, c.s.URL+"/directoryObjects/"+id)
	}
	g := map[string]any{"displayName": "G", "mailNickname": "g", "mailEnabled": false, "securityEnabled": true, "members@odata.bind": binds}
	if status, _, m := c.do("POST", "/groups", g); status != 400 || !strings.Contains(errCode(m), "at most 20") {
		t.Errorf("21 references: %d %s", status, errCode(m))
	}
	g["members@odata.bind"] = binds[:20]
	status, _, m := c.do("POST", "/groups", g)
	if status != 201 {
		t.Fatalf("create group: %d %v", status, m)
	}
	gid := m["id"].(string)
	status, _, m = c.do("PATCH", "/groups/"+gid, map[string]any{"members@odata.bind": binds[19:]})
	if status != 400 || !strings.Contains(errCode(m), "One or more added object references already exist for the following modified properties: 'members'.") {
		t.Errorf("an existing member: %d %s", status, errCode(m))
	}
	if status, _, m = c.do("PATCH", "/groups/"+gid, map[string]any{"members@odata.bind": []string{c.s.URL + "/directoryObjects/6f9619ff-8b86-d011-b42d-00c04fc964ff"}}); status != 404 {
		t.Errorf("a missing object: %d %v", status, m)
	}
	if status, _, _ = c.do("PATCH", "/groups/"+gid, map[string]any{"members@odata.bind": binds[20:]}); status != 204 || len(c.s.Object(gid)["members"].([]string)) != 21 {
		t.Errorf("add one: %d", status)
	}
	if status, _, _ = c.do("DELETE", "/groups/"+gid+"/members/"+ids[0]+"/$ref", nil); status != 204 {
		t.Errorf("remove: %d", status)
	}
	if status, _, _ = c.do("DELETE", "/groups/"+gid+"/members/"+ids[0]+"/$ref", nil); status != 404 {
		t.Errorf("remove again: %d", status)
	}
	if got := c.s.BindSizes(); fmt.Sprint(got) != "[20 1]" {
		t.Errorf("bind sizes %v", got)
	}
}

func TestDelta(t *testing.T) {
	c := setup(t)
	u1 := c.s.AddUser(map[string]any{"userPrincipalName": "u1@contoso.com", "displayName": "One"})
	g := c.s.AddGroup(map[string]any{"displayName": "G"}, u1)
	_, _, m := c.do("GET", "/users/delta?$deltatoken=latest&$select=displayName", nil)
	if len(m["value"].([]any)) != 0 || m["@odata.deltaLink"] == nil {
		t.Fatalf("latest: %v", m)
	}
	users := m["@odata.deltaLink"].(string)
	_, _, m = c.do("GET", "/groups/delta?$deltatoken=latest&$select=displayName,members", nil)
	groups := m["@odata.deltaLink"].(string)

	u2 := c.s.AddUser(map[string]any{"userPrincipalName": "u2@contoso.com", "displayName": "Two"})
	c.s.Update(u1, map[string]any{"displayName": "Uno"})
	c.s.Delete(u1, false)
	c.s.AddMember(g, u2)
	_, _, m = c.do("GET", users, nil)
	vals := m["value"].([]any)
	if len(vals) != 2 || m["@odata.deltaLink"] == nil {
		t.Fatalf("user delta: %v", m)
	}
	byID := map[any]map[string]any{}
	for _, v := range vals {
		byID[v.(map[string]any)["id"]] = v.(map[string]any)
	}
	if r := byID[u1]; fmt.Sprint(r["@removed"]) != "map[reason:changed]" || len(r) != 2 {
		t.Errorf("removed entry: %v", r)
	}
	if a := byID[u2]; a["displayName"] != "Two" || len(a) != 2 {
		t.Errorf("added entry: %v", a)
	}
	_, _, m = c.do("GET", groups, nil)
	md := fmt.Sprint(m["value"].([]any)[0].(map[string]any)["members@delta"])
	if !strings.Contains(md, "id:"+u2) || !strings.Contains(md, "@odata.type:#microsoft.graph.directoryObject @removed:map[reason:deleted] id:"+u1) {
		t.Errorf("members@delta: %s", md)
	}
	c.s.ExpireDeltaTokens()
	if status, _, m := c.do("GET", users, nil); status != 410 || !strings.HasPrefix(errCode(m), "syncStateNotFound") {
		t.Errorf("expired: %d %v", status, m)
	}
}

func TestFaults(t *testing.T) {
	c := setup(t)
	c.s.SetFault(func(r *http.Request) (int, string, bool) { return 429, "7", r.Method == "GET" })
	status, h, m := c.do("GET", "/users", nil)
	if status != 429 || h.Get("Retry-After") != "7" || !strings.HasPrefix(errCode(m), "TooManyRequests") {
		t.Errorf("throttled: %d %v %v", status, h, m)
	}
	c.s.SetFault(nil)
	c.s.Deny("groups")
	if status, _, m := c.do("GET", "/groups", nil); status != 403 || !strings.HasPrefix(errCode(m), "Authorization_RequestDenied") {
		t.Errorf("denied: %d %v", status, m)
	}
}
