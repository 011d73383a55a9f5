package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idsync/idsync/store"
)

func TestShrinkGuardRefuses(t *testing.T) {
	g := ShrinkGuard{Percent: 50, Minimum: 10}
	for _, c := range []struct {
		g             ShrinkGuard
		deletes, live int
		want          bool
	}{
		{g, 0, 0, false},
		{g, 0, 100, false},
		{g, 1, 1, true},    // everything gone, however few
		{g, 3, 3, true},    // idem
		{g, 2, 3, false},   // 67%, but not more than 10
		{g, 10, 12, false}, // 83%, but not more than 10
		{g, 11, 20, true},  // 55% and more than 10
		{g, 11, 22, false}, // exactly 50% is allowed
		{g, 50, 100, false},
		{g, 51, 100, true},
		{g, 400, 1000, false},
		{ShrinkGuard{Percent: 100, Minimum: 10}, 99, 100, false}, // 100: only "all gone" stops
		{ShrinkGuard{Percent: 100, Minimum: 10}, 100, 100, true},
		{ShrinkGuard{}, 100, 100, false}, // off
	} {
		if got := c.g.refuses(c.deletes, c.live); got != c.want {
			t.Errorf("%+v.refuses(%d of %d) = %v, want %v", c.g, c.deletes, c.live, got, c.want)
		}
	}
}

// shrinkHarness: hr projects n people exported to cloud.
func shrinkHarness(t *testing.T, n int) *harness {
	t.Helper()
	h := newHarness(t, twoSourcesRules, "hr", "ad", "cloud")
	h.e.Connectors["hr"].Shrink = ShrinkGuard{Percent: 50, Minimum: 10}
	for i := range n {
		h.conns["hr"].Put(user(fmt.Sprintf("h%d", i), fmt.Sprintf("u%d", i), "", "Sales", "employeeID", fmt.Sprint(i)))
	}
	fullCycle(h, "hr", "ad", "cloud")
	h.run("cloud", Export)
	if got := h.conns["cloud"].Len(); got != n {
		t.Fatalf("cloud has %d objects, want %d", got, n)
	}
	return h
}

