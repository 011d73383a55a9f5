package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProvisioningEditCLI: idsync provisioning disable / enable / assign /
// unassign write provisioning.console.yaml (provisioning.yaml stays as
// written), which list and config diff then show; refused changes exit
// non-zero with the reason and write nothing.
func TestProvisioningEditCLI(t *testing.T) {
	cfg := oobConfig(t)
	apps := filepath.Join(filepath.Dir(cfg), "provisioning.yaml")
	const appsYAML = `applications:
  - name: crm
    scim: {url: "http://127.0.0.1:1/scim/v2", auth: {token: t}}
    appRoles: [{name: User}, {name: Admin}]
    assignments: {groups: [{displayName: Sales}]}
    mappings: [{target: userName, source: mail, matching: true}]
`
	writeFile(t, apps, appsYAML)
	console := filepath.Join(filepath.Dir(cfg), "provisioning.console.yaml")
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"disable", "crm"}, "crm: provisioning off (in " + console + ")"},
		{[]string{"assign", "crm", "--group", "Marketing", "--role", "Admin"}, `crm: assigned group "Marketing"`},
		{[]string{"assign", "crm", "--user", "jdoe"}, "it now has 2 group and 1 user assignments"},
		{[]string{"unassign", "crm", "--group", "Sales"}, `crm: unassigned group "Sales"`},
	} {
		if out := mustIdsync(t, append([]string{"--config", cfg, "provisioning"}, tc.args...)...); !strings.Contains(out, tc.out) {
			t.Errorf("provisioning %q: %q, want %q", tc.args, out, tc.out)
		}
	}
	if list := mustIdsync(t, "--config", cfg, "provisioning", "list"); !strings.Contains(list, "crm\tprovisioning off\tdeprovision disable\t1 group and 1 user assignments") {
		t.Errorf("provisioning list:\n%s", list)
	}
	diff := mustIdsync(t, "--config", cfg, "config", "diff")
	for _, want := range []string{"Set from the console or the CLI", console + `: application crm: provisioning off; assigns group "Marketing" (role Admin); assigns user accountName="jdoe" (role User); unassigns group "Sales"`} {
		if !strings.Contains(diff, want) {
			t.Errorf("config diff lacks %q:\n%s", want, diff)
		}
	}
	before, err := os.ReadFile(console)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"assign", "crm", "--group", "Finance", "--role", "Boss"}, `role "Boss" is not a role of the application`},
		{[]string{"assign", "crm", "--group", "Marketing"}, `already assigned to crm (role Admin)`},
		{[]string{"unassign", "crm", "--user", "nobody"}, `user accountName="nobody" is not assigned to crm`},
		{[]string{"assign", "crm"}, "give one of --group NAME"},
		{[]string{"assign", "crm", "--group", "x", "--user", "y"}, "give one of --group NAME"},
		{[]string{"disable", "erp"}, `no application "erp"`},
		{[]string{"enable"}, "APP"},
	} {
		_, stderr, code := idsync(t, append([]string{"--config", cfg, "provisioning"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("provisioning %q: exit %d, stderr %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
	if after, _ := os.ReadFile(console); string(after) != string(before) {
		t.Errorf("refused changes rewrote %s:\n%s", console, after)
	}
	mustIdsync(t, "--config", cfg, "provisioning", "enable", "crm")
	if list := mustIdsync(t, "--config", cfg, "provisioning", "list"); !strings.Contains(list, "crm\tprovisioning on") {
		t.Errorf("after enable:\n%s", list)
	}
	if data, _ := os.ReadFile(apps); string(data) != appsYAML {
		t.Errorf("provisioning.yaml was written:\n%s", data)
	}
}
