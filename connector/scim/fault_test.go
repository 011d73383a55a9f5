package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
)

// fault is what the proxy does with a request.
type fault int

const (
	pass        fault = iota
	throttle          // 429 with Retry-After, not forwarded
	unavailable       // 503, not forwarded
	drop              // forwarded, then the client connection is closed without an answer
)

// faultProxy is a reverse proxy in front of the real SCIM server that
// injects faults.
type faultProxy struct {
	srv     *httptest.Server
	backend *peers.SCIMServer
	decide  func(n int, r *http.Request) fault

	mu        sync.Mutex
	n         int
	stats     map[fault]int
	forwarded map[string]int // requests that reached the server, by method
}

func newFaultProxy(t testing.TB, backend *peers.SCIMServer, decide func(n int, r *http.Request) fault) *faultProxy {
	u, _ := url.Parse(backend.URL)
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &faultProxy{backend: backend, decide: decide, stats: map[fault]int{}, forwarded: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.n++
		f := p.decide(p.n, r)
		p.stats[f]++
		if f == pass || f == drop {
			p.forwarded[r.Method]++
		}
		p.mu.Unlock()
		switch f {
		case throttle:
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","detail":"slow down"}`)
		case unavailable:
			w.WriteHeader(http.StatusServiceUnavailable)
		case drop:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// scim is the proxy as a SCIM server.
func (p *faultProxy) scim() *peers.SCIMServer {
	return &peers.SCIMServer{URL: p.srv.URL + "/scim/v2", Token: p.backend.Token}
}

func (p *faultProxy) count(f fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats[f]
}

func (p *faultProxy) reached(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded[method]
}

// TestSCIMFaultsConverge exports through throttling, 503 bursts and
// connections dropped after the server handled the request: nothing is
// lost, and no POST reaches the server twice.
func TestSCIMFaultsConverge(t *testing.T) {
	backend := peers.SCIM(t)
	var writes int
	proxy := newFaultProxy(t, backend, func(n int, r *http.Request) fault {
		if r.Method != http.MethodGet {
			writes++
			if writes%3 == 1 {
				return drop
			}
		}
		switch {
		case n%40 >= 10 && n%40 < 14:
			return unavailable // a burst
		case n%7 == 3:
			return throttle
		}
		return pass
	})
	ten := 10
	c := newConn(t, proxy.scim(), func(c *Config) { c.MaxRetries = &ten; c.Concurrency = 6 })

	const n = 40
	users := names("f", n)
	var ops []connector.ExportOp
	var members []string
	for _, u := range users {
		ops = append(ops, addUser("p-"+u, u, set("active", "true")))
		members = append(members, "p-"+u)
	}
	ops = append(ops, connector.ExportOp{ID: "grp", Op: connector.OpAdd, Anchor: "p-grp", ObjectType: "group", Changes: []connector.AttrChange{
		set("displayName", "Faulty"), refs("members", connector.Replace, members...)}})
	res := c.Export(context.Background(), ops)
	ids := map[string]string{}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.ID, r.Err)
		}
		ids[ops[i].Anchor] = r.Anchor
	}
	if got := proxy.reached(http.MethodPost); got != n+1 {
		t.Errorf("%d POSTs reached the server for %d adds", got, n+1)
	}

	// Second batch: disable 10, delete 5, drop 5 members.
	ops = nil
	for _, u := range users[:10] {
		ops = append(ops, connector.ExportOp{ID: "dis-" + u, Op: connector.OpUpdate, Anchor: ids["p-"+u], ObjectType: "user", Changes: []connector.AttrChange{set("active", "false")}})
	}
	var gone []string
	for _, u := range users[10:15] {
		ops = append(ops, connector.ExportOp{ID: "del-" + u, Op: connector.OpDelete, Anchor: ids["p-"+u], ObjectType: "user"})
		gone = append(gone, ids["p-"+u])
	}
	ops = append(ops, connector.ExportOp{ID: "rm", Op: connector.OpUpdate, Anchor: ids["p-grp"], ObjectType: "group", Changes: []connector.AttrChange{
		refs("members", connector.DelVals, gone...)}})
	for _, r := range c.Export(context.Background(), ops) {
		// A delete whose answer was lost is retried and finds nothing: the
		// engine treats ErrNotFound as done.
		if r.Err != nil && (!strings.HasPrefix(r.ID, "del-") || !errors.Is(r.Err, connector.ErrNotFound)) {
			t.Errorf("%s: %v", r.ID, r.Err)
		}
	}

	for _, f := range []fault{throttle, unavailable, drop} {
		if proxy.count(f) == 0 {
			t.Errorf("fault %d never injected", f)
		}
	}
	t.Logf("faults: %d throttled, %d unavailable, %d dropped; %d requests", proxy.count(throttle), proxy.count(unavailable), proxy.count(drop), proxy.n)

	// Compare with what the server holds, read directly.
	list := rawList(t, backend, "/Users")
	got := map[string]bool{}
	for _, u := range list {
		name := u["userName"].(string)
		if got[name] {
			t.Errorf("duplicate %s", name)
		}
		got[name] = true
		i := indexOf(users, name)
		if wantActive := i >= 10; u["active"] != wantActive {
			t.Errorf("%s: active %v", name, u["active"])
		}
		if u["id"] != ids["p-"+name] || u["externalId"] != "p-"+name {
			t.Errorf("%s: id %v externalId %v", name, u["id"], u["externalId"])
		}
	}
	if len(list) != n-5 {
		t.Errorf("%d users, want %d", len(list), n-5)
	}
	var want []string
	for _, u := range append(users[:10:10], users[15:]...) {
		want = append(want, ids["p-"+u])
	}
	if groups := rawList(t, backend, "/Groups"); len(groups) != 1 {
		t.Errorf("%d groups", len(groups))
	}
	if got := memberIDs(t, backend, ids["p-grp"]); !reflect.DeepEqual(got, sorted(want)) {
		t.Errorf("members: %d, want %d", len(got), len(want))
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestSCIMRetryAfter(t *testing.T) {
	backend := peers.SCIM(t)
	var mu sync.Mutex
	first := true
	proxy := newFaultProxy(t, backend, func(_ int, r *http.Request) fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && first {
			first = false
			return throttle // Retry-After: 1
		}
		return pass
	})
	c := newConn(t, proxy.scim(), func(c *Config) { c.RetryCap = Duration{Duration: 5 * time.Second} })
	if err := c.TestConnection(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	export(t, c, addUser("p-1", "patient"))
	if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
		t.Errorf("the add took %s, want about 1s (Retry-After: 1)", d)
	}

	// Retries give up after maxRetries, with the status and the count.
	always := newFaultProxy(t, backend, func(_ int, r *http.Request) fault {
		if r.Method == http.MethodPost {
			return throttle
		}
		return pass
	})
	two := 2
	c2 := newConn(t, always.scim(), func(c *Config) { c.MaxRetries = &two })
	res := c2.Export(context.Background(), []connector.ExportOp{addUser("p-2", "impatient")})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "POST /Users: 429: slow down (after 2 retries)") {
		t.Errorf("got %v", res[0].Err)
	}
	if got := always.count(throttle); got != 3 {
		t.Errorf("%d attempts, want 3", got)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"7", 7 * time.Second},
		{" 2 ", 2 * time.Second},
		{"999999999", 24 * time.Hour},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), -time.Minute},
		{"soon", 0},
	} {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	c := &client{s: &settings{retryBase: 100 * time.Millisecond, retryCap: time.Second}}
	for attempt, max := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		for range 20 {
			if d := c.backoff(attempt); d < max*time.Millisecond/2 || d > max*time.Millisecond {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, max*time.Millisecond/2, max*time.Millisecond)
			}
		}
	}
}

