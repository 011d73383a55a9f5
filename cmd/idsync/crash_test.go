package main

import (
	"bytes"
	"database/sql"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/sample"
	_ "modernc.org/sqlite"
)

const crashRules = `rules:
  - name: in-user
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: sAMAccountName, target: accountName}
  - name: in-group
    connector: src
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 2
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: member, target: member}
  - name: out-user
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 3
    dn: "CN={accountName},OU=Users,DC=cloud"
    flows:
      - {type: Constant, value: user, target: objectClass}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
  - name: out-group
    connector: cloud
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 4
    dn: "CN={cn},OU=Groups,DC=cloud"
    flows:
      - {type: Constant, value: group, target: objectClass}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: member, target: member}
`

// crashDir writes a configuration with a generated source directory and an
// empty LDIF target.
func crashDir(t *testing.T, src []byte) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "idsync.yaml"), `dataDir: .
connectors:
  - {name: src, type: file, config: {path: src.ldif, anchor: objectGUID}}
  - {name: cloud, type: file, config: {path: cloud.ldif, anchor: cloudAnchor, target: true}}
rules: [rules.yaml]
engine: {batchSize: 25}
`)
	writeFile(t, filepath.Join(dir, "rules.yaml"), crashRules)
	if err := os.WriteFile(filepath.Join(dir, "src.ldif"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "idsync.yaml")
}

var anchorLine = regexp.MustCompile(`(?m)^cloudAnchor:.*\n`)

func target(t *testing.T, cfg string) string {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	// Anchors are generated per run; everything else must be identical.
	return anchorLine.ReplaceAllString(string(data), "")
}

// TestExportCrashRecovery kills the export with SIGKILL at random points, 20
// times, then lets it finish: the target must equal that of an uninterrupted
// run, with nothing lost or duplicated, and a confirming import must leave
// nothing pending.
func TestExportCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	var src bytes.Buffer
	if err := sample.Generate(&src, sample.GenOptions{Seed: 7, Users: 1200, Groups: 60, MembersPerGroup: 15}); err != nil {
		t.Fatal(err)
	}
	ref := crashDir(t, src.Bytes())
	mustIdsync(t, "--config", ref, "run", "src", "full-import")
	mustIdsync(t, "--config", ref, "run", "src", "full-sync")
	// The reference export measures how long the export works once its run
	// is recorded: process start-up (slow on a busy CI machine, slower still
	// under the race detector) must not eat the kill window.
	recorded, finished, killedRef := exportUntil(t, ref, -1)
	if killedRef {
		t.Fatal("the reference export was killed")
	}
	work := finished - recorded
	want := target(t, ref)
	if n := strings.Count(want, "\ndn: "); n != 1260 {
		t.Fatalf("reference export wrote %d objects, want 1260", n)
	}

	cfg := crashDir(t, src.Bytes())
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	mustIdsync(t, "--config", cfg, "run", "src", "full-sync")
	rng := rand.New(rand.NewPCG(42, 7))
	killed := 0
	for i := 0; i < 20; i++ {
		// Each run is killed a random slice of the export's working time
		// after its run is recorded, so that the kills land somewhere
		// inside it (before, during or after a batch) and the 20 runs
		// together still do not finish it.
		if _, _, k := exportUntil(t, cfg, time.Duration(rng.Int64N(int64(work)/12+1))); k {
			killed++
		}
	}
	t.Logf("%d of 20 exports were killed before they finished", killed)
	if killed < 15 {
		t.Fatalf("only %d of 20 exports were killed before they finished: the test proves little; make the export longer", killed)
	}
	mustIdsync(t, "--config", cfg, "run", "cloud", "export")
	// Killed runs (those killed after they were recorded) show as
	// interrupted, none as still running.
	if out := mustIdsync(t, "--config", cfg, "runs", "--limit", "0"); strings.Count(out, " interrupted ") == 0 || strings.Contains(out, " running   ") {
		t.Errorf("the run history does not show the killed runs as interrupted:\n%s", out)
	}
	if got := target(t, cfg); got != want {
		t.Fatalf("after %d kills the target differs from an uninterrupted export (%d vs %d bytes)", killed, len(got), len(want))
	}
	mustIdsync(t, "--config", cfg, "run", "cloud", "full-import")
	mustIdsync(t, "--config", cfg, "run", "cloud", "delta-sync")
	if out := mustIdsync(t, "--config", cfg, "preview", "cloud"); strings.Count(out, "\n") != 1 {
		t.Fatalf("pending exports after recovery and a confirming import:\n%s", out)
	}
}

// exportUntil starts "run cloud export" and, when after >= 0, kills it with
// SIGKILL that long after its run appears in the run history (runUntil).
func exportUntil(t *testing.T, cfg string, after time.Duration) (recorded, finished time.Duration, killed bool) {
	t.Helper()
	return runUntil(t, cfg, after, "run", "cloud", "export")
}

// runUntil starts idsync with args and, when after >= 0, kills it with
// SIGKILL that long after its first run appears in the run history. It
// returns when the run was recorded and when the process ended, both
// measured from its start, and whether it was killed.
func runUntil(t *testing.T, cfg string, after time.Duration, args ...string) (recorded, finished time.Duration, killed bool) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "idsync.db")+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lastRun := func() int64 {
		var id sql.NullInt64
		if err := db.QueryRow("SELECT MAX(id) FROM runs").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id.Int64
	}
	before := lastRun()
	start := time.Now()
	cmd := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for recorded == 0 {
		select {
		case err := <-done:
			if after < 0 && err != nil {
				t.Fatalf("idsync %v: %v\n%s", args, err, stderr.String())
			}
			// Ended before its run was seen: nothing to kill.
			return time.Since(start), time.Since(start), false
		case <-tick.C:
			if lastRun() > before {
				recorded = time.Since(start)
			}
		}
	}
	var timeout <-chan time.Time
	if after >= 0 {
		timeout = time.After(after)
	}
	select {
	case err := <-done:
		if after < 0 && err != nil {
			t.Fatalf("idsync %v: %v\n%s", args, err, stderr.String())
		}
	case <-timeout:
		_ = cmd.Process.Kill()
		<-done
		killed = true
	}
	return recorded, time.Since(start), killed
}
