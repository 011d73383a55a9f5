package main

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/idsync/idsync/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI views")

var (
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE     = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z`)
	durationRE = regexp.MustCompile(`\(\d+(\.\d+)?(ns|µs|ms|s)\)`)
	tmpRE      = regexp.MustCompile(`/tmp/\S*?/demo`)
)

// normalize replaces what changes from run to run (IDs, times, durations,
// the temporary directory) so that output can be compared with a golden
// file.
func normalize(s string) string {
	ids := map[string]string{}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = "ID" + string(rune('A'+len(ids)%26))
		}
		return ids[id]
	})
	s = timeRE.ReplaceAllString(s, "TIME")
	s = durationRE.ReplaceAllString(s, "(DURATION)")
	return tmpRE.ReplaceAllString(s, "DEMO")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	got = normalize(got)
	if *update {
		writeFile(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s ./cmd/idsync -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// TestCLIViews pins the views an admin reads on the demo data (issue 17):
// the metaverse object view with lineage and its connectors, the connector
// space object, the run statistics, the rule list, in table, JSON and YAML.
func TestCLIViews(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	run := func(args ...string) string {
		t.Helper()
		return mustIdsync(t, append([]string{"--config", cfg}, args...)...)
	}
	id := strings.Fields(run("mv", "search", "mail=sofia.alvarez@contoso.test"))[0]
	golden(t, "mv-get.txt", run("mv", "get", id, "-o", "table"))
	golden(t, "mv-get.json", run("mv", "get", id)) // not a terminal: JSON
	golden(t, "mv-get.yaml", run("mv", "get", id, "-o", "yaml"))
	golden(t, "cs-get.txt", run("cs", "get", "contoso", "741A7NRM1ZhrEABe+iYqfA==", "-o", "table"))
	golden(t, "cs-get.json", run("cs", "get", "contoso", "741A7NRM1ZhrEABe+iYqfA=="))
	golden(t, "runs.txt", run("runs"))
	golden(t, "rules-list.txt", run("rules", "list"))
	golden(t, "mv-search.json", run("mv", "search", "department=Sales", "-o", "json"))

	// The JSON is the documented shape, not the store's encoding.
	var mv struct {
		ID         string `json:"id"`
		Attributes []struct {
			Name, Type, Connector, Rule string
			Values                      []string
			Precedence                  *int
		} `json:"attributes"`
		Connectors []struct{ Connector, State, Anchor string } `json:"connectors"`
	}
	if err := json.Unmarshal([]byte(run("mv", "get", id, "-o", "json")), &mv); err != nil {
		t.Fatal(err)
	}
	if mv.ID != id || len(mv.Attributes) == 0 || len(mv.Connectors) != 3 {
		t.Fatalf("mv get -o json = %+v", mv)
	}
	for _, a := range mv.Attributes {
		if a.Connector == "" || a.Rule == "" || a.Precedence == nil || len(a.Values) == 0 {
			t.Errorf("attribute %s lacks its value or lineage: %+v", a.Name, a)
		}
	}
	var runs []struct {
		Profile string `json:"profile"`
		Sync    *struct {
			Projections int64 `json:"projections"`
			Joins       int64 `json:"joins"`
		} `json:"sync"`
	}
	if err := json.Unmarshal([]byte(run("runs", "-o", "json", "--limit", "0")), &runs); err != nil {
		t.Fatal(err)
	}
	syncs := 0
	for _, r := range runs {
		if strings.HasSuffix(r.Profile, "-sync") != (r.Sync != nil) {
			t.Errorf("a %s run with statistics %v", r.Profile, r.Sync)
		}
		if r.Sync != nil {
			syncs++
		}
	}
	if syncs == 0 {
		t.Fatal("no synchronization in the run history")
	}
}

// TestCLIHelpfulErrors: a command called wrongly names what it needed and
// the valid values (issue 17).
func TestCLIHelpfulErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"preview"}, 2, []string{"preview needs the name of a connector: cloud", "see idsync preview --help"}},
		{[]string{"run"}, 2, []string{"contoso, fabrikam, cloud", "full-import, delta-import, full-sync, delta-sync, export", "see idsync run --help"}},
		{[]string{"run", "contoso"}, 2, []string{"run contoso needs a run profile: full-import"}},
		{[]string{"run", "nowhere", "full-import"}, 1, []string{`"nowhere"`, "contoso"}},
		{[]string{"mv", "get"}, 2, []string{"idsync mv get needs ID", "idsync mv search", "see idsync mv get --help"}},
		{[]string{"cs", "get"}, 2, []string{"cs get needs the name of a connector: contoso, fabrikam, cloud"}},
		{[]string{"expr", "eval"}, 2, []string{"see idsync expr eval --help"}},
		{[]string{"connector", "test"}, 2, []string{"contoso, fabrikam, cloud", "see idsync connector test --help"}},
		{[]string{"mv", "get", "x", "-o", "xml"}, 2, []string{"-o/--output must be one of table, json, yaml"}},
		{[]string{"rules", "show", "nope"}, 1, []string{`no sync rule is named "nope"`, `"In from contoso - User"`}},
		{[]string{"managed-domain", "report"}, 1, []string{"the configuration has no outOfBox.managedDomain"}},
		{[]string{"managed-domain", "report", "x"}, 2, []string{"see idsync managed-domain report --help"}},
	} {
		out, stderr, code := idsync(t, append([]string{"--config", cfg}, c.args...)...)
		if code != c.code {
			t.Errorf("idsync %v: exit %d, want %d\n%s%s", c.args, code, c.code, out, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("idsync %v: stderr lacks %q:\n%s", c.args, w, stderr)
			}
		}
	}
	// Nothing pending: the CSV header, and a line saying so.
	out, stderr, code := idsync(t, "--config", cfg, "preview", "cloud")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(stderr, "nothing pending for cloud") {
		t.Errorf("preview with nothing pending: exit %d\n%s%s", code, out, stderr)
	}
	// No configuration where the command looks.
	cmd := newCmdIn(t, t.TempDir(), "runs")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--config FILE") ||
		!strings.Contains(string(out), "IDSYNC_CONFIG") || !strings.Contains(string(out), "idsync demo") {
		t.Errorf("runs without a configuration: %v\n%s", err, out)
	}
}

// TestDemoHints: the demo's hints are commands that work as printed.
func TestDemoHints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := mustIdsync(t, "demo", "--dir", dir)
	_, hints, ok := strings.Cut(out, "next:\n")
	if !ok {
		t.Fatalf("no hints:\n%s", out)
	}
	line := strings.Fields(strings.Split(hints, "\n")[0])
	if line[0] != bin {
		t.Fatalf("the hint runs %q, want this binary %q (it is not on the PATH)", line[0], bin)
	}
	if res := mustIdsync(t, line[1:]...); !strings.Contains(res, "Sofia Alvarez") {
		t.Errorf("the hint %v printed:\n%s", line, res)
	}
}

// TestCompletion: the shell completes connector names, profiles and rules.
func TestCompletion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", ""}, []string{"contoso", "fabrikam", "cloud"}},
		{[]string{"run", "contoso", ""}, []string{"full-import", "delta-sync", "export"}},
		{[]string{"preview", ""}, []string{"cloud"}},
		{[]string{"rules", "show", ""}, []string{"In from contoso - User", "Out to cloud - User"}},
		{[]string{"mv", "get", "x", "-o", ""}, []string{"table", "json", "yaml"}},
	} {
		out := mustIdsync(t, append([]string{"--config", cfg, "__complete"}, c.args...)...)
		for _, w := range c.want {
			if !strings.Contains(out, w+"\n") {
				t.Errorf("completing %q: %q missing from\n%s", c.args, w, out)
			}
		}
	}
}

// newCmdIn prepares the binary to run in dir, without IDSYNC_CONFIG.
func newCmdIn(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDSYNC_CONFIG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// TestMVPreviewCLI: idsync mv preview on the demo data names, for every
// attribute, the rule its lineage names, and changes nothing.
func TestMVPreviewCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	run := func(args ...string) string {
		t.Helper()
		return mustIdsync(t, append([]string{"--config", cfg}, args...)...)
	}
	id := strings.Fields(run("mv", "search", "mail=sofia.alvarez@contoso.test"))[0]
	before := run("mv", "get", id, "-o", "json")
	var p engine.ObjectPreview
	if err := json.Unmarshal([]byte(run("mv", "preview", id)), &p); err != nil { // not a terminal: JSON
		t.Fatal(err)
	}
	if p.MVID != id || len(p.Inbound.Sources) != 2 || p.Inbound.Error != "" || len(p.Outbound) == 0 {
		t.Fatalf("preview = %+v", p)
	}
	var mv struct {
		Attributes []struct {
			Name, Rule string
			Values     []string
		} `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(before), &mv); err != nil {
		t.Fatal(err)
	}
	winners := map[string]engine.MVAttributePreview{}
	for _, a := range p.Inbound.Attributes {
		winners[a.Name] = a
	}
	for _, a := range mv.Attributes {
		w := winners[a.Name]
		if w.Winner == nil || w.Winner.Rule != a.Rule || w.Changed {
			t.Errorf("%s: lineage %s, preview %+v", a.Name, a.Rule, w)
		}
	}
	for _, tp := range p.Outbound {
		if tp.Connector == "cloud" && (tp.Link.Action != engine.LinkKeep || len(tp.Export) != 0) {
			t.Errorf("cloud: %+v", tp)
		}
	}
	table := run("mv", "preview", id, "-o", "table")
	for _, want := range []string{"inbound", "metaverse attributes", "outbound to cloud: keep", "(wins)"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	if after := run("mv", "get", id, "-o", "json"); after != before {
		t.Fatalf("mv preview changed the object:\n%s\n%s", before, after)
	}
}