// TestSCIMOAuth2 authenticates with the client credentials grant against
// a token endpoint that issues the SCIM server's token.
func TestSCIMOAuth2(t *testing.T) {
	backend := peers.SCIM(t)
	var mu sync.Mutex
	issued := 0
	stale := true
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "scim.write scim.read" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != "idsync" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		mu.Lock()
		issued++
		tok := backend.Token
		if stale { // the first token is already revoked
			tok, stale = "revoked", false
		}
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	}))
	defer tokenSrv.Close()
	cfg := func(secret string) func(*Config) {
		return func(c *Config) {
			c.Auth = Auth{Type: AuthOAuth2, TokenURL: tokenSrv.URL + "/token", ClientID: "idsync", ClientSecret: secret, Scopes: []string{"scim.write", "scim.read"}}
		}
	}
	c := newConn(t, backend, cfg("s3cret"))
	if err := c.TestConnection(context.Background()); err != nil {
		t.Fatal(err)
	}
	export(t, c, addUser("p-1", "oauth-user"), addUser("p-2", "oauth-user2"))
	if issued != 2 {
		t.Errorf("%d tokens issued, want 2 (the revoked one, then one for every request)", issued)
	}

	bad := newConn(t, backend, cfg("wrong"))
	err := bad.TestConnection(context.Background())
	if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "oauth2 token request to auth.tokenURL: 401 invalid_client: client authentication failed") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong secret: %v", err)
	}
}

