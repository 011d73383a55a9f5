package file

import (
	"bytes"
	"context"
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
