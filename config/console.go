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

	"github.com/idsync/idsync/rules"
)

// The console-managed configuration: what the web console and the CLI's
// editing commands (idsync rules clone/disable/enable, idsync connector
// containers --set) change, kept in files of their own next to the
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
