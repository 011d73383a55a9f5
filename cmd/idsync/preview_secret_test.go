package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/engine"
)

// TestMVPreviewExpressionsAndSecrets: idsync mv preview evaluates
// expression flows (it compiles the rules), and shows what it computes
// into a secret attribute — a GeneratePassword flow's new password — as
// [secret].
func TestMVPreviewExpressionsAndSecrets(t *testing.T) {
	var k [32]byte
	_, _ = rand.Read(k[:])
	t.Setenv("IDSYNC_SECRET_KEY", base64.StdEncoding.EncodeToString(k[:]))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, `dataDir: .
connectors:
  - {name: src, type: file, config: {path: src.ldif, anchor: uid}}
  - {name: dir, type: file, config: {path: dir.ldif, anchor: uid, target: true}}
rules: [rules.yaml]
security:
  secretKey: ${IDSYNC_SECRET_KEY}
`)
	writeFile(t, filepath.Join(dir, "rules.yaml"), `rules:
  - name: in
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows:
      - {type: Direct, source: uid, target: uid}
      - {type: Direct, source: cn, target: cn}
  - name: out
    connector: dir
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 2
    dn: "uid={uid},ou=people,dc=dir"
    flows:
      - {type: Direct, source: uid, target: uid}
      - {type: Expression, target: description, expression: '"user " & [cn]'}
      - {type: Expression, target: userPassword, applyOnce: true, expression: 'GeneratePassword(12)'}
`)
	writeFile(t, filepath.Join(dir, "src.ldif"), "version: 1\n\ndn: uid=ann,ou=people,dc=src\nobjectClass: user\nuid: ann\ncn: Ann\n")
	mustIdsync(t, "--config", cfg, "cycle", "--full")
	id := strings.Fields(mustIdsync(t, "--config", cfg, "mv", "search", "uid=ann"))[0]
	var p engine.ObjectPreview
	if err := json.Unmarshal([]byte(mustIdsync(t, "--config", cfg, "mv", "preview", id, "-o", "json")), &p); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tp := range p.Outbound {
		for _, r := range tp.Rules {
			for _, f := range r.Flows {
				got[f.Target] = strings.Join(f.Values, "|") + f.Error
			}
		}
	}
	if got["description"] != "user Ann" || got["userPassword"] != "[secret]" {
		t.Errorf("mv preview flows: %q, want description \"user Ann\" and userPassword [secret]", got)
	}
}
