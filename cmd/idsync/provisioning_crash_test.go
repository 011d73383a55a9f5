package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/sample"
	"github.com/idsync/idsync/store"
)

const provCrashRules = `rules:
  - name: in-user
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: sAMAccountName, target: accountName}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: mail, target: mail}
  - name: in-group
    connector: src
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 2
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: member, target: member}
`

const provCrashApps = `applications:
  - name: crm
    scim: {url: %q, auth: {token: %q}, concurrency: 4, maxRetries: 2, retryBase: 5ms, retryCap: 50ms}
    deleteThreshold: -1
    assignments:
      groups: [{displayName: Sales Team}, {displayName: IT Team}, {displayName: Sales Managers}]
      users: [{attribute: department, value: finance}]
    mappings:
      - {target: userName, expression: 'Join("@", [accountName], "example.test")', matching: true}
      - {target: displayName, source: displayName}
      - {target: 'emails[type eq "work"].value', expression: 'ToLower([mail])'}
`

// provCrashDir writes a configuration with a generated source directory and
// an application on the SCIM server srv, and runs the source's import and
// synchronization (which stage the application's pending exports).
func provCrashDir(t *testing.T, src []byte, srv *peers.SCIMServer) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, `dataDir: .
connectors:
  - {name: src, type: file, config: {path: src.ldif, anchor: objectGUID}}
rules: [rules.yaml]
engine: {batchSize: 20}
`)
	writeFile(t, filepath.Join(dir, "rules.yaml"), provCrashRules)
	writeFile(t, filepath.Join(dir, "provisioning.yaml"), fmt.Sprintf(provCrashApps, srv.URL, srv.Token))
	if err := os.WriteFile(filepath.Join(dir, "src.ldif"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	mustIdsync(t, "--config", cfg, "run", "src", "full-sync")
	return cfg
}

// scimState describes what a SCIM server holds, independently of ids: one
// line per user (userName, displayName, e-mail, active) and per group
// (displayName and its members' userNames); two resources with the same
// userName or displayName fail the test.
func scimState(t *testing.T, srv *peers.SCIMServer) string {
	t.Helper()
	f, err := provisioning.Parse("p.yaml", fmt.Appendf(nil, provCrashApps, srv.URL, srv.Token))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := scim.New("check", f.Applications[0].SCIMConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := map[string]string{}
	var lines []string
	var groups []*model.Object
	_, err = conn.FullImport(t.Context(), connector.ImportRequest{ObjectTypes: []string{"user", "group"}}, func(o *model.Object) error {
		if o.Type == "group" {
			groups = append(groups, o)
			return nil
		}
		un := o.Attrs.First("userName")
		if _, dup := names[o.Anchor]; dup || slices.Contains(lines, "user "+un) {
			t.Errorf("two accounts with userName %q", un)
		}
		names[o.Anchor] = un
		lines = append(lines, fmt.Sprintf("user %s|%s|%s|%s", un, o.Attrs.First("displayName"), o.Attrs.First(`emails[type eq "work"].value`), o.Attrs.First("active")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range groups {
		dn := g.Attrs.First("displayName")
		if seen[dn] {
			t.Errorf("two groups named %q", dn)
		}
		seen[dn] = true
		var members []string
		for _, m := range g.Attrs["members"].Values {
			members = append(members, names[m])
		}
		slices.Sort(members)
		lines = append(lines, fmt.Sprintf("group %s|%s", dn, strings.Join(members, ",")))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestProvisioningCrashRecovery kills provisioning cycles against scimmy
// with SIGKILL at random points, 20 times (in the import, the
// synchronization or the export: the cycle is engine runs), then lets one
// finish: the SCIM server holds exactly what an uninterrupted cycle gives,
// no account or group duplicated, and a further cycle has nothing to do.
func TestProvisioningCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	var src bytes.Buffer
	if err := sample.Generate(&src, sample.GenOptions{Seed: 11, Users: 1200, Groups: 16, MembersPerGroup: 120}); err != nil {
		t.Fatal(err)
	}
	refSrv := peers.SCIM(t)
	ref := provCrashDir(t, src.Bytes(), refSrv)
	recorded, finished, killedRef := runUntil(t, ref, -1, "provisioning", "run", "crm")
	if killedRef {
		t.Fatal("the reference cycle was killed")
	}
	work := finished - recorded
	want := scimState(t, refSrv)
	if n := strings.Count(want, "user "); n < 100 {
		t.Fatalf("the reference cycle provisioned %d users: the test proves little", n)
	}
	if n := strings.Count(want, "group "); n != 3 {
		t.Fatalf("the reference cycle provisioned %d groups, want 3", n)
	}

	srv := peers.SCIM(t)
	cfg := provCrashDir(t, src.Bytes(), srv)
	rng := rand.New(rand.NewPCG(11, 3))
	killed := 0
	for range 20 {
		// Anywhere in the first part of the cycle — its import,
		// synchronization or export — so that the 20 runs together do not
		// finish it.
		if _, _, k := runUntil(t, cfg, time.Duration(rng.Int64N(int64(work)/5+1)), "provisioning", "run", "crm"); k {
			killed++
		}
	}
	t.Logf("%d of 20 provisioning cycles were killed before they finished (a cycle works %s)", killed, work)
	if killed < 15 {
		t.Fatalf("only %d of 20 cycles were killed before they finished: the test proves little; make the cycle longer", killed)
	}
	out := mustIdsync(t, "--config", cfg, "provisioning", "run", "crm")
	if got := scimState(t, srv); got != want {
		t.Fatalf("after %d kills the application differs from an uninterrupted cycle:\n%s\n--- want ---\n%s\n(last cycle: %s)", killed, got, want, out)
	}
	if out := mustIdsync(t, "--config", cfg, "provisioning", "run", "crm"); !strings.Contains(out, "created 0, updated 0, disabled 0, deleted 0") {
		t.Errorf("a cycle after the recovery still had work:\n%s", out)
	}
	var runs []store.Run
	if err := json.Unmarshal([]byte(mustIdsync(t, "--config", cfg, "runs", "--connector", "crm", "--limit", "0", "-o", "json")), &runs); err != nil {
		t.Fatal(err)
	}
	interrupted := map[string]int{}
	for _, r := range runs {
		if r.Status == "interrupted" {
			interrupted[r.Profile]++
		}
	}
	t.Logf("interrupted runs: %v", interrupted)
	if interrupted["export"] < 5 {
		t.Errorf("only %d exports were interrupted (%v): the kills missed the export", interrupted["export"], interrupted)
	}
}
