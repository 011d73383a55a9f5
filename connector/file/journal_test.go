package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// mustExport exports ops and fails on any error.
func mustExport(t testing.TB, c *Connector, ops []connector.ExportOp) []connector.ExportResult {
	t.Helper()
	res := c.Export(context.Background(), ops)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("op %d (%s %s): %v", i, ops[i].Op, opName(ops[i]), r.Err)
		}
	}
	return res
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(data)
}

// rewritten exports batches the way the connector did before export runs
// had a journal: one rewrite of the file per Export call. Its file is the
// reference every journaled run must reproduce byte for byte.
func rewritten(t *testing.T, name string, content []byte, cfg Config, batches [][]connector.ExportOp) (string, [][]connector.ExportResult) {
	t.Helper()
	c, path := newFileConn(t, name, content, cfg)
	var all [][]connector.ExportResult
	for _, b := range batches {
		all = append(all, c.Export(context.Background(), b))
	}
	if _, err := os.Stat(path + journalSuffix); err == nil {
		t.Fatal("an Export outside an export run left a journal")
	}
	return readFile(t, path), all
}

// TestExportRunJournal: within an export run, Export appends to the journal
// (0600) and leaves the file alone; a full import by another connector sees
// every op that returned; EndExport rewrites the file once, byte for byte as
// one rewrite per batch would have, and removes the journal.
func TestExportRunJournal(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"people.ldif", Config{Target: true, Anchor: "employeeID"}},
		{"people.csv", Config{Target: true, Anchor: "employeeID", DNColumn: "dn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			batches := [][]connector.ExportOp{
				{{ID: "1", Op: connector.OpAdd, DN: "CN=A,DC=x", ObjectType: "user", Changes: []connector.AttrChange{replace("employeeID", "1"), replace("zeta", "z")}}},
				{{ID: "2", Op: connector.OpAdd, DN: "CN=B,DC=x", ObjectType: "user", Changes: []connector.AttrChange{replace("employeeID", "2"), replace("alpha", "a")}},
					{ID: "3", Op: connector.OpUpdate, Anchor: "1", Changes: []connector.AttrChange{replace("mid", "m")}}},
				{{ID: "4", Op: connector.OpDelete, Anchor: "2"}, {ID: "5", Op: connector.OpRename, Anchor: "1", NewDN: "CN=A2,DC=x"}},
			}
			want, _ := rewritten(t, tc.name, nil, tc.cfg, batches)
			c, path := newFileConn(t, tc.name, nil, tc.cfg)
			if err := c.BeginExport(ctx); err != nil {
				t.Fatal(err)
			}
			for i, b := range batches[:2] {
				mustExport(t, c, b)
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("batch %d wrote the file (%v): the run should only journal", i, err)
				}
				fi, err := os.Stat(path + journalSuffix)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("journal after batch %d: %v %v", i, fi, err)
				}
			}
			// Another connector on the file (a confirming import) sees every
			// op, and folds the journal into the file.
			other, err := New("other", Config{Path: path, Target: tc.cfg.Target, Anchor: tc.cfg.Anchor, DNColumn: tc.cfg.DNColumn})
			if err != nil {
				t.Fatal(err)
			}
			got := byAnchor(importAll(t, other, connector.ImportRequest{}))
			if len(got) != 2 || got["1"].Attrs["mid"].Values[0] != "m" || got["2"] == nil {
				t.Fatalf("import during the run: %v", got)
			}
			// The run goes on over the rewritten file.
			mustExport(t, c, batches[2])
			if err := c.EndExport(ctx); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); got != want {
				t.Errorf("file after the run:\n%s\nwant (one rewrite per batch):\n%s", got, want)
			}
			if _, err := os.Stat(path + journalSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("journal left after EndExport: %v", err)
			}
			assertNoTempFiles(t, path)
		})
	}
}

