package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/idsync/idsync/rules"
)

// The console-managed configuration: what the web console and the CLI's
// editing commands (idsync rules clone/disable/enable, idsync connector
// containers --select/--unselect/…) change, kept in files of their own next to the
// configuration file, which stays the admin's. They are plain YAML, meant
// to be reviewed (and committed with the configuration), and undone by
// removing an entry or the file. Load merges them; `idsync config diff`
// shows their effect like any other change.

// MaxCustomPrecedence is the precedence custom rules stay below: out-of-box
// rules use 100 and up (Azure AD Connect's rule, R2.8).
const MaxCustomPrecedence = 100

// consoleMu serializes this process's edits of the console-managed files
// (a read-modify-write each); the files are replaced atomically, so a
// reader never sees half a file.
var consoleMu sync.Mutex

// consolePath returns the path of a console-managed file: the
// configuration file's name with its extension replaced by suffix.
func consolePath(cfgPath, suffix string) string {
	base := strings.TrimSuffix(filepath.Base(cfgPath), filepath.Ext(cfgPath))
	return filepath.Join(filepath.Dir(cfgPath), base+suffix)
}

// ConsoleRulesPath is the console-managed rule file: idsync.yaml →
// idsync.console-rules.yaml. It is an ordinary rule file (rules and
// disable), loaded after the rule files the configuration names.
func (c *Config) ConsoleRulesPath() string { return consolePath(c.Path, ".console-rules.yaml") }

// consoleRulesHeader starts the console-managed rule file.
const consoleRulesHeader = `# Managed by idsync: written by the web console and by
# idsync rules clone / disable / enable (see docs/rules.md).
# An ordinary rule file, loaded after the configuration's rule files: review
# it like them; remove an entry (or the file) to undo a change. Move a clone
# into one of your own rule files to own it.
`

