package engine

import (
	"context"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// presenceConn is a source whose change feed cannot show deletions: its
// delta import emits the changed objects and Present for the others.
type presenceConn struct {
	objs    map[string]*model.Object
	changed map[string]bool
}

func (p *presenceConn) Close() error { return nil }

func (p *presenceConn) FullImport(_ context.Context, _ connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	for _, o := range p.objs {
		if err := emit(o.Clone()); err != nil {
			return "", err
		}
	}
	return "wm", nil
}

func (p *presenceConn) DeltaImport(_ context.Context, _ connector.ImportRequest, _ string, emit func(connector.Change) error) (string, error) {
	for a, o := range p.objs {
		ch := connector.Change{Kind: connector.Present, Object: &model.Object{Anchor: a}}
		if p.changed[a] {
			ch = connector.Change{Kind: connector.Upsert, Object: o.Clone()}
		}
		if err := emit(ch); err != nil {
			return "", err
		}
	}
	return "wm2", nil
}

// TestDeltaPresence: after a delta import that lists what is present, an
// object neither changed nor present is deleted; the others stay.
func TestDeltaPresence(t *testing.T) {
	h := newHarness(t, uniqueRules, "a", "b", "cloud")
	pc := &presenceConn{objs: map[string]*model.Object{
		"1": user("1", "ann", "ann@x", ""), "2": user("2", "bob", "bob@x", ""), "3": user("3", "cy", "cy@x", ""),
	}, changed: map[string]bool{}}
	h.e.Connectors["a"].Conn = pc
	h.run("a", FullImport)
	h.run("a", FullSync)
	if n := h.mvCount(); n != 3 {
		t.Fatalf("%d MV objects, want 3", n)
	}
	delete(pc.objs, "3")
	pc.objs["2"].Attrs["mail"] = model.Str("bob2@x")
	pc.changed["2"] = true
	r := h.run("a", DeltaImport)
	if r.Counts.Deletes != 1 || r.Counts.Updates != 1 {
		t.Fatalf("delta import counts %+v, want 1 delete (cy, not present) and 1 update (bob)", r.Counts)
	}
	h.run("a", DeltaSync)
	if n := h.mvCount(); n != 2 {
		t.Fatalf("%d MV objects after the delta, want 2", n)
	}
}
