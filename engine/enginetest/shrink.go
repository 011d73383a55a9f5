// Package enginetest holds scenarios that run the sync engine over a real
// connector, for the connectors' own tests: each connector package proves
// against its real server (or documented fake) that the engine's guards
// hold for it.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

// ShrinkSource describes the connected system an import-shrink scenario
// reads from.
type ShrinkSource struct {
	// Conn is the connector under test, reading the system.
	Conn connector.Connector
	// ObjectType is the CS object type of the objects Populate creates,
	// Name an attribute unique among them (it names them in the target).
	ObjectType, Name string
	// Populate creates n objects in the system; Empty deletes them all
	// (or makes the system answer an empty list).
	Populate func(t *testing.T, n int)
	Empty    func(t *testing.T)
}

const shrinkRules = `rules:
  - name: in
    connector: src
    direction: inbound
    csObjectType: %[1]s
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: %[2]s, target: name}
  - name: out
    connector: dst
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={name},dc=target"
    flows:
      - {type: Direct, source: name, target: cn}
`

// ImportShrink synchronizes n objects of src into an in-memory target,
// empties the source, and checks that the full import (and the delta
// import, when the connector has one) is stopped by the import-shrink
// guard with nothing deleted in the connector space or the target; that
// the refusal holds at the next try; and that --allow-shrink then applies
// the deletions, which reach the target.
func ImportShrink(t *testing.T, src ShrinkSource, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := rules.Parse("rules.yaml", fmt.Appendf(nil, shrinkRules, src.ObjectType, src.Name))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	if errs := rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"src": nil, "dst": nil}}); len(errs) > 0 {
		t.Fatalf("rules: %v", errs)
	}
	dst := memory.New("dst")
	e := &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{
		"src": {Name: "src", Conn: src.Conn, DeleteThreshold: -1, Shrink: engine.ShrinkGuard{Percent: 50, Minimum: 10}},
		"dst": {Name: "dst", Conn: dst, DeleteThreshold: -1},
	}}
	run := func(conn string, p engine.Profile, o engine.RunOptions) ([]*store.Run, error) {
		t.Helper()
		return e.Run(ctx, conn, p, o)
	}
	must := func(conn string, p engine.Profile) {
		t.Helper()
		if _, err := run(conn, p, engine.RunOptions{}); err != nil {
			t.Fatalf("%s of %s: %v", p, conn, err)
		}
	}
	cycle := func() {
		t.Helper()
		must("src", engine.DeltaSync)
		must("dst", engine.Export)
	}
	src.Populate(t, n)
	must("src", engine.FullImport)
	cycle()
	if got := dst.Len(); got != n {
		t.Fatalf("the target holds %d objects after the first cycle, want %d", got, n)
	}
	_, delta := src.Conn.(connector.DeltaImporter)
	if delta {
		must("src", engine.DeltaImport) // a watermark after the first import
	}

	src.Empty(t)
	profiles := []engine.Profile{engine.FullImport}
	if delta {
		profiles = append(profiles, engine.DeltaImport)
	}
	for _, p := range profiles {
		for try := 1; try <= 2; try++ {
			runs, err := run("src", p, engine.RunOptions{})
			if !errors.Is(err, engine.ErrImportShrink) {
				t.Fatalf("%s of an emptied source (try %d): err = %v, want the import-shrink guard", p, try, err)
			}
			if r := runs[len(runs)-1]; r.Status != store.RunStoppedShrink || r.Counts.Deletes != 0 {
				t.Fatalf("%s run: %s, counts %+v; want %s and no deletes", p, r.Status, r.Counts, store.RunStoppedShrink)
			}
			cycle()
			if got := liveCS(t, st, "src"); got != n {
				t.Fatalf("after a stopped %s the connector space holds %d objects, want %d", p, got, n)
			}
			if got := dst.Len(); got != n {
				t.Fatalf("after a stopped %s the target holds %d objects, want %d", p, got, n)
			}
		}
	}
	if _, err := run("src", engine.FullImport, engine.RunOptions{AllowShrink: true}); err != nil {
		t.Fatalf("full import with AllowShrink: %v", err)
	}
	cycle()
	if got := dst.Len(); got != 0 {
		t.Fatalf("after the allowed shrink the target holds %d objects, want 0", got)
	}
}

func liveCS(t *testing.T, st store.Store, conn string) int {
	t.Helper()
	n := 0
	if err := st.ScanCS(context.Background(), conn, func(o *store.CSObject) error {
		if !o.Deleted && !o.Placeholder {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
