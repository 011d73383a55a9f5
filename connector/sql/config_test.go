package sql

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

func TestConfig(t *testing.T) {
	good := func() Config {
		return Config{Driver: "sqlite", DSN: "pbx.db", Table: "subscribers", ObjectType: "subscriber",
			Anchor: Anchor{Column: "email"}, Columns: subscriberColumns()}
	}
	cases := []struct {
		name  string
		edit  func(*Config)
		error string // "" when valid
	}{
		{"valid", func(*Config) {}, ""},
		{"schema.table", func(c *Config) { c.Table = "pbx.subscribers" }, ""},
		{"postgres on loopback", func(c *Config) { c.Driver, c.DSN = "postgres", "postgres://u:p@127.0.0.1/pbx?sslmode=disable" }, ""},
		{"postgres verify-full", func(c *Config) { c.Driver, c.DSN = "postgres", "host=db.example.com user=u sslmode=verify-full" }, ""},
		{"no driver", func(c *Config) { c.Driver = "" }, "driver is required"},
		{"unknown driver", func(c *Config) { c.Driver = "mysql" }, "want sqlite or postgres"},
		{"no dsn", func(c *Config) { c.DSN = "" }, "dsn is required"},
		{"postgres without TLS check", func(c *Config) { c.Driver, c.DSN = "postgres", "postgres://u:p@db.example.com/pbx?sslmode=require" }, "verify-full"},
		{"postgres remote default", func(c *Config) { c.Driver, c.DSN = "postgres", "host=db.example.com user=u" }, "sslmode=verify-full"},
		{"table injection", func(c *Config) { c.Table = `subscribers; DROP TABLE x` }, "a name is a letter"},
		{"quoted table", func(c *Config) { c.Table = `"subscribers"` }, "a name is a letter"},
		{"no objectType", func(c *Config) { c.ObjectType = "" }, "objectType is required"},
		{"no columns", func(c *Config) { c.Columns = nil }, "columns is required"},
		{"column injection", func(c *Config) { c.Columns["x) --"] = Column{Attribute: "x"} }, "a name is a letter"},
		{"column without attribute", func(c *Config) { c.Columns["x"] = Column{} }, "columns.x.attribute is required"},
		{"attribute twice", func(c *Config) { c.Columns["x"] = Column{Attribute: "mail"} }, "already the attribute"},
		{"bad type", func(c *Config) { c.Columns["x"] = Column{Attribute: "x", Type: "float"} }, "want string, integer"},
		{"no anchor", func(c *Config) { c.Anchor.Column = "" }, "anchor.column is required"},
		{"attribute source unmapped", func(c *Config) { c.Anchor = Anchor{Column: "uid", Source: "attribute"} }, "map the anchor column"},
		{"secret anchor", func(c *Config) { c.Anchor.Column = "sip_password" }, "secret column cannot be the anchor"},
		{"boolean anchor", func(c *Config) { c.Anchor.Column = "enabled" }, "string or integer"},
		{"bad source", func(c *Config) { c.Anchor.Source = "ldap" }, "want attribute, idsync or database"},
		{"database without match", func(c *Config) { c.Anchor = Anchor{Column: "id", Source: "database"} }, "matchColumns is required"},
		{"database match secret", func(c *Config) {
			c.Anchor = Anchor{Column: "id", Source: "database", MatchColumns: []string{"sip_password"}}
		}, "secret"},
		{"database match unknown", func(c *Config) {
			c.Anchor = Anchor{Column: "id", Source: "database", MatchColumns: []string{"nope"}}
		}, "not a column"},
		{"match with attribute source", func(c *Config) { c.Anchor.MatchColumns = []string{"display_name"} }, "source database only"},
		{"idsync integer", func(c *Config) { c.Anchor = Anchor{Column: "uid", Source: "idsync", Type: "integer"} }, "must be string"},
		{"delta is a column", func(c *Config) { c.DeltaColumn = "display_name" }, "also under columns"},
		{"delta is the anchor", func(c *Config) { c.DeltaColumn = "email" }, "is the anchor column"},
		{"delta and deleted", func(c *Config) { c.DeltaColumn, c.DeletedColumn = "v", "v" }, "two columns"},
		{"negative page", func(c *Config) { c.PageSize = -1 }, "pageSize"},
		{"scope", func(c *Config) {
			c.Scope = []Scope{{Column: "tenant_id", Value: "contoso"}, {Column: "site", Value: "7"}}
		}, ""},
		{"scope without column", func(c *Config) { c.Scope = []Scope{{Value: "contoso"}} }, "scope[0].column is required"},
		{"scope injection", func(c *Config) { c.Scope = []Scope{{Column: "t = t OR 1", Value: "x"}} }, "a name is a letter"},
		{"scope without value", func(c *Config) { c.Scope = []Scope{{Column: "tenant_id"}} }, "scope[0].value is required"},
		{"scope twice", func(c *Config) {
			c.Scope = []Scope{{Column: "tenant_id", Value: "a"}, {Column: "tenant_id", Value: "b"}}
		}, "in the scope twice"},
		{"scope is a column", func(c *Config) { c.Scope = []Scope{{Column: "display_name", Value: "x"}} }, "also under columns"},
		{"scope is the anchor", func(c *Config) {
			c.Anchor = Anchor{Column: "uid"}
			c.Scope = []Scope{{Column: "uid", Value: "x"}}
		}, "is the anchor column"},
		{"scope is the deltaColumn", func(c *Config) {
			c.DeltaColumn = "version"
			c.Scope = []Scope{{Column: "version", Value: "1"}}
		}, "deltaColumn or deletedColumn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			_, err := newSettings(cfg)
			switch {
			case tc.error == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
				t.Fatalf("error %v, want one saying %q", err, tc.error)
			}
			if err != nil && cfg.DSN != "" && strings.Contains(err.Error(), "u:p@") {
				t.Fatalf("the error shows the DSN's password: %v", err)
			}
		})
	}
}

func TestRedactDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://idsync:hunter2@db/pbx?sslmode=verify-full":     "postgres://idsync:xxxxx@db/pbx?sslmode=verify-full",
		"host=db user=idsync password=hunter2 sslmode=verify-full": "host=db user=idsync password=xxxxx sslmode=verify-full",
		"postgres://db/pbx?password=hunter2":                       "postgres://db/pbx?password=xxxxx",
		"file:/var/lib/pbx.db":                                     "file:/var/lib/pbx.db",
	} {
		if got := redactDSN(dsn); got != want || strings.Contains(got, "hunter2") {
			t.Errorf("redactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// FuzzWatermark: a watermark is either refused with an error or decoded,
// and an encoded value decodes to a parameter that encodes the same.
func FuzzWatermark(f *testing.F) {
	for _, s := range []string{"", "0:", "i:42", "t:2026-12-07T10:00:00.123Z", "s:2026-12-07 10:00:00", "x", "i:", "t:nope"} {
		f.Add(s)
	}
	c := &Connector{name: "fuzz", d: postgresDialect{}}
	f.Fuzz(func(t *testing.T, wm string) {
		v, err := c.decodeWatermark(wm)
		if err != nil {
			if !strings.Contains(err.Error(), "run a full import") {
				t.Fatalf("error without advice: %v", err)
			}
			return
		}
		if v == nil {
			return
		}
		again, err := encodeWatermark(v)
		if err != nil {
			t.Fatalf("decoded %q to %T, which does not encode: %v", wm, v, err)
		}
		v2, err := c.decodeWatermark(again)
		if err != nil || fmtAny(v2) != again {
			t.Fatalf("%q → %v → %q → %v, %v", wm, v, again, v2, err)
		}
	})
}

func fmtAny(v any) string { s, _ := encodeWatermark(v); return s }

// FuzzFromText: every text a column may hold is read into its canonical
// form, which reads back unchanged, or refused.
func FuzzFromText(f *testing.F) {
	for _, s := range []string{"42", " 7 ", "true", "T", "2026-12-07 10:00:00", "2026-12-07T10:00:00.5+02:00", "abc", ""} {
		f.Add(s)
	}
	types := []model.Type{model.String, model.Integer, model.Boolean, model.DateTime}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			got, ok, err := fromText(s, typ)
			if err != nil || !ok {
				continue
			}
			again, ok, err := fromText(got, typ)
			if err != nil || !ok || again != got {
				t.Fatalf("%s %q → %q → %q, %v", typ, s, got, again, err)
			}
		}
	})
}
