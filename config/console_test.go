package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/rules"
)

// consoleConfig writes an out-of-box configuration (contoso → aad) in a
// temporary directory and loads it.
func consoleConfig(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "idsync.yaml")
	y := "connectors:\n  - {name: contoso, type: memory}\n  - {name: aad, type: memory}\noutOfBox:\n  cloud: aad\n  forests: [contoso]\n"
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ruleNamed(t *testing.T, c *Config, name string) *rules.Rule {
	t.Helper()
	rs, err := c.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// TestCloneRule: clone, disable the original, enable it again; what is
// refused leaves the file as it was (R2.8).
func TestCloneRule(t *testing.T) {
	c := consoleConfig(t)
	const orig = "In from AD - User Join (contoso)"
	o := ruleNamed(t, c, orig)
	if o == nil || !o.Immutable {
		t.Fatalf("out-of-box rule %q = %+v", orig, o)
	}
	if _, err := os.Stat(c.ConsoleRulesPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("console rule file exists before any change: %v", err)
	}
	cl, err := c.CloneRule(orig, "In from AD - User Join (contoso, custom)", 50, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Immutable || cl.Disabled || cl.Precedence != 50 {
		t.Errorf("clone = %+v", cl)
	}
	got := ruleNamed(t, c, "In from AD - User Join (contoso, custom)")
	if got == nil || got.Immutable || got.Disabled || got.Precedence != 50 || got.Connector != o.Connector ||
		len(got.Flows) != len(o.Flows) || len(got.Join) != len(o.Join) || len(got.Scope) != len(o.Scope) ||
		got.Source != c.ConsoleRulesPath()+":7" {
		t.Errorf("loaded clone = %+v (source %s)", got, got.Source)
	}
	if !ruleNamed(t, c, orig).Disabled {
		t.Error("the original is not disabled")
	}
	before, _ := os.ReadFile(c.ConsoleRulesPath())
	if !strings.HasPrefix(string(before), "# Managed by idsync") || !strings.Contains(string(before), "disable:\n  - \""+orig+"\"") {
		t.Errorf("console rule file:\n%s", before)
	}

	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"precedence 100", func() error { _, err := c.CloneRule(orig, "x", 100, false, nil); return err }, "from 0 to 99"},
		{"negative precedence", func() error { _, err := c.CloneRule(orig, "x", -1, false, nil); return err }, "from 0 to 99"},
		{"no name", func() error { _, err := c.CloneRule(orig, " ", 10, false, nil); return err }, "give the clone a name"},
		{"unknown rule", func() error {
			_, err := c.CloneRule("in from ad - user join (contoso)", "x", 10, false, nil)
			return err
		}, "did you mean"},
		{"taken name", func() error { _, err := c.CloneRule(orig, orig, 10, false, nil); return err }, "already named"},
		{"taken precedence", func() error {
			_, err := c.CloneRule(orig, "again", 50, false, func(rs *rules.RuleSet) error {
				return errors.Join(rs.Validate(rules.ValidateEnv{})...)
			})
			return err
		}, "refused: the rule set would not be valid"},
		{"disable twice", func() error { return c.SetRuleDisabled(orig, true, nil) }, "already disabled"},
		{"enable an enabled rule", func() error { return c.SetRuleDisabled("In from AD - User Join (contoso, custom)", false, nil) }, "already enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			after, _ := os.ReadFile(c.ConsoleRulesPath())
			if string(after) != string(before) {
				t.Errorf("a refused change rewrote the file:\n%s", after)
			}
		})
	}

	// An outbound rule (DN template, deprovisioning) clones the same way.
	out, err := c.CloneRule("Out to AAD - User Join", "Out to AAD - User Join (filtered)", 60, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ruleNamed(t, c, out.Name); got == nil || got.Direction != rules.Outbound || got.DN != ruleNamed(t, c, "Out to AAD - User Join").DN ||
		got.Deprovision != ruleNamed(t, c, "Out to AAD - User Join").Deprovision || !ruleNamed(t, c, "Out to AAD - User Join").Disabled {
		t.Errorf("outbound clone = %+v", got)
	}
	if err := c.SetRuleDisabled(orig, false, nil); err != nil {
		t.Fatal(err)
	}
	if ruleNamed(t, c, orig).Disabled {
		t.Error("enable left the original disabled")
	}
	if err := c.SetRuleDisabled(orig, true, nil); err != nil {
		t.Fatal(err)
	}
	if !ruleNamed(t, c, orig).Disabled {
		t.Error("disable did not disable")
	}
}

