package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
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

// benchStore writes the connector spaces of the benchmark (as a full import
// would leave them) into a new SQLite database and returns its path.
func benchStore(b *testing.B, users, groups, members, contacts int) string {
	return benchStoreT(b, users, groups, members, contacts)
}

func benchStoreT(b testing.TB, users, groups, members, contacts int) string {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "seed.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
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
	return path
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
