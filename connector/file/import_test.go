package file

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/sample"
)

func TestImportGenerated(t *testing.T) {
	var b bytes.Buffer
	opts := sample.GenOptions{Seed: 7, Users: 1000, Groups: 20, MembersPerGroup: 30, Contacts: 50, DisabledEvery: 10}
	if err := sample.Generate(&b, opts); err != nil {
		t.Fatal(err)
	}
	c, _ := newFileConn(t, "big.ldif", b.Bytes(), Config{Anchor: "objectGUID"})
	counts := map[string]int{}
	members, disabled := 0, 0
	wm, err := c.FullImport(context.Background(), connector.ImportRequest{}, func(o *model.Object) error {
		counts[o.Type]++
		members += len(o.Attrs["member"].Values)
		if o.Attrs.First("userAccountControl") == "514" {
			disabled++
		}
		if o.Attrs["objectGUID"].Type != model.Binary || len(o.Attrs.First("objectGUID")) != 16 {
			t.Fatalf("%s: objectGUID %+v", o.DN, o.Attrs["objectGUID"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"user": 1000, "group": 20, "contact": 50}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	if members != 20*30 || disabled != 100 {
		t.Errorf("members %d, disabled %d", members, disabled)
	}
	sum := sha256.Sum256(b.Bytes())
	if wm != hex.EncodeToString(sum[:]) {
		t.Errorf("watermark %q is not the sha256 of the file", wm)
	}

	// Filter and projection.
	objs := importAll(t, c, connector.ImportRequest{ObjectTypes: []string{"group"}, Attributes: []string{"CN"}})
	if len(objs) != 20 {
		t.Fatalf("%d groups", len(objs))
	}
	for _, o := range objs {
		if len(o.Attrs) != 1 || !o.Attrs.Has("cn") || o.Anchor == "" {
			t.Fatalf("projected group %+v", o)
		}
	}
}

func TestImportDemo(t *testing.T) {
	a, b := sample.DemoForests()
	for _, data := range [][]byte{a, b} {
		c, _ := newFileConn(t, "demo.ldif", data, Config{Anchor: "objectGUID"})
		objs := importAll(t, c, connector.ImportRequest{})
		dns := map[string]bool{}
		for _, o := range objs {
			dns[strings.ToLower(o.DN)] = true
		}
		for _, o := range objs {
			for _, ref := range append(o.Attrs["member"].Values, o.Attrs["manager"].Values...) {
				if !dns[strings.ToLower(ref)] {
					t.Errorf("%s references a missing %q", o.DN, ref)
				}
			}
		}
	}
}

func TestSchema(t *testing.T) {
	in := "dn: CN=a\nobjectClass: user\nmail: a\nmember: CN=x\nmember: CN=y\n\ndn: CN=g\nobjectClass: group\nmember: CN=a\nobjectGUID:: AA==\n"
	c, _ := newFileConn(t, "s.ldif", []byte(in), Config{})
	s, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &model.Schema{ObjectTypes: []model.ObjectTypeSchema{
		{Name: "group", Attributes: []model.AttributeSchema{{Name: "member", Type: model.Reference}, {Name: "objectClass"}, {Name: "objectGUID", Type: model.Binary}}},
		{Name: "user", Attributes: []model.AttributeSchema{{Name: "mail"}, {Name: "member", Type: model.Reference, MultiValued: true}, {Name: "objectClass"}}},
	}, Inferred: true}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
}

func TestMissingFile(t *testing.T) {
	dir := t.TempDir()
	src, err := New("src", Config{Path: filepath.Join(dir, "nope.ldif")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.FullImport(context.Background(), connector.ImportRequest{}, func(*model.Object) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("import of a missing source: %v", err)
	}
	if err := src.TestConnection(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot read the file") {
		t.Errorf("TestConnection of a missing source: %v", err)
	}
	tgt, err := New("tgt", Config{Path: filepath.Join(dir, "nope.ldif"), Target: true})
	if err != nil {
		t.Fatal(err)
	}
	if objs := importAll(t, tgt, connector.ImportRequest{}); len(objs) != 0 {
		t.Errorf("missing target imported %d objects", len(objs))
	}
	if err := tgt.TestConnection(context.Background()); err != nil {
		t.Errorf("TestConnection of a new target: %v", err)
	}
	bad, _ := New("bad", Config{Path: filepath.Join(dir, "no-such-dir", "x.ldif"), Target: true})
	if err := bad.TestConnection(context.Background()); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("TestConnection of a target in a missing directory: %v", err)
	}
	if _, err := src.FullImport(context.Background(), connector.ImportRequest{Partition: "DC=x"}, func(*model.Object) error { return nil }); err == nil {
		t.Error("unknown partition accepted")
	}
}

func TestFactory(t *testing.T) {
	f, err := connector.Lookup(TypeName)
	if err != nil {
		t.Fatal(err)
	}
	strict := func(raw string) func(any) error {
		return func(v any) error {
			d := json.NewDecoder(strings.NewReader(raw))
			d.DisallowUnknownFields()
			return d.Decode(v)
		}
	}
	path := filepath.Join(t.TempDir(), "x.csv")
	conn, err := f(context.Background(), "hr", strict(`{"path":"`+path+`","anchor":"employeeID","multiValueSeparator":"|","objectTypeColumn":"kind","target":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := conn.(*Connector); c.s.sep != "|" || c.s.typeCol != "kind" || !c.s.target {
		t.Errorf("config not applied: %+v", c.s)
	}
	if _, err := f(context.Background(), "hr", strict(`{"path":"x.csv","anchor":"id","bogus":1}`)); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := f(context.Background(), "hr", strict(`{"path":"x.csv"}`)); err == nil || !strings.Contains(err.Error(), `file connector "hr": config: anchor is required`) {
		t.Errorf("missing anchor: %v", err)
	}
}
