package peers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Kinit signs in to the Samba domain's KDC as principal (an account name,
// or name@REALM) with password, the way an application of the domain
// would: MIT kinit (package krb5-user) with a krb5.conf of its own, in a
// temporary directory, that points at the KDC on the server's loopback
// address over TCP, and a credential cache there too. The password goes
// through kinit's standard input, never its command line. It returns nil
// when the KDC issued a ticket, else kinit's message. A missing kinit
// skips the test (fails it with IDSYNC_PEERS=require).
func (s *LDAPServer) Kinit(t testing.TB, principal, password string) error {
	t.Helper()
	kinit := Need(t, "kinit")[0]
	if s.KDC == "" || s.Realm == "" {
		t.Fatalf("Kinit: the server has no KDC (only Samba has one)")
	}
	if !strings.Contains(principal, "@") {
		principal += "@" + s.Realm
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	udp_preference_limit = 1
[realms]
	%[1]s = {
		kdc = %[2]s
	}
`, s.Realm, s.KDC)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kinit, principal)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"), "KRB5_TRACE=/dev/null")
	cmd.Stdin = strings.NewReader(password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kinit %s against %s: %w: %s", principal, s.KDC, err, strings.TrimSpace(strings.ReplaceAll(out.String(), password, "[password]")))
	}
	return nil
}
