package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/sample"
)

// BenchmarkFileFullImport imports a generated directory of 10,000 users (and
// 200 groups, 500 contacts) from an LDIF file.
func BenchmarkFileFullImport(b *testing.B) {
	var buf bytes.Buffer
	if err := sample.Generate(&buf, sample.GenOptions{Seed: 1, Users: 10000, Groups: 200, MembersPerGroup: 50, Contacts: 500}); err != nil {
		b.Fatal(err)
	}
	c, _ := newFileConn(b, "bench.ldif", buf.Bytes(), Config{Anchor: "objectGUID"})
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = 0
		if _, err := c.FullImport(context.Background(), connector.ImportRequest{}, func(*model.Object) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	if n != 10700 {
		b.Fatalf("imported %d objects", n)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// benchAdds returns n adds of users with a dozen attributes each, about
// what idsync bench exports.
func benchAdds(n int) []connector.ExportOp { return benchAddsFrom(0, n) }

// benchAddsFrom returns the n adds of benchAdds that start at the user
// numbered first.
func benchAddsFrom(first, n int) []connector.ExportOp {
	ops := make([]connector.ExportOp, n)
	for i := range ops {
		id := fmt.Sprintf("%08d", first+i)
		ops[i] = connector.ExportOp{ID: id, Op: connector.OpAdd, Anchor: "anchor-" + id,
			DN: "CN=User " + id + ",OU=Users,DC=bench,DC=test", ObjectType: "user", Changes: []connector.AttrChange{
				replace("objectClass", "user"), replace("cn", "User "+id), replace("displayName", "User "+id+" (Sales)"),
				replace("mail", "user"+id+"@bench.test"), replace("department", "Sales"), replace("employeeID", id),
				replace("sAMAccountName", "u"+id), replace("title", "Account Manager"), replace("telephoneNumber", "+1 555 "+id),
				replace("userPrincipalName", "u"+id+"@bench.test"), replace("givenName", "User"), replace("sn", id),
			}}
	}
	return ops
}

// BenchmarkFileExportAdds exports 50,000 adds (IDSYNC_BENCH_ADDS) to an
// empty LDIF target in batches of 1,000, as the engine does: one export run
// (BeginExport, the batches, EndExport). Each batch's ops are made just
// before it is exported (outside the timer), as the engine makes them, so
// that the process's peak memory is the connector's, not a million ops'.
func BenchmarkFileExportAdds(b *testing.B) {
	n, batch := 50000, 1000
	if v, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_ADDS")); err == nil && v > 0 {
		n = (v + batch - 1) / batch * batch
	}
	ctx := context.Background()
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	var held int64 // the heap the run's image holds before the rewrite
	for b.Loop() {
		b.StopTimer()
		c, path := newFileConn(b, "out.ldif", nil, Config{Target: true, Anchor: "cloudAnchor"})
		before := heap()
		b.StartTimer()
		if err := c.BeginExport(ctx); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += batch {
			b.StopTimer()
			ops := benchAddsFrom(i, batch)
			b.StartTimer()
			for _, r := range c.Export(ctx, ops) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.StopTimer()
		held = heap() - before
		b.StartTimer()
		if err := c.EndExport(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if fi, err := os.Stat(path); err != nil || fi.Size() < 1<<20 {
			b.Fatalf("target: %v %v", fi, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(held)/float64(n), "image-B/object")
}
