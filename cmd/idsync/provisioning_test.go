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

	out, err = provCmd(t, cfg, "run", "crm")
	// Three users and the group assigned to the application.
	if err != nil || !strings.Contains(out, "crm: cycle 1 success: 4/4 done; created 4") {
		t.Fatalf("run crm: %v\n%s", err, out)
	}
	out, err = provCmd(t, cfg, "run", "crm", "--user", "bob")
	if err != nil || !strings.Contains(out, "created 0, updated 0") {
		t.Fatalf("run crm --user bob: %v\n%s", err, out)
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
		}
	}
	if creates != 4 {
		t.Errorf("log shows %d creates, want 4 (three users, one group):\n%s", creates, out)
	}
	out, err = provCmd(t, cfg, "log", "crm")
	if err != nil || !strings.HasPrefix(out, "time,app,cycle,action,object,name,scimId,reason,changes,error\n") ||
		!strings.Contains(out, ",create,mv-ann,ann,") || !strings.Contains(out, ",skip,mv-bob,bob,,no change,") {
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
