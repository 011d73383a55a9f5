package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/sample"
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
	start := time.Now()
	mustIdsync(t, "--config", ref, "run", "cloud", "export")
	exportTime := time.Since(start)
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
		cmd := exec.Command(bin, "--config", cfg, "run", "cloud", "export")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Each run gets a slice of the export's time, so that most are killed
		// somewhere inside it (before, during or after a batch) and the 20
		// runs together still do not finish it.
		delay := time.Duration(rng.Int64N(int64(exportTime) / 12))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(delay):
			_ = cmd.Process.Kill() // SIGKILL
			<-done
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
