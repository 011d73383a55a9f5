package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/store"
)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// canonicalNoIDs is Canonical with generated identifiers (the anchors the
// memory target gives exported objects) blanked out.
func (h *harness) canonicalNoIDs() string {
	return uuidRE.ReplaceAllString(h.canonical(), "<id>")
}

var equivNames = []string{"hr", "ad", "gal", "badge", "cloud"}

func newEquivHarness(t *testing.T, l Loading) *harness {
	h := newHarness(t, twoSourcesRules+joinOnlyRule+galContactRule, equivNames...)
	h.e.Loading = l
	h.e.Connectors["cloud"].Unique = []string{"mail"}
	seedTwoSources(h)
	h.conns["badge"].Put(user("b1", "alice-badge", "", "", "employeeID", "1", "badgeNo", "B-1"))
	h.conns["gal"].Put(contact("g1", "alice-gal", "ALICE@contoso"), contact("g4", "dave-gal", "dave@contoso"))
	return h
}

// change is one random edit of a source, applied alike to both harnesses.
type change func(h *harness)

// randomChange returns a random edit. With stableIDs every person keeps
// one employeeID in every source (hN, aN and bN are person N); without,
// employeeIDs move between people and collide, and the engine's join
// decisions then depend on the history of the data (see TestDeltaMatchesFull).
func randomChange(rng *rand.Rand, stableIDs bool) (string, change) {
	mails := []string{"alice@contoso", "bob@hr", "carol@hr", "dave@contoso", "erin@x", "ALICE@contoso", ""}
	depts := []string{"Sales", "IT", "Excluded", ""}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	n := rng.IntN(9)
	emp := fmt.Sprint(1 + rng.IntN(8))
	if stableIDs {
		emp = fmt.Sprint(n)
	}
	mail, dept := pick(mails), pick(depts)
	switch conn := pick([]string{"hr", "ad", "ad", "gal", "badge"}); conn {
	case "gal":
		anchor := fmt.Sprintf("g%d", n)
		if rng.IntN(4) == 0 {
			return "gal remove " + anchor, func(h *harness) { h.conns["gal"].Remove(anchor) }
		}
		return fmt.Sprintf("gal put %s mail=%q", anchor, mail), func(h *harness) {
			h.conns["gal"].Put(contact(anchor, "contact-"+anchor, mail))
		}
	case "badge":
		anchor := fmt.Sprintf("b%d", n)
		if rng.IntN(4) == 0 {
			return "badge remove " + anchor, func(h *harness) { h.conns["badge"].Remove(anchor) }
		}
		return fmt.Sprintf("badge put %s emp=%s", anchor, emp), func(h *harness) {
			h.conns["badge"].Put(user(anchor, "badge-"+anchor, "", "", "employeeID", emp, "badgeNo", "B-"+anchor))
		}
	default:
		prefix := conn[:1]
		anchor := fmt.Sprintf("%s%d", prefix, n)
		switch rng.IntN(6) {
		case 0:
			return conn + " remove " + anchor, func(h *harness) { h.conns[conn].Remove(anchor) }
		case 1:
			if conn == "ad" {
				var members []string
				for i := range 9 {
					if rng.IntN(3) == 0 {
						members = append(members, fmt.Sprintf("cn=%s-%d,ou=people,dc=example", conn, i))
					}
				}
				g := fmt.Sprintf("g%d", n%3)
				return fmt.Sprintf("ad group %s members=%v", g, members), func(h *harness) {
					h.conns["ad"].Put(group(g, "staff-"+g, members...))
				}
			}
		}
		return fmt.Sprintf("%s put %s emp=%s mail=%q dept=%q", conn, anchor, emp, mail, dept), func(h *harness) {
			h.conns[conn].Put(user(anchor, fmt.Sprintf("%s-%d", conn, n), mail, dept, "employeeID", emp))
		}
	}
}

// equivRounds runs 10 rounds on both harnesses: random changes (none in
// the first), then every connector in a random order (the cloud exported
// now and then), each step calling step with the connector; after each
// round, check. log is what happened, for failure messages.
func equivRounds(rng *rand.Rand, both []*harness, stable bool, log *[]string,
	step func(c string), check func(order []string)) {
	for round := range 10 {
		if round > 0 {
			for range 1 + rng.IntN(4) {
				what, ch := randomChange(rng, stable)
				*log = append(*log, what)
				for _, h := range both {
					ch(h)
				}
			}
		}
		order := slices.Clone(equivNames)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, c := range order {
			if c == "cloud" && rng.IntN(2) == 0 {
				*log = append(*log, "export cloud")
				for _, h := range both {
					h.run("cloud", Export)
				}
			}
			step(c)
		}
		check(order)
	}
}

