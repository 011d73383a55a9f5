package main

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// The secrets of the secret-flow test: a password (userPassword, secret by
// default) and an attribute the configuration marks secret.
const (
	annPassword = "Xy7-Ann-Pa55word-42"
	bobPassword = "Qz9-Bob-Pa55word-17"
	annBadge    = "badge-PIN-5567-ann"
)

var secretValues = []string{annPassword, bobPassword, annBadge}

const secretRules = `rules:
  - name: in-user
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: uid, target: accountName}
      - {type: Direct, source: userPassword, target: userPassword}
      - {type: Direct, source: badgePin, target: badgePin}
  # A rule whose expression fails on bob with a message that quotes the
  # value: the per-object error must not carry it.
  - name: in-bob
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 2
    scope:
      - clauses: [{attribute: uid, operator: EQUAL, value: bob}]
    flows:
      - {type: Expression, expression: 'CGuid([userPassword])', targetType: binary, target: guidish}
  - name: out-user
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 3
    dn: "CN={accountName},OU=Users,DC=cloud"
    flows:
      - {type: Constant, value: user, target: objectClass}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: userPassword, target: userPassword}
      - {type: Direct, source: badgePin, target: badgePin}
`

const secretSource = `version: 1

dn: CN=Ann,OU=Users,DC=src
objectClass: user
uid: ann
cn: Ann Example
userPassword: ` + annPassword + `
badgePin: ` + annBadge + `

dn: CN=Bob,OU=Users,DC=src
objectClass: user
uid: bob
cn: Bob Example
userPassword: ` + bobPassword + `
`

// secretDir writes a file-to-file configuration flowing the secrets; key
// is the security block ("" for none).
func secretDir(t *testing.T, security string) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "idsync.yaml"), `dataDir: .
connectors:
  - {name: src, type: file, config: {path: src.ldif, anchor: uid}}
  - {name: cloud, type: file, config: {path: cloud.ldif, anchor: cloudAnchor, target: true}}
rules: [rules.yaml]
`+security)
	writeFile(t, filepath.Join(dir, "rules.yaml"), secretRules)
	writeFile(t, filepath.Join(dir, "src.ldif"), secretSource)
	return filepath.Join(dir, "idsync.yaml")
}

