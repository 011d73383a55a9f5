package ldap

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
)

// benchEntries is the directory size of the import benchmark:
// IDSYNC_BENCH_ENTRIES, 20,000 by default (docs/benchmarks.md uses 100,000).
func benchEntries() int {
	if n, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// fill adds n inetOrgPersons under base with `workers` connections.
func fill(b *testing.B, srv *peers.LDAPServer, base string, n, workers int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			conn, err := ldap.DialURL(srv.URL)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			if err := conn.Bind(srv.BindDN, srv.Password); err != nil {
				errs <- err
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				req := ldap.NewAddRequest(fmt.Sprintf("cn=u%06d,%s", i, base), nil)
				req.Attribute("objectClass", []string{"inetOrgPerson"})
				req.Attribute("cn", []string{fmt.Sprintf("u%06d", i)})
				req.Attribute("sn", []string{"Bench"})
				req.Attribute("mail", []string{fmt.Sprintf("u%06d@example.test", i)})
				req.Attribute("departmentNumber", []string{fmt.Sprint(i % 50)})
				req.Attribute("employeeNumber", []string{fmt.Sprint(100000 + i)})
				if err := conn.Add(req); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSlapdFullImport compares the connector's full import with a raw
// go-ldap paged search of the same entries and attributes on the same
// server (target: connector ≥ 0.8 × raw).
func BenchmarkSlapdFullImport(b *testing.B) {
	srv := peers.Slapd(b)
	n := benchEntries()
	fill(b, srv, "ou=people,"+srv.BaseDN, n, 4)
	attrs := []string{"cn", "mail", "departmentNumber", "employeeNumber"}
	b.Run("connector", func(b *testing.B) {
		for b.Loop() {
			c, err := New("bench", Config{URL: srv.URL, BindDN: srv.BindDN, Password: srv.Password, BaseDN: srv.BaseDN, DeltaMethod: DeltaNone})
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			if _, err := c.FullImport(context.Background(), connector.ImportRequest{Attributes: attrs}, func(*model.Object) error { got++; return nil }); err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
			if got != n {
				b.Fatalf("imported %d, want %d", got, n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			conn, err := ldap.DialURL(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			if err := conn.Bind(srv.BindDN, srv.Password); err != nil {
				b.Fatal(err)
			}
			res, err := conn.SearchWithPaging(ldap.NewSearchRequest(srv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=inetOrgPerson)", append([]string{"objectClass", "entryUUID"}, attrs...), nil), DefaultPageSize)
			if err != nil {
				b.Fatal(err)
			}
			_ = conn.Close()
			if len(res.Entries) != n {
				b.Fatalf("raw search returned %d, want %d", len(res.Entries), n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkSlapdExportAdds compares the connector's export of 10,000 adds
// with raw go-ldap Adds of the same entries at the same concurrency (4).
func BenchmarkSlapdExportAdds(b *testing.B) {
	srv := peers.Slapd(b)
	const n = 10000
	a, err := ldap.DialURL(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if err := a.Bind(srv.BindDN, srv.Password); err != nil {
		b.Fatal(err)
	}
	run := 0
	newOU := func() string {
		run++
		ou := fmt.Sprintf("ou=run%d,%s", run, srv.TargetBaseDN)
		req := ldap.NewAddRequest(ou, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		req.Attribute("ou", []string{fmt.Sprintf("run%d", run)})
		if err := a.Add(req); err != nil {
			b.Fatal(err)
		}
		return ou
	}
	b.Run("connector", func(b *testing.B) {
		c, err := New("bench", Config{URL: srv.URL, BindDN: srv.BindDN, Password: srv.Password, BaseDN: srv.TargetBaseDN, Connections: 4})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for b.Loop() {
			b.StopTimer()
			ou := newOU()
			ops := make([]connector.ExportOp, n)
			for i := range ops {
				cn := fmt.Sprintf("u%06d", i)
				ops[i] = connector.ExportOp{ID: cn, Op: connector.OpAdd, DN: "cn=" + cn + "," + ou, ObjectType: "user", Changes: []connector.AttrChange{
					{Name: "objectClass", Mode: connector.Replace, Values: []string{"inetOrgPerson"}},
					{Name: "cn", Mode: connector.Replace, Values: []string{cn}},
					{Name: "sn", Mode: connector.Replace, Values: []string{"Bench"}},
					{Name: "mail", Mode: connector.Replace, Values: []string{cn + "@target.test"}},
				}}
			}
			b.StartTimer()
			for start := 0; start < n; start += 500 { // the engine's default batch
				for _, r := range c.Export(context.Background(), ops[start:min(start+500, n)]) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "adds/s")
	})
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ou := newOU()
			b.StartTimer()
			fill(b, srv, ou, n, 4)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "adds/s")
	})
}
