package provisioning

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/engine"
)

// TestScrubRedacted: an application's error that quotes the initial
// password an add sent does not carry it into the report.
func TestScrubRedacted(t *testing.T) {
	a := &App{ObjectType: "user", GroupObjectType: "group", Mappings: []*Mapping{
		{Target: "userName", Source: "accountName"},
		{Target: "password", Expression: `Redact(RandomString(16, 2, 2, 2, 2))`, redacted: true},
	}}
	ev := engine.ExportEvent{ObjectType: "user", Op: connector.OpAdd, Changes: []connector.AttrChange{
		{Name: "userName", Values: []string{"lena"}},
		{Name: "password", Values: []string{"Init-lena-9x!"}},
	}}
	c := &cycle{app: a}
	got := c.scrub(ev, `400 invalidValue: password "Init-lena-9x!" is too weak for lena`)
	if strings.Contains(got, "Init-lena-9x!") || !strings.Contains(got, RedactedValue) || !strings.Contains(got, "lena") {
		t.Errorf("scrub = %q", got)
	}
	if shown := c.shown(ev); len(shown["password"]) != 1 || shown["password"][0] != RedactedValue || shown["userName"][0] != "lena" {
		t.Errorf("shown = %v", shown)
	}
}

// TestSecretMappingsRedacted: a mapping to or from a secret attribute is
// redacted in reports even without Redact.
func TestSecretMappingsRedacted(t *testing.T) {
	f, err := Parse("p.yaml", []byte(`applications:
  - name: app
    scim: {url: "https://scim.example.test/scim/v2", auth: {token: x}}
    assignments:
      users: [{value: x}]
    mappings:
      - {target: userName, source: accountName, matching: true}
      - {target: password, source: initialPassword, apply: create}
      - {target: title, source: title}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.Applications[0].Mappings {
		if want := m.Target == "password"; m.Redacted() != want {
			t.Errorf("mapping %s: Redacted() = %v, want %v", m.Target, m.Redacted(), want)
		}
	}
}