// loadConsoleRules reads the console-managed rule file; an empty file when
// there is none.
func (c *Config) loadConsoleRules() (*rules.File, bool, error) {
	p := c.ConsoleRulesPath()
	f, err := rules.LoadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &rules.File{Name: p}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

// RuleCheck checks a whole rule set before a console-managed change is
// saved (rules.RuleSet.Validate against the configured connectors); nil
// checks only what Merge does.
type RuleCheck func(*rules.RuleSet) error

// CloneRule copies the rule named name under newName with the given
// precedence (below MaxCustomPrecedence) into the console-managed rule
// file, and disables the original when disableOriginal is set (R2.8:
// out-of-box rules are cloned, never edited in place). extra are rule files
// loaded after the configuration's (the applications' generated rules).
// The whole rule set is merged and checked before anything is written.
func (c *Config) CloneRule(name, newName string, precedence int, disableOriginal bool, check RuleCheck, extra ...*rules.File) (*rules.Rule, error) {
	if strings.TrimSpace(newName) == "" {
		return nil, errors.New("clone: give the clone a name (--name)")
	}
	if precedence < 0 || precedence >= MaxCustomPrecedence {
		return nil, fmt.Errorf("clone: precedence %d: custom rules take a precedence from 0 to %d (out-of-box rules use %d and up)",
			precedence, MaxCustomPrecedence-1, MaxCustomPrecedence)
	}
	var clone *rules.Rule
	err := c.editConsoleRules(check, extra, func(rs *rules.RuleSet, f *rules.File) error {
		orig := find(rs, name)
		if orig == nil {
			return noRule(rs, name)
		}
		if find(rs, newName) != nil {
			return fmt.Errorf("clone: a rule is already named %q: choose another name", newName)
		}
		clone = orig.Clone()
		clone.Name, clone.Precedence = newName, precedence
		clone.Immutable, clone.Disabled, clone.Source = false, false, ""
		if clone.Description == "" {
			clone.Description = fmt.Sprintf("Clone of %q.", name)
		} else {
			clone.Description = fmt.Sprintf("Clone of %q: %s", name, clone.Description)
		}
		f.Rules = append(f.Rules, clone)
		if disableOriginal && !orig.Disabled {
			f.Disable = append(f.Disable, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return clone, nil
}

// SetRuleDisabled disables (disabled set) or enables a rule through the
// console-managed rule file's disable list. Enabling only undoes what that
// list did: a rule disabled by the admin's own files stays disabled, and
// the error says where to change it.
func (c *Config) SetRuleDisabled(name string, disabled bool, check RuleCheck, extra ...*rules.File) error {
	return c.editConsoleRules(check, extra, func(rs *rules.RuleSet, f *rules.File) error {
		r := find(rs, name)
		if r == nil {
			return noRule(rs, name)
		}
		listed := slices.Contains(f.Disable, name)
		switch {
		case disabled && r.Disabled:
			return fmt.Errorf("rule %q is already disabled", name)
		case disabled:
			f.Disable = append(f.Disable, name)
		case !r.Disabled:
			return fmt.Errorf("rule %q is already enabled", name)
		case !listed:
			return fmt.Errorf("rule %q is disabled by the rule files of the configuration (disabled: true, or a disable: list; it is defined at %s), not by idsync: change it there", name, r.Source)
		default:
			f.Disable = slices.DeleteFunc(f.Disable, func(d string) bool { return d == name })
		}
		return nil
	})
}

func find(rs *rules.RuleSet, name string) *rules.Rule {
	for _, r := range rs.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func noRule(rs *rules.RuleSet, name string) error {
	for _, r := range rs.Rules {
		if strings.EqualFold(r.Name, name) {
			return fmt.Errorf("no sync rule is named %q (rule names are case-sensitive: did you mean %q?)", name, r.Name)
		}
	}
	return fmt.Errorf("no sync rule is named %q (idsync rules list lists them)", name)
}

// editConsoleRules runs edit on the current rule set and a copy of the
// console-managed rule file, then merges and checks the rule set the edited
// file makes, and writes the file only if it is valid.
func (c *Config) editConsoleRules(check RuleCheck, extra []*rules.File, edit func(*rules.RuleSet, *rules.File) error) error {
	consoleMu.Lock()
	defer consoleMu.Unlock()
	files, err := c.RuleFiles()
	if err != nil {
		return err
	}
	cur, err := rules.Merge(append(files, extra...)...)
	if err != nil {
		return fmt.Errorf("the current sync rules do not load; fix them first:\n  %w", err)
	}
	f, _, err := c.loadConsoleRules()
	if err != nil {
		return err
	}
	nf := &rules.File{Name: f.Name, Disable: slices.Clone(f.Disable)}
	for _, r := range f.Rules {
		nf.Rules = append(nf.Rules, r.Clone())
	}
	if err := edit(cur, nf); err != nil {
		return err
	}
	data, err := marshalRuleFile(nf)
	if err != nil {
		return err
	}
	// What is written must load back the same way: parse the new text,
	// and check the whole rule set with it in place of the old file.
	parsed, err := rules.Parse(nf.Name, data)
	if err != nil {
		return fmt.Errorf("the console-managed rule file would not load back (a bug; nothing was written): %w", err)
	}
	var others []*rules.File
	for _, of := range files {
		if of.Name != nf.Name {
			others = append(others, of)
		}
	}
	next, err := rules.Merge(append(append(others, parsed), extra...)...)
	if err != nil {
		return fmt.Errorf("refused: the rule set would not be valid (nothing was written):\n  %w", err)
	}
	if check != nil {
		if err := check(next); err != nil {
			return fmt.Errorf("refused: the rule set would not be valid (nothing was written):\n  %w", err)
		}
	}
	return writeAtomic(nf.Name, data)
}

// ruleFileYAML is the written shape of a rule file.
type ruleFileYAML struct {
	Rules   []*rules.Rule `yaml:"rules,omitempty"`
	Disable []string      `yaml:"disable,omitempty"`
}

func marshalRuleFile(f *rules.File) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(consoleRulesHeader)
	if len(f.Rules) == 0 && len(f.Disable) == 0 {
		return buf.Bytes(), nil
	}
	data, err := yaml.MarshalWithOptions(ruleFileYAML{Rules: f.Rules, Disable: f.Disable}, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("write the console-managed rule file: %w", err)
	}
	buf.Write(data)
	return buf.Bytes(), nil
}

// writeAtomic replaces path with data: written to a temporary file in the
// same directory, synced, then renamed over it.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w (idsync writes its console-managed files next to the configuration file: it needs write access to that directory)", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ConsolePath is the console-managed connector settings file: idsync.yaml
// → idsync.console.yaml. Load merges it into the connectors' config blocks.
func (c *Config) ConsolePath() string { return consolePath(c.Path, ".console.yaml") }

// consoleHeader starts the console-managed connector settings file.
const consoleHeader = `# Managed by idsync: written by the web console (a connector's OU tree)
# and by idsync connector containers --select/--unselect/... (see
# docs/console.md).
# Each entry replaces that key of the connector's config block in the
# configuration file; remove an entry (or the file) to go back to what the
# configuration file says.
`

// ConsoleFile is the console-managed connector settings file.
type ConsoleFile struct {
	Connectors map[string]ConsoleConnector `yaml:"connectors,omitempty"`
}

// ConsoleConnector is what the console sets for one connector.
type ConsoleConnector struct {
	// Containers replaces the config block's containers (LDAP connectors'
	// OU-based filtering, R2.7).
	Containers *ContainerSelection `yaml:"containers,omitempty"`
}

// ContainerSelection is an LDAP connector's containers block.
type ContainerSelection struct {
	Include       []string `yaml:"include" json:"include"`
	Exclude       []string `yaml:"exclude" json:"exclude"`
	NoNewChildren []string `yaml:"noNewChildren" json:"noNewChildren"`
}

func (s ContainerSelection) empty() bool {
	return len(s.Include) == 0 && len(s.Exclude) == 0 && len(s.NoNewChildren) == 0
}

// containerTypes are the connector types whose config has containers.
var containerTypes = map[string]bool{"ldap": true}

// readConsole reads the console-managed connector settings; an empty file
// when there is none.
func (c *Config) readConsole() (*ConsoleFile, error) {
	data, err := os.ReadFile(c.ConsolePath())
	if errors.Is(err, os.ErrNotExist) {
		return &ConsoleFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.ConsolePath(), err)
	}
	f := &ConsoleFile{}
	if !emptyYAML(data) {
		if err := yaml.UnmarshalWithOptions(data, f, yaml.Strict()); err != nil {
			return nil, positioned(c.ConsolePath(), err)
		}
	}
	return f, nil
}

// applyConsole merges the console-managed connector settings into the
// connectors' config blocks.
func (c *Config) applyConsole() error {
	f, err := c.readConsole()
	if err != nil {
		return err
	}
	for name, cc := range f.Connectors {
		conn := c.Connector(name)
		if conn == nil {
			return fmt.Errorf("%s: connector %q is not configured in %s: remove its entry", c.ConsolePath(), name, c.Path)
		}
		if cc.Containers != nil {
			if !containerTypes[conn.Type] {
				return fmt.Errorf("%s: connector %q is of type %s, which has no containers: remove its entry", c.ConsolePath(), name, conn.Type)
			}
			if err := conn.Config.set("containers", cc.Containers); err != nil {
				return fmt.Errorf("%s: connector %q: %w", c.ConsolePath(), name, err)
			}
		}
	}
	return nil
}

// set replaces (or adds) a top-level key of the block with v, written in
// flow style at the column of the block's keys.
func (b *Block) set(key string, v any) error {
	data, err := yaml.MarshalWithOptions(map[string]any{key: v}, yaml.Flow(true))
	if err != nil {
		return err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	if len(f.Docs) != 1 {
		return fmt.Errorf("set %s: unexpected YAML %q", key, data)
	}
	var mv *ast.MappingValueNode
	switch n := f.Docs[0].Body.(type) {
	case *ast.MappingValueNode:
		mv = n
	case *ast.MappingNode:
		if len(n.Values) == 1 {
			mv = n.Values[0]
		}
	}
	if mv == nil {
		return fmt.Errorf("set %s: unexpected YAML %q", key, data)
	}
	b.console = append(b.console, key)
	switch n := b.node.(type) {
	case nil:
		b.node = ast.Mapping(mv.GetToken(), false, mv)
	case *ast.MappingValueNode:
		if keyText(n.Key) == key {
			n.Value = mv.Value
			return nil
		}
		mv.AddColumn(n.Key.GetToken().Position.Column - 1)
		b.node = ast.Mapping(n.GetToken(), false, n, mv)
	case *ast.MappingNode:
		for _, old := range n.Values {
			if keyText(old.Key) == key {
				old.Value = mv.Value
				return nil
			}
		}
		if !n.IsFlowStyle && len(n.Values) > 0 {
			mv.AddColumn(n.Values[0].Key.GetToken().Position.Column - 1)
		}
		n.Values = append(n.Values, mv)
	default:
		return fmt.Errorf("the config block is not a mapping (%s)", n.Type())
	}
	return nil
}

func keyText(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}

// ConsoleKeys lists the keys of the block that the console-managed file
// set (shown next to the configuration).
func (b Block) ConsoleKeys() []string { return b.console }

// ConfiguredContainers is what the configuration file itself (without the
// console-managed file) says about a connector's containers.
func (c *Config) ConfiguredContainers(name string) (ContainerSelection, error) {
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return ContainerSelection{}, fmt.Errorf("read config: %w", err)
	}
	own, err := Parse(c.Path, data)
	if err != nil {
		return ContainerSelection{}, err
	}
	conn := own.Connector(name)
	if conn == nil || conn.Config.node == nil {
		return ContainerSelection{}, nil
	}
	var v struct {
		Containers ContainerSelection `yaml:"containers"`
	}
	if err := yaml.NodeToValue(conn.Config.node, &v); err != nil {
		return ContainerSelection{}, positioned(c.Path, err)
	}
	return v.Containers, nil
}

// SetContainers writes a connector's containers (OU-based filtering) to
// the console-managed file: an entry that says what the configuration file
// says is removed instead. check, when set, is given the configuration
// loaded with the new file (open the connector with it, say); when it or
// the loading fails, the file is put back as it was and the error
// returned.
func (c *Config) SetContainers(name string, sel ContainerSelection, check func(*Config) error) error {
	conn := c.Connector(name)
	if conn == nil {
		return fmt.Errorf("no connector is named %q in %s", name, c.Path)
	}
	if !containerTypes[conn.Type] {
		return fmt.Errorf("connector %q is of type %s, which has no containers (OU-based filtering is for ldap connectors)", name, conn.Type)
	}
	consoleMu.Lock()
	defer consoleMu.Unlock()
	f, err := c.readConsole()
	if err != nil {
		return err
	}
	own, err := c.ConfiguredContainers(name)
	if err != nil {
		return err
	}
	if f.Connectors == nil {
		f.Connectors = map[string]ConsoleConnector{}
	}
	if sameSelection(own, sel) {
		delete(f.Connectors, name)
	} else {
		sel := sel
		f.Connectors[name] = ConsoleConnector{Containers: &sel}
	}
	var buf bytes.Buffer
	buf.WriteString(consoleHeader)
	if len(f.Connectors) > 0 {
		data, err := yaml.MarshalWithOptions(f, yaml.IndentSequence(true))
		if err != nil {
			return err
		}
		buf.Write(data)
	}
	p := c.ConsolePath()
	old, oldErr := os.ReadFile(p)
	if err := writeAtomic(p, buf.Bytes()); err != nil {
		return err
	}
	restore := func(cause error) error {
		var rerr error
		if oldErr == nil {
			rerr = writeAtomic(p, old)
		} else {
			rerr = os.Remove(p)
		}
		if rerr != nil {
			return fmt.Errorf("%w (and %s could not be put back: %w)", cause, p, rerr)
		}
		return cause
	}
	next, err := Load(c.Path)
	if err != nil {
		return restore(fmt.Errorf("refused: the configuration would not load (nothing changed): %w", err))
	}
	if check != nil {
		if err := check(next); err != nil {
			return restore(fmt.Errorf("refused (nothing changed): %w", err))
		}
	}
	return nil
}

func sameSelection(a, b ContainerSelection) bool {
	if a.empty() && b.empty() {
		return true
	}
	return slices.Equal(a.Include, b.Include) && slices.Equal(a.Exclude, b.Exclude) && slices.Equal(a.NoNewChildren, b.NoNewChildren)
}

// ConsoleSummary says what the console-managed files set, one line per
// file that sets something (for idsync config diff): nothing when they
// set nothing.
func (c *Config) ConsoleSummary() ([]string, error) {
	var out []string
	var set []string
	for _, cc := range c.Connectors {
		for _, k := range cc.Config.ConsoleKeys() {
			set = append(set, cc.Name+" "+k)
		}
	}
	if len(set) > 0 {
		out = append(out, fmt.Sprintf("%s sets: %s", c.ConsolePath(), strings.Join(set, ", ")))
	}
	f, ok, err := c.loadConsoleRules()
	if err != nil {
		return nil, err
	}
	if ok && len(f.Rules)+len(f.Disable) > 0 {
		var names []string
		for _, r := range f.Rules {
			names = append(names, fmt.Sprintf("%q", r.Name))
		}
		line := fmt.Sprintf("%s: %d rule(s) cloned", c.ConsoleRulesPath(), len(f.Rules))
		if len(names) > 0 {
			line += " (" + strings.Join(names, ", ") + ")"
		}
		line += fmt.Sprintf(", %d rule(s) disabled", len(f.Disable))
		if len(f.Disable) > 0 {
			line += fmt.Sprintf(" (%q)", f.Disable)
		}
		out = append(out, line)
	}
	return out, nil
}
