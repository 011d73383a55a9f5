// Google Workspace is faked in these tests (internal/googlefake), because
// Google's services are not reachable here: the fake replays the request and
// response shapes Google documents for the Admin SDK Directory API and for
// its OAuth 2.0 token endpoint (service accounts with domain-wide
// delegation), and checks the signed JWT it receives.
package google

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/googlefake"
	"github.com/idsync/idsync/model"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConn is a connector on a fake customer, with its debug log and the
// waits it asked for (waits are shortened to a few milliseconds).
type testConn struct {
	*Connector
	logs  *syncBuffer
	mu    sync.Mutex
	waits []time.Duration
}

func (tc *testConn) Waits() []time.Duration {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return slices.Clone(tc.waits)
}

func fakeConfig(srv *googlefake.Server) Config {
	return Config{
		CredentialsFile: srv.KeyFile, Subject: srv.Admin, BaseURL: srv.URL, CAFile: srv.CAFile,
		RetryCap: Duration{Duration: 50 * time.Millisecond}, Timeout: Duration{Duration: 10 * time.Second},
	}
}

func newConn(t testing.TB, srv *googlefake.Server, mod func(*Config)) *testConn {
	t.Helper()
	cfg := fakeConfig(srv)
	if mod != nil {
		mod(&cfg)
	}
	c, err := New("gws", cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testConn{Connector: c, logs: &syncBuffer{}}
	c.log = slog.New(slog.NewTextHandler(tc.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.cl.sleep = func(ctx context.Context, d time.Duration) error {
		tc.mu.Lock()
		tc.waits = append(tc.waits, d)
		tc.mu.Unlock()
		return connector.Sleep(ctx, min(d, 3*time.Millisecond))
	}
	t.Cleanup(func() { c.Close() })
	return tc
}

func fullImport(t testing.TB, c *testConn, req connector.ImportRequest) map[string]*model.Object {
	t.Helper()
	got := map[string]*model.Object{}
	wm, err := c.FullImport(context.Background(), req, func(o *model.Object) error {
		if got[o.Anchor] != nil {
			t.Errorf("object %s emitted twice", o.Anchor)
		}
		got[o.Anchor] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wm != "" {
		t.Errorf("watermark %q from a connector without delta import", wm)
	}
	return got
}

func boolean(v bool) model.Values {
	return model.Values{Type: model.Boolean, Values: []string{fmt.Sprint(v)}}
}

// TestFullImport imports 1,200 users across 3 pages with one 429 on the
// way, and groups with members of every type, and checks the mapping and
// the JWT the token endpoint received.
func TestFullImport(t *testing.T) {
	srv := googlefake.New(t)
	var users []string
	for i := range 1199 {
		users = append(users, srv.AddUser(map[string]any{
			"primaryEmail": fmt.Sprintf("user%04d@example.com", i), "suspended": i%3 == 0, "orgUnitPath": "/",
			"name": map[string]any{"givenName": "User", "familyName": fmt.Sprint(i), "fullName": fmt.Sprintf("User %d", i)},
		}))
	}
	ada := srv.AddUser(map[string]any{
		"primaryEmail": "ada@example.com", "isAdmin": false, "suspended": false, "archived": false, "orgUnitPath": "/Engineering/Berlin",
		"name":    map[string]any{"givenName": "Ada", "familyName": "Lovelace", "fullName": "Ada Lovelace"},
		"emails":  []any{map[string]any{"address": "ada@example.com", "primary": true}, map[string]any{"address": "ada.l@example.org", "type": "work"}},
		"aliases": []any{"a.lovelace@example.com"}, "nonEditableAliases": []any{"ada@example.com.test-google-a.com"},
		"phones": []any{map[string]any{"value": "+49 30 1234", "type": "work"}, map[string]any{"value": "+49 170 555", "type": "mobile"},
			map[string]any{"value": "+49 30 9999", "type": "home"}},
		"organizations": []any{map[string]any{"title": "Engineer", "department": "R&D", "primary": true}},
		"externalIds":   []any{map[string]any{"value": "E-1815", "type": "organization"}},
		"creationTime":  "2024-01-02T10:00:00.000Z", "lastLoginTime": "1970-01-01T00:00:00.000Z",
	})
	users = append(users, ada)
	big := srv.AddGroup(map[string]any{"email": "all@example.com", "name": "All", "description": "Everyone", "aliases": []any{"everyone@example.com"}})
	for _, u := range users[:450] {
		srv.AddMember(big, "USER", u, "")
	}
	small := srv.AddGroup(map[string]any{"email": "small@example.com", "name": "Small"})
	srv.AddMember(small, "USER", ada, "ada@example.com")
	srv.AddMember(small, "GROUP", big, "all@example.com")
	srv.AddMember(small, "EXTERNAL", "", "partner@fabrikam.test")
	srv.AddMember(small, "CUSTOMER", srv.CustomerID, "")
	empty := srv.AddGroup(map[string]any{"email": "empty@example.com", "name": "Empty"})

	var once sync.Once
	srv.SetFault(func(r *http.Request) (int, string, string, bool) {
		hit := false
		if r.URL.Path == googlefake.Base+"/users" && r.URL.Query().Get("pageToken") != "" {
			once.Do(func() { hit = true })
		}
		return http.StatusTooManyRequests, "rateLimitExceeded", "2", hit
	})
	c := newConn(t, srv, nil)
	got := fullImport(t, c, connector.ImportRequest{})
	if len(got) != 1200+3 {
		t.Fatalf("%d objects, want 1,203", len(got))
	}
	if n := srv.Count("GET users"); n != 4 {
		t.Errorf("%d user page requests, want 4 (3 pages of 500, one throttled)", n)
	}
	if w := c.Waits(); len(w) != 1 || w[0] != 2*time.Second {
		t.Errorf("waits %v, want the Retry-After of 2s", w)
	}
	want := model.Attrs{
		"primaryEmail": model.Str("ada@example.com"), "mail": model.Str("ada@example.com"),
		"displayName": model.Str("Ada Lovelace"), "givenName": model.Str("Ada"), "surname": model.Str("Lovelace"),
		"accountEnabled": boolean(true), "archived": boolean(false), "isAdmin": boolean(false),
		"orgUnitPath": model.Str("/Engineering/Berlin"), "emails": model.Str("ada@example.com", "ada.l@example.org"),
		"aliases":         model.Str("a.lovelace@example.com", "ada@example.com.test-google-a.com"),
		"telephoneNumber": model.Str("+49 30 1234"), "mobile": model.Str("+49 170 555"),
		"phones":   model.Str("+49 30 1234", "+49 170 555", "+49 30 9999"),
		"jobTitle": model.Str("Engineer"), "department": model.Str("R&D"), "employeeId": model.Str("E-1815"),
		"creationTime": {Type: model.DateTime, Values: []string{"2024-01-02T10:00:00Z"}},
	}
	if a := got[ada]; a.Type != TypeUser || a.DN != "" || !a.Attrs.Equal(want) {
		t.Errorf("ada = %+v\nwant %+v", a.Attrs, want)
	}
	if u := got[users[3]]; u.Attrs.First("accountEnabled") != "false" || u.Attrs.First("surname") != "3" {
		t.Errorf("suspended user = %+v", u.Attrs)
	}
	if g := got[big]; g.Type != TypeGroup || len(g.Attrs["member"].Values) != 450 || g.Attrs["member"].Type != model.Reference ||
		g.Attrs.First("description") != "Everyone" || g.Attrs.First("aliases") != "everyone@example.com" || g.Attrs.First("allUsersMember") != "false" {
		t.Errorf("big group: %d members, %v", len(g.Attrs["member"].Values), g.Attrs)
	}
	g := got[small]
	if m := g.Attrs["member"].Sorted(); !slices.Equal(m.Values, model.Ref(ada, big).Sorted().Values) ||
		g.Attrs.First("externalMember") != "partner@fabrikam.test" || g.Attrs.First("allUsersMember") != "true" ||
		g.Attrs.First("mail") != "small@example.com" || g.Attrs.First("displayName") != "Small" {
		t.Errorf("small group = %+v", g.Attrs)
	}
	if got[empty].Attrs.Has("member") {
		t.Errorf("empty group has members %v", got[empty].Attrs["member"])
	}
	if n := srv.Count("GET members"); n != 3+1+1 {
		t.Errorf("%d member pages, want 5 (three for 450 members, one each for the others)", n)
	}

	// One access token served the whole import; its assertion was signed
	// with the service account's key and carried the documented claims.
	as := srv.Assertions()
	if len(as) != 1 {
		t.Fatalf("%d token requests, want 1", len(as))
	}
	a := as[0]
	iat, _ := a.Claims["iat"].(float64)
	exp, _ := a.Claims["exp"].(float64)
	now := float64(time.Now().Unix())
	if !a.Signature || a.GrantType != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
		a.Header["alg"] != "RS256" || a.Header["typ"] != "JWT" || a.Header["kid"] != srv.KeyID ||
		a.Claims["iss"] != srv.ClientEmail || a.Claims["sub"] != srv.Admin || a.Claims["aud"] != srv.TokenURL ||
		a.Claims["scope"] != strings.Join(DefaultScopes, " ") ||
		iat < now-120 || iat > now+5 || exp-iat != 3600 {
		t.Errorf("assertion header %v claims %v signature %v", a.Header, a.Claims, a.Signature)
	}
	if strings.Contains(c.logs.String(), "BEGIN PRIVATE KEY") || !strings.Contains(c.logs.String(), "retrying a request") {
		t.Errorf("log: %s", c.logs.String())
	}
}

// TestImportSelection reads only the object types and attributes asked for:
// no member lists when no rule reads them.
func TestImportSelection(t *testing.T) {
	srv := googlefake.New(t)
	u := srv.AddUser(map[string]any{"primaryEmail": "a@example.com", "suspended": true, "name": map[string]any{"fullName": "A"}})
	g := srv.AddGroup(map[string]any{"email": "g@example.com", "name": "G"})
	srv.AddMember(g, "USER", u, "a@example.com")
	c := newConn(t, srv, func(cfg *Config) { cfg.Customer = ""; cfg.Domain = "example.com" })
	got := fullImport(t, c, connector.ImportRequest{ObjectTypes: []string{TypeGroup}, Attributes: []string{"displayName"}})
	if len(got) != 1 || !got[g].Attrs.Equal(model.Attrs{"displayName": model.Str("G")}) {
		t.Errorf("got %+v", got[g])
	}
	if srv.Count("GET members") != 0 || srv.Count("GET users") != 0 {
		t.Errorf("requests: members %d, users %d", srv.Count("GET members"), srv.Count("GET users"))
	}
	got = fullImport(t, c, connector.ImportRequest{Attributes: []string{"accountEnabled", "member"}})
	if !got[u].Attrs.Equal(model.Attrs{"accountEnabled": boolean(false)}) || !got[g].Attrs.Equal(model.Attrs{"member": model.Ref(u)}) {
		t.Errorf("got %+v / %+v", got[u].Attrs, got[g].Attrs)
	}
}

// TestThrottling checks which answers are retried, after how long.
func TestThrottling(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		reason     string
		retryAfter string
		times      int // answers with the fault before the real one
		wantErr    string
		wantWaits  int
	}{
		{name: "429 with Retry-After", status: 429, reason: "rateLimitExceeded", retryAfter: "1", times: 2, wantWaits: 2},
		{name: "403 rateLimitExceeded", status: 403, reason: "rateLimitExceeded", times: 1, wantWaits: 1},
		{name: "403 userRateLimitExceeded", status: 403, reason: "userRateLimitExceeded", times: 3, wantWaits: 3},
		{name: "503 backendError", status: 503, reason: "backendError", times: 1, wantWaits: 1},
		{name: "403 dailyLimitExceeded is not retried", status: 403, reason: "dailyLimitExceeded", times: 1,
			wantErr: "GET /users: 403 dailyLimitExceeded: Rate Limit Exceeded"},
		{name: "403 forbidden is not retried", status: 403, reason: "forbidden", times: 1, wantErr: "403 forbidden"},
		{name: "gives up after maxRetries", status: 429, reason: "rateLimitExceeded", times: 100, wantWaits: 5,
			wantErr: "GET /users: 429 rateLimitExceeded: Rate Limit Exceeded (after 5 retries)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := googlefake.New(t)
			srv.AddUser(map[string]any{"primaryEmail": "a@example.com", "suspended": false})
			var mu sync.Mutex
			n := 0
			srv.SetFault(func(r *http.Request) (int, string, string, bool) {
				if r.URL.Path != googlefake.Base+"/users" {
					return 0, "", "", false
				}
				mu.Lock()
				defer mu.Unlock()
				n++
				return tc.status, tc.reason, tc.retryAfter, n <= tc.times
			})
			c := newConn(t, srv, nil)
			var got int
			_, err := c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{TypeUser}}, func(*model.Object) error {
				got++
				return nil
			})
			if tc.wantErr == "" && (err != nil || got != 1) {
				t.Fatalf("%d objects, %v", got, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			w := c.Waits()
			if len(w) != tc.wantWaits {
				t.Fatalf("waits %v, want %d", w, tc.wantWaits)
			}
			for i, d := range w {
				if tc.retryAfter == "1" && d != time.Second || tc.retryAfter == "" && (d <= 0 || d > 50*time.Millisecond) {
					t.Errorf("wait %d = %s", i, d)
				}
			}
		})
	}
}

// TestMalformed: a page cut in the middle fails the import with context
// (objects are never guessed at); a user of the wrong shape is an error on
// that object and the others are imported.
func TestMalformed(t *testing.T) {
	srv := googlefake.New(t)
	for i := range 5 {
		srv.AddUser(map[string]any{"primaryEmail": fmt.Sprintf("u%d@example.com", i), "suspended": false})
	}
	bad := srv.AddUser(map[string]any{"primaryEmail": "bad@example.com", "suspended": "no"})
	srv.AddUser(map[string]any{"id": "", "primaryEmail": "noid@example.com"})
	c := newConn(t, srv, func(cfg *Config) { cfg.PageSize = 2 })
	type objErr struct {
		anchor string
		err    error
	}
	var errs []objErr
	n := 0
	_, err := c.FullImport(context.Background(), connector.ImportRequest{
		ObjectTypes: []string{TypeUser},
		ObjectError: func(anchor, _ string, err error) { errs = append(errs, objErr{anchor, err}) },
	}, func(*model.Object) error { n++; return nil })
	if err != nil || n != 5 || len(errs) != 2 {
		t.Fatalf("%d objects, %v, object errors %v", n, err, errs)
	}
	if errs[0].anchor != bad || !strings.Contains(errs[0].err.Error(), "field suspended: want bool, got a JSON string") ||
		errs[1].anchor != "" || !strings.Contains(errs[1].err.Error(), "has no id") {
		t.Errorf("object errors %v", errs)
	}

	srv.MalformPage("users", "")
	srv.MalformPage("users", "")
	_, err = c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{TypeUser}}, func(*model.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `google connector "gws": import users: GET /users: page 1 is not a Directory API list`) {
		t.Errorf("malformed page: %v", err)
	}
}

// TestTokenRenewedOn401: a revoked access token is replaced once.
func TestTokenRenewedOn401(t *testing.T) {
	srv := googlefake.New(t)
	for i := range 3 {
		srv.AddUser(map[string]any{"primaryEmail": fmt.Sprintf("u%d@example.com", i), "suspended": false})
	}
	c := newConn(t, srv, func(cfg *Config) { cfg.PageSize = 1 })
	n := 0
	_, err := c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{TypeUser}}, func(*model.Object) error {
		n++
		if n == 2 {
			srv.RevokeTokens()
		}
		return nil
	})
	if err != nil || n != 3 || len(srv.Assertions()) != 2 {
		t.Fatalf("%d objects, %v, %d tokens", n, err, len(srv.Assertions()))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"1","primaryEmail":"a@b.c","suspended":true,"name":{"fullName":"A"},"phones":[{"value":"1","type":"work"}],"creationTime":"2024-01-02T10:00:00.000Z"}`))
	f.Add([]byte(`{"id":"2","email":"g@b.c","name":"G","aliases":["x"]}`))
	f.Add([]byte(`{"id":3}`))
	f.Add([]byte(`[]`))
	all := func(string) bool { return true }
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, dec := range []func([]byte, func(string) bool) (*model.Object, error){
			func(b []byte, w func(string) bool) (*model.Object, error) { return decodeUser(b, w) },
			func(b []byte, w func(string) bool) (*model.Object, error) { return decodeGroup(b, w) },
		} {
			o, err := dec(raw, all)
			if o == nil {
				t.Fatal("nil object")
			}
			if err == nil && o.Anchor == "" {
				t.Fatalf("no anchor and no error for %q", raw)
			}
			for name, v := range o.Attrs {
				if len(v.Values) == 0 {
					t.Errorf("attribute %s set without values", name)
				}
			}
			if err != nil && errors.Unwrap(err) != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
		}
	})
}