// TestTargetedMatchesWhole is the property test of targeted loading: random
// changes to every source, imported and synchronized (delta) in random
// orders, with exports confirmed now and then, give the same metaverse,
// the same pending exports, the same run errors and the same target
// whether each synchronization reads only what it touches or the whole
// store. Join values move between people and collide here (unlike
// TestDeltaMatchesFull): ambiguous joins, join conflicts and unique
// collisions are exercised too.
func TestTargetedMatchesWhole(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 11))
			stable := seed%2 == 0
			tg, wh := newEquivHarness(t, LoadTargeted), newEquivHarness(t, LoadWhole)
			both := []*harness{tg, wh}
			var log []string
			equivRounds(rng, both, stable, &log, func(c string) {
				p := DeltaImport
				if rng.IntN(3) == 0 {
					p = FullImport
				}
				log = append(log, fmt.Sprint(p, " + delta-sync ", c))
				var errs [2][]string
				for i, h := range both {
					h.run(c, p)
					r := h.run(c, DeltaSync)
					for _, e := range h.runErrors(r) {
						errs[i] = append(errs[i], uuidRE.ReplaceAllString(e.Object+": "+e.Message, "<id>"))
					}
					slices.Sort(errs[i])
				}
				if !slices.Equal(errs[0], errs[1]) {
					t.Fatalf("after %s\nrun errors differ:\ntargeted %q\nwhole    %q", strings.Join(log, "\n"), errs[0], errs[1])
				}
			}, func([]string) {
				if a, b := tg.canonicalNoIDs(), wh.canonicalNoIDs(); a != b {
					t.Fatalf("after\n%s\nthe stores differ:\n--- targeted\n%s\n--- whole\n%s", strings.Join(log, "\n"), a, b)
				}
				if a, b := tg.cloudContent(), wh.cloudContent(); a != b {
					t.Fatalf("after\n%s\nthe targets differ:\n--- targeted\n%s\n--- whole\n%s", strings.Join(log, "\n"), a, b)
				}
			})
		})
	}
}

// TestDeltaMatchesFull: after every cycle of delta imports and
// synchronizations (targeted) of random changes — and the retries of the
// next cycle's delta synchronizations — the store is what full
// synchronizations of every connector make of the same state (a second
// harness fed the same changes runs them): a delta synchronization misses
// nothing a full one would see (a group whose member was renamed, added
// or deleted, a contact whose user appeared, two objects that collide on a
// unique attribute). Every person keeps its employeeID (stableIDs): with
// join values that move between people, which objects join depends on
// the history of the data, in full synchronizations too.
func TestDeltaMatchesFull(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 13))
			delta, full := newEquivHarness(t, LoadTargeted), newEquivHarness(t, LoadWhole)
			both := []*harness{delta, full}
			var log []string
			equivRounds(rng, both, true, &log, func(c string) {
				log = append(log, "delta-import + delta-sync "+c)
				for _, h := range both {
					h.run(c, DeltaImport)
					h.run(c, DeltaSync)
				}
			}, func(order []string) {
				// The next cycle's delta synchronizations retry the
				// objects that failed (an ambiguous join that a later
				// connector's changes resolved); then nothing may
				// differ from full synchronizations.
				for _, c := range order {
					delta.run(c, DeltaSync)
				}
				for _, n := range equivNames {
					full.run(n, FullSync)
				}
				if a, b := delta.canonicalNoIDs(), full.canonicalNoIDs(); a != b {
					t.Fatalf("after\n%s\ndelta and full synchronizations differ:\n--- delta\n%s\n--- full\n%s", strings.Join(log, "\n"), a, b)
				}
			})
		})
	}
}

// countingStore counts the objects a store gives back, by method.
type countingStore struct {
	store.Store
	scanned, got, keyed atomic.Int64
}

func (c *countingStore) ScanCS(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return c.Store.ScanCS(ctx, conn, func(o *store.CSObject) error { c.scanned.Add(1); return fn(o) })
}

func (c *countingStore) ScanMV(ctx context.Context, fn func(*store.MVObject) error) error {
	return c.Store.ScanMV(ctx, func(o *store.MVObject) error { c.scanned.Add(1); return fn(o) })
}

func (c *countingStore) ScanCSSyncPending(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return c.Store.ScanCSSyncPending(ctx, conn, func(o *store.CSObject) error { c.got.Add(1); return fn(o) })
}

func (c *countingStore) ScanCSExports(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return c.Store.ScanCSExports(ctx, conn, func(o *store.CSObject) error { c.got.Add(1); return fn(o) })
}

func (c *countingStore) GetCS(ctx context.Context, id string) (*store.CSObject, error) {
	c.got.Add(1)
	return c.Store.GetCS(ctx, id)
}

func (c *countingStore) GetCSByAnchor(ctx context.Context, conn, anchor string) (*store.CSObject, error) {
	c.got.Add(1)
	return c.Store.GetCSByAnchor(ctx, conn, anchor)
}

func (c *countingStore) GetMV(ctx context.Context, id string) (*store.MVObject, error) {
	c.got.Add(1)
	return c.Store.GetMV(ctx, id)
}

