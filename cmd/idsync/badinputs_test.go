package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runErrorsJSON returns the status and per-object errors of the newest
// import (full or delta) of a connector, read with `idsync runs --format
// json`.
func runErrorsJSON(t *testing.T, cfg, conn string) (string, map[string]string) {
	t.Helper()
	var runs []struct {
		ID        int64  `json:"id"`
		Connector string `json:"connector"`
		Profile   string `json:"profile"`
		Status    string `json:"status"`
		Counts    struct {
			Deletes int `json:"deletes"`
		} `json:"counts"`
	}
	if err := json.Unmarshal([]byte(mustIdsync(t, "--config", cfg, "runs", "--format", "json", "--connector", conn, "--limit", "0")), &runs); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if !strings.HasSuffix(r.Profile, "-import") {
			continue
		}
		var one struct {
			Status string `json:"status"`
			Errors []struct {
				Object  string `json:"object"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		if err := json.Unmarshal([]byte(mustIdsync(t, "--config", cfg, "runs", "--format", "json", itoa(r.ID))), &one); err != nil {
			t.Fatal(err)
		}
		errs := map[string]string{}
		for _, e := range one.Errors {
			errs[e.Object] = e.Message
		}
		if r.Counts.Deletes != 0 {
			t.Errorf("run %d of %s deleted %d objects", r.ID, conn, r.Counts.Deletes)
		}
		return one.Status, errs
	}
	t.Fatalf("no import run of %s", conn)
	return "", nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// The demo, as the tester broke it: a malformed DN, invalid UTF-8,
// a NUL, a 10 MB value and 100,000 departments in the contoso forest. A
// cycle reports each as an error on that object with the attribute and the
// reason, keeps the objects' last good state, changes nothing in the cloud,
// and takes the good change made in the same file.
func TestBadInputsDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustIdsync(t, "demo", "--dir", dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	forest := filepath.Join(dir, "forest-a.ldif")
	data, err := os.ReadFile(forest)
	if err != nil {
		t.Fatal(err)
	}
	cloudBefore, err := os.ReadFile(filepath.Join(dir, "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	records := strings.Split(string(data), "\n\n")
	guid := regexp.MustCompile(`(?m)^objectGUID:: (\S+)$`)
	var anchors []string
	broken := 0
	change := func(i int, f func(string) string) {
		records[i] = f(records[i])
		anchors = append(anchors, guid.FindStringSubmatch(records[i])[1])
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for i, r := range records {
		if !strings.Contains(r, "\nobjectClass: user\n") {
			continue
		}
		switch broken {
		case 0:
			change(i, func(r string) string {
				return regexp.MustCompile(`(?m)^dn: .*$`).ReplaceAllString(r, "dn: CN=Grace Kim,,=OU==Sales,DC")
			})
		case 1:
			change(i, func(r string) string {
				return regexp.MustCompile(`(?m)^title: .*$`).ReplaceAllString(r, "title:: "+b64("Sales \xff\xfe Manager"))
			})
		case 2:
			change(i, func(r string) string {
				return regexp.MustCompile(`(?m)^title: .*$`).ReplaceAllString(r, "title:: "+b64("before\x00after"))
			})
		case 3:
			change(i, func(r string) string {
				return regexp.MustCompile(`(?m)^displayName: .*$`).ReplaceAllString(r, "displayName: "+strings.Repeat("x", 10<<20))
			})
		case 4:
			change(i, func(r string) string {
				var b strings.Builder
				for d := range 100_000 {
					b.WriteString("\ndepartment: Dept ")
					b.WriteString(itoa(int64(d)))
				}
				return regexp.MustCompile(`(?m)^department: .*\n`).ReplaceAllString(r, "") + b.String()
			})
		}
		broken++
	}
	if broken < 5 {
		t.Fatalf("the demo forest has %d users, want 5", broken)
	}
	if err := os.WriteFile(forest, []byte(strings.Join(records, "\n\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, a := range anchors {
		before[a] = mustIdsync(t, "--config", cfg, "cs", "get", "contoso", a)
	}
	mustIdsync(t, "--config", cfg, "cycle")
	status, errs := runErrorsJSON(t, cfg, "contoso")
	if status != "completed-with-errors" || len(errs) != 5 {
		t.Errorf("contoso import: %s, %d errors, want completed-with-errors and 5: %v", status, len(errs), errs)
	}
	var all []string
	for obj, msg := range errs {
		all = append(all, obj+": "+msg)
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		`CN=Grace Kim,,=OU==Sales,DC: import: the object is not imported and keeps its last imported state: the DN "CN=Grace Kim,,=OU==Sales,DC" does not parse`,
		`attribute "title": value 1 is not valid UTF-8`,
		`attribute "title": value 1 holds the control character U+0000`,
		`attribute "displayName": value 1 is 10485760 bytes, more than the 1048576 a text value may have (limits.maxStringBytes)`,
		`attribute "department": 100000 values, more than the 10000 an attribute may hold (limits.maxValues`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no error says %q:\n%s", want, joined)
		}
	}
	for _, a := range anchors {
		if now := mustIdsync(t, "--config", cfg, "cs", "get", "contoso", a); stripModified(now) != stripModified(before[a]) {
			t.Errorf("%s changed in the connector space:\n%s\n---\n%s", a, before[a], now)
		}
	}
	cloudAfter, err := os.ReadFile(filepath.Join(dir, "cloud.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	if string(cloudAfter) != string(cloudBefore) {
		t.Errorf("the cloud changed:\n%s", cloudAfter)
	}
	// Fixed at the source, the objects import again.
	if err := os.WriteFile(forest, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mustIdsync(t, "--config", cfg, "cycle")
	if status, errs := runErrorsJSON(t, cfg, "contoso"); status != "success" || len(errs) != 0 {
		t.Errorf("after the fix: %s, %v", status, errs)
	}
}

var modifiedRE = regexp.MustCompile(`"modified": "[^"]*"`)

func stripModified(s string) string { return modifiedRE.ReplaceAllString(s, "") }

// A few files of the bad-input corpus through the binary, with the
// corpus's configuration (limits and singleValued in idsync.yaml).
func TestBadInputsCLI(t *testing.T) {
	corpus := filepath.Join("..", "..", "testdata", "badinputs")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	idRE := regexp.MustCompile(`(?m)^id: (\S+)$`)
	for _, name := range []string{"mixed.ldif", "dn.ldif", "singlevalued.ldif"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "idsync.yaml")
			writeFile(t, cfg, read("idsync.yaml"))
			base := read("base.ldif")
			writeFile(t, filepath.Join(dir, "src.ldif"), base)
			writeFile(t, filepath.Join(dir, "src.csv"), read("base.csv"))
			mustIdsync(t, "--config", cfg, "run", "ldif", "full-import")
			cases := read(filepath.Join("cases", name))
			mentioned := map[string]bool{}
			for _, m := range idRE.FindAllStringSubmatch(cases, -1) {
				mentioned[m[1]] = true
			}
			src := cases
			for _, rec := range strings.Split(base, "\n\n") {
				if m := idRE.FindStringSubmatch(rec); m != nil && !mentioned[m[1]] {
					src += "\n" + rec + "\n"
				}
			}
			writeFile(t, filepath.Join(dir, "src.ldif"), src)
			out := mustIdsync(t, "--config", cfg, "run", "ldif", "full-import")
			want := strings.Count(cases, "\n# expect: ")
			status, errs := runErrorsJSON(t, cfg, "ldif")
			if status != "completed-with-errors" || len(errs) != want || !strings.Contains(out, "deletes 0") {
				t.Errorf("%s: %d errors, want %d (one per bad record):\n%s", status, len(errs), want, out)
			}
			for obj, msg := range errs {
				if !strings.Contains(msg, "the object is not imported and keeps its last imported state") {
					t.Errorf("%s: %s", obj, msg)
				}
			}
		})
	}
}
