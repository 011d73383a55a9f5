package tenant

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/store"
)

func writeTemplate(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const settingsYAML = `settings:
  - {name: extensionStart, default: "1000", pattern: "[0-9]{2,6}"}
  - {name: sipDomain, default: sip.example.net}
onboarding: {source: d, target: s, review: r}
`

func TestTemplateRender(t *testing.T) {
	dir := writeTemplate(t, map[string]string{
		SettingsFile:     settingsYAML,
		"idsync.yaml":    "name: {{quote .Tenant.Name}}\nstart: {{.Settings.extensionStart}}\ndomain: {{.Settings.sipDomain}}\n",
		"rules/r.yaml":   "id: {{.Tenant.ID}}\n",
		"review.csv":     "id,excluded\n",
		"notes/readme.t": "{{not a template}}",
	})
	tmpl, err := LoadTemplate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Onboarding.ReviewFile != "review.csv" {
		t.Errorf("review file default = %q", tmpl.Onboarding.ReviewFile)
	}
	tn := &store.Tenant{ID: "contoso", Name: "Contoso \"Ltd\"\nevil: injected"}
	for name, tc := range map[string]struct {
		set  map[string]string
		want string
	}{
		"unknown":       {map[string]string{"nope": "1"}, `setting "nope" is not one of the template's: extensionStart, sipDomain`},
		"pattern":       {map[string]string{"extensionStart": "1e3"}, `does not match [0-9]{2,6}`},
		"default chars": {map[string]string{"sipDomain": "x\ny: 1"}, "does not match"},
		"quote":         {map[string]string{"sipDomain": `a"b`}, "does not match"},
	} {
		if err := tmpl.Set(tn, tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Set = %v, want %q", name, err, tc.want)
		}
	}
	if err := tmpl.Set(tn, map[string]string{"extensionStart": "2001"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "contoso")
	path, err := tmpl.Render(tn, out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "name: \"Contoso \\\"Ltd\\\"\\nevil: injected\"\nstart: 2001\ndomain: sip.example.net\n"
	if string(got) != want {
		t.Errorf("idsync.yaml =\n%s\nwant\n%s", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "rules", "r.yaml")); string(b) != "id: contoso\n" {
		t.Errorf("rules/r.yaml = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "notes", "readme.t")); string(b) != "{{not a template}}" {
		t.Errorf("a seed file = %q", b)
	}
	if _, err := os.Stat(filepath.Join(out, SettingsFile)); err == nil {
		t.Error("settings.yaml was copied into the tenant's directory")
	}
	// The tenant's review edits survive a new rendering; a changed setting
	// reaches the configuration.
	if err := os.WriteFile(filepath.Join(out, "review.csv"), []byte("id,excluded\nu1,true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Set(tn, map[string]string{"sipDomain": "sip.contoso.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(tn, out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "review.csv")); !strings.Contains(string(b), "u1,true") {
		t.Errorf("the review file was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "domain: sip.contoso.com") || !strings.Contains(string(b), "start: 2001") {
		t.Errorf("after a settings change: %s", b)
	}
}

func TestLoadTemplateErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"no idsync.yaml":    {map[string]string{SettingsFile: "settings: []\n"}, "has no idsync.yaml"},
		"bad name":          {map[string]string{SettingsFile: "settings: [{name: a-b}]\n", "idsync.yaml": ""}, `setting "a-b"`},
		"duplicate":         {map[string]string{SettingsFile: "settings: [{name: a}, {name: a}]\n", "idsync.yaml": ""}, `setting "a"`},
		"default mismatch":  {map[string]string{SettingsFile: "settings: [{name: a, default: x, pattern: '[0-9]+'}]\n", "idsync.yaml": ""}, "does not match its pattern"},
		"unknown key":       {map[string]string{SettingsFile: "setings: []\n", "idsync.yaml": ""}, "setings"},
		"missing key value": {map[string]string{SettingsFile: "settings: []\n", "idsync.yaml": "{{.Settings.nope}}"}, ""},
	} {
		dir := writeTemplate(t, tc.files)
		tmpl, err := LoadTemplate(dir)
		if tc.want == "" {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, err := tmpl.Render(&store.Tenant{ID: "x"}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "nope") {
				t.Errorf("%s: Render = %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadTemplate = %v, want %q", name, err, tc.want)
		}
	}
	if _, err := LoadTemplate(""); err == nil || !strings.Contains(err.Error(), "tenants.template") {
		t.Errorf("no template: %v", err)
	}
}