// csLive counts the connector's objects that are not deleted.
func csLive(h *harness, conn string) int {
	h.t.Helper()
	n := 0
	if err := h.st.ScanCS(h.ctx, conn, func(o *store.CSObject) error {
		if !o.Deleted {
			n++
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestImportShrink: an import that would delete the whole connector space,
// or more than half of it, stops and deletes nothing anywhere; --allow-shrink
// applies it; smaller losses go through as before.
func TestImportShrink(t *testing.T) {
	for _, c := range []struct {
		name    string
		n, keep int
		profile Profile
		stopped bool
	}{
		{"full import sees nothing", 20, 0, FullImport, true},
		{"full import sees nothing of a small directory", 3, 0, FullImport, true},
		{"full import loses 75%", 20, 5, FullImport, true},
		{"full import loses 25%", 20, 15, FullImport, false},
		{"full import loses 2 of 3", 3, 1, FullImport, false},
		{"delta import deletes everything", 20, 0, DeltaImport, true},
		{"delta import deletes 60%", 20, 8, DeltaImport, true},
		{"delta import deletes 40%", 20, 12, DeltaImport, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := shrinkHarness(t, c.n)
			h.run("hr", DeltaImport) // a watermark for the delta cases
			for i := c.keep; i < c.n; i++ {
				h.conns["hr"].Remove(fmt.Sprintf("h%d", i))
			}
			runs, err := h.e.Run(h.ctx, "hr", c.profile, RunOptions{})
			if !c.stopped {
				if err != nil {
					t.Fatalf("%s: %v", c.profile, err)
				}
				if got := csLive(h, "hr"); got != c.keep {
					t.Fatalf("hr has %d objects, want %d", got, c.keep)
				}
				return
			}
			if !errors.Is(err, ErrImportShrink) {
				t.Fatalf("%s err = %v, want the import-shrink guard", c.profile, err)
			}
			r := runs[len(runs)-1]
			want := fmt.Sprintf("would delete %d of the %d objects", c.n-c.keep, c.n)
			if r.Status != store.RunStoppedShrink || !strings.Contains(r.Message, want) ||
				!strings.Contains(r.Message, "--allow-shrink") || !strings.Contains(r.Message, "hr") || r.Counts.Deletes != 0 {
				t.Fatalf("run = %s %q %+v; want %s naming %q and --allow-shrink", r.Status, r.Message, r.Counts, store.RunStoppedShrink, want)
			}
			if got := csLive(h, "hr"); got != c.n {
				t.Fatalf("a stopped import deleted %d objects of the connector space", c.n-got)
			}
			// The rest of the cycle changes nothing in the target.
			h.run("hr", DeltaSync)
			h.run("cloud", Export)
			if got := h.conns["cloud"].Len(); got != c.n {
				t.Fatalf("after a stopped import the target has %d objects, want %d", got, c.n)
			}
			// A second try stops again: the watermark did not move past
			// the deletions.
			if _, err := h.e.Run(h.ctx, "hr", c.profile, RunOptions{}); !errors.Is(err, ErrImportShrink) {
				t.Fatalf("second %s err = %v, want the guard again", c.profile, err)
			}
			// Allowed once, the deletions apply and flow to the target.
			runs, err = h.e.Run(h.ctx, "hr", c.profile, RunOptions{AllowShrink: true})
			if err != nil || runs[len(runs)-1].Counts.Deletes != int64(c.n-c.keep) {
				t.Fatalf("allowed %s: err=%v counts=%+v", c.profile, err, runs[len(runs)-1].Counts)
			}
			h.run("hr", DeltaSync)
			h.e.Connectors["cloud"].DeleteThreshold = 500
			if _, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := h.conns["cloud"].Len(); got != c.keep {
				t.Fatalf("cloud has %d objects after the allowed import, want %d", got, c.keep)
			}
		})
	}
}

// TestImportShrinkOff: with the guard off (Percent 0) an emptied source is
// applied as before.
func TestImportShrinkOff(t *testing.T) {
	h := shrinkHarness(t, 5)
	h.e.Connectors["hr"].Shrink = ShrinkGuard{}
	for i := range 5 {
		h.conns["hr"].Remove(fmt.Sprintf("h%d", i))
	}
	h.run("hr", FullImport)
	if got := csLive(h, "hr"); got != 0 {
		t.Fatalf("hr has %d objects, want 0", got)
	}
}

// TestDeleteGuardPercent: the accidental-delete guard also stops at a share
// of the target's objects, and counts disables as deletes.
func TestDeleteGuardPercent(t *testing.T) {
	for _, c := range []struct {
		name, deprovision string
		remove            int
		stopped           bool
	}{
		{"12 of 30 deleted (40%)", "delete", 12, true},
		{"12 of 30 disabled (40%)", "disable", 12, true},
		{"6 of 30 deleted (20%)", "delete", 6, false},
		{"5 of 30 disabled (17%)", "disable", 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := twoSourcesRules
			if c.deprovision == "disable" {
				rs = strings.Replace(rs, "    dn: \"cn={employeeID},ou=users,dc=cloud\"\n",
					"    dn: \"cn={employeeID},ou=users,dc=cloud\"\n    deprovision: disable\n    disableAttribute: accountEnabled\n    disableValue: \"false\"\n", 1)
			}
			h := newHarness(t, rs, "hr", "ad", "cloud")
			h.e.Connectors["cloud"].DeletePercent, h.e.Connectors["cloud"].DeleteMinimum = 20, 5
			for i := range 30 {
				h.conns["hr"].Put(user(fmt.Sprintf("h%d", i), fmt.Sprintf("u%d", i), "", "Sales", "employeeID", fmt.Sprint(i)))
			}
			fullCycle(h, "hr", "ad", "cloud")
			h.run("cloud", Export)
			h.run("cloud", FullImport)
			for i := range c.remove {
				h.conns["hr"].Remove(fmt.Sprintf("h%d", i))
			}
			h.run("hr", FullImport)
			h.run("hr", DeltaSync)
			sent := len(h.conns["cloud"].Exported())
			runs, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{})
			if !c.stopped {
				if err != nil {
					t.Fatalf("export: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrDeleteThreshold) {
				t.Fatalf("export err = %v, want the delete guard", err)
			}
			want := fmt.Sprintf("%d pending deletes and disables are %d%% of its 30 objects, more than 20%%", c.remove, c.remove*100/30)
			if !strings.Contains(runs[0].Message, want) {
				t.Fatalf("message %q, want %q", runs[0].Message, want)
			}
			if got := len(h.conns["cloud"].Exported()) - sent; got != 0 {
				t.Fatalf("a stopped export sent %d operations", got)
			}
			if _, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{AllowDeletes: true}); err != nil {
				t.Fatalf("allowed export: %v", err)
			}
		})
	}
}
