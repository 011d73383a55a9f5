package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"
)

// generatedPasswordRule gives each new account of the domain whose
// password idsync does not know a generated one (docs/rules.md).
const generatedPasswordRule = `rules:
  - name: Managed domain - generated password
    connector: aadds
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 290
    flows:
      - {type: Expression, target: unicodePwd, applyOnce: true, expression: 'GeneratePassword(16)'}
`

// TestManagedDomainPasswords: the password idsync knows for a user (the
// cloud directory's initialPassword, outOfBox.managedDomain.sourcePassword)
// is written to the Samba domain as unicodePwd over LDAPS: the user signs
// in with it by an LDAP simple bind and gets a Kerberos ticket from the
// domain's KDC (kinit). A user without one gets a generated password
// (GeneratePassword, applyOnce). Cycles without a change set no password
// (pwdLastSet stays: no re-export loop on a write-only attribute); a
// changed password is written once, and the old one no longer signs in.
// The passwords never appear in the commands' output, the debug log, run
// history, mv get, cs get, the previews, or the store's files.
func TestManagedDomainPasswords(t *testing.T) {
	var k [32]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	t.Setenv("IDSYNC_SECRET_KEY", key)
	s := newMDSite(t, mdOptions{managed: ", sourcePassword: initialPassword",
		top: "security:\n  secretKey: ${IDSYNC_SECRET_KEY}\nrules: [rules.yaml]\n"})
	writeFile(t, filepath.Join(s.dir, "rules.yaml"), generatedPasswordRule)
	tag := s.tag
	pwd1, pwd2 := "Pam-"+tag+"-Pa55!x", "Pam-"+tag+"-Ch4nged?y"
	secrets := []string{pwd1, pwd2, key}

	var shown strings.Builder // everything the commands printed, debug log included
	run := func(args ...string) string {
		t.Helper()
		out, errs, code := idsync(t, append([]string{"--config", s.cfg, "--log-level", "debug"}, args...)...)
		shown.WriteString(out)
		shown.WriteString(errs)
		if code != 0 {
			t.Fatalf("idsync %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out + errs
	}
	pam := func(pwd string) string {
		return s.cloudUser("u1", "pam."+tag+"@contoso.com", tag+"pam", true, "initialPassword: "+pwd)
	}
	gus := s.cloudUser("u2", "gus."+tag+"@contoso.com", tag+"gus", true)
	s.writeCloud(pam(pwd1), gus)
	out := run("cycle", "--full")
	out += run("cycle")
	if strings.Contains(out, "object error") {
		t.Fatalf("the first cycles reported errors:\n%s", out)
	}

	pamDN := "CN=pam." + tag + "@contoso.com," + s.users
	gusDN := "CN=gus." + tag + "@contoso.com," + s.users
	pwdLastSet := func(dn string) string {
		t.Helper()
		res, err := s.a.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=user)", []string{"pwdLastSet"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read pwdLastSet of %s: %v\n%s", dn, err, out)
		}
		return res.Entries[0].GetAttributeValue("pwdLastSet")
	}
	bindErr := func(dn, pwd string) error {
		t.Helper()
		c, err := ldap.DialURL(s.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Bind(dn, pwd)
	}
	signsIn := func(who, dn, sam, pwd string, want bool) {
		t.Helper()
		if err := bindErr(dn, pwd); (err == nil) != want {
			t.Errorf("%s: LDAP bind with the password: %v, want success %v", who, err, want)
		}
		if err := s.srv.Kinit(t, sam, pwd); (err == nil) != want {
			t.Errorf("%s: kinit with the password: %v, want success %v", who, err, want)
		}
	}
	pamSam := s.entries(pamDN)[strings.ToLower(pamDN)].GetAttributeValue("sAMAccountName")
	if pamSam != tag+"pam" {
		t.Fatalf("Pam's sAMAccountName is %q", pamSam)
	}
	signsIn("Pam", pamDN, pamSam, pwd1, true)
	// Gus got a password nobody knows: it is set (pwdLastSet is not 0)
	// and his account is enabled.
	if v := pwdLastSet(gusDN); v == "" || v == "0" {
		t.Errorf("Gus has no password (pwdLastSet %q): the generated one was not written", v)
	}
	if uac := s.entries(gusDN)[strings.ToLower(gusDN)].GetAttributeValue("userAccountControl"); uac != "512" {
		t.Errorf("Gus's userAccountControl = %s, want 512", uac)
	}

	// Two more cycles without a change: no password is set again.
	pamSet, gusSet := pwdLastSet(pamDN), pwdLastSet(gusDN)
	run("cycle")
	run("cycle", "--full")
	if a, b := pwdLastSet(pamDN), pwdLastSet(gusDN); a != pamSet || b != gusSet {
		t.Errorf("cycles without a change set the passwords again (pwdLastSet %s → %s, %s → %s): a re-export loop", pamSet, a, gusSet, b)
	}
	if p := run("preview", "aadds"); !strings.Contains(p, "nothing pending for aadds") {
		t.Errorf("pending exports after cycles without a change:\n%s", p)
	}

	// Pam's password changes in the cloud: written once, the old one no
	// longer signs in.
	s.writeCloud(pam(pwd2), gus)
	run("cycle")
	signsIn("Pam (new password)", pamDN, pamSam, pwd2, true)
	signsIn("Pam (old password)", pamDN, pamSam, pwd1, false)
	changed := pwdLastSet(pamDN)
	if changed == pamSet {
		t.Errorf("pwdLastSet did not change with the new password")
	}
	run("cycle")
	if a, b := pwdLastSet(pamDN), pwdLastSet(gusDN); a != changed || b != gusSet {
		t.Errorf("a cycle after the change set a password again")
	}
	signsIn("Pam (after one more cycle)", pamDN, pamSam, pwd2, true)

	// What idsync shows: [secret], never a password.
	ids := regexp.MustCompile(`(?m)^(\S+)\s`).FindAllStringSubmatch(run("mv", "search", "userPrincipalName=pam."+tag+"@contoso.com"), -1)
	if len(ids) != 1 {
		t.Fatalf("mv search finds %d objects for Pam", len(ids))
	}
	if o := run("mv", "get", ids[0][1]); !strings.Contains(o, "[secret]") {
		t.Errorf("mv get shows no [secret] for Pam's password:\n%s", o)
	}
	run("mv", "get", ids[0][1], "-o", "json")
	run("mv", "preview", ids[0][1], "-o", "table")
	run("mv", "preview", ids[0][1], "-o", "json")
	// Gus's preview evaluates GeneratePassword (a password of its own, not
	// the one set): shown as [secret] too.
	gids := regexp.MustCompile(`(?m)^(\S+)\s`).FindAllStringSubmatch(run("mv", "search", "userPrincipalName=gus."+tag+"@contoso.com"), -1)
	if len(gids) != 1 {
		t.Fatalf("mv search finds %d objects for Gus", len(gids))
	}
	gen := regexp.MustCompile(`"expression": "GeneratePassword\(16\)",\s*"valueType": "string",\s*"values": \[\s*"([^"]*)"`)
	if m := gen.FindStringSubmatch(run("mv", "preview", gids[0][1], "-o", "json")); m == nil || m[1] != "[secret]" {
		t.Errorf("mv preview of Gus: the generated password's flow shows %q, want [secret]", m)
	}
	if p := run("mv", "preview", gids[0][1], "-o", "table"); !regexp.MustCompile(`unicodePwd\s+\[secret\]`).MatchString(p) {
		t.Errorf("mv preview of Gus (table) does not show unicodePwd as [secret]:\n%s", p)
	}
	run("cs", "get", "cloud", "u1")
	run("preview", "aadds", "--format", "json")
	runsJSON := run("runs", "--format", "json", "--limit", "0")
	run("runs", "--errors")
	var runs []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(runsJSON[:strings.LastIndex(runsJSON, "]")+1]), &runs); err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v\n%s", err, runsJSON)
	}
	for _, r := range runs {
		run("runs", fmt.Sprint(r.ID), "--format", "json")
	}
	for _, v := range secrets {
		if strings.Contains(shown.String(), v) {
			t.Errorf("a command's output or log shows the secret %q", v)
		}
	}
	if !strings.Contains(shown.String(), "level=DEBUG") {
		t.Errorf("no debug log was searched")
	}
	// Nor the store's files (sealed with the key).
	for _, f := range []string{"idsync.db", "idsync.db-wal"} {
		data, err := os.ReadFile(filepath.Join(s.dir, f))
		if err != nil {
			continue // no WAL left
		}
		for _, v := range secrets {
			if strings.Contains(string(data), v) {
				t.Errorf("%s holds %q in clear", f, v)
			}
		}
	}
	var n int
	db, err := sql.Open("sqlite", filepath.Join(s.dir, "idsync.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*) FROM cs_objects`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("the store was not searched: %d objects, %v", n, err)
	}
}