func (c *countingStore) CSForMV(ctx context.Context, mvid string) ([]*store.CSObject, error) {
	objs, err := c.Store.CSForMV(ctx, mvid)
	c.got.Add(int64(len(objs)))
	return objs, err
}

func (c *countingStore) CSByKey(ctx context.Context, conn, key string) ([]string, error) {
	c.keyed.Add(1)
	return c.Store.CSByKey(ctx, conn, key)
}

func (c *countingStore) MVByKey(ctx context.Context, typ, key string) ([]string, error) {
	c.keyed.Add(1)
	return c.Store.MVByKey(ctx, typ, key)
}

func (c *countingStore) reset() (scanned, got, keyed int64) {
	return c.scanned.Swap(0), c.got.Swap(0), c.keyed.Swap(0)
}

// TestDeltaReadsOnlyWhatItTouches: in a store of 3,000 users, 300 groups
// and their 3,300 target objects, a delta import, synchronization and
// export of a few changed users read a few dozen objects (the changed
// ones, their metaverse objects and target objects, the group that loses
// a member), never a connector space or the metaverse whole; a delta
// synchronization with nothing pending reads nothing. The counts come
// from a store wrapper, so the test fails if a whole load comes back.
func TestDeltaReadsOnlyWhatItTouches(t *testing.T) {
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	cs := &countingStore{Store: h.st}
	h.e.Store = cs
	h.e.Loading = LoadAuto // as configured: targeted for small deltas
	t.Setenv("IDSYNC_SYNC_LOADING", "")
	const users, groups = 3000, 300
	for i := range users {
		h.conns["ad"].Put(user(fmt.Sprint("a", i), fmt.Sprint("user", i), fmt.Sprintf("u%d@contoso", i), "", "employeeID", fmt.Sprint(i)))
	}
	for g := range groups {
		var members []string
		for j := range 10 {
			members = append(members, fmt.Sprintf("cn=user%d,ou=people,dc=example", (g*10+j)%users))
		}
		h.conns["ad"].Put(group(fmt.Sprint("g", g), fmt.Sprint("group", g), members...))
	}
	for _, step := range []struct {
		c string
		p Profile
	}{{"ad", FullImport}, {"ad", FullSync}, {"cloud", Export}, {"cloud", FullImport}, {"cloud", DeltaSync}, {"ad", DeltaImport}} {
		h.run(step.c, step.p)
	}
	if p := h.pending("cloud"); len(p) != 0 {
		t.Fatalf("pending after the initial cycle: %v", p)
	}
	total := int64(2 * (users + groups))

	cs.reset()
	if r := h.run("ad", DeltaSync); r.Sync.Processed() != 0 {
		t.Fatalf("a delta synchronization with nothing pending processed %d objects", r.Sync.Processed())
	}
	if scanned, got, keyed := cs.reset(); scanned+got+keyed != 0 {
		t.Fatalf("a delta synchronization with nothing pending read %d objects by scans, %d by ID and made %d key lookups; want none", scanned, got, keyed)
	}

	// Four users get a new mail, one is deleted (a member of a group).
	for i := 10; i < 14; i++ {
		h.conns["ad"].Put(user(fmt.Sprint("a", i), fmt.Sprint("user", i), fmt.Sprintf("new%d@contoso", i), "", "employeeID", fmt.Sprint(i)))
	}
	h.conns["ad"].Remove("a14")
	if r := h.run("ad", DeltaImport); r.Counts.Updates != 4 || r.Counts.Deletes != 1 {
		t.Fatalf("the delta import counted %+v, want 4 updates and 1 delete", r.Counts)
	}
	scanned, got, _ := cs.reset()
	if scanned != 0 || got > 20 {
		t.Fatalf("the delta import of 5 changes read %d objects by scans and %d by ID", scanned, got)
	}
	r := h.run("ad", DeltaSync)
	scanned, got, keyed := cs.reset()
	t.Logf("delta sync of 5 users in %d objects: %d read by ID, %d key lookups, %+v", total, got, keyed, *r.Sync)
	if r.Sync.Processed() != 5 || r.Sync.FlowUpdates != 4 || r.Sync.DeletedConnectors != 1 {
		t.Fatalf("the delta synchronization processed %d objects, want 5", r.Sync.Processed())
	}
	if scanned != 0 || got > 100 {
		t.Fatalf("the delta synchronization of 5 users read %d objects by scans and %d by ID; want no scan and at most 100", scanned, got)
	}
	if p := h.pending("cloud"); p["update"] != 5 || p["delete"] != 1 {
		t.Fatalf("pending = %v, want 5 updates (4 users, the group) and 1 delete", p)
	}
	cs.reset()
	h.run("cloud", Export)
	if scanned, got, _ := cs.reset(); scanned != 0 || got > 10 {
		t.Fatalf("the export of 5 changes read %d objects by scans and %d by ID", scanned, got)
	}
}