// TestExportRunCrash drops a connector in the middle of an export run
// (neither EndExport nor Close, as a killed process would): a new connector
// imports every op that returned, a replay of the run's ops converges
// (ErrAlreadyExists with ErrIdentityMatch for adds, ErrNotFound for a
// delete), and the file it writes is the one an uninterrupted run writes.
func TestExportRunCrash(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Target: true, Anchor: "cloudAnchor"}
	ops := benchAdds(300)
	ops = append(ops, connector.ExportOp{ID: "u", Op: connector.OpUpdate, Anchor: "anchor-00000007", Changes: []connector.AttrChange{replace("title", "Boss")}},
		connector.ExportOp{ID: "d", Op: connector.OpDelete, Anchor: "anchor-00000008"})
	var batches [][]connector.ExportOp
	for i := 0; i < len(ops); i += 50 {
		batches = append(batches, ops[i:min(i+50, len(ops))])
	}
	want, _ := rewritten(t, "out.ldif", nil, cfg, batches)

	c, path := newFileConn(t, "out.ldif", nil, cfg)
	c.compactAt = 40 << 10 // rewrites in the middle of the run too
	_ = c.BeginExport(ctx)
	for _, b := range batches {
		mustExport(t, c, b)
	}
	// Crash: c is dropped with its journal.
	if _, err := os.Stat(path + journalSuffix); err != nil {
		t.Fatalf("no journal to recover from: %v", err)
	}
	fresh := func() *Connector {
		c, err := New("test", Config{Path: path, Target: true, Anchor: "cloudAnchor"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	got := byAnchor(importAll(t, fresh(), connector.ImportRequest{}))
	if len(got) != 299 || got["anchor-00000007"].Attrs["title"].Values[0] != "Boss" || got["anchor-00000008"] != nil {
		t.Fatalf("after the crash a new connector imports %d objects", len(got))
	}
	if readFile(t, path) != want {
		t.Error("the import did not fold the journal into the file")
	}

	// The engine replays the batch it did not record, in a new run.
	c2 := fresh()
	_ = c2.BeginExport(ctx)
	for i, r := range c2.Export(ctx, batches[len(batches)-1]) {
		op := batches[len(batches)-1][i]
		switch op.Op {
		case connector.OpAdd:
			if !errors.Is(r.Err, connector.ErrAlreadyExists) || !errors.Is(r.Err, connector.ErrIdentityMatch) || r.Anchor != op.Anchor {
				t.Errorf("replayed add: %+v", r)
			}
		case connector.OpUpdate:
			if r.Err != nil {
				t.Errorf("replayed update: %v", r.Err)
			}
		case connector.OpDelete:
			if !errors.Is(r.Err, connector.ErrNotFound) {
				t.Errorf("replayed delete: %v", r.Err)
			}
		}
	}
	if err := c2.EndExport(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != want {
		t.Errorf("after the replay the file differs from an uninterrupted run (%d vs %d bytes)", len(got), len(want))
	}
}

// TestExportRunCrashDuringRewrite stops a rewrite at each of its steps, as a
// crash would: after the journal's mark of the new file, and after the
// rename before the journal is removed. A new connector reads every object
// exactly once, and (after the rename) replays nothing from the journal.
func TestExportRunCrashDuringRewrite(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Target: true, Anchor: "cloudAnchor"}
	ops := benchAdds(120)
	batches := [][]connector.ExportOp{ops[:40], ops[40:80], ops[80:]}
	want, _ := rewritten(t, "out.ldif", nil, cfg, batches)
	for _, point := range []string{"marked", "renamed"} {
		t.Run(point, func(t *testing.T) {
			c, path := newFileConn(t, "out.ldif", nil, cfg)
			_ = c.BeginExport(ctx)
			mustExport(t, c, batches[0])
			_ = c.EndExport(ctx) // a first rewrite: the file exists
			_ = c.BeginExport(ctx)
			mustExport(t, c, batches[1])
			mustExport(t, c, batches[2])
			crash := errors.New("crash")
			c.testHook = func(p string) error {
				if p == point {
					return crash
				}
				return nil
			}
			if err := c.EndExport(ctx); !errors.Is(err, crash) {
				t.Fatalf("EndExport: %v", err)
			}
			c2, err := New("test", Config{Path: path, Target: true, Anchor: "cloudAnchor"})
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := c2.load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if img.len() != 120 || img.stale {
				t.Fatalf("after a crash at %q: %d objects, stale %v", point, img.len(), img.stale)
			}
			if got := byAnchor(importAll(t, c2, connector.ImportRequest{})); len(got) != 120 {
				t.Fatalf("import after a crash at %q: %d objects", point, len(got))
			}
			if got := readFile(t, path); got != want {
				t.Errorf("file after recovery differs from an uninterrupted run")
			}
			if _, err := os.Stat(path + journalSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("journal left after the import: %v", err)
			}
		})
	}
}

// TestExportRunExternalChange: a file changed by something else during an
// export run is read again, never overwritten with the connector's cached
// image, and the run's journaled ops are applied to the new content.
func TestExportRunExternalChange(t *testing.T) {
	ctx := context.Background()
	for _, compactAt := range []int64{0, 1} { // journaled / rewritten after every batch
		t.Run(fmt.Sprint("compactAt=", compactAt), func(t *testing.T) {
			c, path := newFileConn(t, "people.ldif", []byte(baseLDIF), Config{Target: true, Anchor: "employeeID"})
			c.compactAt = compactAt
			_ = c.BeginExport(ctx)
			mustExport(t, c, []connector.ExportOp{{ID: "1", Op: connector.OpUpdate, Anchor: "1", Changes: []connector.AttrChange{replace("title", "CTO")}}})
			// Someone edits the (possibly stale) file: Bob goes, Eve comes.
			edited := strings.Replace(readFile(t, path), "dn: CN=Bob,OU=IT,DC=x\nobjectClass: user\nemployeeID: 2\nmail: bob@x\n",
				"dn: CN=Eve,OU=IT,DC=x\nobjectClass: user\nemployeeID: 5\nmail: eve@x\n", 1)
			if !strings.Contains(edited, "Eve") {
				t.Fatalf("test file not as expected:\n%s", edited)
			}
			if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			mustExport(t, c, []connector.ExportOp{{ID: "2", Op: connector.OpUpdate, Anchor: "5", Changes: []connector.AttrChange{replace("title", "CFO")}}})
			if err := c.EndExport(ctx); err != nil {
				t.Fatal(err)
			}
			got := byAnchor(importAll(t, c, connector.ImportRequest{}))
			if len(got) != 2 || got["2"] != nil || got["5"] == nil || got["5"].Attrs["title"].Values[0] != "CFO" || got["1"].Attrs["title"].Values[0] != "CTO" {
				t.Errorf("after an external change:\n%s", readFile(t, path))
			}
		})
	}
}

// TestJournalTornTail: a record cut short by a crash (never acknowledged)
// is ignored, and the next append overwrites it.
func TestJournalTornTail(t *testing.T) {
	ctx := context.Background()
	ops := benchAdds(3)
	c, path := newFileConn(t, "out.ldif", nil, Config{Target: true, Anchor: "cloudAnchor"})
	_ = c.BeginExport(ctx)
	mustExport(t, c, ops[:1])
	jp := path + journalSuffix
	good := readFile(t, jp)
	for _, tail := range []string{
		string(batchRecord(ops[1:2])[:20]),                                                 // cut short
		string(batchRecord(ops[1:2])[:8]) + "\x00\x00\x00",                                 // header only
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",                                         // zeros: size grown, data lost
		func() string { r := batchRecord(ops[1:2]); r[len(r)-1] ^= 1; return string(r) }(), // bad checksum
	} {
		if err := os.WriteFile(jp, []byte(good+tail), 0o600); err != nil {
			t.Fatal(err)
		}
		c2, _ := New("test", Config{Path: path, Target: true, Anchor: "cloudAnchor"})
		img, d, err := c2.load(ctx)
		if err != nil || img.len() != 1 || d.journal.end != int64(len(good)) {
			t.Fatalf("torn tail %q: %d objects, end %d, %v", tail, img.len(), d.journal.end, err)
		}
		_ = c2.BeginExport(ctx)
		mustExport(t, c2, ops[2:3])
		img, _, err = c2.load(ctx)
		if err != nil || img.len() != 2 || img.get("anchor-00000002") == nil {
			t.Fatalf("after an append over a torn tail: %d objects, %v", img.len(), err)
		}
	}
	// A valid record of an unknown kind is corruption, not a torn tail.
	if err := os.WriteFile(jp, []byte(good+string(frame(nil, []byte("X")))), 0o600); err != nil {
		t.Fatal(err)
	}
	c3, _ := New("test", Config{Path: path, Target: true, Anchor: "cloudAnchor"})
	if res := c3.Export(ctx, ops[1:2]); res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "unknown record") {
		t.Errorf("export over a corrupt journal: %v", res[0].Err)
	}
}

// TestJournalRoundTrip: ops survive the journal's encoding unchanged
// (binary values, types, empty fields).
func TestJournalRoundTrip(t *testing.T) {
	ops := []connector.ExportOp{
		{Op: connector.OpAdd, Anchor: "\x00\xff", DN: "CN=é", ObjectType: "user", Changes: []connector.AttrChange{
			{Name: "objectGUID", Mode: connector.Replace, Type: model.Binary, Values: []string{"\x00\x01\xfe", ""}},
			{Name: "member", Mode: connector.AddVals, Type: model.Reference, Values: []string{"CN=a"}}}},
		{Op: connector.OpDelete, Anchor: "x"},
		{Op: connector.OpUpdate, Anchor: "y", NewDN: "CN=z", Changes: []connector.AttrChange{{Name: "mail", Mode: connector.DelVals}}},
	}
	rec := batchRecord(ops)
	got, err := decodeBatch(rec[9:])
	if err != nil || !reflect.DeepEqual(got, ops) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, got, ops)
	}
	for i := 9; i < len(rec); i++ {
		if _, err := decodeBatch(rec[9:i]); err == nil {
			t.Fatalf("a batch record cut at %d decodes", i)
		}
	}
}

