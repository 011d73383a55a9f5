package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
)

// testMapper maps the RFC 7643 default schemas: the core schema and the
// extensions given.
func testMapper(core string, exts ...string) *mapper {
	m := &mapper{core: defaultSchemas[strings.ToLower(core)]}
	for _, e := range exts {
		m.exts = append(m.exts, defaultSchemas[strings.ToLower(e)])
	}
	return m
}

// newConn returns a connector for srv with fast retries.
func newConn(t testing.TB, srv *peers.SCIMServer, mod func(*Config)) *Connector {
	t.Helper()
	cfg := Config{
		URL:       srv.URL,
		Auth:      Auth{Type: AuthBearer, Token: srv.Token},
		RetryBase: Duration{Duration: 2 * time.Millisecond},
		RetryCap:  Duration{Duration: 50 * time.Millisecond},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New("app", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// counter counts the requests a connector sends, by method and endpoint.
type counter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

// count installs a counter on c.
func count(c *Connector) *counter {
	ct := &counter{next: c.c.hc.Transport, n: map[string]int{}}
	c.c.hc.Transport = ct
	return ct
}

func (ct *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	path := r.URL.Path[strings.Index(r.URL.Path, "/scim/v2")+len("/scim/v2"):]
	if i := strings.IndexByte(path[1:], '/'); i >= 0 {
		path = path[:i+1] + "/{id}"
	}
	ct.mu.Lock()
	ct.n[r.Method+" "+path]++
	ct.mu.Unlock()
	return ct.next.RoundTrip(r)
}

func (ct *counter) get(key string) int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.n[key]
}

func (ct *counter) reset() {
	ct.mu.Lock()
	ct.n = map[string]int{}
	ct.mu.Unlock()
}

// raw sends a request straight to the server, bypassing the connector.
func raw(t testing.TB, srv *peers.SCIMServer, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// rawList lists every resource of an endpoint, bypassing the connector.
func rawList(t testing.TB, srv *peers.SCIMServer, endpoint string) []map[string]any {
	t.Helper()
	code, body := raw(t, srv, http.MethodGet, endpoint+"?count=100000", nil)
	if code != 200 {
		t.Fatalf("list %s: %d %v", endpoint, code, body)
	}
	var out []map[string]any
	list, _ := body["Resources"].([]any)
	for _, r := range list {
		out = append(out, r.(map[string]any))
	}
	return out
}

// rawUser creates a user straight on the server and returns its id.
func rawUser(t testing.TB, srv *peers.SCIMServer, userName string) string {
	t.Helper()
	code, body := raw(t, srv, http.MethodPost, "/Users", map[string]any{"schemas": []string{CoreUser}, "userName": userName})
	if code != 201 {
		t.Fatalf("create %s: %d %v", userName, code, body)
	}
	return body["id"].(string)
}

// export runs ops and fails the test on any error.
func export(t testing.TB, c *Connector, ops ...connector.ExportOp) []connector.ExportResult {
	t.Helper()
	res := c.Export(context.Background(), ops)
	if len(res) != len(ops) {
		t.Fatalf("%d results for %d ops", len(res), len(ops))
	}
	for i, r := range res {
		if r.ID != ops[i].ID {
			t.Fatalf("result %d has ID %q, want %q", i, r.ID, ops[i].ID)
		}
		if r.Err != nil {
			t.Fatalf("op %s (%s %s): %v", r.ID, ops[i].Op, ops[i].Anchor, r.Err)
		}
	}
	return res
}

// addUser is an add op of a user.
func addUser(anchor, userName string, more ...connector.AttrChange) connector.ExportOp {
	return connector.ExportOp{ID: "add-" + anchor, Op: connector.OpAdd, Anchor: anchor, ObjectType: "user",
		Changes: append([]connector.AttrChange{set("userName", userName)}, more...)}
}

func set(name string, vals ...string) connector.AttrChange {
	return connector.AttrChange{Name: name, Mode: connector.Replace, Values: vals}
}

func refs(name string, mode connector.Mode, vals ...string) connector.AttrChange {
	return connector.AttrChange{Name: name, Mode: mode, Type: model.Reference, Values: vals}
}

// sorted returns a sorted copy.
func sorted(v []string) []string {
	c := append([]string(nil), v...)
	sort.Strings(c)
	return c
}

// memberIDs returns the member ids of a group, read straight from the server.
func memberIDs(t testing.TB, srv *peers.SCIMServer, id string) []string {
	t.Helper()
	code, g := raw(t, srv, http.MethodGet, "/Groups/"+url.PathEscape(id), nil)
	if code != 200 {
		t.Fatalf("get group %s: %d %v", id, code, g)
	}
	var ids []string
	seen := map[string]bool{}
	for _, m := range asListOrNil(g["members"]) {
		v := m.(map[string]any)["value"].(string)
		if !seen[v] {
			seen[v] = true
			ids = append(ids, v)
		}
	}
	return sorted(ids)
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}
