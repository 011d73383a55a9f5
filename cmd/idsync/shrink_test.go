package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

// TestImportShrinkFiles: a source file that is emptied, holds only a header
// or comments, or is cut off cleanly between two entries is read as an
// almost empty directory. The import-shrink guard refuses it: the cycle
// exits 3, the run is stopped-import-shrink, and the target file is left
// byte for byte as it was. --allow-shrink then lets the deletions in, and
// the export's own guard asks a second time (issue 16).
func TestImportShrinkFiles(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", demo)
	forestA, err := os.ReadFile(filepath.Join(demo, "forest-a.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	// The first three entries of the forest, cut cleanly before the fourth.
	entries := strings.SplitAfter(string(forestA), "\n\n")
	if len(entries) < 10 {
		t.Fatalf("forest-a.ldif has %d entries", len(entries))
	}
	truncated := strings.Join(entries[:3], "")

	hr := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "examples", "hr-csv-to-ldif"), hr)
	mustIdsync(t, "--config", filepath.Join(hr, "idsync.yaml"), "cycle", "--full")
	hrCSV, err := os.ReadFile(filepath.Join(hr, "hr.csv"))
	if err != nil {
		t.Fatal(err)
	}
	header := strings.SplitAfter(string(hrCSV), "\n")[0]

	for _, c := range []struct {
		name, dir, source, target, content, connector string
	}{
		{"empty LDIF", demo, "forest-a.ldif", "cloud.ldif", "", "contoso"},
		{"LDIF with only its version line", demo, "forest-a.ldif", "cloud.ldif", "version: 1\n", "contoso"},
		{"LDIF with only comments", demo, "forest-a.ldif", "cloud.ldif", "# exported by a job that failed\n#\n", "contoso"},
		{"LDIF cut off between two entries", demo, "forest-a.ldif", "cloud.ldif", truncated, "contoso"},
		{"CSV with only its header", hr, "hr.csv", "directory.ldif", header, "hr"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(c.dir, "idsync.yaml")
			src := filepath.Join(c.dir, c.source)
			good, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(filepath.Join(c.dir, c.target))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, src, c.content)
			defer writeFile(t, src, string(good)) // the next case starts from the good file
			out, errs, code := idsync(t, "--config", cfg, "cycle")
			if code != 3 || !strings.Contains(out, "stopped-import-shrink") || !strings.Contains(out, "--allow-shrink") ||
				!strings.Contains(out, "of "+c.connector+" stopped before deleting anything") {
				t.Fatalf("cycle: exit %d, want 3 and the import-shrink guard naming %s\nstdout:\n%s\nstderr:\n%s", code, c.connector, out, errs)
			}
			after, err := os.ReadFile(filepath.Join(c.dir, c.target))
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Fatalf("the target changed after a stopped import:\n%s", after)
			}
			// Restored, the source imports as before and nothing is lost.
			writeFile(t, src, string(good))
			mustIdsync(t, "--config", cfg, "cycle")
			after, _ = os.ReadFile(filepath.Join(c.dir, c.target))
			if string(after) != string(before) {
				t.Fatalf("the target changed after the source was restored:\n%s", after)
			}
		})
	}

	// Allowed once, the shrink goes through to the connector space; the
	// export's accidental-delete guard (20% of the target, here) stops the
	// deletes until they are allowed too.
	writeFile(t, filepath.Join(demo, "forest-a.ldif"), "")
	cfg := filepath.Join(demo, "idsync.yaml")
	out, _, code := idsync(t, "--config", cfg, "cycle", "--allow-shrink")
	if code != 3 || strings.Contains(out, "stopped-import-shrink") || !strings.Contains(out, "pending deletes and disables are") {
		t.Fatalf("cycle --allow-shrink: exit %d, want the import applied and the export stopped by the delete guard:\n%s", code, out)
	}
	mustIdsync(t, "--config", cfg, "run", "cloud", "export", "--allow-deletes")
	cloud, err := os.ReadFile(filepath.Join(demo, "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(cloud), "\n") {
		if strings.HasPrefix(l, "dn: ") {
			n++
		}
	}
	if n >= 27 || n == 0 {
		t.Fatalf("after allowing the shrink and the deletes the cloud holds %d objects, want fewer than 27 and some of fabrikam's", n)
	}
}

