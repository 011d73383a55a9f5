package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
)

// TestTenantCommands: tenants and domain verification from the command
// line, against a real DNS server (dnsmasq on a loopback port).
func TestTenantCommands(t *testing.T) {
	dns := peers.DNS(t, nil)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "store:\n  path: t.db\ntenants:\n  resolver: "+dns.Addr+"\n  verifyFor: 10m\n")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return idsyncStdin(t, "", append([]string{"--config", cfg, "tenant"}, args...)...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("idsync tenant %v: exit %d: %s%s", args, code, out, errOut)
		}
		return out
	}
	must("add", "contoso", "--name", "Contoso Ltd")
	must("add", "fabrikam")
	if _, errOut, code := run("add", "contoso"); code == 0 || !strings.Contains(errOut, "exists already") {
		t.Errorf("adding contoso twice: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run("add", "Bad_ID"); code == 0 || !strings.Contains(errOut, "lower-case letters") {
		t.Errorf("a bad ID: exit %d, %s", code, errOut)
	}
	out := must("domain", "add", "contoso", "Contoso.Example")
	m := regexp.MustCompile(`_idsync\.contoso\.example\. 3600 IN TXT "(idsync-verification=[a-z2-7]+)"`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "pending") || !strings.Contains(out, "no TXT record at _idsync.contoso.example") {
		t.Fatalf("domain add printed:\n%s", out)
	}
	if _, errOut, code := run("domain", "use", "contoso", "contoso.example"); code == 0 || !strings.Contains(errOut, "not verified") {
		t.Errorf("using a pending domain: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run("domain", "verify", "contoso", "contoso.example"); code != 1 || !strings.Contains(errOut, "is pending, not verified") {
		t.Errorf("verify before publishing: exit %d, %s", code, errOut)
	}
	dns.SetTXT(map[string][]string{"_idsync.contoso.example": {m[1]}})
	if out := must("domain", "verify", "contoso", "contoso.example"); !strings.Contains(out, "contoso.example of tenant contoso: verified") {
		t.Errorf("verify after publishing:\n%s", out)
	}
	// fabrikam cannot claim it, see it, use it or remove it.
	if _, errOut, code := run("domain", "add", "fabrikam", "contoso.example"); code == 0 || !strings.Contains(errOut, "verified for another tenant") {
		t.Errorf("fabrikam claiming contoso's domain: exit %d, %s", code, errOut)
	}
	if out := must("domain", "list", "fabrikam"); strings.Contains(out, "contoso.example") {
		t.Errorf("fabrikam's domains show contoso's:\n%s", out)
	}
	for _, args := range [][]string{{"domain", "use", "fabrikam", "contoso.example"}, {"domain", "remove", "fabrikam", "contoso.example"}} {
		if _, errOut, code := run(args...); code == 0 || !strings.Contains(errOut, "not found") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if out := must("domain", "use", "contoso", "contoso.example"); !strings.Contains(out, "now uses domain contoso.example (was -)") {
		t.Errorf("domain use:\n%s", out)
	}
	if out := must("list"); !regexp.MustCompile(`contoso\s+Contoso Ltd\s+contoso\.example\s+1\s+1`).MatchString(out) {
		t.Errorf("tenant list:\n%s", out)
	}
	if _, errOut, code := run("domain", "remove", "contoso", "contoso.example"); code == 0 || !strings.Contains(errOut, "make another verified domain") {
		t.Errorf("removing the domain in use: exit %d, %s", code, errOut)
	}
	withStore(t, filepath.Join(dir, "t.db"), func(st store.Store) {
		entries, err := st.Audit(t.Context(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action+" "+e.Target)
		}
		got := strings.Join(actions, ", ")
		for _, want := range []string{"tenant-add contoso", "tenant-add fabrikam", "tenant-domain-add contoso", "tenant-domain-verify contoso", "tenant-domain-use contoso"} {
			if !strings.Contains(got, want) {
				t.Errorf("audit log lacks %q: %s", want, got)
			}
		}
	})
}
