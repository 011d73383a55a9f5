package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/store"
)

// provCmd runs `idsync provisioning ARGS` in process (the command is not
// necessarily registered on the root command).
func provCmd(t *testing.T, cfg string, args ...string) (string, error) {
	t.Helper()
	cmd := newProvisioningCmd(&globalFlags{config: cfg, logLevel: "warn"})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestProvisioningCLI(t *testing.T) {
	srv := peers.SCIM(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "dataDir: data\n")
	t.Setenv("CRM_SCIM_TOKEN", srv.Token)
	writeFile(t, filepath.Join(dir, "provisioning.yaml"), fmt.Sprintf(`
applications:
  - name: crm
    scim: {url: %[1]q, auth: {token: "${CRM_SCIM_TOKEN}"}}
    assignments:
      groups: [{displayName: Sales}]
    mappings:
      - {target: userName, source: accountName, matching: true}
      - {target: displayName, source: displayName}
  - name: bad
    scim: {url: %[1]q, auth: {token: not-the-token}, maxRetries: 0}
    assignments:
      users: [{value: ann}]
    mappings:
      - {target: userName, source: accountName}
`, srv.URL))

	st, err := openSQLite(t.Context(), filepath.Join(dir, "data", "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	var members []string
	for _, n := range []string{"ann", "bob", "cid"} {
		b.PutMV = append(b.PutMV, &store.MVObject{ID: "mv-" + n, Type: "person", Modified: time.Now(),
			Attrs: model.Attrs{"accountName": model.Str(n), "displayName": model.Str(strings.ToUpper(n))}})
		members = append(members, "mv-"+n)
	}
	b.PutMV = append(b.PutMV, &store.MVObject{ID: "mv-sales", Type: "group", Modified: time.Now(),
		Attrs: model.Attrs{"displayName": model.Str("Sales"), "member": model.Ref(members...)}})
	if err := st.Apply(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, err := provCmd(t, cfg, "test", "crm")
	if err != nil || !strings.Contains(out, "connection OK") {
		t.Fatalf("test crm: %v\n%s", err, out)
	}
	_, err = provCmd(t, cfg, "test", "bad")
	if err == nil || !strings.Contains(err.Error(), "test connection failed: credentials") || strings.Contains(err.Error(), "not-the-token") {
		t.Fatalf("test bad: %v", err)
	}

	// One engine: the application is a connector of the engine, with
	// generated rules; what its first cycle will create can be previewed
	// before anything is exported.
	mustIdsync(t, "--config", cfg, "run", "crm", "full-import")
	mustIdsync(t, "--config", cfg, "run", "crm", "full-sync")
	preview := mustIdsync(t, "--config", cfg, "preview", "crm")
	adds := 0
	for line := range strings.SplitSeq(preview, "\n") {
		if strings.Contains(line, ",add,userName,") || strings.Contains(line, ",add,displayName,replace,,Sales,") {
			adds++
		}
	}
	if adds != 4 {
		t.Fatalf("preview crm lists %d creates, want 3 users and Sales:\n%s", adds, preview)
	}
	if rl := mustIdsync(t, "--config", cfg, "rules", "list"); !strings.Contains(rl, "App crm: users") || !strings.Contains(rl, "App crm: groups") {
		t.Errorf("rules list lacks the application's rules:\n%s", rl)
	}

	// On demand: bob now, and the group Sales created with him alone.
	out, err = provCmd(t, cfg, "run", "crm", "--user", "bob")
	if err != nil || !strings.Contains(out, "crm: cycle 1 success: 2/2 done; created 2, updated 0") {
		t.Fatalf("run crm --user bob: %v\n%s", err, out)
	}
	if got := scimState(t, srv); strings.Count(got, "user ") != 1 || !strings.Contains(got, "group Sales|bob\n") && !strings.HasSuffix(got, "group Sales|bob") {
		t.Fatalf("after run --user bob the application has:\n%s", got)
	}
	if p := mustIdsync(t, "--config", cfg, "preview", "crm"); !strings.Contains(p, ",add,userName,replace,,ann,") || !strings.Contains(p, ",update,members,") {
		t.Errorf("after run --user bob the rest is not pending:\n%s", p)
	}
	out, err = provCmd(t, cfg, "run", "crm")
	// The two other users, and Sales gets them.
	if err != nil || !strings.Contains(out, "crm: cycle 2 success: 3/3 done; created 2, updated 1") {
		t.Fatalf("run crm: %v\n%s", err, out)
	}
	if got := scimState(t, srv); strings.Count(got, "user ") != 3 || !strings.Contains(got, "group Sales|ann,bob,cid") {
		t.Fatalf("after a cycle the application has:\n%s", got)
	}
	out, err = provCmd(t, cfg, "run", "crm")
	if err != nil || !strings.Contains(out, "created 0, updated 0") || !strings.Contains(out, "runs: ") {
		t.Fatalf("run crm again: %v\n%s", err, out)
	}
	if runs := mustIdsync(t, "--config", cfg, "runs", "--connector", "crm"); strings.Count(runs, "export") < 2 || !strings.Contains(runs, "full-import") {
		t.Errorf("runs --connector crm:\n%s", runs)
	}
	if nothing := mustIdsync(t, "--config", cfg, "preview", "crm"); strings.Count(strings.TrimSpace(nothing), "\n") != 0 {
		t.Errorf("pending exports after two cycles:\n%s", nothing)
	}

	out, err = provCmd(t, cfg, "log", "crm", "--format", "json", "--since", "1h")
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var a provisioning.Activity
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if a.Action == provisioning.ActCreate {
			creates++
			if a.Name == "ann" {
				cs := mustIdsync(t, "--config", cfg, "cs", "get", "crm", a.SCIMID)
				if !strings.Contains(cs, "mv-ann") || !strings.Contains(cs, "App crm: users") {
					t.Errorf("cs get crm %s:\n%s", a.SCIMID, cs)
				}
			}
		}
	}
	if creates != 4 {
		t.Errorf("log shows %d creates, want 4 (three users, one group):\n%s", creates, out)
	}
	out, err = provCmd(t, cfg, "log", "crm")
	if err != nil || !strings.HasPrefix(out, "time,app,cycle,action,object,name,scimId,reason,changes,error\n") ||
		!strings.Contains(out, ",create,mv-ann,ann,") {
		t.Fatalf("log csv: %v\n%s", err, out)
	}
	if out, err := provCmd(t, cfg, "log", "crm", "--since", "yesterday"); err == nil {
		t.Fatalf("--since yesterday accepted:\n%s", out)
	}

	// The bad app: the cycle fails, quarantines; the next run says so.
	out, err = provCmd(t, cfg, "run", "bad")
	if err == nil || !strings.Contains(out, "quarantined") {
		t.Fatalf("run bad: %v\n%s", err, out)
	}
	out, err = provCmd(t, cfg, "run", "bad")
	if err == nil || !strings.Contains(err.Error(), "quarantined") || !strings.Contains(out, "cycle 1 quarantined") {
		t.Fatalf("run bad again: %v\n%s", err, out)
	}
	out, err = provCmd(t, cfg, "status", "bad")
	if err != nil || !strings.Contains(out, "quarantined since") {
		t.Fatalf("status bad: %v\n%s", err, out)
	}
}
