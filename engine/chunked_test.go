package engine

import (
	"fmt"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestChunkedMatchesWhole: full synchronizations run in parts of two
// objects (each part reading what it touches, chunked.go) leave the same
// metaverse, the same pending exports and the same target as full
// synchronizations that load the store whole, after random changes of the
// sources imported in random order, with exports confirmed now and then.
//
// Every person keeps its employeeID (stableIDs), as in
// TestDeltaMatchesFull: a full synchronization in parts is a series of
// synchronizations of a part each, and where join values move between
// people and collide, which object joins (or takes a contested value)
// depends on the order objects are seen in, in parts or not. After each
// round, both harnesses run one more full synchronization of every
// connector, which retries what a part left pending, before they are
// compared. One case stays apart: two objects of one source sharing a join
// value (two contacts with one mail). The first synchronized projects and
// the second is refused the join (a join conflict), unless both are
// computed in one pass, where neither sees the other's new MV object and
// each projects its own. Delta synchronizations have the same order
// dependence; rounds whose data holds such a pair are not compared, and
// the test requires most rounds to be. Odd seeds run the parts through a
// store without batch reads.
func TestChunkedMatchesWhole(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	compared, rounds := 0, 0
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Setenv("IDSYNC_SYNC_CHUNK", "")
			rng := rand.New(rand.NewPCG(uint64(seed), 17))
			ch, wh := newEquivHarness(t, LoadChunked), newEquivHarness(t, LoadWhole)
			ch.e.SyncChunk = 2
			if seed%2 == 1 {
				// A store without batch reads (a wrapper that does not
				// implement store.BatchReader): one query per object.
				ch.e.Store = noBatchReads{ch.st}
			}
			both := []*harness{ch, wh}
			var log []string
			equivRounds(rng, both, true, &log, func(c string) {
				p := DeltaImport
				if rng.IntN(3) == 0 {
					p = FullImport
				}
				log = append(log, fmt.Sprint(p, " + full-sync ", c))
				for _, h := range both {
					h.run(c, p)
					h.run(c, FullSync)
				}
			}, func(order []string) {
				for _, c := range order {
					for _, h := range both {
						h.run(c, FullSync)
					}
				}
				rounds++
				if pair := sharedJoinValue(ch); pair != "" {
					t.Logf("round not compared: %s", pair)
					return
				}
				compared++
				if a, b := ch.canonicalNoIDs(), wh.canonicalNoIDs(); a != b {
					t.Fatalf("after\n%s\nthe stores differ:\n--- chunked\n%s\n--- whole\n%s", strings.Join(log, "\n"), a, b)
				}
				if a, b := ch.cloudContent(), wh.cloudContent(); a != b {
					t.Fatalf("after\n%s\nthe targets differ:\n--- chunked\n%s\n--- whole\n%s", strings.Join(log, "\n"), a, b)
				}
			})
		})
	}
	if compared*2 < rounds {
		t.Errorf("only %d of %d rounds compared", compared, rounds)
	}
}

// noBatchReads hides the store's batch reads (store.BatchReader).
type noBatchReads struct{ store.Store }

// sharedJoinValue names two objects of one source connector of h that
// share a value (case-insensitive) of an attribute the rules join on; ""
// when there are none.
func sharedJoinValue(h *harness) string {
	for _, name := range equivNames {
		if name == "cloud" {
			continue
		}
		seen := map[string]string{}
		pair := ""
		_, err := h.conns[name].FullImport(h.ctx, connector.ImportRequest{}, func(o *model.Object) error {
			attrs := []string{"employeeID"} // users join on employeeID
			if name == "gal" {
				attrs = []string{"mail"} // contacts on mail
			}
			for _, a := range attrs {
				for _, v := range o.Attrs[a].Values {
					k := a + "=" + strings.ToLower(v)
					if other, ok := seen[k]; ok && pair == "" && v != "" {
						pair = fmt.Sprintf("%s: %s and %s have %s", name, other, o.Anchor, k)
					}
					seen[k] = o.Anchor
				}
			}
			return nil
		})
		if err != nil {
			h.t.Fatal(err)
		}
		if pair != "" {
			return pair
		}
	}
	return ""
}
