package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCSVHeaderDeclaresSchema(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hr.csv")
	if err := os.WriteFile(p, []byte("employeeID,cn,manager,extensionAttribute15\n1,Alice,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New("hr", Config{Path: p, Anchor: "employeeID", ObjectType: "person"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ot := s.ObjectType("person")
	if s.Inferred || ot == nil || len(ot.Attributes) != 4 || ot.Attribute("extensionAttribute15") == nil {
		t.Fatalf("schema = %+v", s)
	}
	if a := ot.Attribute("manager"); a == nil || a.Type.String() != "reference" {
		t.Fatalf("manager = %+v", a)
	}
	// As a target the file accepts new columns: its schema is only inferred.
	c, err = New("hr", Config{Path: p, Anchor: "employeeID", ObjectType: "person", Target: true})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Schema(context.Background()); err != nil || !s.Inferred {
		t.Fatalf("target schema = %+v, %v", s, err)
	}
}
