package file

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
)

// TestExportReplay replays a batch as the engine does after a crash: the
// ops converge instead of failing or duplicating objects.
func TestExportReplay(t *testing.T) {
	c, path := newFileConn(t, "out.ldif", nil, Config{Target: true, Anchor: "objectGUID"})
	ops := []connector.ExportOp{
		{ID: "a", Op: connector.OpAdd, Anchor: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", DN: "CN=A,DC=x", ObjectType: "user"},
		{ID: "b", Op: connector.OpAdd, DN: "CN=B,DC=x", ObjectType: "user"},
	}
	first := c.Export(context.Background(), ops)
	for _, r := range first {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if first[0].Anchor != "a6e4EJ2tEdGAtADAT9QwyA==" {
		t.Errorf("binary anchor from a UUID proposal = %q", first[0].Anchor)
	}
	data, _ := os.ReadFile(path)
	second := c.Export(context.Background(), ops)
	for i, r := range second {
		if !errors.Is(r.Err, connector.ErrAlreadyExists) || r.Anchor != first[i].Anchor {
			t.Errorf("replay of %s: %+v, want ErrAlreadyExists with anchor %q", ops[i].ID, r, first[i].Anchor)
		}
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Error("replay changed the file")
	}
	del := []connector.ExportOp{{ID: "d", Op: connector.OpDelete, Anchor: first[0].Anchor}}
	if r := c.Export(context.Background(), del); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := c.Export(context.Background(), del); !errors.Is(r[0].Err, connector.ErrNotFound) {
		t.Errorf("replayed delete: %v", r[0].Err)
	}
}

type failingWriter struct {
	w    io.Writer
	left int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, errors.New("disk full")
	}
	f.left -= len(p)
	return f.w.Write(p)
}

func TestExportAtomic(t *testing.T) {
	c, path := newFileConn(t, "people.ldif", []byte(baseLDIF), Config{Anchor: "employeeID", Target: true})
	c.wrapWriter = func(w io.Writer) io.Writer { return &failingWriter{w: w, left: 40} }
	ops := []connector.ExportOp{
		{ID: "1", Op: connector.OpUpdate, Anchor: "1", Changes: []connector.AttrChange{replace("title", "CTO")}},
		{ID: "2", Op: connector.OpDelete, Anchor: "404"},
	}
	res := c.Export(context.Background(), ops)
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "disk full") {
		t.Errorf("op 1 after a failed write: %v", res[0].Err)
	}
	if !errors.Is(res[1].Err, connector.ErrNotFound) {
		t.Errorf("op 2 keeps its own error: %v", res[1].Err)
	}
	if data, _ := os.ReadFile(path); string(data) != baseLDIF {
		t.Errorf("file changed by a failed export:\n%s", data)
	}
	assertNoTempFiles(t, path)

	c.wrapWriter = nil
	if res := c.Export(context.Background(), ops[:1]); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	assertNoTempFiles(t, path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode after export: %v %v", fi.Mode(), err)
	}
}

func assertNoTempFiles(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestExportDeterministic: the same content written through different op
// orders gives identical files. (A CSV keeps the column order of the file, so
// only a batch of the same ops is compared.)
func TestExportDeterministic(t *testing.T) {
	adds := []connector.ExportOp{
		{Op: connector.OpAdd, DN: "CN=Zed,OU=B,DC=x", ObjectType: "user", Changes: []connector.AttrChange{replace("sn", "Z"), replace("employeeID", "3"), replace("cn", "Zed")}},
		{Op: connector.OpAdd, DN: "OU=B,DC=x", ObjectType: "organizationalUnit", Changes: []connector.AttrChange{replace("employeeID", "1")}},
		{Op: connector.OpAdd, DN: "CN=Al,OU=A,DC=x", ObjectType: "user", Changes: []connector.AttrChange{replace("employeeID", "2"), replace("member", "b", "a")}},
	}
	for _, format := range []string{"people.ldif", "people.csv"} {
		t.Run(format, func(t *testing.T) {
			cfg := Config{Anchor: "employeeID", Target: true}
			if strings.HasSuffix(format, ".csv") {
				cfg.DNColumn = "dn"
			}
			var files []string
			for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
				c, path := newFileConn(t, format, nil, cfg)
				var ops []connector.ExportOp
				for _, i := range order {
					ops = append(ops, adds[i])
				}
				for _, r := range c.Export(context.Background(), ops) {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
				}
				data, _ := os.ReadFile(path)
				files = append(files, string(data))
			}
			if files[0] != files[1] || files[0] != files[2] {
				t.Errorf("output depends on the op order:\n%s\n---\n%s\n---\n%s", files[0], files[1], files[2])
			}
			if !strings.Contains(files[0], "b") || strings.Index(files[0], "OU=B,DC=x") > strings.Index(files[0], "CN=Zed") {
				t.Errorf("parent not written before its child:\n%s", files[0])
			}
		})
	}
}

func TestExportCSV(t *testing.T) {
	in := "employeeID,mail,proxy\n1,a@x,p1;p2\n"
	c, path := newFileConn(t, "hr.csv", []byte(in), Config{Anchor: "employeeID", Target: true})
	res := c.Export(context.Background(), []connector.ExportOp{
		{ID: "1", Op: connector.OpUpdate, Anchor: "1", Changes: []connector.AttrChange{{Name: "proxy", Mode: connector.AddVals, Values: []string{"p3"}}, replace("title", "Boss")}},
		{ID: "2", Op: connector.OpAdd, Anchor: "2", DN: "CN=ignored", Changes: []connector.AttrChange{replace("mail", "b@x", "")}},
		{ID: "3", Op: connector.OpAdd, Anchor: "3", Changes: []connector.AttrChange{replace("title", "R&D; EMEA")}},
		{ID: "4", Op: connector.OpRename, Anchor: "1", NewDN: "CN=whatever"},
	})
	for i, want := range []string{"", "", "contains the multi-value separator", ""} {
		if err := res[i].Err; (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("op %d: err %v, want %q", i+1, err, want)
		}
	}
	data, _ := os.ReadFile(path)
	want := "employeeID,mail,proxy,title\n1,a@x,p1;p2;p3,Boss\n2,b@x,,\n"
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}
}

// A source file is never written: exporting to it needs target: true.
func TestExportToSourceRefused(t *testing.T) {
	c, _ := newFileConn(t, "gone.ldif", nil, Config{})
	res := c.Export(context.Background(), []connector.ExportOp{{ID: "1", Op: connector.OpAdd, DN: "CN=a", ObjectType: "user"}})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "unless the connector sets target: true") {
		t.Errorf("export to a source file: %v", res[0].Err)
	}
}
