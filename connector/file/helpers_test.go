package file

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// testSettings returns validated settings for cfg, with "people.<ext>" as the
// name used in error messages.
func testSettings(t testing.TB, cfg Config) *settings {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = "people.ldif"
		if cfg.Format == FormatCSV {
			cfg.Path = "people.csv"
		}
	}
	s, err := newSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parse reads all objects of data.
func parse(s *settings, data []byte) ([]*model.Object, error) {
	var objs []*model.Object
	_, err := s.scanReader(context.Background(), bytes.NewReader(data), func(o *model.Object) error {
		objs = append(objs, o)
		return nil
	})
	return objs, err
}

// render writes objs in the format of s, sorted as an export writes them.
func render(t testing.TB, s *settings, header []string, objs []*model.Object) []byte {
	t.Helper()
	img := newImage(s)
	img.header = header
	for _, o := range objs {
		img.put(o)
	}
	var b bytes.Buffer
	if err := img.write(&b); err != nil {
		t.Fatalf("write: %v", err)
	}
	return b.Bytes()
}

// byAnchor indexes objects by anchor.
func byAnchor(objs []*model.Object) map[string]*model.Object {
	m := make(map[string]*model.Object, len(objs))
	for _, o := range objs {
		m[o.Anchor] = o
	}
	return m
}

// newFileConn writes content (unless nil) to a file named name in a temp dir
// and opens a connector on it.
func newFileConn(t testing.TB, name string, content []byte, cfg Config) (*Connector, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if content != nil {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Path = path
	c, err := New("test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, path
}

// importAll runs a full import.
func importAll(t testing.TB, c *Connector, req connector.ImportRequest) []*model.Object {
	t.Helper()
	var objs []*model.Object
	if _, err := c.FullImport(context.Background(), req, func(o *model.Object) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return objs
}
