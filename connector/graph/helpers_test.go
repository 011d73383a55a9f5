// Microsoft Graph is faked in these tests (internal/graphfake), because no
// Graph is runnable here: the fake replays the request and response shapes
// Microsoft documents for Graph v1.0 and its token endpoint.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/graphfake"
	"github.com/idsync/idsync/model"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers (a log sink).
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

// testConn is a connector on a fake tenant, with its log and the waits it
// asked for (waits are shortened to a few milliseconds).
type testConn struct {
	*Connector
	logs  *syncBuffer
	mu    sync.Mutex
	waits []time.Duration
}

func (tc *testConn) Waits() []time.Duration {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return append([]time.Duration(nil), tc.waits...)
}

func fakeConfig(srv *graphfake.Server) Config {
	return Config{
		TenantID: srv.TenantID, ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		TokenURL: srv.TokenURL, BaseURL: srv.URL, CAFile: srv.CAFile,
		RetryCap: Duration{Duration: 50 * time.Millisecond}, Timeout: Duration{Duration: 10 * time.Second},
	}
}

func newConn(t testing.TB, srv *graphfake.Server, mod func(*Config)) *testConn {
	t.Helper()
	cfg := fakeConfig(srv)
	if mod != nil {
		mod(&cfg)
	}
	c, err := New("aad", cfg)
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

// fullImport runs a full import and returns the objects by anchor.
func fullImport(t testing.TB, c *testConn, req connector.ImportRequest) (map[string]*model.Object, string) {
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
	return got, wm
}

// deltaImport runs a delta import and returns the changes.
func deltaImport(t testing.TB, c *testConn, req connector.ImportRequest, wm string) ([]connector.Change, string) {
	t.Helper()
	var got []connector.Change
	nwm, err := c.DeltaImport(context.Background(), req, wm, func(ch connector.Change) error {
		got = append(got, ch)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, nwm
}

func replace(name string, v ...string) connector.AttrChange {
	return connector.AttrChange{Name: name, Mode: connector.Replace, Values: v}
}

func boolean(name, v string) connector.AttrChange {
	return connector.AttrChange{Name: name, Mode: connector.Replace, Type: model.Boolean, Values: []string{v}}
}

func refs(name string, mode connector.Mode, v ...string) connector.AttrChange {
	return connector.AttrChange{Name: name, Mode: mode, Type: model.Reference, Values: v}
}

// userAdd is an add of a user with the properties Graph requires.
func userAdd(id, upn string, extra ...connector.AttrChange) connector.ExportOp {
	return connector.ExportOp{ID: id, Op: connector.OpAdd, Anchor: "0190aaaa-0000-7000-8000-" + pad12(id), ObjectType: TypeUser,
		Changes: append([]connector.AttrChange{
			replace("userPrincipalName", upn), replace("displayName", "User "+id),
			replace("mailNickname", "u"+id), boolean("accountEnabled", "true"),
			replace("sourceAnchor", "anchor-"+id),
		}, extra...)}
}

func groupAdd(id, nick string, extra ...connector.AttrChange) connector.ExportOp {
	return connector.ExportOp{ID: id, Op: connector.OpAdd, Anchor: "0190bbbb-0000-7000-8000-" + pad12(id), ObjectType: TypeGroup,
		Changes: append([]connector.AttrChange{
			replace("displayName", "Group "+id), replace("mailNickname", nick),
			boolean("mailEnabled", "false"), boolean("securityEnabled", "true"),
		}, extra...)}
}

func pad12(s string) string {
	var b []byte
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			b = append(b, c)
		}
	}
	for len(b) < 12 {
		b = append([]byte{'0'}, b...)
	}
	return string(b[len(b)-12:])
}

func export(t testing.TB, c *testConn, ops ...connector.ExportOp) map[string]connector.ExportResult {
	t.Helper()
	res := c.Export(context.Background(), ops)
	if len(res) != len(ops) {
		t.Fatalf("%d results for %d ops", len(res), len(ops))
	}
	out := map[string]connector.ExportResult{}
	for _, r := range res {
		if _, dup := out[r.ID]; dup {
			t.Fatalf("two results for op %s", r.ID)
		}
		out[r.ID] = r
	}
	return out
}

// mustOK fails the test for any failed result.
func mustOK(t testing.TB, res map[string]connector.ExportResult) {
	t.Helper()
	for id, r := range res {
		if r.Err != nil {
			t.Errorf("op %s: %v", id, r.Err)
		}
	}
}

// recorder keeps the bodies and Authorization headers of the requests a
// connector sends (to prove that secrets stay out of logs and errors).
type recorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies []string
	auth   []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}
	r.mu.Lock()
	if a := req.Header.Get("Authorization"); a != "" {
		r.auth = append(r.auth, strings.TrimPrefix(a, "Bearer "))
	}
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func record(c *testConn) *recorder {
	r := &recorder{next: c.cl.hc.Transport}
	c.cl.hc.Transport = r
	return r
}

// passwords returns the passwords sent in create requests.
func (r *recorder) passwords() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.bodies {
		var m struct {
			PP *struct {
				Password string `json:"password"`
			} `json:"passwordProfile"`
		}
		if json.Unmarshal([]byte(b), &m) == nil && m.PP != nil {
			out = append(out, m.PP.Password)
		}
	}
	return out
}

// secrets returns the client secret, the passwords and the access tokens
// seen on the wire.
func (r *recorder) secrets(clientSecret string) []string {
	out := append([]string{clientSecret}, r.passwords()...)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(out, r.auth...)
}
