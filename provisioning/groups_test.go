package provisioning

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// parseApp loads the test application with extra keys, after edit (when
// set) changed the YAML.
func parseApp(t *testing.T, scimURL, token, extra string, edit func(string) string) *App {
	t.Helper()
	y := fmt.Sprintf(appYAML, scimURL, token, "127.0.0.1:1", extra)
	if edit != nil {
		y = edit(y)
	}
	f, err := Parse("provisioning.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.App("crm")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func nested(y string) string {
	return strings.Replace(y, "    assignments:\n", "    assignments:\n      nestedGroups: true\n", 1)
}

func newConnector(t *testing.T, cfg scim.Config) *scim.Connector {
	t.Helper()
	conn, err := scim.New("check", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// scimGroup reads a group of the server by displayName; nil when none.
func scimGroup(t *testing.T, conn *scim.Connector, name string) *model.Object {
	t.Helper()
	g, err := conn.Find(t.Context(), "group", "displayName", name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// serverGroups counts the groups of the server by displayName.
func serverGroups(t *testing.T, conn *scim.Connector) map[string]int {
	t.Helper()
	out := map[string]int{}
	_, err := conn.FullImport(t.Context(), connector.ImportRequest{ObjectTypes: []string{"group"}}, func(o *model.Object) error {
		out[o.Attrs.First("displayName")]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedValues(v model.Values) []string {
	out := slices.Clone(v.Values)
	slices.Sort(out)
	return out
}

func putMV(t *testing.T, st store.Store, objs ...*store.MVObject) {
	t.Helper()
	if err := st.Apply(t.Context(), &store.Batch{PutMV: objs}); err != nil {
		t.Fatal(err)
	}
}

func activities(t *testing.T, dataDir string) []Activity {
	t.Helper()
	acts, err := ReadLog(LogPath(dataDir, "crm"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// TestProvisionGroups: an assigned group of 20 users (with a nested group
// of 2) becomes a SCIM Group with the users' SCIM ids as members; removing
// 5 users from it removes 5 member values; unassigning it deletes the
// groups and disables their users.
func TestProvisionGroups(t *testing.T) {
	srv := peers.SCIM(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	a := parseApp(t, srv.URL, srv.Token, "", nested)
	conn := newConnector(t, a.SCIMConfig())

	old := time.Now().Add(-time.Hour)
	var sales []string
	var objs []*store.MVObject
	for i := range 20 {
		p := person(i, old)
		objs = append(objs, p)
		sales = append(sales, p.ID)
	}
	emea := []string{}
	for i := 100; i < 102; i++ {
		p := person(i, old)
		objs = append(objs, p)
		emea = append(emea, p.ID)
	}
	objs = append(objs, group("mv-g-sales", "Sales", append(slices.Clone(sales), "mv-g-emea")...),
		group("mv-g-emea", "Sales EMEA", emea...), group("mv-g-other", "Other", sales[0]))
	putMV(t, st, objs...)

	// "Sales EMEA" exists in the application already: it is matched by
	// displayName, not duplicated.
	pre := conn.Export(ctx, []connector.ExportOp{{ID: "pre", Op: connector.OpAdd, Anchor: "legacy-emea", ObjectType: "group",
		Changes: []connector.AttrChange{{Name: "displayName", Mode: connector.Replace, Values: []string{"Sales EMEA"}}}}})
	if pre[0].Err != nil {
		t.Fatal(pre[0].Err)
	}

	r, err := runCycle(t, a, st, Options{DataDir: dataDir})
	if err != nil || r.Errors != 0 || r.Created != 23 || r.Updated != 1 {
		t.Fatalf("cycle 1: %v %+v, want 22 users and Sales created, Sales EMEA matched", err, r)
	}
	users := serverUsers(t, conn)
	idOf := func(i int) string { return users[fmt.Sprintf("u%03d@example.test", i)].Anchor }
	if n := serverGroups(t, conn); len(n) != 2 || n["Sales"] != 1 || n["Sales EMEA"] != 1 {
		t.Fatalf("server groups: %v, want Sales and Sales EMEA once each", n)
	}
	g := scimGroup(t, conn, "Sales")
	ge := scimGroup(t, conn, "Sales EMEA")
	if ge.Anchor != pre[0].Anchor {
		t.Errorf("Sales EMEA is %s, want the existing group %s", ge.Anchor, pre[0].Anchor)
	}
	if got := g.Attrs.First("externalId"); got == "" {
		t.Error("Sales has no externalId")
	}
	var want []string
	for i := range 20 {
		want = append(want, idOf(i))
	}
	want = append(want, ge.Anchor)
	slices.Sort(want)
	if got := sortedValues(g.Attrs["members"]); !slices.Equal(got, want) {
		t.Fatalf("Sales members: %d %v, want the 20 users and Sales EMEA", len(got), got)
	}
	if got, want := sortedValues(ge.Attrs["members"]), []string{idOf(100), idOf(101)}; !slices.Equal(got, sortedStrings(want)) {
		t.Errorf("Sales EMEA members: %v, want %v", got, want)
	}

	// Nothing changed: nothing is sent.
	r, err = runCycle(t, a, st, Options{DataDir: dataDir})
	if err != nil || r.Created+r.Updated+r.Deleted+r.Disabled+r.Errors != 0 {
		t.Fatalf("cycle 2: %v %+v", err, r)
	}

	// Remove 5 users from Sales: 5 member values removed, 5 disabled.
	putMV(t, st, group("mv-g-sales", "Sales", append(slices.Clone(sales[5:]), "mv-g-emea")...))
	r, err = runCycle(t, a, st, Options{DataDir: dataDir, Full: true})
	if err != nil || r.Errors != 0 || r.Updated != 1 || r.Disabled != 5 {
		t.Fatalf("cycle 3: %v %+v, want Sales updated and 5 disabled", err, r)
	}
	g = scimGroup(t, conn, "Sales")
	if got := sortedValues(g.Attrs["members"]); len(got) != 16 || slices.Contains(got, idOf(0)) || !slices.Contains(got, idOf(5)) {
		t.Errorf("Sales members after removing 5: %d %v", len(got), got)
	}
	var upd *Activity
	acts := activities(t, dataDir)
	for i := range acts {
		if acts[i].Cycle == 3 && acts[i].Action == ActUpdate && acts[i].Object == "mv-g-sales" {
			upd = &acts[i]
		}
	}
	if upd == nil || len(upd.Changes["members (removed)"]) != 5 || upd.Changes["members (removed)"][0] != "u000@example.test" || upd.Name != "Sales" || upd.SCIMID != g.Anchor {
		t.Errorf("activity of the Sales update: %+v", upd)
	}

	// Unassign Sales: both groups deleted, their 17 users disabled.
	un := parseApp(t, srv.URL, srv.Token, "", func(y string) string {
		return strings.Replace(nested(y), "{displayName: Sales, role: User}", "{displayName: Nobody, role: User}", 1)
	})
	r, err = runCycle(t, un, st, Options{DataDir: dataDir})
	if err != nil || r.Errors != 0 || r.Deleted != 2 || r.Disabled != 17 {
		t.Fatalf("cycle 4: %v %+v, want 2 groups deleted and 17 users disabled", err, r)
	}
	for _, id := range []string{g.Anchor, ge.Anchor} {
		if _, err := conn.Get(ctx, "group", id); !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("group %s: %v, want not found", id, err)
		}
	}
	users = serverUsers(t, conn)
	for name, u := range users {
		if got := u.Attrs.First("active"); got != "false" {
			t.Errorf("%s active = %q after the unassignment", name, got)
		}
	}
	if err := st.ScanCS(ctx, "crm", func(c *store.CSObject) error {
		if c.Object.Type == "group" {
			t.Errorf("the connector space still has the group %s (%s)", c.Object.Anchor, c.Object.Attrs.First("displayName"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	counts := map[string]int{}
	for _, act := range activities(t, dataDir) {
		if strings.HasPrefix(act.Object, "mv-g-") {
			counts[act.Action+"/"+act.Reason]++
		}
		if act.Action == ActCreate && act.Object == "mv-g-sales" && len(act.Changes["members"]) != 21 {
			t.Errorf("create of Sales lists %d members", len(act.Changes["members"]))
		}
	}
	for k, n := range map[string]int{
		"create/": 1, "update/": 2, // Sales EMEA matched (its members), Sales (5 members removed)
		"delete/" + ReasonDeprovisioned: 2,
	} {
		if counts[k] != n {
			t.Errorf("group activity %q: %d entries, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestProvisionDeprovisionDelete: with deprovision: delete, unassigned
// users' accounts are deleted in the application.
func TestProvisionDeprovisionDelete(t *testing.T) {
	srv := peers.SCIM(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	a := parseApp(t, srv.URL, srv.Token, "    deprovision: delete", nil)
	conn := newConnector(t, a.SCIMConfig())
	old := time.Now().Add(-time.Hour)
	var sales []string
	var objs []*store.MVObject
	for i := range 10 {
		p := person(i, old)
		objs = append(objs, p)
		sales = append(sales, p.ID)
	}
	putMV(t, st, append(objs, group("mv-g-sales", "Sales", sales...))...)
	if r, err := runCycle(t, a, st, Options{DataDir: dataDir}); err != nil || r.Created != 11 {
		t.Fatalf("cycle 1: %v %+v", err, r)
	}
	before := serverUsers(t, conn)

	putMV(t, st, group("mv-g-sales", "Sales", sales[3:]...))
	r, err := runCycle(t, a, st, Options{DataDir: dataDir, Full: true})
	if err != nil || r.Errors != 0 || r.Deleted != 3 || r.Disabled != 0 || r.Updated != 1 {
		t.Fatalf("cycle 2: %v %+v, want 3 deleted and the group updated", err, r)
	}
	for i := range 10 {
		u := before[fmt.Sprintf("u%03d@example.test", i)]
		_, err := conn.Get(ctx, "user", u.Anchor)
		if i < 3 && !errors.Is(err, connector.ErrNotFound) {
			t.Errorf("u%03d: %v, want not found (404)", i, err)
		}
		if i >= 3 && err != nil {
			t.Errorf("u%03d: %v", i, err)
		}
	}
	if got := len(scimGroup(t, conn, "Sales").Attrs["members"].Values); got != 7 {
		t.Errorf("Sales has %d members, want 7", got)
	}
	n := 0
	for _, act := range activities(t, dataDir) {
		if act.Cycle == 2 && act.Action == ActDelete {
			n++
			if act.Reason != ReasonDeprovisioned || act.SCIMID == "" || !strings.HasPrefix(act.Name, "u00") {
				t.Errorf("delete entry: %+v", act)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d delete entries, want 3", n)
	}
	if n, err := st.CountCS(ctx, "crm"); err != nil || n != 8 {
		t.Errorf("the connector space of crm has %d objects (%v), want 7 accounts and Sales", n, err)
	}
	// The next cycle has nothing to do.
	if r, err := runCycle(t, a, st, Options{DataDir: dataDir}); err != nil || r.Created+r.Updated+r.Deleted+r.Errors != 0 {
		t.Fatalf("cycle 3: %v %+v", err, r)
	}
}

// faultKind is what the fault proxy does with a request.
type faultKind int

const (
	pass        faultKind = iota
	throttle              // 429 with Retry-After: 1, not forwarded
	unavailable           // 503, not forwarded
	drop                  // forwarded, then the connection is closed unanswered
)

// faultProxy is a reverse proxy in front of the SCIM server that injects
// faults (the approach of connector/scim's fault tests).
type faultProxy struct {
	srv    *httptest.Server
	decide func(n int, r *http.Request) faultKind

	mu    sync.Mutex
	n     int
	stats map[faultKind]int
	posts int // POSTs that reached the server
}

func newFaultProxy(t *testing.T, backend *peers.SCIMServer, decide func(n int, r *http.Request) faultKind) *faultProxy {
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &faultProxy{decide: decide, stats: map[faultKind]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.n++
		f := p.decide(p.n, r)
		p.stats[f]++
		if r.Method == http.MethodPost && (f == pass || f == drop) {
			p.posts++
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
			rp.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) count(f faultKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats[f]
}

// TestProvisionFaults runs a cycle of 50 users and their group through a
// proxy that throttles every 7th request (429, Retry-After: 1), answers
// 503 in bursts and drops the connection after the server handled every
// third POST: the application converges (over two cycles at most) with
// exactly the 50 accounts, none duplicated, and the errors that were final
// are in the activity report.
func TestProvisionFaults(t *testing.T) {
	backend := peers.SCIM(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	var posts int
	proxy := newFaultProxy(t, backend, func(n int, r *http.Request) faultKind {
		if r.Method == http.MethodPost {
			if posts++; posts%3 == 1 {
				return drop
			}
		}
		switch {
		case n%7 == 0:
			return throttle
		case n%50 >= 30 && n%50 < 34:
			return unavailable // a burst
		}
		return pass
	})
	a := parseApp(t, proxy.srv.URL+"/scim/v2", backend.Token, "", nil)
	cfg := a.SCIMConfig()
	retries := 4
	cfg.MaxRetries = &retries
	cfg.RetryBase = scim.Duration{Duration: 20 * time.Millisecond}
	// The cap lets Retry-After: 1 be honoured.
	cfg.RetryCap = scim.Duration{Duration: 2 * time.Second}
	cfg.Concurrency = 8

	old := time.Now().Add(-time.Hour)
	var sales []string
	var objs []*store.MVObject
	for i := range 50 {
		p := person(i, old)
		objs = append(objs, p)
		sales = append(sales, p.ID)
	}
	putMV(t, st, append(objs, group("mv-g-sales", "Sales", sales...))...)

	start := time.Now()
	errs := 0
	var cycles []*Result
	for cycle := 1; cycle <= 2; cycle++ {
		// A new connector per cycle, as in production.
		conn := newConnector(t, cfg)
		r, err := runCycle(t, a, st, Options{DataDir: dataDir, Force: true}, conn)
		if err != nil && !errors.Is(err, ErrCycleFailed) {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		cycles = append(cycles, r)
		errs += r.Errors
		t.Logf("cycle %d: %s, created %d, updated %d, errors %d %v", cycle, r.Status, r.Created, r.Updated, r.Errors, r.ErrorList)
		if r.Errors == 0 && r.Status == StatusSuccess {
			break
		}
	}
	t.Logf("faults: %d throttled, %d unavailable, %d dropped; %d requests, %d POSTs reached the server",
		proxy.count(throttle), proxy.count(unavailable), proxy.count(drop), proxy.n, proxy.posts)
	if d := time.Since(start); d < time.Second {
		t.Errorf("the cycles took %s: Retry-After: 1 was not honoured", d)
	}
	for _, f := range []faultKind{throttle, unavailable, drop} {
		if proxy.count(f) == 0 {
			t.Errorf("fault %d never injected", f)
		}
	}
	if last := cycles[len(cycles)-1]; last.Errors != 0 || last.Status != StatusSuccess {
		t.Fatalf("the application did not converge: %+v", last)
	}

	// The server, read directly: 50 users, none duplicated, all in Sales.
	direct := newConnector(t, parseApp(t, backend.URL, backend.Token, "", nil).SCIMConfig())
	users := serverUsers(t, direct)
	if len(users) != 50 {
		t.Errorf("server has %d users, want 50", len(users))
	}
	var ids []string
	for i := range 50 {
		u := users[fmt.Sprintf("u%03d@example.test", i)]
		if u == nil {
			t.Errorf("u%03d missing", i)
			continue
		}
		ids = append(ids, u.Anchor)
	}
	if n := serverGroups(t, direct); len(n) != 1 || n["Sales"] != 1 {
		t.Errorf("server groups: %v, want Sales once", n)
	}
	if got := sortedValues(scimGroup(t, direct, "Sales").Attrs["members"]); !slices.Equal(got, sortedStrings(ids)) {
		t.Errorf("Sales has %d members, want the 50 users", len(got))
	}
	for i, id := range sales {
		links, err := st.CSForMV(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0].Connector != "crm" || links[0].Object.Anchor != users[fmt.Sprintf("u%03d@example.test", i)].Anchor {
			t.Errorf("links of %s: %+v, want its account", id, links)
		}
	}

	// Every final error is in the activity report, with its message.
	var logged []string
	for _, act := range activities(t, dataDir) {
		if act.Action == ActError {
			logged = append(logged, act.Error)
		}
	}
	if len(logged) != errs {
		t.Errorf("%d errors in the activity report, %d in the results", len(logged), errs)
	}
	for _, r := range cycles {
		for _, e := range r.ErrorList {
			if !slices.Contains(logged, e.Message) {
				t.Errorf("error %q is not in the activity report", e.Message)
			}
		}
	}
}
