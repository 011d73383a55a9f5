package rules

import (
	"strings"
	"testing"
)

func TestEscapeDNValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"John Doe":         "John Doe",
		"Doe, John":        `Doe\, John`,
		`a+b"c\d<e>f;g=h`:  `a\+b\"c\\d\<e\>f\;g\=h`,
		" lead":            `\ lead`,
		"trail ":           `trail\ `,
		" ":                `\ `,
		"  both  ":         `\  both \ `,
		"#hash":            `\#hash`,
		"mid#hash":         "mid#hash",
		"nul\x00byte":      `nul\00byte`,
		"Ünïcødé ✓":        "Ünïcødé ✓",
		"#":                `\#`,
		"a,b,c":            `a\,b\,c`,
		"O'Brien (EMEA)":   "O'Brien (EMEA)",
		"x\\":              `x\\`,
		"=leading equals":  `\=leading equals`,
		"tab\tand newline": "tab\tand newline",
	} {
		if got := EscapeDNValue(in); got != want {
			t.Errorf("EscapeDNValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExpandDN(t *testing.T) {
	attrs := map[string]string{"cn": "Doe, John", "ou": "Sales", "empty": ""}
	lookup := func(name string) (string, bool) {
		v, ok := attrs[name]
		return v, ok
	}
	tests := []struct {
		template, want, wantErr string
	}{
		{"cn={cn},ou={ou},dc=example,dc=org", `cn=Doe\, John,ou=Sales,dc=example,dc=org`, ""},
		{"cn={ cn },ou=people", `cn=Doe\, John,ou=people`, ""},
		{"cn=literal {{braces}},ou={ou}", "cn=literal {braces},ou=Sales", ""},
		{"ou=people", "ou=people", ""},
		{"", "", ""},
		{"cn={sn},ou=people", "", `dn template "cn={sn},ou=people": attribute "sn" has no value`},
		{"cn={empty}", "", `attribute "empty" has no value`},
		{"cn={cn", "", "unclosed '{' at offset 3"},
		{"cn={c{n}}", "", "unclosed '{'"},
		{"cn=}x", "", "unmatched '}' at offset 3"},
		{"cn={}", "", "empty placeholder"},
	}
	for _, tc := range tests {
		got, err := ExpandDN(tc.template, lookup)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ExpandDN(%q) error = %v, want %q", tc.template, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ExpandDN(%q) = %q, %v; want %q", tc.template, got, err, tc.want)
		}
	}
	names, err := DNTemplateAttributes("cn={cn}+uid={uid},ou={{x}},o={cn}")
	if err != nil || strings.Join(names, ",") != "cn,uid,cn" {
		t.Errorf("DNTemplateAttributes = %v, %v", names, err)
	}
}