// TestExportRunMatchesRewrites: random ops (failing ones included) in
// random batches, exported in one run with rewrites at random points and
// connectors dropped at random points (a crash; the next connector replays
// the journal), give the same results and the same file, byte for byte, as
// one rewrite per batch: a replayed journal is exactly the ops it holds.
func TestExportRunMatchesRewrites(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(12) {
		name, cfg := "people.ldif", Config{Target: true, Anchor: "employeeID"}
		if seed%2 == 1 {
			name, cfg = "people.csv", Config{Target: true, Anchor: "employeeID", DNColumn: "dn"}
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		var batches [][]connector.ExportOp
		for range 30 {
			b := make([]connector.ExportOp, 1+rng.IntN(8))
			for i := range b {
				b[i] = randomOp(rng)
			}
			batches = append(batches, b)
		}
		var seedFile []byte
		if seed%3 == 0 {
			seedFile = []byte(baseLDIF)
			if seed%2 == 1 {
				seedFile = []byte("employeeID,dn,mail\n1,\"CN=Ann,DC=x\",ann@x\n")
			}
		}
		want, wantRes := rewritten(t, name, seedFile, cfg, batches)
		c, path := newFileConn(t, name, seedFile, cfg)
		cfg.Path = path
		_ = c.BeginExport(ctx)
		for bi, b := range batches {
			c.compactAt = []int64{0, 1, 600}[rng.IntN(3)]
			res := c.Export(ctx, b)
			for i := range res {
				if (res[i].Err == nil) != (wantRes[bi][i].Err == nil) || res[i].Anchor != wantRes[bi][i].Anchor {
					t.Fatalf("seed %d batch %d op %d (%s %s): %v %q, one rewrite per batch gives %v %q", seed, bi, i, b[i].Op, opName(b[i]),
						res[i].Err, res[i].Anchor, wantRes[bi][i].Err, wantRes[bi][i].Anchor)
				}
			}
			if rng.IntN(5) == 0 { // crash
				c, _ = New("test", cfg)
				_ = c.BeginExport(ctx)
			}
		}
		if err := c.EndExport(ctx); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path); got != want {
			t.Fatalf("seed %d: the run's file differs from one rewrite per batch:\n%s\nwant:\n%s", seed, got, want)
		}
	}
}

