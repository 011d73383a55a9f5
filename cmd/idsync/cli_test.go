package main

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := mustIdsync(t, "demo", "--dir", dir)
	for _, want := range []string{
		"metaverse", "joined: Sofia Alvarez (contoso user + fabrikam contact)",
		"pending exports left: none", "preview-cloud.csv",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "errors:") {
		t.Errorf("demo reported errors:\n%s", out)
	}
	f, err := os.Open(filepath.Join(dir, "preview-cloud.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 50 || strings.Join(rows[0], ",") != "connector,object,objectType,operation,attribute,change,oldValue,newValue,state,error" {
		t.Fatalf("preview has %d rows, header %v", len(rows), rows[0])
	}
	cloud, err := os.ReadFile(filepath.Join(dir, "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cloud), "accountEnabled: false") {
		t.Errorf("the disabled user was not exported disabled")
	}
	// The same demo with the forests synchronized in the other order gives
	// the same cloud directory (R1.1).
	other := filepath.Join(t.TempDir(), "demo")
	if err := writeDemoFiles(other, false); err != nil {
		t.Fatal(err)
	}
	cfgData, err := os.ReadFile(filepath.Join(other, "idsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(other, "idsync.yaml"), strings.Replace(string(cfgData), "order: [contoso, fabrikam, cloud]", "order: [fabrikam, contoso, cloud]", 1))
	mustIdsync(t, "demo", "--dir", other)
	if a, b := target(t, filepath.Join(dir, "idsync.yaml")), target(t, filepath.Join(other, "idsync.yaml")); a != b {
		t.Errorf("the demo's result depends on the synchronization order:\n%s\n---\n%s", a, b)
	}
	// A second demo run is a cycle with no source change: nothing exported.
	out = mustIdsync(t, "demo", "--dir", dir)
	if !strings.Contains(out, "export to cloud: 0 adds, 0 updates, 0 renames, 0 deletes, 0 errors") {
		t.Errorf("second demo run exported changes:\n%s", out)
	}
	cfg := filepath.Join(dir, "idsync.yaml")
	if out := mustIdsync(t, "--config", cfg, "mv", "search", "mail=sofia.alvarez@contoso.test"); strings.Count(out, "\n") != 1 {
		t.Errorf("mv search: want exactly one object:\n%s", out)
	}
	if out := mustIdsync(t, "--config", cfg, "runs", "--limit", "3"); strings.Count(out, "run ") != 3 {
		t.Errorf("runs --limit 3:\n%s", out)
	}
	// The demo's runs are recent: the default retention keeps them; a
	// retention shorter than their age deletes all but the newest of each
	// connector and profile.
	before := strings.Count(mustIdsync(t, "--config", cfg, "runs", "--limit", "0"), "run ")
	if out := mustIdsync(t, "--config", cfg, "runs", "prune"); !strings.HasPrefix(out, "deleted 0 run(s) started before ") {
		t.Errorf("runs prune with the default retention:\n%s", out)
	}
	time.Sleep(10 * time.Millisecond)
	out = mustIdsync(t, "--config", cfg, "runs", "prune", "--older-than", "1ms")
	after := strings.Count(mustIdsync(t, "--config", cfg, "runs", "--limit", "0"), "run ")
	if !strings.HasPrefix(out, fmt.Sprintf("deleted %d run(s)", before-after)) || after >= before || after == 0 {
		t.Errorf("runs prune --older-than 1ms: %d runs before, %d after:\n%s", before, after, out)
	}
	mustIdsync(t, "--config", cfg, "rules", "validate")
	mustIdsync(t, "--config", cfg, "scheduler", "disable")
	if out := mustIdsync(t, "--config", cfg, "scheduler", "status"); !strings.Contains(out, "SyncCycleEnabled: false") {
		t.Errorf("scheduler status after disable:\n%s", out)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "dataDir: .\nconectors: []\n")
	_, stderr, code := idsync(t, "--config", cfg, "runs")
	if code == 0 || !strings.Contains(stderr, "idsync.yaml:2:") {
		t.Errorf("unknown config key: exit %d, stderr %q", code, stderr)
	}
	writeFile(t, cfg, "dataDir: .\nconnectors:\n  - {name: a, type: memory}\nrules: [rules.yaml]\n")
	writeFile(t, filepath.Join(dir, "rules.yaml"), `rules:
  - name: r1
    connector: nowhere
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
`)
	_, stderr, code = idsync(t, "--config", cfg, "rules", "validate")
	if code == 0 || !strings.Contains(stderr, `"nowhere"`) || !strings.Contains(stderr, "rules.yaml:2") {
		t.Errorf("unknown connector: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = idsync(t, "--config", cfg, "run", "a", "fullimport")
	if code != 2 || !strings.Contains(stderr, "unknown run profile") {
		t.Errorf("bad profile: exit %d, stderr %q", code, stderr)
	}
}

func TestRulesValidateUnknownAttribute(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, `connectors:
  - {name: hr, type: file, config: {path: hr.csv, anchor: employeeID, objectType: person}}
  - {name: out, type: file, config: {path: out.ldif, anchor: uid, target: true}}
rules: [rules.yaml]
`)
	writeFile(t, filepath.Join(dir, "hr.csv"), "employeeID,cn,mail\n1,Alice,alice@example.test\n")
	rule := `rules:
  - name: in
    connector: hr
    direction: inbound
    csObjectType: person
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows: [{type: Direct, source: %s, target: mail}]
  - name: out
    connector: out
    direction: outbound
    csObjectType: person
    mvObjectType: person
    linkType: Provision
    precedence: 2
    dn: "uid={mail},dc=out"
    flows: [{type: Direct, source: mail, target: brandNewAttribute}]
`
	writeFile(t, filepath.Join(dir, "rules.yaml"), strings.Replace(rule, "%s", "mial", 1))
	_, stderr, code := idsync(t, "--config", cfg, "rules", "validate")
	if code == 0 || !strings.Contains(stderr, `rules.yaml:2: rule "in"`) || !strings.Contains(stderr, `attribute "mial" is not in the schema`) {
		t.Errorf("unknown attribute: exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "brandNewAttribute") {
		t.Errorf("an attribute written to a target with an inferred schema was reported: %q", stderr)
	}
	writeFile(t, filepath.Join(dir, "rules.yaml"), strings.Replace(rule, "%s", "mail", 1))
	if out := mustIdsync(t, "--config", cfg, "rules", "validate"); !strings.Contains(out, "2 sync rules are valid") {
		t.Errorf("valid rules: %q", out)
	}
}

// TestServe starts the daemon: it runs a full cycle at once, holds the run
// lock while cycling, and stops cleanly on SIGTERM.
func TestServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	// A fresh store and an empty target: serve's first cycle provisions
	// the target again. (With the store kept, an emptied target is a
	// shrink the import-shrink guard refuses.)
	for _, f := range []string{"cloud.ldif", "idsync.db", "idsync.db-wal", "idsync.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	// The console on a free port: the log says which.
	cmd := exec.Command(bin, "--config", cfg, "--log-level", "info", "serve", "--listen", "127.0.0.1:0")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The target is written, and the cycle (exports to the other
		// connectors, the configuration snapshot) has recorded its end.
		if data, err := os.ReadFile(filepath.Join(dir, "cloud.ldif")); err == nil && strings.Count(string(data), "\ndn: ") == 27 {
			if out, _, _ := idsync(t, "--config", cfg, "scheduler", "status"); !strings.Contains(out, "LastCycleEnd:     -") {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("serve did not re-create the target within 20s:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The console and the health check answer.
	m := regexp.MustCompile(`msg="web console" url=(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("serve did not say where the console is:\n%s", stderr.String())
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/": http.StatusSeeOther, "/api/v1/connectors": http.StatusUnauthorized} {
		resp, err := client.Get(m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sync cycle starting") {
		t.Errorf("serve log lacks the cycle:\n%s", stderr.String())
	}
	out := mustIdsync(t, "--config", cfg, "scheduler", "status")
	if !strings.Contains(out, "LastCycleResult:  success") || strings.Contains(out, "NextCycle:        -") {
		t.Errorf("scheduler status after serve:\n%s", out)
	}
}

func TestExprEval(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{`IIF(IsPresent([userPrincipalName]),[userPrincipalName],[sAMAccountName]&"@"&%Domain.FQDN%)`,
			"--attr", "sAMAccountName=jdoe", "--param", "Domain.FQDN=contoso.com"}, `"jdoe@contoso.com"`, 0},
		{[]string{`StringFromGuid([objectGUID])`, "--attr-b64", "objectGUID=AAECAwQFBgcICQoLDA0ODw=="}, `"03020100-0504-0706-0809-0a0b0c0d0e0f"`, 0},
		{[]string{`Left([proxyAddresses],4)`, "--attr", "proxyAddresses=SMTP:a@x", "--attr", "proxyAddresses=smtp:b@x"}, `"type": "mvstr"`, 0},
		{[]string{`Error("no UPN")`}, `"error": "`, 1},
		{[]string{`Lcase("x")`}, `did you mean \"LCase\"?`, 1},
		{[]string{`[x]`, "--attr", "novalue"}, ``, 2},
		{[]string{"--dialect", "provisioning", `Switch([country], "Unknown", "US", "United States", "DE", "Germany")`, "--attr", "country=DE"}, `"Germany"`, 0},
		{[]string{"--dialect", "provisioning", `Join("@", NormalizeDiacritics([givenName]), "contoso.com")`, "--attr", "givenName=Zoë"}, `"Zoe@contoso.com"`, 0},
		{[]string{"--dialect", "vb", `1`}, ``, 2},
	} {
		out, _, code := idsync(t, append([]string{"expr", "eval"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("expr eval %q: exit %d, output %s; want exit %d and %s", tc.args, code, out, tc.code, tc.want)
		}
	}
}

// syncBuffer is a buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