// copyDir copies the regular files of src (recursively) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dst, rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportShrinkLDAP: an admin empties the source base of a slapd
// directory. The delta cycle and a full cycle are both refused by the
// import-shrink guard and the target directory (read back over LDAP) keeps
// every entry; --allow-shrink lets the deletions in, the export's guard
// stops them a second time, and --allow-deletes sends them (issue 16).
func TestImportShrinkLDAP(t *testing.T) {
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
	const n = 15
	var dns []string
	for i := range n {
		cn := fmt.Sprintf("shrink%02d", i)
		req := ldap.NewAddRequest("cn="+cn+","+people, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("cn", []string{cn})
		req.Attribute("sn", []string{"Test"})
		req.Attribute("mail", []string{cn + "@example.test"})
		if err := a.Add(req); err != nil {
			t.Fatalf("add %s: %v", cn, err)
		}
		dns = append(dns, req.DN)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, fmt.Sprintf(`dataDir: .
connectors:
  - name: src
    type: ldap
    config: {url: %s, bindDN: %q, password: "${IDSYNC_TEST_LDAP_PASSWORD}", baseDN: %q, containers: {include: [%q]}}
  - name: dst
    type: ldap
    config: {url: %s, caFile: %s, bindDN: %q, password: "${IDSYNC_TEST_LDAP_PASSWORD}", baseDN: %q, containers: {include: ["ou=people,%s"]}}
rules: [rules.yaml]
scheduler: {order: [src, dst]}
`, srv.URL, srv.BindDN, srv.BaseDN, people, srv.LDAPSURL, srv.CAFile, srv.BindDN, srv.TargetBaseDN, srv.TargetBaseDN))
	writeFile(t, filepath.Join(dir, "rules.yaml"), ldapRules)
	t.Setenv("IDSYNC_TEST_LDAP_PASSWORD", srv.Password)
	inTarget := func() int {
		t.Helper()
		res, err := a.Search(ldap.NewSearchRequest("ou=people,"+srv.TargetBaseDN, ldap.ScopeSingleLevel, 0, 0, 0, false,
			"(cn=shrink*)", []string{"cn"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Entries)
	}
	mustIdsync(t, "--config", cfg, "cycle", "--full")
	mustIdsync(t, "--config", cfg, "cycle")
	if got := inTarget(); got != n {
		t.Fatalf("the target holds %d entries after the first cycles, want %d", got, n)
	}
	for _, dn := range dns {
		if err := a.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"cycle"}, {"cycle", "--full"}} {
		out, errs, code := idsync(t, append([]string{"--config", cfg}, args...)...)
		if code != 3 || !strings.Contains(out, "stopped-import-shrink") || !strings.Contains(out, fmt.Sprintf("would delete %d of the %d objects", n, n)) {
			t.Fatalf("idsync %v: exit %d, want 3 and the import-shrink guard\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
		}
		if got := inTarget(); got != n {
			t.Fatalf("after a stopped import (%v) the target holds %d entries, want %d", args, got, n)
		}
	}
	out, _, code := idsync(t, "--config", cfg, "cycle", "--allow-shrink")
	if code != 3 || strings.Contains(out, "stopped-import-shrink") || !strings.Contains(out, "pending deletes and disables are 100% of its") {
		t.Fatalf("cycle --allow-shrink: exit %d, want the import applied and the export stopped by the delete guard:\n%s", code, out)
	}
	if got := inTarget(); got != n {
		t.Fatalf("the delete guard let deletes through: %d of %d left", got, n)
	}
	mustIdsync(t, "--config", cfg, "run", "dst", "export", "--allow-deletes")
	if got := inTarget(); got != 0 {
		t.Fatalf("after allowing the shrink and the deletes the target holds %d entries, want 0", got)
	}
}