// randomOp returns an op on a small set of objects, so that adds collide,
// updates and deletes miss, renames clash.
func randomOp(rng *rand.Rand) connector.ExportOp {
	id := strconv.Itoa(1 + rng.IntN(6))
	dn := func() string { return "CN=" + string(rune('A'+rng.IntN(6))) + ",DC=x" }
	attrs := []string{"mail", "title", "zeta", "alpha", "proxy"}
	change := func() connector.AttrChange {
		modes := []connector.Mode{connector.Replace, connector.AddVals, connector.DelVals}
		vals := []string{}
		for range rng.IntN(3) {
			vals = append(vals, "v"+strconv.Itoa(rng.IntN(3)))
		}
		return connector.AttrChange{Name: attrs[rng.IntN(len(attrs))], Mode: modes[rng.IntN(3)], Values: vals}
	}
	switch rng.IntN(5) {
	case 0, 1:
		return connector.ExportOp{ID: "a" + id, Op: connector.OpAdd, Anchor: id, DN: dn(), ObjectType: "user", Changes: []connector.AttrChange{change(), change()}}
	case 2:
		op := connector.ExportOp{ID: "u" + id, Op: connector.OpUpdate, Anchor: id, Changes: []connector.AttrChange{change()}}
		if rng.IntN(3) == 0 {
			op.NewDN = dn()
		}
		return op
	case 3:
		return connector.ExportOp{ID: "r" + id, Op: connector.OpRename, Anchor: id, NewDN: dn()}
	default:
		return connector.ExportOp{ID: "d" + id, Op: connector.OpDelete, Anchor: id}
	}
}

