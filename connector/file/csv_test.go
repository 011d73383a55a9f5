package file

import (
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

func TestCSVParseAndRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		in      string
		want    []*model.Object
		written string // expected output of writing the parsed objects ("" = don't check)
	}{
		{
			name: "multi-values, DN and type columns, binary, BOM",
			cfg:  Config{Format: FormatCSV, Anchor: "employeeID", DNColumn: "dn", ObjectTypeColumn: "kind", Types: map[string]string{"photo": "binary", "start": "datetime"}},
			in: "\uFEFFemployeeID,dn,kind,mail,proxy,photo,start\n" +
				"2,\"CN=Lee\\, Ann,DC=x\",,ann@x,smtp:a;smtp:b;smtp:a,AAEC,2024-05-01\n" +
				"1,CN=Bob,employee,,\"x, y\",,\n",
			want: []*model.Object{
				{Anchor: "2", DN: "CN=Lee\\, Ann,DC=x", Type: "person", Attrs: model.Attrs{
					"employeeID": model.Str("2"), "mail": model.Str("ann@x"), "proxy": model.Str("smtp:a", "smtp:b"),
					"photo": {Type: model.Binary, Values: []string{"\x00\x01\x02"}},
					"start": {Type: model.DateTime, Values: []string{"2024-05-01T00:00:00Z"}},
				}},
				{Anchor: "1", DN: "CN=Bob", Type: "employee", Attrs: model.Attrs{"employeeID": model.Str("1"), "proxy": model.Str("x, y")}},
			},
			written: "employeeID,dn,kind,mail,proxy,photo,start\n" +
				"1,CN=Bob,employee,,\"x, y\",,\n" +
				"2,\"CN=Lee\\, Ann,DC=x\",person,ann@x,smtp:a;smtp:b,AAEC,2024-05-01T00:00:00Z\n",
		},
		{
			name: "delimiter and separator, new columns appended sorted, quoting",
			cfg:  Config{Format: FormatCSV, Anchor: "id", ObjectType: "worker", Delimiter: ";", MultiValueSeparator: "|"},
			in:   "id;name\n7;\"Ann \"\"the boss\"\" Lee\"\n8;\" lead; space\"\n",
			want: []*model.Object{
				{Anchor: "7", Type: "worker", Attrs: model.Attrs{"id": model.Str("7"), "name": model.Str(`Ann "the boss" Lee`)}},
				{Anchor: "8", Type: "worker", Attrs: model.Attrs{"id": model.Str("8"), "name": model.Str(" lead; space")}},
			},
			written: "id;name\n7;\"Ann \"\"the boss\"\" Lee\"\n8;\" lead; space\"\n",
		},
		{
			name: "empty file",
			cfg:  Config{Format: FormatCSV, Anchor: "id"},
			in:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSettings(t, tt.cfg)
			got, err := parse(s, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
			res, _ := s.scanReader(t.Context(), strings.NewReader(tt.in), func(*model.Object) error { return nil })
			out := render(t, s, res.header, got)
			if tt.written != "" && string(out) != tt.written {
				t.Errorf("written\n%s\nwant\n%s", out, tt.written)
			}
			again, err := parse(s, out)
			if err != nil {
				t.Fatalf("re-parse of\n%s: %v", out, err)
			}
			if !reflect.DeepEqual(byAnchor(again), byAnchor(got)) {
				t.Errorf("round trip changed the objects:\n%s", out)
			}
		})
	}
}

func TestCSVNewFileColumns(t *testing.T) {
	s := testSettings(t, Config{Format: FormatCSV, Anchor: "employeeID", DNColumn: "DN"})
	objs := []*model.Object{
		{Anchor: "2", DN: "CN=b", Attrs: model.Attrs{"employeeID": model.Str("2"), "sn": model.Str("B"), "givenName": model.Str("Bo")}},
		{Anchor: "1", DN: "CN=a", Attrs: model.Attrs{"employeeID": model.Str("1"), "mail": model.Str("a@x")}},
	}
	want := "DN,employeeID,givenName,mail,sn\nCN=a,1,,a@x,\nCN=b,2,Bo,,B\n"
	if got := string(render(t, s, nil, objs)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		in   string
		want string
	}{
		{"field count", Config{}, "id,mail\n1,a\n2\n", "people.csv:3: wrong number of fields (the header has 2 columns)"},
		{"bare quote", Config{}, "id,mail\n1,a\"b\n", "people.csv:2: bare \" in non-quoted-field"},
		{"missing anchor column", Config{}, "mail\nx\n", "people.csv:1: the header has no column \"id\" (the configured anchor)"},
		{"missing dn column", Config{DNColumn: "dn"}, "id\n1\n", "the header has no column \"dn\" (the configured dnColumn)"},
		{"empty column name", Config{}, "id,,x\n", "people.csv:1: column 2 has no name"},
		{"duplicate column", Config{}, "id,Mail,mail\n", "people.csv:1: column \"mail\" appears twice"},
		{"empty anchor", Config{}, "id,mail\n1,a\n,b\n", "people.csv:3: no value for the anchor attribute \"id\""},
		{"two anchors", Config{}, "id,mail\n1;2,a\n", "people.csv:2: the anchor attribute \"id\" must have exactly one value"},
		{"duplicate anchor", Config{}, "id\n1\n2\n1\n", "people.csv:4: duplicate anchor \"1\" (first on line 2)"},
		{"bad base64", Config{Types: map[string]string{"photo": "binary"}}, "id,photo\n1,***\n", "people.csv:2: column \"photo\": invalid base64"},
		{"bad boolean", Config{Types: map[string]string{"on": "boolean"}}, "id,on\n1,maybe\n", "people.csv:2: column \"on\": invalid boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Format, tt.cfg.Anchor = FormatCSV, "id"
			_, err := parse(testSettings(t, tt.cfg), []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no path", Config{}, "path is required"},
		{"unknown extension", Config{Path: "x.txt"}, "cannot tell the format"},
		{"unknown format", Config{Path: "x.txt", Format: "xml"}, "unknown format"},
		{"csv without anchor", Config{Path: "x.csv"}, "anchor is required for CSV"},
		{"csv with objectTypes", Config{Path: "x.csv", Anchor: "id", ObjectTypes: map[string]string{}}, "objectTypes applies to LDIF"},
		{"ldif with dnColumn", Config{Path: "x.ldif", DNColumn: "dn"}, "apply to CSV files only"},
		{"bad type", Config{Path: "x.ldif", Types: map[string]string{"a": "float"}}, "types: a: unknown attribute type"},
		{"separator is delimiter", Config{Path: "x.csv", Anchor: "id", MultiValueSeparator: ","}, "invalid multiValueSeparator"},
		{"separator in base64", Config{Path: "x.csv", Anchor: "id", MultiValueSeparator: "+"}, "invalid multiValueSeparator"},
		{"long delimiter", Config{Path: "x.csv", Anchor: "id", Delimiter: ";;"}, "invalid delimiter"},
		{"same column twice", Config{Path: "x.csv", Anchor: "id", DNColumn: "ID"}, "name the same column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("c", tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
