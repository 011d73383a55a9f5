// Microsoft Graph is faked in these tests (internal/graphfake), because no
// Graph is runnable here; the fake replays Graph's throttling answers (429
// with Retry-After, "Microsoft Graph throttling guidance") and 503s.
package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/graphfake"
	"github.com/idsync/idsync/model"
)

// batch is 30 user adds, a group of them all, and updates of 10 existing
// users.
func batch(srv *graphfake.Server) ([]connector.ExportOp, []string) {
	var ops []connector.ExportOp
	var anchors []string
	for i := range 30 {
		op := userAdd(fmt.Sprint(i), fmt.Sprintf("t%d@contoso.com", i))
		ops = append(ops, op)
		anchors = append(anchors, op.Anchor)
	}
	ops = append(ops, groupAdd("g", "throttled", refs("member", connector.Replace, anchors...)))
	var existing []string
	for i := range 10 {
		id := srv.AddUser(map[string]any{"userPrincipalName": fmt.Sprintf("e%d@contoso.com", i), "displayName": "E"})
		existing = append(existing, id)
		ops = append(ops, connector.ExportOp{ID: fmt.Sprint("u", i), Op: connector.OpUpdate, Anchor: id, ObjectType: TypeUser,
			Changes: []connector.AttrChange{replace("department", "Ops")}})
	}
	return ops, existing
}

// checkConverged checks that the batch is fully applied, once.
func checkConverged(t *testing.T, srv *graphfake.Server, res map[string]connector.ExportResult, existing []string) {
	t.Helper()
	mustOK(t, res)
	if n := len(srv.Users()); n != 40 {
		t.Errorf("%d users, want 40 (nothing lost or duplicated)", n)
	}
	var want []string
	for i := range 30 {
		want = append(want, res[fmt.Sprint(i)].Anchor)
	}
	slices.Sort(want)
	if g := srv.Groups(); len(g) != 1 || !slices.Equal(members(srv, res["g"].Anchor), want) {
		t.Errorf("groups: %d, members of the group: %d", len(g), len(members(srv, res["g"].Anchor)))
	}
	for _, id := range existing {
		if srv.Object(id)["department"] != "Ops" {
			t.Errorf("user %s not updated", id)
		}
	}
}

func TestThrottlingWithRetryAfter(t *testing.T) {
	srv := graphfake.New(t)
	var mu sync.Mutex
	n := 0
	srv.SetFault(func(r *http.Request) (int, string, bool) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			return 0, "", false
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		return http.StatusTooManyRequests, "1", n%3 == 0 // every third request is throttled
	})
	// Concurrent retries may meet several throttled turns in a row: allow
	// enough retries that the test never depends on the interleaving.
	retries := 12
	c := newConn(t, srv, func(c *Config) { c.MaxRetries = &retries })
	ops, existing := batch(srv)
	res := export(t, c, ops...)
	checkConverged(t, srv, res, existing)
	waits := c.Waits()
	if len(waits) == 0 || slices.ContainsFunc(waits, func(d time.Duration) bool { return d != time.Second }) {
		t.Errorf("waits %v, want the Retry-After of 1s each time", waits)
	}
}

func TestServiceUnavailableBursts(t *testing.T) {
	srv := graphfake.New(t)
	var mu sync.Mutex
	n := 0
	srv.SetFault(func(r *http.Request) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		n++
		// Bursts of three 503s (no Retry-After) every ten requests, and a
		// 504 now and then.
		switch {
		case n%10 < 3:
			return http.StatusServiceUnavailable, "", true
		case n%17 == 0:
			return http.StatusGatewayTimeout, "", true
		}
		return 0, "", false
	})
	retries := 12
	c := newConn(t, srv, func(c *Config) { c.MaxRetries = &retries })
	ops, existing := batch(srv)
	res := export(t, c, ops...)
	checkConverged(t, srv, res, existing)
	for _, d := range c.Waits() {
		if d > 50*time.Millisecond {
			t.Errorf("a backoff of %s exceeds retryCap", d)
		}
	}
}

