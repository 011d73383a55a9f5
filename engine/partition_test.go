package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// partitioned wraps the memory connector as a two-domain forest: objects
// belong to the partition their DN ends with.
type partitioned struct {
	connector.Connector
	inner interface {
		FullImport(context.Context, connector.ImportRequest, func(*model.Object) error) (string, error)
	}
}

func (p partitioned) Partitions(context.Context) ([]connector.Partition, error) {
	return []connector.Partition{{Name: "dc=a"}, {Name: "dc=b"}}, nil
}

func (p partitioned) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	part := req.Partition
	req.Partition = ""
	return p.inner.FullImport(ctx, req, func(o *model.Object) error {
		if strings.HasSuffix(o.DN, ","+part) {
			return emit(o)
		}
		return nil
	})
}

func TestImportStepPerPartition(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	mem := h.conns["ad"]
	h.e.Connectors["ad"].Conn = partitioned{Connector: mem, inner: mem}
	a1 := user("a1", "alice", "", "", "employeeID", "1")
	a1.DN = "cn=alice,dc=a"
	b1 := user("b1", "bob", "", "", "employeeID", "2")
	b1.DN = "cn=bob,dc=b"
	mem.Put(a1, b1)
	runs, err := h.e.Run(h.ctx, "ad", FullImport, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Partition != "dc=a" || runs[1].Partition != "dc=b" || runs[0].Counts.Adds != 1 || runs[1].Counts.Adds != 1 {
		t.Fatalf("runs = %+v %+v", runs[0], runs[1])
	}
	// Importing only dc=b after bob left must not touch dc=a's objects.
	mem.Remove("b1")
	runs, err = h.e.Run(h.ctx, "ad", FullImport, RunOptions{Partition: "dc=b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Counts.Deletes != 1 {
		t.Fatalf("dc=b import = %+v", runs[0].Counts)
	}
	// With a partition selection (domain-based filtering), only it is imported.
	h.e.Connectors["ad"].Partitions = []string{"dc=a"}
	runs, err = h.e.Run(h.ctx, "ad", FullImport, RunOptions{})
	if err != nil || len(runs) != 1 || runs[0].Partition != "dc=a" || runs[0].Counts.NoChange != 1 {
		t.Fatalf("selected partition import: %v %+v", err, runs)
	}
}
