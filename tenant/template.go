package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/goccy/go-yaml"

	"github.com/idsync/idsync/store"
)

// A tenant's synchronization is an idsync configuration of its own — its
// connectors (its cloud directory, the provider's subscriber list), its
// rules, its store — made from the provider's template directory
// (tenants.template) and the tenant's settings, into the tenant's
// directory (tenants.dir/ID). Every import, sync and export of a tenant is
// then a run of the engine on that configuration, like any other.
//
// The template directory holds settings.yaml, which declares the settings
// a tenant has (name, default, pattern, description), and the files of
// the configuration: idsync.yaml and the rule files. Files ending in .yaml
// or .yml are text/template templates of
//
//	.Tenant.ID, .Tenant.Name, .Tenant.Domain   the tenant
//	.Settings.NAME                             its settings, defaults filled in
//
// with the function quote (a YAML double-quoted string: {{quote .Tenant.Name}});
// other files are seeds, copied once (a file the tenant has is kept: the
// review file holds its edits). A file of the tenant's directory
// that the template does not have (its store, its review file) is left
// alone.

// SettingsFile declares a template's settings.
const SettingsFile = "settings.yaml"

// Setting is one setting a template declares.
type Setting struct {
	Name        string `yaml:"name" json:"name"`
	Default     string `yaml:"default" json:"default"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Pattern a value must match (a Go regular expression, anchored);
	// default: letters, digits, spaces and . _ @ : / + - (nothing that
	// could change the YAML it is written into).
	Pattern string `yaml:"pattern" json:"pattern,omitempty"`
	re      *regexp.Regexp
}

const defaultPattern = `[A-Za-z0-9 ._@:/+-]*`

var settingNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// Template is a provider's tenant configuration template.
type Template struct {
	Dir        string
	Settings   []*Setting
	Onboarding Onboarding
}

// Onboarding names, in a template, the connectors and attributes the
// onboarding steps use (idsync onboard, the console's wizard).
type Onboarding struct {
	// Source is the connector of the tenant's directory (discovery).
	Source string `yaml:"source"`
	// Target is the connector subscribers are created in (confirm).
	Target string `yaml:"target"`
	// Review is the file connector that reads the review edits from
	// ReviewFile (in the tenant's directory); its rules join an edit to the
	// user by the source object's anchor (column id) and flow the edited
	// columns with a higher precedence than the source's; a column
	// "excluded" is "true" for a user removed from the import. Empty: no
	// review edits.
	Review     string `yaml:"review"`
	ReviewFile string `yaml:"reviewFile"`
	// ReviewColumns are the target attributes a review may edit.
	ReviewColumns []string `yaml:"reviewColumns"`
	// ShowColumns are the target attributes a review shows (ReviewColumns
	// and these; never a secret one).
	ShowColumns []string `yaml:"showColumns"`
	// Spreadsheet are the columns of the password spreadsheet, in order:
	// a header and the target attribute it shows.
	Spreadsheet []Column `yaml:"spreadsheet"`
	// Password is the target attribute holding the generated password
	// (an applyOnce flow): what a password reset generates again.
	Password string `yaml:"password"`
}

// Column is a spreadsheet column.
type Column struct {
	Header    string `yaml:"header" json:"header"`
	Attribute string `yaml:"attribute" json:"attribute"`
}

// LoadTemplate reads a template directory.
func LoadTemplate(dir string) (*Template, error) {
	if dir == "" {
		return nil, errors.New("no tenant template: set tenants.template in the configuration to the directory tenants' configurations are made from")
	}
	data, err := os.ReadFile(filepath.Join(dir, SettingsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tenant template: %w", err)
	}
	var doc struct {
		Settings   []*Setting `yaml:"settings"`
		Onboarding Onboarding `yaml:"onboarding"`
	}
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("tenant template %s: %w", filepath.Join(dir, SettingsFile), err)
	}
	t := &Template{Dir: dir, Settings: doc.Settings, Onboarding: doc.Onboarding}
	if t.Onboarding.Review != "" && t.Onboarding.ReviewFile == "" {
		t.Onboarding.ReviewFile = "review.csv"
	}
	seen := map[string]bool{}
	for _, s := range t.Settings {
		if !settingNameRE.MatchString(s.Name) || seen[s.Name] {
			return nil, fmt.Errorf("tenant template %s: setting %q: a unique name of letters and digits, starting with a letter", SettingsFile, s.Name)
		}
		seen[s.Name] = true
		p := s.Pattern
		if p == "" {
			p = defaultPattern
		}
		if s.re, err = regexp.Compile(`^(?:` + p + `)$`); err != nil {
			return nil, fmt.Errorf("tenant template %s: setting %s: pattern: %w", SettingsFile, s.Name, err)
		}
		if !s.re.MatchString(s.Default) {
			return nil, fmt.Errorf("tenant template %s: setting %s: the default %q does not match its pattern", SettingsFile, s.Name, s.Default)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "idsync.yaml")); err != nil {
		return nil, fmt.Errorf("tenant template %s has no idsync.yaml: %w", dir, err)
	}
	return t, nil
}

// Values returns a tenant's settings: its stored ones (Tenant.Settings, a
// JSON object) over the template's defaults. A stored setting the
// template no longer declares is dropped.
func (t *Template) Values(tn *store.Tenant) (map[string]string, error) {
	stored := map[string]string{}
	if tn.Settings != "" {
		if err := json.Unmarshal([]byte(tn.Settings), &stored); err != nil {
			return nil, fmt.Errorf("settings of tenant %q: %w", tn.ID, err)
		}
	}
	out := map[string]string{}
	for _, s := range t.Settings {
		v, ok := stored[s.Name]
		if !ok {
			v = s.Default
		}
		out[s.Name] = v
	}
	return out, nil
}

// Set checks and sets settings of a tenant (name → value), in tn.Settings.
func (t *Template) Set(tn *store.Tenant, set map[string]string) error {
	vals, err := t.Values(tn)
	if err != nil {
		return err
	}
	for name, v := range set {
		i := slices.IndexFunc(t.Settings, func(s *Setting) bool { return s.Name == name })
		if i < 0 {
			var names []string
			for _, s := range t.Settings {
				names = append(names, s.Name)
			}
			return fmt.Errorf("setting %q is not one of the template's: %s", name, strings.Join(names, ", "))
		}
		if s := t.Settings[i]; !s.re.MatchString(v) {
			p := s.Pattern
			if p == "" {
				p = defaultPattern
			}
			return fmt.Errorf("setting %s: %q does not match %s", name, v, p)
		}
		vals[name] = v
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	tn.Settings = string(b)
	return nil
}

// quote returns s as a YAML double-quoted scalar (JSON's string syntax,
// which YAML reads as the same string).
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Render writes the tenant's configuration from the template into dir
// (created if missing) and returns the path of its idsync.yaml. Only files
// whose content changed are written (atomically).
func (t *Template) Render(tn *store.Tenant, dir string) (string, error) {
	vals, err := t.Values(tn)
	if err != nil {
		return "", err
	}
	data := map[string]any{
		"Tenant":   map[string]string{"ID": tn.ID, "Name": tn.Name, "Domain": tn.Domain},
		"Settings": vals,
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("tenant %q: %w", tn.ID, err)
	}
	err = filepath.WalkDir(t.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(t.Dir, path)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		if rel == SettingsFile {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ext := filepath.Ext(rel)
		if ext != ".yaml" && ext != ".yml" {
			// A seed (such as the review file): copied once, then the
			// tenant's own.
			if _, err := os.Stat(out); err == nil {
				return nil
			}
		} else {
			tp, err := template.New(rel).Option("missingkey=error").Funcs(template.FuncMap{"quote": quote}).Parse(string(src))
			if err != nil {
				return fmt.Errorf("tenant template %s: %w", rel, err)
			}
			var b bytes.Buffer
			if err := tp.Execute(&b, data); err != nil {
				return fmt.Errorf("tenant template %s for tenant %q: %w", rel, tn.ID, err)
			}
			src = b.Bytes()
		}
		if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, src) {
			return nil
		}
		tmp := out + ".tmp"
		if err := os.WriteFile(tmp, src, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, out)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "idsync.yaml"), nil
}

// ConfigDir is the directory of a tenant's configuration and store.
func ConfigDir(tenantsDir, id string) (string, error) {
	if err := ValidID(id); err != nil {
		return "", err
	}
	return filepath.Join(tenantsDir, id), nil
}
