package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/model"
)

// TestAddNeverTakesOverForeignObject: an object something else created in
// the target, where idsync would add one, is left untouched — whether the
// export meets it or an import of the target sees it first; the add is an
// error on that object with what to do, the other adds go on, and once the
// object is gone the next export creates idsync's own (R2.2).
func TestAddNeverTakesOverForeignObject(t *testing.T) {
	for _, importFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("importFirst=%v", importFirst), func(t *testing.T) {
			h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
			seedTwoSources(h)
			fullCycle(h, "hr", "ad", "cloud")
			// Created by hand in the target after its last import.
			foreign := &model.Object{Anchor: "hand-made", DN: "cn=1,ou=users,dc=cloud", Type: "user",
				Attrs: model.Attrs{"cn": model.Str("1"), "description": model.Str("created by hand")}}
			h.conns["cloud"].Put(foreign)
			if importFirst {
				h.run("cloud", FullImport)
				h.run("cloud", FullSync)
				if got := h.pending("cloud"); got["add"] != 4 {
					t.Fatalf("pending after importing the foreign object = %v, want the 4 adds still pending", got)
				}
			}

			r := h.run("cloud", Export)
			if r.Counts.Adds != 3 || r.Counts.Errors != 1 {
				t.Fatalf("export counts = %+v, want 3 adds and 1 error", r.Counts)
			}
			errs := h.runErrors(r)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, "idsync did not create") || !strings.Contains(errs[0].Message, "hand-made") {
				t.Fatalf("run errors = %+v, want one naming the object idsync did not create", errs)
			}
			got := h.conns["cloud"].Get("hand-made")
			if got == nil || !got.Attrs.Equal(foreign.Attrs) || h.conns["cloud"].Len() != 4 {
				t.Fatalf("the foreign object was touched: %+v (objects: %d)", got, h.conns["cloud"].Len())
			}
			// The next cycle tries again and fails again, still without
			// touching it.
			h.run("cloud", FullImport)
			h.run("cloud", FullSync)
			if r := h.run("cloud", Export); r.Counts.Errors != 1 || !h.conns["cloud"].Get("hand-made").Attrs.Equal(foreign.Attrs) {
				t.Fatalf("second export: %+v", r.Counts)
			}

			// Its owner removes it: idsync's own object is created.
			h.conns["cloud"].Remove("hand-made")
			if r := h.run("cloud", Export); r.Counts.Adds != 1 || r.Counts.Errors != 0 {
				t.Fatalf("export after the foreign object went: %+v", r.Counts)
			}
			if o := h.conns["cloud"].GetByDN("cn=1,ou=users,dc=cloud"); o == nil || o.Anchor == "hand-made" || o.Attrs["description"].Values != nil {
				t.Fatalf("object at the DN = %+v, want idsync's own", o)
			}
			h.run("cloud", FullImport)
			h.run("cloud", FullSync)
			if got := h.pending("cloud"); len(got) != 0 {
				t.Fatalf("pending at the end: %v\n%s", got, h.canonical())
			}
		})
	}
}

// lostAnswer creates the objects of the first export it sees under an
// anchor of its own (as a target that assigns anchors does) and then
// reports a failure, as when the connection drops before the answer.
type lostAnswer struct {
	*memory.Connector
	lost bool
}

func (c *lostAnswer) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	if c.lost {
		return c.Connector.Export(ctx, ops)
	}
	c.lost = true
	sent := make([]connector.ExportOp, len(ops))
	for i, op := range ops {
		op.Anchor = "server-" + op.Anchor
		sent[i] = op
	}
	res := c.Connector.Export(ctx, sent)
	for i := range res {
		res[i].Anchor, res[i].Err = "", errors.New("read tcp: connection reset by peer")
	}
	return res
}

