package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sqlite"
)

// openTestStore opens a fresh, empty store for one test, closed in
// t.Cleanup: SQLite in the test's temporary directory, or with
// IDSYNC_ENGINE_STORE=postgres an empty database of the machine's
// PostgreSQL cluster (pgDatabases, peers.PostgresDB: skipped when
// PostgreSQL is missing, failed under IDSYNC_PEERS=require). The engine's
// suite runs on both stores: the same results from either.
func openTestStore(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	var (
		st  store.Store
		err error
	)
	switch kind := os.Getenv("IDSYNC_ENGINE_STORE"); kind {
	case "", "sqlite":
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
	case "postgres":
		// synchronous_commit=off (this session's commits do not wait for
		// the WAL to reach the disk) changes no visibility or isolation,
		// only durability across a crash of the server, which a test's
		// database does not need. Each run commits many transactions;
		// TestImportOrderIndependence took 38 s instead of 56 on the
		// shared two-core machine.
		st, err = postgres.Open(ctx, pgDatabases.get(t)+"&synchronous_commit=off")
	default:
		t.Fatalf("IDSYNC_ENGINE_STORE=%q: want sqlite (the default) or postgres", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// harness is an engine over a fresh store (openTestStore) and in-memory
// connectors.
type harness struct {
	t     *testing.T
	ctx   context.Context
	e     *Engine
	st    store.Store
	conns map[string]*memory.Connector
}

func newHarness(t *testing.T, rulesYAML string, names ...string) *harness {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	f, err := rules.Parse("rules.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, st: st, conns: map[string]*memory.Connector{}}
	env := rules.ValidateEnv{Connectors: map[string]*model.Schema{}}
	ec := map[string]*Connector{}
	for _, n := range names {
		c := memory.New(n)
		h.conns[n] = c
		ec[n] = &Connector{Name: n, Conn: c, DeleteThreshold: 500}
		env.Connectors[n] = nil
	}
	if errs := rs.Validate(env); len(errs) > 0 {
		t.Fatalf("rules: %v", errs)
	}
	h.e = &Engine{Store: st, Rules: rs, Connectors: ec, BatchSize: 97}
	return h
}

// run runs a profile and fails the test on a run error.
func (h *harness) run(conn string, p Profile) *store.Run {
	h.t.Helper()
	runs, err := h.e.Run(h.ctx, conn, p, RunOptions{})
	if err != nil {
		h.t.Fatalf("%s %s: %v", conn, p, err)
	}
	return runs[len(runs)-1]
}

func (h *harness) canonical() string {
	h.t.Helper()
	s, err := Canonical(h.ctx, h.st)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) pending(conn string) map[string]int {
	h.t.Helper()
	n, err := PendingCounts(h.ctx, h.st, conn)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int{}
	for k, v := range n {
		out[string(k)] = v
	}
	return out
}

func (h *harness) mvCount() int64 {
	h.t.Helper()
	n, err := h.st.CountMV(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) runErrors(r *store.Run) []store.RunError {
	h.t.Helper()
	errs, err := h.st.RunErrors(h.ctx, r.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return errs
}

func user(anchor, cn, mail, dept string, extra ...string) *model.Object {
	o := &model.Object{Anchor: anchor, DN: fmt.Sprintf("cn=%s,ou=people,dc=example", cn), Type: "user",
		Attrs: model.Attrs{"cn": model.Str(cn), "mail": model.Str(mail), "department": model.Str(dept)}}
	for i := 0; i+1 < len(extra); i += 2 {
		o.Attrs[extra[i]] = model.Str(extra[i+1])
	}
	return o
}

func group(anchor, cn string, members ...string) *model.Object {
	return &model.Object{Anchor: anchor, DN: fmt.Sprintf("cn=%s,ou=groups,dc=example", cn), Type: "group",
		Attrs: model.Attrs{"cn": model.Str(cn), "member": model.Ref(members...)}}
}

// twoSourcesRules: hr and ad both provision/join persons on employeeID; ad
// wins displayName (lower precedence number); groups from ad; one target.
const twoSourcesRules = `
rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: mail, target: mail}
  - name: in-ad
    connector: ad
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: cn, target: accountName}
  - name: in-ad-group
    connector: ad
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: member, target: member}
  - name: out-person
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 30
    dn: "cn={employeeID},ou=users,dc=cloud"
    scope: [{clauses: [{attribute: department, operator: NOTEQUAL, value: Excluded}]}]
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
      - {type: Constant, value: "true", targetType: boolean, target: accountEnabled}
  - name: out-group
    connector: cloud
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 31
    dn: "cn={cn},ou=groups,dc=cloud"
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: member, target: member}
`
