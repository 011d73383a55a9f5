package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// oobConfig writes a configuration with the out-of-box rules of one forest
// (memory connectors) and returns its path.
func oobConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idsync.yaml")
	writeFile(t, cfg, "dataDir: .\nconnectors:\n  - {name: contoso, type: memory}\n  - {name: aad, type: memory}\noutOfBox:\n  cloud: aad\n  forests: [contoso]\n")
	return cfg
}

// TestRulesCloneCLI: idsync rules clone / disable / enable (R2.8) write the
// console-managed rule file, which every command then loads; refused
// changes exit non-zero with the reason and write nothing.
func TestRulesCloneCLI(t *testing.T) {
	cfg := oobConfig(t)
	const orig = "In from AD - User Join (contoso)"
	const clone = "In from AD - User Join (contoso, custom)"
	out := mustIdsync(t, "--config", cfg, "rules", "clone", orig, "--name", clone, "--precedence", "50", "--disable-original")
	consoleRules := filepath.Join(filepath.Dir(cfg), "idsync.console-rules.yaml")
	if !strings.Contains(out, "cloned as") || !strings.Contains(out, consoleRules) || !strings.Contains(out, "disabled") {
		t.Errorf("clone output: %q", out)
	}
	list := mustIdsync(t, "--config", cfg, "rules", "list")
	if !matches(list, `(?m)^50 +inbound +`+regexp.QuoteMeta(clone)+` .* enabled$`) || !matches(list, `(?m)^\d+ +inbound +`+regexp.QuoteMeta(orig)+` .* disabled, out-of-box$`) {
		t.Errorf("rules list:\n%s", list)
	}
	before, err := os.ReadFile(consoleRules)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clone", orig, "--name", "x"}, "give the clone a precedence below 100"},
		{[]string{"clone", orig, "--name", "x", "--precedence", "100"}, "from 0 to 99"},
		{[]string{"clone", orig, "--name", "x", "--precedence", "50"}, "refused: the rule set would not be valid"},
		{[]string{"clone", "no such rule", "--name", "x", "--precedence", "10"}, `no sync rule is named "no such rule"`},
		{[]string{"disable", orig}, "already disabled"},
		{[]string{"enable", clone}, "already enabled"},
		{[]string{"disable"}, "NAME"},
	} {
		_, stderr, code := idsync(t, append([]string{"--config", cfg, "rules"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("rules %q: exit %d, stderr %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
	if after, _ := os.ReadFile(consoleRules); string(after) != string(before) {
		t.Errorf("refused changes rewrote %s:\n%s", consoleRules, after)
	}
	mustIdsync(t, "--config", cfg, "rules", "enable", orig)
	if list := mustIdsync(t, "--config", cfg, "rules", "list"); !matches(list, `(?m)^\d+ +inbound +`+regexp.QuoteMeta(orig)+` .* enabled, out-of-box$`) {
		t.Errorf("after enable:\n%s", list)
	}
	mustIdsync(t, "--config", cfg, "rules", "disable", orig)
	if out := mustIdsync(t, "--config", cfg, "config", "diff"); !strings.Contains(out, consoleRules+": 1 rule(s) cloned (\""+clone+"\"), 1 rule(s) disabled") {
		t.Errorf("config diff:\n%s", out)
	}
	if out := mustIdsync(t, "--config", cfg, "rules", "validate", "--no-schema"); !strings.Contains(out, "sync rules are valid") {
		t.Errorf("validate: %q", out)
	}
}

func matches(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }
