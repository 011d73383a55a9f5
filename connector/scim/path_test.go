package scim

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in      string
		want    Path
		wantErr string
	}{
		{in: "userName", want: Path{Attr: "userName"}},
		{in: "name.givenName", want: Path{Attr: "name", Sub: "givenName"}},
		{in: `emails[type eq "work"].value`, want: Path{Attr: "emails", FilterAttr: "type", FilterValue: "work", Sub: "value"}},
		{in: `emails[ type  EQ  "work" ].value`, want: Path{Attr: "emails", FilterAttr: "type", FilterValue: "work", Sub: "value"}},
		{in: `addresses[type eq "a \"b\" \\ c"].streetAddress`, want: Path{Attr: "addresses", FilterAttr: "type", FilterValue: `a "b" \ c`, Sub: "streetAddress"}},
		{in: `emails[type eq "\u00e9\n"].value`, want: Path{Attr: "emails", FilterAttr: "type", FilterValue: "é\n", Sub: "value"}},
		{in: EnterpriseUser + ":employeeNumber", want: Path{URN: EnterpriseUser, Attr: "employeeNumber"}},
		{in: EnterpriseUser + ":manager.value", want: Path{URN: EnterpriseUser, Attr: "manager", Sub: "value"}},
		{in: `urn:x:y:things[type eq "a:b[c]"].v`, want: Path{URN: "urn:x:y", Attr: "things", FilterAttr: "type", FilterValue: "a:b[c]", Sub: "v"}},
		{in: "members.$ref", want: Path{Attr: "members", Sub: "$ref"}},
		{in: "", wantErr: "expected an attribute name"},
		{in: "1abc", wantErr: "expected an attribute name"},
		{in: "urn:", wantErr: "URN:name"},
		{in: "urn:x:", wantErr: "URN:name"},
		{in: "name.", wantErr: "sub-attribute name"},
		{in: "name.givenName.x", wantErr: "unexpected"},
		{in: `emails[type ne "work"].value`, wantErr: "only eq"},
		{in: `emails[type eq work].value`, wantErr: "quoted string"},
		{in: `emails[type eq "work].value`, wantErr: "unterminated"},
		{in: `emails[type eq "work"`, wantErr: `expected "]"`},
		{in: `emails[type eq "\q"]`, wantErr: `invalid escape`},
		{in: `emails[type eq "\u12"]`, wantErr: `\u escape`},
		{in: "user Name", wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePath(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePath(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			again, err := ParsePath(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip of %q via %q: %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

// TestQuote checks filter-value escaping (RFC 7644 §3.4.2.2: string values
// are JSON strings).
func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", `"alice"`},
		{`say "hi"`, `"say \"hi\""`},
		{`C:\dir`, `"C:\\dir"`},
		{`\"`, `"\\\""`},
		{"tab\there", `"tab\there"`},
		{"line\nbreak\r", `"line\nbreak\r"`},
		{"nul\x00", `"nul\u0000"`},
		{"del\x7f", `"del\u007f"`},
		{"é ünïcode", `"é ünïcode"`},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
		v, rest, err := unquote(Quote(tt.in))
		want := string([]rune(tt.in))
		if err != nil || rest != "" || v != want {
			t.Errorf("unquote(Quote(%q)) = %q, %q, %v", tt.in, v, rest, err)
		}
	}
}

func TestFilterFor(t *testing.T) {
	m := testMapper(CoreUser, EnterpriseUser)
	g := testMapper(CoreGroup)
	tests := []struct {
		m          *mapper
		attr, val  string
		want, fail string
	}{
		{m, "userName", `bjensen "b"`, `userName eq "bjensen \"b\""`, ""},
		{m, "USERNAME", `x\y`, `userName eq "x\\y"`, ""},
		{m, "active", "true", `active eq true`, ""},
		{m, "active", "yes", "", "not a boolean"},
		{m, "name.givenName", "Barbara", `name.givenName eq "Barbara"`, ""},
		{m, `emails[type eq "work"].value`, "b@x", `emails[type eq "work" and value eq "b@x"]`, ""},
		{m, EnterpriseUser + ":employeeNumber", "42", EnterpriseUser + `:employeeNumber eq "42"`, ""},
		{m, EnterpriseUser + ":manager", "id1", EnterpriseUser + `:manager.value eq "id1"`, ""},
		{g, "members", "id1", `members.value eq "id1"`, ""},
		{g, "externalId", "p-1", `externalId eq "p-1"`, ""},
	}
	for _, tt := range tests {
		tg, err := tt.m.lookup(tt.attr)
		if err != nil {
			t.Fatalf("lookup %q: %v", tt.attr, err)
		}
		got, err := filterFor(tg, tt.val)
		if tt.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tt.fail) {
				t.Errorf("filterFor(%s, %q) error = %v, want %q", tt.attr, tt.val, err, tt.fail)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("filterFor(%s, %q) = %s, %v; want %s", tt.attr, tt.val, got, err, tt.want)
		}
	}
}

// FuzzParsePath: parsing never panics, a parsed path renders to a string
// that parses back to the same path, and filter values survive quoting.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"userName", "name.givenName", `emails[type eq "work"].value`, `addresses[type eq "a\"b\\"].locality`,
		EnterpriseUser + ":manager", `urn:a:b:c[type eq "x:y"].z`, `x[y eq "\u0041"]`, "members.$ref", "urn:", `a[b eq "`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err == nil {
			again, err := ParsePath(p.String())
			if err != nil || again != p {
				t.Fatalf("ParsePath(%q) = %+v renders %q, which parses to %+v, %v", s, p, p.String(), again, err)
			}
		}
		// Any string is a filter value.
		v, rest, err := unquote(Quote(s))
		if err != nil || rest != "" || v != string([]rune(s)) {
			t.Fatalf("unquote(Quote(%q)) = %q, %q, %v", s, v, rest, err)
		}
		if q := Quote(s); !utf8.ValidString(q) {
			t.Fatalf("Quote(%q) is not valid UTF-8", s)
		}
		// And the mapper never panics on it.
		m := testMapper(CoreUser, EnterpriseUser)
		if tg, err := m.lookup(s); err == nil {
			_, _ = filterFor(tg, s)
		}
	})
}