// TestSCIMBasicAuth puts a proxy that checks HTTP basic authentication in
// front of the server.
func TestSCIMBasicAuth(t *testing.T) {
	backend := peers.SCIM(t)
	u, _ := url.Parse(backend.URL)
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pw, ok := r.BasicAuth(); !ok || user != "svc" || pw != "pa:ss" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.Header.Set("Authorization", "Bearer "+backend.Token)
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	srv := &peers.SCIMServer{URL: front.URL + "/scim/v2"}
	for _, tt := range []struct {
		pw      string
		wantErr error
	}{{"pa:ss", nil}, {"nope", ErrCredentials}} {
		c := newConn(t, srv, func(c *Config) { c.Auth = Auth{Username: "svc", Password: tt.pw} })
		if err := c.TestConnection(context.Background()); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("password %q: %v, want %v", tt.pw, err, tt.wantErr)
		} else if err != nil && (!strings.Contains(err.Error(), "check auth.username and auth.password") || strings.Contains(err.Error(), tt.pw)) {
			t.Errorf("message: %v", err)
		}
	}
}

// TestSCIMContextCancel: a cancelled export returns one result per op.
func TestSCIMContextCancel(t *testing.T) {
	backend := peers.SCIM(t)
	c := newConn(t, backend, nil)
	if err := c.TestConnection(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := c.Export(ctx, []connector.ExportOp{addUser("p-1", "x"), addUser("p-2", "y")})
	if len(res) != 2 || !errors.Is(res[0].Err, context.Canceled) || !errors.Is(res[1].Err, context.Canceled) {
		t.Errorf("%+v", res)
	}
}

// TestSCIMImportStartIndexIgnored: a server that ignores startIndex would
// make a naive import stop early, and the engine take the rest for
// deleted; the import fails instead.
func TestSCIMImportStartIndexIgnored(t *testing.T) {
	backend := peers.SCIM(t)
	for _, u := range names("s", 3) {
		rawUser(t, backend, u)
	}
	u, _ := url.Parse(backend.URL)
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("startIndex")
		r.URL.RawQuery = q.Encode()
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	c := newConn(t, &peers.SCIMServer{URL: front.URL + "/scim/v2", Token: backend.Token}, func(c *Config) { c.PageSize = 2 })
	n := 0
	_, err := c.FullImport(context.Background(), connector.ImportRequest{ObjectTypes: []string{"user"}}, func(*model.Object) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "seems to ignore startIndex") || n != 2 {
		t.Errorf("got %v after %d objects", err, n)
	}
}
