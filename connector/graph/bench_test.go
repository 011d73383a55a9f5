// Microsoft Graph is faked in this benchmark (internal/graphfake), because
// no Graph is runnable here: it measures the connector and the fake, not
// Graph's latency.
package graph

import (
	"context"
	"fmt"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/graphfake"
)

func BenchmarkExportUserAdds(b *testing.B) {
	srv := graphfake.New(b)
	c := newConn(b, srv, nil)
	n := 0
	for b.Loop() {
		ops := make([]connector.ExportOp, 100)
		for i := range ops {
			ops[i] = userAdd(fmt.Sprint(n), fmt.Sprintf("bench%d@contoso.com", n))
			n++
		}
		for _, r := range c.Export(context.Background(), ops) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "adds/s")
}