// TestSecretsNeverInClear flows passwords from an LDIF source to an LDIF
// target through the binary and looks for them everywhere idsync writes or
// shows: the store (database, WAL, shared memory), the preview CSV and
// JSON, mv get / search, cs get, runs (text and JSON, with the per-object
// error of a rule that quotes the value), and the debug log. The target gets
// the clear values; every file idsync writes is 0600.
func TestSecretsNeverInClear(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	t.Setenv("IDSYNC_TEST_SECRET_KEY", key)
	cfg := secretDir(t, "security:\n  secretKey: ${IDSYNC_TEST_SECRET_KEY}\n  secretAttributes: [badgePin]\n")
	dir := filepath.Dir(cfg)
	db := filepath.Join(dir, "idsync.db")

	var shown strings.Builder // everything the commands printed
	run := func(args ...string) string {
		t.Helper()
		out, errs, code := idsync(t, append([]string{"--config", cfg, "--log-level", "debug"}, args...)...)
		shown.WriteString(out)
		shown.WriteString(errs)
		if code != 0 {
			t.Fatalf("idsync %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	run("run", "src", "full-import")
	// Keep a connection to the database open, so that the WAL file is not
	// checkpointed away when idsync exits: it is searched too.
	conn, err := sql.Open("sqlite", db+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT count(*) FROM cs_objects`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("cs objects: %d, %v", n, err)
	}

	// bob's rule fails, with the value in the expression's message.
	if _, errs, code := idsync(t, "--config", cfg, "--log-level", "debug", "run", "src", "full-sync"); code != 0 {
		t.Fatalf("full-sync: exit %d\n%s", code, errs)
	} else {
		shown.WriteString(errs)
	}
	run("run", "cloud", "full-import")
	run("run", "cloud", "full-sync")
	csvOut := run("preview", "cloud")
	run("preview", "cloud", "-o", filepath.Join(dir, "preview.csv"))
	jsonOut := run("preview", "cloud", "--format", "json")
	for _, p := range []string{csvOut, jsonOut} {
		if strings.Count(p, "[secret]") != 2 {
			t.Errorf("preview: want ann's password and badge PIN as [secret]:\n%s", p)
		}
	}
	// mv search / mv get, cs get of the source and the target. (bob's
	// error keeps him out of the metaverse.)
	search := run("mv", "search", "--limit", "0")
	ids := regexp.MustCompile(`(?m)^(\S+)\s`).FindAllStringSubmatch(search, -1)
	if len(ids) != 1 {
		t.Fatalf("mv search: want ann:\n%s", search)
	}
	for _, m := range ids {
		if out := run("mv", "get", m[1]); !strings.Contains(out, `"[secret]"`) {
			t.Errorf("mv get %s lacks [secret]:\n%s", m[1], out)
		}
	}
	if out := run("cs", "get", "src", "ann"); strings.Count(out, `"[secret]"`) != 2 {
		t.Errorf("cs get src ann: want userPassword and badgePin as [secret]:\n%s", out)
	}
	if out := run("cs", "get", "src", "bob"); strings.Count(out, `"[secret]"`) != 1 {
		t.Errorf("cs get src bob: want userPassword as [secret]:\n%s", out)
	}
	run("run", "cloud", "export")
	run("cycle")
	runsJSON := run("runs", "--format", "json", "--limit", "0")
	run("runs", "--errors")
	var runs []struct {
		ID      int64  `json:"id"`
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal([]byte(runsJSON), &runs); err != nil {
		t.Fatal(err)
	}
	sawError := false
	for _, r := range runs {
		out := run("runs", strings.TrimSpace(jsonNum(r.ID)), "--format", "json")
		if strings.Contains(out, "is not a GUID") {
			sawError = true
			if !strings.Contains(out, "[secret]") {
				t.Errorf("run %d: the error does not show [secret]:\n%s", r.ID, out)
			}
		}
	}
	if !sawError {
		t.Errorf("no run recorded bob's expression error:\n%s", runsJSON)
	}

	// The target got the clear values.
	cloud, err := os.ReadFile(filepath.Join(dir, "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{annPassword, annBadge} {
		if !strings.Contains(string(cloud), v) {
			t.Errorf("the target lacks the exported secret %q:\n%s", v, cloud)
		}
	}

	// Nothing else holds them, nor the key.
	files := []string{db, db + "-wal", db + "-shm", filepath.Join(dir, "preview.csv")}
	if _, err := os.Stat(db + "-wal"); err != nil {
		t.Errorf("the WAL file is gone, so it was not searched: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, v := range append(secretValues, key, "0123456789abcdef0123456789abcdef") {
			if strings.Contains(string(data), v) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), v)
			}
		}
	}
	for _, v := range secretValues {
		if strings.Contains(shown.String(), v) {
			t.Errorf("a command's output or log shows %q", v)
		}
	}
	if !strings.Contains(shown.String(), "level=DEBUG") {
		t.Errorf("no debug log was searched")
	}
	for _, f := range append(files, filepath.Join(dir, "cloud.ldif"), filepath.Join(dir, "idsync.db.lock")) {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is mode %04o, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestSecretsWithoutKey: with no key configured, a password is not stored
// in clear: the import fails, saying how to set a key, and stores nothing.
func TestSecretsWithoutKey(t *testing.T) {
	t.Setenv("IDSYNC_SECRET_KEY", "")
	cfg := secretDir(t, "")
	_, errs, code := idsync(t, "--config", cfg, "run", "src", "full-import")
	if code == 0 || !strings.Contains(errs, "security.secretKey") || !strings.Contains(errs, "idsync gen secret-key") {
		t.Fatalf("import of passwords without a key: exit %d, want a failure naming security.secretKey:\n%s", code, errs)
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range secretValues {
		if strings.Contains(string(data), v) {
			t.Errorf("the store holds %q in clear", v)
		}
	}
	// A key from the environment alone, or from a key file, is enough.
	keyFile := filepath.Join(filepath.Dir(cfg), "secret.key")
	mustIdsync(t, "gen", "secret-key", "-o", keyFile)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if _, _, code := idsync(t, "gen", "secret-key", "-o", keyFile); code == 0 {
		t.Errorf("gen secret-key overwrote an existing key file")
	}
	t.Setenv("IDSYNC_SECRET_KEY", strings.TrimSpace(mustIdsync(t, "gen", "secret-key")))
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	// The same store read with another key: a clear error, not ciphertext.
	cfg2 := filepath.Join(filepath.Dir(cfg), "other.yaml")
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg2, string(base)+"security: {secretKeyFile: secret.key}\n")
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := idsync(t, "--config", cfg2, "run", "src", "full-sync"); code == 0 || !strings.Contains(errs, "chmod 600") {
		t.Errorf("a key file others may read: exit %d\n%s", code, errs)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := idsync(t, "--config", cfg2, "run", "src", "full-sync"); code == 0 || !strings.Contains(errs, "not configured") {
		t.Errorf("full-sync with another key: exit %d, want a failure naming the key\n%s", code, errs)
	}
}

// TestSecretsRotation changes the key: the old one becomes a previous key,
// secrets status shows the values still under it, secrets reseal seals them
// with the new one, and the old key can then go.
func TestSecretsRotation(t *testing.T) {
	oldKey, newKey := strings.TrimSpace(mustIdsync(t, "gen", "secret-key")), strings.TrimSpace(mustIdsync(t, "gen", "secret-key"))
	t.Setenv("IDSYNC_SECRET_KEY", "")
	t.Setenv("IDSYNC_TEST_OLD_KEY", oldKey)
	t.Setenv("IDSYNC_TEST_NEW_KEY", newKey)
	cfg := secretDir(t, "security:\n  secretKey: ${IDSYNC_TEST_OLD_KEY}\n  secretAttributes: [badgePin]\n")
	mustIdsync(t, "--config", cfg, "run", "src", "full-import")
	before := mustIdsync(t, "--config", cfg, "secrets", "status")
	if !strings.Contains(before, "sealed with ") || !strings.Contains(before, ":  3 values") || !strings.Contains(before, "to reseal:          none") {
		t.Fatalf("secrets status before the change:\n%s", before)
	}
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rotated := strings.Replace(string(base), "secretKey: ${IDSYNC_TEST_OLD_KEY}", "secretKey: ${IDSYNC_TEST_NEW_KEY}\n  previousSecretKeys: [\"${IDSYNC_TEST_OLD_KEY}\"]", 1)
	writeFile(t, cfg, rotated)
	if out := mustIdsync(t, "--config", cfg, "secrets", "status"); !strings.Contains(out, "(not the current key)") || !strings.Contains(out, "to reseal:          2 objects") {
		t.Fatalf("secrets status after the key change:\n%s", out)
	}
	if out := mustIdsync(t, "--config", cfg, "secrets", "reseal"); !strings.HasPrefix(out, "resealed 2 objects") {
		t.Fatalf("secrets reseal:\n%s", out)
	}
	if out := mustIdsync(t, "--config", cfg, "secrets", "status"); strings.Contains(out, "not the current key") || !strings.Contains(out, "to reseal:          none") {
		t.Fatalf("secrets status after the reseal:\n%s", out)
	}
	writeFile(t, cfg, strings.Replace(string(base), "${IDSYNC_TEST_OLD_KEY}", "${IDSYNC_TEST_NEW_KEY}", 1))
	mustIdsync(t, "--config", cfg, "run", "src", "full-sync")
	mustIdsync(t, "--config", cfg, "run", "cloud", "full-sync")
	mustIdsync(t, "--config", cfg, "run", "cloud", "export")
	cloud, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "cloud.ldif"))
	if err != nil || !strings.Contains(string(cloud), annPassword) {
		t.Errorf("after the rotation the target did not get ann's password: %v\n%s", err, cloud)
	}
}