// TestExportRunKill kills a process exporting to a file with SIGKILL at
// random points, 12 times, each time re-sending every op as the engine
// replays its journal: every op an Export call returned before the kill is
// in the file a new connector imports, and the file the last, uninterrupted
// run leaves is the one a single run writes.
func TestExportRunKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test skipped in -short mode")
	}
	path := filepath.Join(t.TempDir(), "out.ldif")
	ops := killOps()
	var batches [][]connector.ExportOp
	for i := 0; i < len(ops); i += 100 {
		batches = append(batches, ops[i:min(i+100, len(ops))])
	}
	want, _ := rewritten(t, "out.ldif", nil, Config{Target: true, Anchor: "cloudAnchor"}, batches)
	acked := map[string]bool{}
	// run runs the child; when kill is set, it is killed with SIGKILL delay
	// after it acknowledged acks ops.
	run := func(kill bool, acks int, delay time.Duration) (done bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExportRunKillChild$")
		cmd.Env = append(os.Environ(), "IDSYNC_FILE_KILL_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var timer *time.Timer
		n := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			switch f := strings.Fields(sc.Text()); {
			case len(f) == 2 && f[0] == "ack":
				acked[f[1]] = true
				n++
			case len(f) == 1 && f[0] == "done":
				done = true
			}
			if kill && timer == nil && n >= acks {
				timer = time.AfterFunc(delay, func() { _ = cmd.Process.Kill() })
			}
		}
		_ = cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		return done
	}
	if !run(false, 0, 0) {
		t.Fatal("the uninterrupted child did not finish")
	}
	if got := readFile(t, path); got != want {
		t.Fatal("an uninterrupted child run writes a different file")
	}
	_ = os.Remove(path)
	clear(acked)
	rng := rand.New(rand.NewPCG(7, 42))
	killed := 0
	for range 12 {
		if !run(true, 1+rng.IntN(len(ops)-1), time.Duration(rng.Int64N(int64(3*time.Millisecond)))) {
			killed++
		}
		c, err := New("check", Config{Path: path, Target: true, Anchor: "cloudAnchor"})
		if err != nil {
			t.Fatal(err)
		}
		got := byAnchor(importAll(t, c, connector.ImportRequest{}))
		for _, op := range ops {
			if !acked[op.ID] {
				continue
			}
			o := got[op.Anchor]
			if o == nil || op.Op == connector.OpUpdate && o.Attrs["title"].Values[0] != "v2" {
				t.Fatalf("op %s returned before a kill, and a new connector does not see it", op.ID)
			}
		}
	}
	t.Logf("%d of 12 runs killed", killed)
	if killed < 10 {
		t.Fatalf("only %d of 12 runs were killed: the test proves little", killed)
	}
	if !run(false, 0, 0) {
		t.Fatal("the last run did not finish")
	}
	if got := readFile(t, path); got != want {
		t.Fatalf("after %d kills the file differs from an uninterrupted run (%d vs %d bytes)", killed, len(got), len(want))
	}
}

// killOps are the ops of TestExportRunKill: adds, then an update of each.
func killOps() []connector.ExportOp {
	ops := benchAdds(1500)
	for i := range 1500 {
		ops = append(ops, connector.ExportOp{ID: fmt.Sprintf("u%d", i), Op: connector.OpUpdate, Anchor: ops[i].Anchor,
			Changes: []connector.AttrChange{replace("title", "v2")}})
	}
	return ops
}

// TestExportRunKillChild is the process TestExportRunKill kills: one export
// run of every op, printing "ack <id>" for each op an Export call returned
// as done (or as already there).
func TestExportRunKillChild(t *testing.T) {
	path := os.Getenv("IDSYNC_FILE_KILL_CHILD")
	if path == "" {
		t.Skip("run by TestExportRunKill")
	}
	ctx := context.Background()
	c, err := New("child", Config{Path: path, Target: true, Anchor: "cloudAnchor"})
	if err != nil {
		t.Fatal(err)
	}
	c.compactAt = 256 << 10 // rewrites during the run, to be killed in too
	_ = c.BeginExport(ctx)
	ops := killOps()
	for i := 0; i < len(ops); i += 100 {
		b := ops[i:min(i+100, len(ops))]
		var acks strings.Builder
		for j, r := range c.Export(ctx, b) {
			if r.Err == nil || errors.Is(r.Err, connector.ErrAlreadyExists) {
				fmt.Fprintf(&acks, "ack %s\n", b[j].ID)
			}
		}
		os.Stdout.WriteString(acks.String())
	}
	if err := c.EndExport(ctx); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("done\n")
}
