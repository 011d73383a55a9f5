package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

// TestContainersCLI: an OU excluded with idsync connector containers (the
// console's OU tree writes the same file) is what the next cycle imports:
// the cycle runs a full import of the changed connector, its objects leave
// the connector space and are deleted in the target (few: under the
// accidental-delete guard); excluding an OU that holds most objects is
// stopped by the import-shrink guard, the target untouched; the entry
// removed from the console-managed file, everything comes back.
func TestContainersCLI(t *testing.T) {
	srv := peers.Slapd(t)
	a, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Bind(srv.BindDN, srv.Password); err != nil {
		t.Fatal(err)
	}
	people := "ou=people," + srv.BaseDN
	sales, leavers := "ou=sales,"+people, "ou=leavers,"+people
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := a.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(sales, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"sales"}})
	add(leavers, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"leavers"}})
	user := func(cn, ou string) {
		add("cn="+cn+","+ou, map[string][]string{"objectClass": {"inetOrgPerson"}, "cn": {cn}, "sn": {"Test"}, "mail": {cn + "@example.test"}})
	}
	for i := range 16 {
		user(fmt.Sprintf("sale%02d", i), sales)
	}
	for i := range 3 {
		user(fmt.Sprintf("gone%02d", i), leavers)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, fmt.Sprintf(`dataDir: .
connectors:
  - name: src
    type: ldap
    config:
      url: %s
      bindDN: %q
      password: "${IDSYNC_TEST_LDAP_PASSWORD}"
      baseDN: %q
      containers:
        include: [%q]
  - name: dst
    type: ldap
    config: {url: %s, caFile: %s, bindDN: %q, password: "${IDSYNC_TEST_LDAP_PASSWORD}", baseDN: %q, containers: {include: ["ou=people,%s"]}}
rules: [rules.yaml]
scheduler: {order: [src, dst]}
`, srv.URL, srv.BindDN, srv.BaseDN, people, srv.LDAPSURL, srv.CAFile, srv.BindDN, srv.TargetBaseDN, srv.TargetBaseDN))
	writeFile(t, filepath.Join(dir, "rules.yaml"), ldapRules)
	t.Setenv("IDSYNC_TEST_LDAP_PASSWORD", srv.Password)
	inTarget := func(prefix string) int {
		t.Helper()
		res, err := a.Search(ldap.NewSearchRequest("ou=people,"+srv.TargetBaseDN, ldap.ScopeSingleLevel, 0, 0, 0, false,
			"(cn="+prefix+"*)", []string{"cn"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Entries)
	}
	mustIdsync(t, "--config", cfg, "cycle", "--full")
	if s, g := inTarget("sale"), inTarget("gone"); s != 16 || g != 3 {
		t.Fatalf("after the first cycle the target holds %d sale and %d gone entries, want 16 and 3", s, g)
	}

	// The tree as the CLI lists it.
	out := mustIdsync(t, "--config", cfg, "connector", "containers", "src")
	for _, want := range []string{
		"SUBTREE  SYNC  NEW OUS  CONTAINER",
		"some     no    -        " + srv.BaseDN,
		"all      yes   yes        " + people,
		"all      yes   yes          " + leavers,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("containers lacks %q:\n%s", want, out)
		}
	}
	var trees []struct {
		Partition string
		Nodes     []struct {
			DN       string
			Selected bool
			Subtree  string
		}
	}
	if err := json.Unmarshal([]byte(mustIdsync(t, "--config", cfg, "connector", "containers", "src", "-o", "json")), &trees); err != nil || len(trees) != 1 || trees[0].Partition != srv.BaseDN {
		t.Fatalf("containers -o json: %v, %+v", err, trees)
	}

	// Exclude leavers: the next cycle imports in full and deletes its three.
	out = mustIdsync(t, "--config", cfg, "connector", "containers", "src", "--unselect", leavers)
	if !strings.Contains(out, "no    -            "+leavers) || !strings.Contains(out, "some     yes   yes        "+people) {
		t.Errorf("after --unselect:\n%s", out)
	}
	console := filepath.Join(dir, "idsync.console.yaml")
	data, err := os.ReadFile(console)
	if err != nil || !strings.Contains(string(data), leavers) || !strings.Contains(string(data), "src:") {
		t.Fatalf("%s: %v\n%s", console, err, data)
	}
	if out := mustIdsync(t, "--config", cfg, "config", "diff"); !strings.Contains(out, "connector changed: src") || !strings.Contains(out, "full import of: src") ||
		!strings.Contains(out, console+" sets: src containers") {
		t.Errorf("config diff:\n%s", out)
	}
	mustIdsync(t, "--config", cfg, "cycle")
	if s, g := inTarget("sale"), inTarget("gone"); s != 16 || g != 0 {
		t.Fatalf("after excluding leavers the target holds %d sale and %d gone entries, want 16 and 0", s, g)
	}
	if out := mustIdsync(t, "--config", cfg, "mv", "search", "--limit", "0"); strings.Contains(out, "gone") || !strings.Contains(out, "sale15") {
		t.Errorf("leavers still in the metaverse:\n%s", out)
	}

	// Excluding sales too would delete all 16 remaining objects: the
	// import-shrink guard stops the cycle and the target keeps them.
	mustIdsync(t, "--config", cfg, "connector", "containers", "src", "--unselect", sales)
	out, errs, code := idsync(t, "--config", cfg, "cycle")
	if code != 3 || !strings.Contains(out, "stopped-import-shrink") || !strings.Contains(out, "would delete 16 of the 16 objects") {
		t.Fatalf("cycle after excluding sales: exit %d, want 3 and the import-shrink guard\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if s := inTarget("sale"); s != 16 {
		t.Fatalf("the import-shrink guard let %d of 16 deletes through", 16-s)
	}

	// Back to the configuration file's own containers: the entry goes, and
	// everything comes back.
	mustIdsync(t, "--config", cfg, "connector", "containers", "src", "--select", sales, "--select", leavers)
	if data, _ := os.ReadFile(console); strings.Contains(string(data), "src") {
		t.Errorf("%s still sets src:\n%s", console, data)
	}
	mustIdsync(t, "--config", cfg, "cycle")
	if s, g := inTarget("sale"), inTarget("gone"); s != 16 || g != 3 {
		t.Fatalf("after selecting everything again the target holds %d sale and %d gone entries, want 16 and 3", s, g)
	}

	// Errors name what to do.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--unselect", "ou=nowhere," + people}, "is not in the OU tree"},
		{[]string{"--no-new-ous", leavers + ",x=="}, "not in the OU tree"},
	} {
		_, errs, code := idsync(t, append([]string{"--config", cfg, "connector", "containers", "src"}, tc.args...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("containers %v: exit %d, stderr %q", tc.args, code, errs)
		}
	}
	writeFile(t, filepath.Join(dir, "other.yaml"), "connectors:\n  - {name: hr, type: memory}\n")
	if _, errs, code := idsync(t, "--config", filepath.Join(dir, "other.yaml"), "connector", "containers", "hr"); code == 0 || !strings.Contains(errs, "for ldap connectors") {
		t.Errorf("memory connector: exit %d, %q", code, errs)
	}
}
