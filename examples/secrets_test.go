package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store/sealed"
)

// TestOnboardingPasswords runs examples/onboarding-passwords with its store
// sealed as the CLI seals it: the directory gets the initial passwords, the
// store (database and WAL) holds none of the secrets in clear.
func TestOnboardingPasswords(t *testing.T) {
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDSYNC_SECRET_KEY", key)
	s := openSite(t, "onboarding-passwords")
	text, prev, _, err := s.cfg.SecretKeys()
	if err != nil || text != key || len(prev) != 0 {
		t.Fatalf("SecretKeys: %q, %q, %v", text, prev, err)
	}
	k, err := secret.ParseKey(text)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := secret.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	s.st = sealed.Wrap(s.st, sealed.Options{Sealer: sl, Policy: secret.NewPolicy(s.cfg.Security.SecretAttributes...)})
	s.e.Store = s.st
	s.checkCycle()

	_, entries := s.ldif("directory.ldif")
	const lena = "cn=Lena Berg,ou=People,dc=example,dc=com"
	for _, line := range []string{"userPassword: Welcome-Lena-7731", "badgePin: 4417-2201"} {
		if !hasLine(entries, lena, line) {
			t.Errorf("the directory entry lacks %q: %q", line, entries[lena])
		}
	}
	db := s.cfg.Store.Path
	for _, f := range []string{db, db + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"Welcome-Lena-7731", "Welcome-Omar-5519", "4417-2201", "9031-2202"} {
			if strings.Contains(string(data), v) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), v)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(s.dir, "directory.ldif")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("directory.ldif: %v, %v; want mode 0600", fi, err)
	}
}
