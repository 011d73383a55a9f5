// The benchmarks of store/sqlite's bench_test.go, on PostgreSQL (the
// machine's cluster, a new database each: internal/peers.Postgres).

package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// idKinds are the CS object ID generators benchmarked: random UUIDs (the
// worst case for B-tree inserts) and time-ordered ones.
var idKinds = []struct {
	name string
	new  func() string
}{
	{"uuidv4", uuid.NewString},
	{"uuidv7", func() string { return uuid.Must(uuid.NewV7()).String() }},
}

// benchUser is a realistic AD user: 12 string attributes, a 16-byte binary
// objectGUID (also the anchor) and an integer.
func benchUser(i int, newID func() string) *store.CSObject {
	name := fmt.Sprintf("user%06d", i)
	guid := uuid.New()
	return &store.CSObject{
		ID:          newID(),
		Connector:   "ad",
		SyncPending: true,
		Object: model.Object{
			Anchor: string(guid[:]),
			DN:     "CN=" + name + ",OU=Users,OU=Corp,DC=contoso,DC=test",
			Type:   "user",
			Attrs: model.Attrs{
				"cn":                 model.Str(name),
				"mail":               model.Str(name + "@contoso.test"),
				"givenName":          model.Str("Given" + name),
				"sn":                 model.Str("Surname" + name),
				"displayName":        model.Str("Given Surname " + name),
				"department":         model.Str("Research and Development"),
				"title":              model.Str("Senior Software Engineer"),
				"userPrincipalName":  model.Str(name + "@contoso.test"),
				"sAMAccountName":     model.Str(name),
				"employeeID":         model.Str(fmt.Sprint(100000 + i)),
				"telephoneNumber":    model.Str("+41 44 555 12 34"),
				"l":                  model.Str("Zürich"),
				"objectGUID":         {Type: model.Binary, Values: []string{string(guid[:])}},
				"userAccountControl": {Type: model.Integer, Values: []string{"512"}},
			},
		},
		Modified: time.Now(),
	}
}

func benchUsers(n int, newID func() string) []*store.CSObject {
	objs := make([]*store.CSObject, n)
	for i := range objs {
		objs[i] = benchUser(i, newID)
	}
	return objs
}

// applyAll writes objs in batches of 10,000.
func applyAll(b *testing.B, s *Store, objs []*store.CSObject) {
	const batch = 10_000
	for i := 0; i < len(objs); i += batch {
		if err := s.Apply(b.Context(), &store.Batch{PutCS: objs[i:min(i+batch, len(objs))]}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyCS inserts 100,000 users into a new store in batches of
// 10,000.
func BenchmarkApplyCS(b *testing.B) {
	const n = 100_000
	for _, k := range idKinds {
		b.Run(k.name, func(b *testing.B) {
			objs := benchUsers(n, k.new)
			var m meter
			for range b.N {
				s := openTest(b, peers.Postgres(b))
				m.start()
				applyAll(b, s, objs)
				m.stop()
			}
			m.report(b, n*b.N)
		})
	}
}

// BenchmarkScanCS scans a store of 300,000 users.
func BenchmarkScanCS(b *testing.B) {
	const n = 300_000
	for _, k := range idKinds {
		b.Run(k.name, func(b *testing.B) {
			s := openTest(b, peers.Postgres(b))
			applyAll(b, s, benchUsers(n, k.new))
			var m meter
			m.start()
			for range b.N {
				seen := 0
				if err := s.ScanCS(b.Context(), "", func(o *store.CSObject) error {
					seen++
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if seen != n {
					b.Fatalf("scanned %d objects, want %d", seen, n)
				}
			}
			m.stop()
			m.report(b, n*b.N)
		})
	}
}

// BenchmarkApplyOne updates one object per Apply in a store of 20,000: the
// fixed cost of a transaction.
func BenchmarkApplyOne(b *testing.B) {
	s := openTest(b, peers.Postgres(b))
	objs := benchUsers(20_000, uuid.NewString)
	applyAll(b, s, objs)
	var m meter
	m.start()
	for i := range b.N {
		o := objs[(i*7919)%len(objs)]
		o.SyncPending = !o.SyncPending
		if err := s.Apply(b.Context(), &store.Batch{PutCS: []*store.CSObject{o}}); err != nil {
			b.Fatal(err)
		}
	}
	m.stop()
	m.report(b, b.N)
}

// meter measures wall time and the CPU time of this process. The
// PostgreSQL server's CPU time is not counted: objects/cpu-s is idsync's
// side only, and wall time (objects/s) is the figure to compare with SQLite.
type meter struct {
	wall, cpu time.Duration
	wallStart time.Time
	cpu0      time.Duration
}

func (m *meter) start() { m.wallStart, m.cpu0 = time.Now(), cpuTime() }

func (m *meter) stop() {
	m.wall += time.Since(m.wallStart)
	m.cpu += cpuTime() - m.cpu0
}

func (m *meter) report(b *testing.B, objects int) {
	b.ReportMetric(0, "ns/op") // per-op time says little here; see objects/s
	b.ReportMetric(float64(objects)/m.wall.Seconds(), "objects/s")
	if m.cpu > 0 {
		b.ReportMetric(float64(objects)/m.cpu.Seconds(), "objects/cpu-s")
	}
}

// BenchmarkApplyCSUpdate rewrites 100,000 existing users in batches of
// 10,000, as a synchronization does when it links objects to the metaverse.
func BenchmarkApplyCSUpdate(b *testing.B) {
	const n = 100_000
	for _, k := range idKinds {
		b.Run(k.name, func(b *testing.B) {
			objs := benchUsers(n, k.new)
			var m meter
			for range b.N {
				s := openTest(b, peers.Postgres(b))
				applyAll(b, s, objs)
				for _, o := range objs {
					o.MVID = "mv-" + o.ID
					o.SyncPending = false
				}
				m.start()
				applyAll(b, s, objs)
				m.stop()
			}
			m.report(b, n*b.N)
		})
	}
}