// TestAddReplayAfterLostAnswerConverges: when an earlier sending of an add
// may have reached the target, the object found there is taken to be the
// one it created, even when it matches by DN only, and nothing is
// duplicated — also when a synchronization recomputed the add in between.
func TestAddReplayAfterLostAnswerConverges(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	seedTwoSources(h)
	fullCycle(h, "hr", "ad", "cloud")
	mem := h.conns["cloud"]
	h.e.Connectors["cloud"].Conn = &lostAnswer{Connector: mem}

	if r := h.run("cloud", Export); r.Counts.Errors != 4 {
		t.Fatalf("first export: %+v, want 4 errors (answers lost)", r.Counts)
	}
	if mem.Len() != 4 {
		t.Fatalf("target holds %d objects after the lost answers, want 4", mem.Len())
	}
	for _, c := range []string{"hr", "ad", "cloud"} {
		h.run(c, FullSync)
	}
	r := h.run("cloud", Export)
	if r.Counts.Errors != 0 || mem.Len() != 4 {
		t.Fatalf("replay: %+v, target holds %d objects; want no error and still 4:\n%s", r.Counts, mem.Len(), h.canonical())
	}
	h.run("cloud", FullImport)
	h.run("cloud", FullSync)
	if got := h.pending("cloud"); len(got) != 0 {
		t.Fatalf("pending after the replay converged: %v\n%s", got, h.canonical())
	}
	if o := mem.GetByDN("cn=1,ou=users,dc=cloud"); o == nil || !strings.HasPrefix(o.Anchor, "server-") {
		t.Fatalf("object at the DN = %+v, want the one the lost sending created", o)
	}
}

// TestDeprovisionAfterFailedAdd: when the source object goes while its add
// has failed, the placeholder's delete (or disable) waits for an import of
// the target. When the failed add had created the object (its answer was
// lost), the import finds it under the target's own anchor and the delete
// removes it (the disable disables it); when it had not, the placeholder is
// dropped with nothing sent.
func TestDeprovisionAfterFailedAdd(t *testing.T) {
	for _, tc := range []struct {
		deprovision string
		landed      bool
	}{{"delete", true}, {"delete", false}, {"disable", true}, {"disable", false}} {
		t.Run(fmt.Sprintf("%s/landed=%v", tc.deprovision, tc.landed), func(t *testing.T) {
			rs := twoSourcesRules
			if tc.deprovision == "disable" {
				rs = strings.Replace(rs, "    dn: \"cn={employeeID},ou=users,dc=cloud\"\n",
					"    dn: \"cn={employeeID},ou=users,dc=cloud\"\n    deprovision: disable\n    disableAttribute: accountEnabled\n    disableValue: \"false\"\n", 1)
			}
			h := newHarness(t, rs, "hr", "ad", "cloud")
			seedTwoSources(h)
			fullCycle(h, "hr", "ad", "cloud")
			mem := h.conns["cloud"]
			if tc.landed {
				h.e.Connectors["cloud"].Conn = &lostAnswer{Connector: mem}
			} else {
				mem.FailNext(4, errors.New("503 Service Unavailable"))
			}
			if r := h.run("cloud", Export); r.Counts.Errors != 4 {
				t.Fatalf("first export: %+v, want 4 errors", r.Counts)
			}
			want := 0
			if tc.landed {
				want = 4
			}
			if mem.Len() != want {
				t.Fatalf("target holds %d objects, want %d", mem.Len(), want)
			}
			h.e.Connectors["cloud"].Conn = mem

			// Dave (ad only, employeeID 4) leaves the source.
			h.conns["ad"].Remove("a4")
			h.run("ad", FullImport)
			h.run("ad", FullSync)
			h.run("cloud", Export)
			if o := mem.GetByDN("cn=4,ou=users,dc=cloud"); tc.landed && (o == nil || o.Attrs.First("accountEnabled") != "true") {
				t.Fatalf("the deprovisioning was sent before an import found the object: %+v", o)
			}
			h.run("cloud", FullImport)
			h.run("cloud", FullSync)
			h.run("cloud", Export)
			o := mem.GetByDN("cn=4,ou=users,dc=cloud")
			switch {
			case !tc.landed && o != nil:
				t.Fatalf("an object was created for a source object that is gone: %+v", o)
			case tc.landed && tc.deprovision == "delete" && o != nil:
				t.Fatalf("the object the failed add created is still there: %+v", o)
			case tc.landed && tc.deprovision == "disable" && (o == nil || o.Attrs.First("accountEnabled") != "false"):
				t.Fatalf("the object the failed add created is not disabled: %+v", o)
			}
			h.run("cloud", FullImport)
			h.run("cloud", FullSync)
			left := 3
			if tc.landed && tc.deprovision == "disable" {
				left = 4
			}
			if got := h.pending("cloud"); len(got) != 0 || mem.Len() != left {
				t.Fatalf("pending %v, target holds %d objects; want nothing pending and %d objects\n%s", got, mem.Len(), left, h.canonical())
			}
		})
	}
}