func TestWriteLostAfterItLanded(t *testing.T) {
	// Graph processes the request, but the answer is lost (504): the retry
	// finds the object instead of creating a second one.
	srv := graphfake.New(t)
	var mu sync.Mutex
	failed := map[string]bool{}
	srv.SetFaultAfter(func(r *http.Request) (int, bool) {
		if r.Method != http.MethodPost || strings.HasSuffix(r.URL.Path, "/token") {
			return 0, false
		}
		mu.Lock()
		defer mu.Unlock()
		if failed[r.URL.Path] {
			return 0, false
		}
		failed[r.URL.Path] = true
		return http.StatusGatewayTimeout, true
	})
	c := newConn(t, srv, nil)
	res := export(t, c, userAdd("1", "lost@contoso.com"))
	mustOK(t, res)
	res2 := export(t, c, groupAdd("g", "lost"))
	mustOK(t, res2)
	if len(srv.Users()) != 1 || len(srv.Groups()) != 1 {
		t.Fatalf("duplicates: %s", srv.DebugDump())
	}
	if res["1"].Anchor != srv.Users()[0]["id"] || res2["g"].Anchor != srv.Groups()[0]["id"] {
		t.Errorf("anchors %s %s", res["1"].Anchor, res2["g"].Anchor)
	}
	if srv.Count("POST /users") != 1 || srv.Count("POST /groups") != 1 {
		t.Errorf("requests: %v", srv.Counts())
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := graphfake.New(t)
	srv.SetFault(func(r *http.Request) (int, string, bool) {
		return http.StatusTooManyRequests, "", r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/users")
	})
	existing := srv.AddUser(map[string]any{"userPrincipalName": "e@contoso.com"})
	two := 2
	c := newConn(t, srv, func(c *Config) { c.MaxRetries = &two })
	res := export(t, c, userAdd("1", "a@contoso.com"),
		connector.ExportOp{ID: "u", Op: connector.OpUpdate, Anchor: existing, ObjectType: TypeUser, Changes: []connector.AttrChange{replace("city", "Oslo")}})
	err := res["1"].Err
	if err == nil || !strings.Contains(err.Error(), "POST /users: 429 TooManyRequests: Please retry again later. (after 2 retries)") {
		t.Errorf("throttled add: %v", err)
	}
	if res["u"].Err != nil || srv.Object(existing)["city"] != "Oslo" {
		t.Errorf("the rest of the batch: %v", res["u"].Err)
	}
	if n := srv.Count("POST /users"); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestSecretsStayOut(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	rec := record(c)
	ctx := context.Background()
	var errs []error
	// Successes, failures of every kind, and a token failure.
	res := export(t, c, userAdd("1", "s@contoso.com"), userAdd("1b", "s@contoso.com"),
		connector.ExportOp{ID: "2", Op: connector.OpDelete, Anchor: "6f9619ff-8b86-d011-b42d-00c04fc964ff", ObjectType: TypeUser},
		connector.ExportOp{ID: "3", Op: connector.OpUpdate, Anchor: "6f9619ff-8b86-d011-b42d-00c04fc964ff", ObjectType: TypeUser,
			Changes: []connector.AttrChange{replace("proxyAddresses", "x"), replace("city", "y")}})
	for _, r := range res {
		errs = append(errs, r.Err)
	}
	_, err := c.FullImport(ctx, connector.ImportRequest{}, func(o *model.Object) error { return errors.New("stop") })
	errs = append(errs, err)
	bad := newConn(t, srv, func(cfg *Config) { cfg.ClientSecret = "not-the-secret-" + srv.ClientSecret })
	errs = append(errs, bad.TestConnection(ctx))
	_, err = bad.FullImport(ctx, connector.ImportRequest{}, func(*model.Object) error { return nil })
	errs = append(errs, err)

	secrets := append(rec.secrets(srv.ClientSecret), "not-the-secret-"+srv.ClientSecret)
	if len(secrets) < 4 {
		t.Fatalf("recorded %d secrets", len(secrets))
	}
	text := c.logs.String() + bad.logs.String()
	for _, e := range errs {
		if e != nil {
			text += e.Error() + "\n"
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a secret shows in errors or logs:\n%s", text)
		}
	}
}

func TestReplicationLagOnFreshMember(t *testing.T) {
	// Graph's replicas may not know an object created a moment ago: a
	// request binding it is retried on 404.
	srv := graphfake.New(t)
	var mu sync.Mutex
	lagging := 2
	srv.SetFault(func(r *http.Request) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/groups") && lagging > 0 {
			lagging--
			return http.StatusNotFound, "", true
		}
		return 0, "", false
	})
	c := newConn(t, srv, nil)
	u := userAdd("1", "fresh@contoso.com")
	res := export(t, c, u, groupAdd("g", "fresh", refs("member", connector.Replace, u.Anchor)))
	mustOK(t, res)
	if got := members(srv, res["g"].Anchor); len(got) != 1 || got[0] != res["1"].Anchor {
		t.Errorf("members %v", got)
	}
	if n := srv.Count("POST /groups"); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
}
