package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// An import with an ObjectError callback reports an object whose anchor or
// DN an earlier object of the file has, and goes on; without the callback
// (and for every other reader of the file) the duplicate fails the scan.
func TestFullImportReportsDuplicates(t *testing.T) {
	for _, tt := range []struct {
		name, file, data string
		cfg              Config
		wantAnchors      []string
		wantErr          string
	}{
		{"ldif anchor", "people.ldif", "dn: CN=a\nobjectClass: x\nid: 1\n\ndn: CN=b\nobjectClass: x\nid: 1\n\ndn: CN=c\nobjectClass: x\nid: 3\n",
			Config{Anchor: "id"}, []string{"1", "3"}, `people.ldif:5: duplicate anchor "1" (first on line 1): this object is not imported, the first one is`},
		{"ldif DN", "people.ldif", "dn: CN=a\nobjectClass: x\nid: 1\n\ndn: cn=A\nobjectClass: x\nid: 2\n\ndn: CN=c\nobjectClass: x\nid: 3\n",
			Config{Anchor: "id"}, []string{"1", "3"}, `people.ldif:5: duplicate DN "cn=A" (first on line 1)`},
		{"csv anchor", "people.csv", "id,cn\n1,a\n2,b\n1,c\n", Config{Anchor: "id"}, []string{"1", "2"}, `people.csv:4: duplicate anchor "1" (first on line 2)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.cfg.Path = path
			c, err := New("f", tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var errs []string
			req := connector.ImportRequest{ObjectError: func(anchor, dn string, err error) { errs = append(errs, anchor+"|"+dn+"|"+err.Error()) }}
			if _, err := c.FullImport(context.Background(), req, func(o *model.Object) error { got = append(got, o.Anchor); return nil }); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantAnchors, ",") {
				t.Errorf("imported %v, want %v", got, tt.wantAnchors)
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) {
				t.Errorf("reported %q, want one error containing %q", errs, tt.wantErr)
			}
			if _, err := c.FullImport(context.Background(), connector.ImportRequest{}, func(*model.Object) error { return nil }); err == nil {
				t.Error("without ObjectError the duplicate does not fail the import")
			}
		})
	}
}

// A record read whole whose values do not convert (or, in LDIF, without
// objectClass) is an error on that object when its anchor can be read; one
// whose anchor cannot be read still fails the import.
func TestFullImportReportsRecordErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file, data string
		cfg              Config
		wantAnchors      []string
		wantErr          string // "" = the import fails
		wantAnchor       string
	}{
		{"ldif integer", "people.ldif", "dn: CN=a\nobjectClass: x\nid: 1\nn: 12x\n\ndn: CN=b\nobjectClass: x\nid: 2\nn: 7\n",
			Config{Anchor: "id", Types: map[string]string{"n": "integer"}}, []string{"2"}, `people.ldif:4: "CN=a": n: invalid integer "12x": this object is not imported`, "1"},
		{"ldif no objectClass", "people.ldif", "dn: CN=a\nid: 1\n\ndn: CN=b\nobjectClass: x\nid: 2\n",
			Config{Anchor: "id"}, []string{"2"}, `"CN=a": the object has no objectClass`, "1"},
		{"ldif DN anchor", "people.ldif", "dn: CN=a\nobjectClass: x\nd: yesterday\n\ndn: CN=b\nobjectClass: x\n",
			Config{Types: map[string]string{"d": "datetime"}}, []string{"CN=b"}, `d: invalid date-time`, "CN=a"},
		{"csv date", "people.csv", "id,hired,cn\n1,yesterday,a\n2,2026-01-02,b\n",
			Config{Anchor: "id", Types: map[string]string{"hired": "datetime"}}, []string{"2"}, `people.csv:2: column "hired": invalid date-time`, "1"},
		{"csv binary anchor", "people.csv", "id,n\nAQID,x\nBAUG,3\n",
			Config{Anchor: "id", Types: map[string]string{"id": "binary", "n": "integer"}}, []string{"BAUG"}, `invalid integer "x"`, "AQID"},
		{"ldif no anchor", "people.ldif", "dn: CN=a\nobjectClass: x\nn: 12x\n\ndn: CN=b\nobjectClass: x\nid: 2\n",
			Config{Anchor: "id", Types: map[string]string{"n": "integer"}}, nil, "", ""},
		{"csv bad anchor", "people.csv", "id,cn\nx,a\n2,b\n", Config{Anchor: "id", Types: map[string]string{"id": "integer"}}, nil, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.cfg.Path = path
			c, err := New("f", tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got, errs, anchors []string
			req := connector.ImportRequest{ObjectError: func(anchor, _ string, err error) { anchors, errs = append(anchors, anchor), append(errs, err.Error()) }}
			_, err = c.FullImport(context.Background(), req, func(o *model.Object) error { got = append(got, o.Anchor); return nil })
			if tt.wantErr == "" {
				if err == nil {
					t.Fatalf("the import did not fail (imported %v, reported %v)", got, errs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantAnchors, ",") {
				t.Errorf("imported %v, want %v", got, tt.wantAnchors)
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) || anchors[0] != tt.wantAnchor {
				t.Errorf("reported %q for %q, want one error containing %q for %q", errs, anchors, tt.wantErr, tt.wantAnchor)
			}
		})
	}
}