// TestEnableRuleDisabledByAdmin: a rule disabled in the admin's own files
// is not enabled by idsync; the error says where.
func TestEnableRuleDisabledByAdmin(t *testing.T) {
	dir := t.TempDir()
	rf := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(rf, []byte("rules:\n  - {name: r, connector: hr, direction: inbound, csObjectType: person, mvObjectType: person, linkType: Provision, precedence: 5, disabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "idsync.yaml")
	if err := os.WriteFile(p, []byte("connectors:\n  - {name: hr, type: memory}\nrules: [mine.yaml]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetRuleDisabled("r", false, nil); err == nil || !strings.Contains(err.Error(), "mine.yaml:2") {
		t.Fatalf("err = %v, want it to name mine.yaml:2", err)
	}
}

// TestSetContainers: the console-managed connector settings replace the
// containers of an LDAP connector's config block (block or flow style,
// with or without containers of its own); setting what the configuration
// file says removes the entry; a refused change puts the file back.
func TestSetContainers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "idsync.yaml")
	y := `connectors:
  - name: contoso
    type: ldap
    config:
      url: ldaps://dc.contoso.test
      password: ${CONTOSO_PASSWORD}
      containers:
        include: ["OU=Sales,DC=contoso,DC=test"]
      pageSize: 500
  - {name: fabrikam, type: ldap, config: {url: "ldaps://dc.fabrikam.test"}}
  - {name: hr, type: memory}
`
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	type block struct {
		URL        string             `yaml:"url"`
		Password   string             `yaml:"password"`
		PageSize   int                `yaml:"pageSize"`
		Containers ContainerSelection `yaml:"containers"`
	}
	t.Setenv("CONTOSO_PASSWORD", "pw")
	decode := func(name string) (block, []string, string) {
		t.Helper()
		c, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		var b block
		if err := c.Connector(name).Config.Decode(&b); err != nil {
			t.Fatal(err)
		}
		return b, c.Connector(name).Config.ConsoleKeys(), c.Connector(name).Config.Text()
	}
	sel := ContainerSelection{Include: []string{"OU=Sales,DC=contoso,DC=test"}, Exclude: []string{"OU=Old,OU=Sales,DC=contoso,DC=test"}, NoNewChildren: []string{"OU=Sales,DC=contoso,DC=test"}}
	if err := c.SetContainers("contoso", sel, nil); err != nil {
		t.Fatal(err)
	}
	b, keys, text := decode("contoso")
	if b.URL != "ldaps://dc.contoso.test" || b.Password != "pw" || b.PageSize != 500 || fmt.Sprint(b.Containers) != fmt.Sprint(sel) || fmt.Sprint(keys) != "[containers]" {
		t.Errorf("contoso after the change: %+v, keys %v", b, keys)
	}
	if !strings.Contains(text, "${CONTOSO_PASSWORD}") || !strings.Contains(text, "OU=Old,OU=Sales") {
		t.Errorf("contoso's block text:\n%s", text)
	}
	fsel := ContainerSelection{Exclude: []string{"CN=Users,DC=fabrikam,DC=test"}}
	if err := c.SetContainers("fabrikam", fsel, nil); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := decode("fabrikam"); b.URL != "ldaps://dc.fabrikam.test" || fmt.Sprint(b.Containers.Exclude) != "[CN=Users,DC=fabrikam,DC=test]" {
		t.Errorf("fabrikam (flow style) after the change: %+v", b)
	}
	// Back to what idsync.yaml says: the entry goes.
	if err := c.SetContainers("contoso", ContainerSelection{Include: []string{"OU=Sales,DC=contoso,DC=test"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, keys, _ := decode("contoso"); len(keys) != 0 {
		t.Errorf("contoso still set by the console: %v", keys)
	}
	data, _ := os.ReadFile(c.ConsolePath())
	if strings.Contains(string(data), "contoso") || !strings.Contains(string(data), "fabrikam") {
		t.Errorf("%s:\n%s", c.ConsolePath(), data)
	}
	// Refused by the check: the file is as it was.
	if err := c.SetContainers("fabrikam", ContainerSelection{}, func(*Config) error { return errors.New("bad DN") }); err == nil || !strings.Contains(err.Error(), "bad DN") {
		t.Errorf("check error: %v", err)
	}
	if after, _ := os.ReadFile(c.ConsolePath()); string(after) != string(data) {
		t.Errorf("a refused change rewrote the file:\n%s", after)
	}
	if err := c.SetContainers("hr", sel, nil); err == nil || !strings.Contains(err.Error(), "no containers") {
		t.Errorf("memory connector: %v", err)
	}
	// An entry naming no connector, or a key the file does not know, stops
	// the configuration from loading, naming the file.
	for _, bad := range []string{"connectors:\n  nowhere: {containers: {include: []}}\n", "connectors:\n  contoso: {containerz: {}}\n"} {
		if err := os.WriteFile(c.ConsolePath(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "idsync.console.yaml") {
			t.Errorf("Load with %q: %v", bad, err)
		}
	}
}
