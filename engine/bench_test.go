package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sqlite"
)

const benchRules = `
rules:
  - name: in-ad-user
    connector: ad
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    join: [{conditions: [{source: employeeID, target: employeeID}]}]
    flows:
      - {type: Direct, source: employeeID, target: employeeID}
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: givenName, target: givenName}
      - {type: Direct, source: sn, target: sn}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: title, target: title}
      - {type: Direct, source: userPrincipalName, target: userPrincipalName}
      - {type: Constant, value: User, target: sourceObjectType}
  - name: in-ad-group
    connector: ad
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: member, target: member}
  - name: in-b-contact
    connector: b
    direction: inbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 50
    join: [{conditions: [{source: mail, target: mail}]}]
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Constant, value: Contact, target: sourceObjectType}
  - name: out-user
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 60
    dn: "CN={cn},OU=Users,DC=cloud"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: User}]}]
    flows:
      - {type: Direct, source: userPrincipalName, target: userPrincipalName}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: givenName, target: givenName}
      - {type: Direct, source: sn, target: sn}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: title, target: jobTitle}
      - {type: Constant, value: "true", targetType: boolean, target: accountEnabled}
  - name: out-contact
    connector: cloud
    direction: outbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 61
    dn: "CN={cn},OU=Contacts,DC=cloud"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: Contact}]}]
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
  - name: out-group
    connector: cloud
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 62
    dn: "CN={cn},OU=Groups,DC=cloud"
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: member, target: member}
`

var depts = []string{"Sales", "IT", "Finance", "HR", "Engineering", "Legal", "Marketing", "Support"}

// benchRuleSet returns benchRules, parsed and checked.
func benchRuleSet(b testing.TB) *rules.RuleSet {
	f, err := rules.Parse("bench.yaml", []byte(benchRules))
	if err != nil {
		b.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		b.Fatal(err)
	}
	if errs := rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"ad": nil, "b": nil, "cloud": nil}}); len(errs) > 0 {
		b.Fatal(errs)
	}
	return rs
}

// benchStore writes the connector spaces of the benchmark (as a full import
// would leave them) into a new SQLite database and returns its path.
func benchStore(b *testing.B, users, groups, members, contacts int) string {
	return benchStoreT(b, users, groups, members, contacts)
}

func benchStoreT(b testing.TB, users, groups, members, contacts int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "seed.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fillBenchStore(b, st, users, groups, members, contacts)
	return path
}

// fillBenchStore writes the connector spaces of the benchmark into st, an
// empty store of either backend.
func fillBenchStore(b testing.TB, st store.Store, users, groups, members, contacts int) {
	b.Helper()
	ctx := context.Background()
	// The keys the engine declares, as its imports do before writing.
	if err := (&Engine{Store: st, Rules: benchRuleSet(b)}).declareIndexes(ctx, newRuleView(benchRuleSet(b))); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	var batch store.Batch
	flush := func(force bool) {
		if len(batch.PutCS) >= 10000 || (force && len(batch.PutCS) > 0) {
			if err := st.Apply(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			batch = store.Batch{}
		}
	}
	userDN := func(i int) string {
		return fmt.Sprintf("CN=User %06d,OU=%s,DC=contoso,DC=test", i, depts[i%len(depts)])
	}
	for i := 0; i < users; i++ {
		guid := fmt.Sprintf("%016x", uint64(i)*2654435761)
		cn := fmt.Sprintf("User %06d", i)
		batch.PutCS = append(batch.PutCS, &store.CSObject{ID: fmt.Sprintf("ad-u%07d", i), Connector: "ad", SyncPending: true, Modified: now,
			Object: model.Object{Anchor: guid, DN: userDN(i), Type: "user", Attrs: model.Attrs{
				"cn": model.Str(cn), "givenName": model.Str("Given" + strconv.Itoa(i)), "sn": model.Str("Surname" + strconv.Itoa(i)),
				"displayName": model.Str("Given" + strconv.Itoa(i) + " Surname" + strconv.Itoa(i)),
				"mail":        model.Str(fmt.Sprintf("user%06d@contoso.test", i)), "department": model.Str(depts[i%len(depts)]),
				"title": model.Str("Engineer"), "userPrincipalName": model.Str(fmt.Sprintf("user%06d@contoso.test", i)),
				"sAMAccountName": model.Str(fmt.Sprintf("user%06d", i)), "employeeID": model.Str(strconv.Itoa(100000 + i)),
				"telephoneNumber": model.Str("+1 555 0100"), "l": model.Str("Seattle"),
				"objectGUID":         {Type: model.Binary, Values: []string{guid}},
				"userAccountControl": {Type: model.Integer, Values: []string{"512"}},
			}}})
		flush(false)
	}
	for g := 0; g < groups; g++ {
		m := make([]string, members)
		for j := range m {
			m[j] = userDN((g*7919 + j*104729) % users)
		}
		batch.PutCS = append(batch.PutCS, &store.CSObject{ID: fmt.Sprintf("ad-g%07d", g), Connector: "ad", SyncPending: true, Modified: now,
			Object: model.Object{Anchor: fmt.Sprintf("g-%08d", g), DN: fmt.Sprintf("CN=Group %05d,OU=Groups,DC=contoso,DC=test", g), Type: "group",
				Attrs: model.Attrs{"cn": model.Str(fmt.Sprintf("Group %05d", g)), "mail": model.Str(fmt.Sprintf("group%05d@contoso.test", g)), "member": model.Ref(m...)}}})
		flush(false)
	}
	for i := 0; i < contacts; i++ {
		batch.PutCS = append(batch.PutCS, &store.CSObject{ID: fmt.Sprintf("b-c%07d", i), Connector: "b", SyncPending: true, Modified: now,
			Object: model.Object{Anchor: fmt.Sprintf("c-%08d", i), DN: fmt.Sprintf("CN=Contact %05d,OU=Contacts,DC=fabrikam,DC=test", i), Type: "contact",
				Attrs: model.Attrs{"cn": model.Str(fmt.Sprintf("Contact %05d", i)), "mail": model.Str(fmt.Sprintf("contact%05d@fabrikam.test", i)),
					"displayName": model.Str(fmt.Sprintf("Contact %05d", i))}}})
		flush(false)
	}
	flush(true)
}

func copyFile(b testing.TB, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM).
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkFullSync measures a full synchronization (inbound and outbound,
// Direct and Constant flows, 2 source connectors, 1 target) of 100k users,
// 10k groups × 20 members and 5k contacts, loaded from the SQLite store and
// written back to it. Set IDSYNC_BENCH_USERS to scale it.
func BenchmarkFullSync(b *testing.B) {
	users := 100000
	if v, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	groups, contacts := users/10, users/20
	seed := benchStore(b, users, groups, 20, contacts)
	rs := benchRuleSet(b)
	ctx := context.Background()
	objects := float64(users + groups + contacts)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "run.db")
		copyFile(b, seed, path)
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		e := &Engine{Store: st, Rules: rs, Connectors: map[string]*Connector{
			"ad": {Name: "ad", Conn: memory.New("ad")}, "b": {Name: "b", Conn: memory.New("b")}, "cloud": {Name: "cloud", Conn: memory.New("cloud")},
		}}
		if os.Getenv("IDSYNC_BENCH_PHASES") != "" {
			// The time of each phase of each synchronization (load,
			// compute, write) at debug level.
			e.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		runtime.GC()
		resetPeakRSS()
		b.StartTimer()
		start := time.Now()
		for _, c := range []string{"ad", "b"} {
			if _, err := e.Run(ctx, c, FullSync, RunOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(objects/el.Seconds(), "objects/s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peakRSS-MiB")
		n, _ := PendingCounts(ctx, st, "cloud")
		if n["add"] != users+groups+contacts {
			b.Fatalf("pending adds = %d, want %d", n["add"], users+groups+contacts)
		}
		_ = st.Close()
		b.StartTimer()
	}
}

// nullTarget accepts every export (a target whose own cost is left out of
// the engine's figures): an add gets its proposed anchor or a new one.
type nullTarget struct{}

func (nullTarget) Close() error { return nil }

func (nullTarget) Export(_ context.Context, ops []connector.ExportOp) []connector.ExportResult {
	out := make([]connector.ExportResult, len(ops))
	for i, op := range ops {
		out[i] = connector.ExportResult{ID: op.ID, Anchor: op.Anchor}
		if out[i].Anchor == "" {
			out[i].Anchor = newID()
		}
	}
	return out
}

// BenchmarkDeltaCycle measures what the engine spends on a few changes in
// a big store: after a full synchronization and export of the
// BenchmarkFullSync directory (IDSYNC_BENCH_USERS users, default 100,000,
// a tenth as many groups × 20, a twentieth as many contacts), each
// iteration changes IDSYNC_BENCH_DELTA users (default 100) in the source
// (a memory connector with a change log) and times the delta import, the
// delta synchronization and the export of them to a target that accepts
// everything at once (nullTarget: the target's own time is not the
// engine's), then a delta synchronization with nothing pending. With
// IDSYNC_ENGINE_STORE=postgres the store is a new database of the
// machine's PostgreSQL instead of SQLite.
func BenchmarkDeltaCycle(b *testing.B) {
	users, delta := 100000, 100
	if v, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	if v, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_DELTA")); err == nil && v > 0 {
		delta = v
	}
	ctx := context.Background()
	var st store.Store
	if os.Getenv("IDSYNC_ENGINE_STORE") == "postgres" {
		// A new database of the machine's PostgreSQL (openTestStore's),
		// with the server's own durability: unlike the tests, commits
		// wait for the WAL to reach the disk, as in production.
		var err error
		if st, err = postgres.Open(ctx, pgDatabases.get(b)); err != nil {
			b.Fatal(err)
		}
		fillBenchStore(b, st, users, users/10, 20, users/20)
	} else {
		var err error
		if st, err = sqlite.Open(ctx, benchStore(b, users, users/10, 20, users/20)); err != nil {
			b.Fatal(err)
		}
	}
	defer st.Close()
	src := memory.New("ad")
	e := &Engine{Store: st, Rules: benchRuleSet(b), Log: slog.New(slog.DiscardHandler), Connectors: map[string]*Connector{
		"ad": {Name: "ad", Conn: src}, "b": {Name: "b", Conn: memory.New("b")}, "cloud": {Name: "cloud", Conn: nullTarget{}},
	}}
	t0 := time.Now()
	if chunk, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_CHUNK")); err == nil && chunk > 0 {
		// The initial synchronization in chunks of delta synchronizations
		// (each reads what it touches), so that a store too big to be
		// loaded whole can be built.
		syncInChunks(b, e, chunk)
	} else {
		for _, c := range []string{"ad", "b"} {
			if _, err := e.Run(ctx, c, FullSync, RunOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := e.Run(ctx, "cloud", Export, RunOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("initial synchronization and export of %d users: %s, peak RSS %d MiB", users, time.Since(t0).Round(time.Second), peakRSS()>>20)
	if users <= 20000 {
		// The state the initial synchronization left is what full
		// synchronizations make of it: they find nothing to export.
		for _, c := range []string{"ad", "b"} {
			if _, err := e.Run(ctx, c, FullSync, RunOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if n, err := PendingCounts(ctx, st, "cloud"); err != nil || len(n) > 0 {
			b.Fatalf("full synchronizations after the initial one staged %v (%v)", n, err)
		}
	}
	// The source's change log starts here (the memory connector holds only
	// what changes; the store says the last import saw everything before).
	if err := st.Apply(ctx, &store.Batch{Watermarks: []store.Watermark{{Connector: "ad", Value: "0"}}}); err != nil {
		b.Fatal(err)
	}
	if os.Getenv("IDSYNC_BENCH_PHASES") != "" {
		e.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	runtime.GC()
	var tImport, tSync, tExport, tIdle time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		for j := 0; j < delta; j++ {
			i := (it*delta + j) * 7919 % users
			c, err := st.GetCS(ctx, fmt.Sprintf("ad-u%07d", i))
			if err != nil {
				b.Fatal(err)
			}
			o := c.Object.Clone()
			o.Attrs["title"] = model.Str(fmt.Sprintf("Title %d-%d", it, j))
			src.Put(o)
		}
		b.StartTimer()
		t0 := time.Now()
		runs, err := e.Run(ctx, "ad", DeltaImport, RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if r := runs[len(runs)-1]; r.Counts.Updates != int64(delta) {
			b.Fatalf("delta import: %+v, want %d updates", r.Counts, delta)
		}
		if _, err := e.Run(ctx, "ad", DeltaSync, RunOptions{}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		runs, err = e.Run(ctx, "cloud", Export, RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if r := runs[len(runs)-1]; r.Counts.Updates != int64(delta) {
			b.Fatalf("export: %+v, want %d updates", r.Counts, delta)
		}
		if _, err := e.Run(ctx, "ad", DeltaSync, RunOptions{}); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		tImport += t1.Sub(t0)
		tSync += t2.Sub(t1)
		tExport += t3.Sub(t2)
		tIdle += t4.Sub(t3)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tImport.Milliseconds())/n, "import-ms")
	b.ReportMetric(float64(tSync.Milliseconds())/n, "sync-ms")
	b.ReportMetric(float64(tExport.Milliseconds())/n, "export-ms")
	b.ReportMetric(float64((tImport+tSync+tExport).Milliseconds())/n, "cycle-ms")
	b.ReportMetric(float64(tIdle.Microseconds())/n/1000, "idle-sync-ms")
}

// syncInChunks synchronizes the sync-pending objects of ad and b chunk
// objects at a time: it leaves the flag on the first chunk only, runs a
// delta synchronization, and goes on with the next.
func syncInChunks(b *testing.B, e *Engine, chunk int) {
	ctx := context.Background()
	for _, c := range []string{"ad", "b"} {
		var ids []string
		if err := e.Store.ScanCSSyncPending(ctx, c, func(o *store.CSObject) error {
			ids = append(ids, o.ID)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		// Users before groups, so that groups find their members (the
		// engine recomputes a group when a member appears later, at a
		// cost).
		slices.SortStableFunc(ids, func(x, y string) int {
			return cmpBool(strings.HasPrefix(x, "ad-g"), strings.HasPrefix(y, "ad-g"))
		})
		setPending := func(ids []string, on bool) {
			for start := 0; start < len(ids); start += 10000 {
				var batch store.Batch
				for _, id := range ids[start:min(start+10000, len(ids))] {
					o, err := e.Store.GetCS(ctx, id)
					if err != nil {
						b.Fatal(err)
					}
					o.SyncPending = on
					batch.PutCSState = append(batch.PutCSState, o)
				}
				if err := e.Store.Apply(ctx, &batch); err != nil {
					b.Fatal(err)
				}
			}
		}
		setPending(ids[min(chunk, len(ids)):], false)
		for start := 0; start < len(ids); start += chunk {
			if start > 0 {
				setPending(ids[start:min(start+chunk, len(ids))], true)
			}
			t0 := time.Now()
			if _, err := e.Run(ctx, c, DeltaSync, RunOptions{}); err != nil {
				b.Fatal(err)
			}
			if os.Getenv("IDSYNC_BENCH_PHASES") != "" {
				b.Logf("%s: objects %d-%d synchronized in %s", c, start, min(start+chunk, len(ids)), time.Since(t0).Round(time.Millisecond))
			}
		}
	}
}
