package memory

import (
	"context"
	"reflect"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

func TestDeltaImport(t *testing.T) {
	ctx := context.Background()
	c := New("t")
	c.Put(user("a", "CN=A", nil), user("b", "CN=B", nil), &model.Object{Anchor: "g", DN: "CN=G", Type: "group", Attrs: model.Attrs{}})
	var full []string
	wm, err := c.FullImport(ctx, connector.ImportRequest{}, func(o *model.Object) error { full = append(full, o.Anchor); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "g"}; !reflect.DeepEqual(full, want) {
		t.Fatalf("full import %v, want %v", full, want)
	}

	// Changes after the full import: b changed twice, a deleted, c added and
	// deleted, g (a group) changed.
	c.Put(user("b", "CN=B", model.Attrs{"mail": model.Str("b1")}))
	c.Export(ctx, []connector.ExportOp{
		{Op: connector.OpDelete, Anchor: "a"},
		{Op: connector.OpUpdate, Anchor: "b", Changes: []connector.AttrChange{{Name: "mail", Mode: connector.Replace, Values: []string{"b2"}}}},
		{Op: connector.OpAdd, Anchor: "c", DN: "CN=C", ObjectType: "user"},
		{Op: connector.OpUpdate, Anchor: "g", Changes: []connector.AttrChange{{Name: "member", Mode: connector.AddVals, Type: model.Reference, Values: []string{"CN=B"}}}},
	})
	c.Remove("c")

	tests := []struct {
		name  string
		req   connector.ImportRequest
		since string
		want  []string
	}{
		{"all", connector.ImportRequest{}, wm, []string{"delete a CN=A", "upsert b mail=b2", "upsert g", "delete c CN=C"}},
		{"users only", connector.ImportRequest{ObjectTypes: []string{"user"}}, wm, []string{"delete a CN=A", "upsert b mail=b2", "delete c CN=C"}},
		{"projection", connector.ImportRequest{ObjectTypes: []string{"user"}, Attributes: []string{"cn"}}, wm, []string{"delete a CN=A", "upsert b", "delete c CN=C"}},
		{"from beginning", connector.ImportRequest{ObjectTypes: []string{"group"}}, "", []string{"upsert g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			nwm, err := c.DeltaImport(ctx, tt.req, tt.since, func(ch connector.Change) error {
				s := "upsert " + ch.Object.Anchor
				if ch.Kind == connector.Delete {
					s = "delete " + ch.Object.Anchor + " " + ch.Object.DN
				} else if m := ch.Object.Attrs.First("mail"); m != "" {
					s += " mail=" + m
				}
				got = append(got, s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// Nothing changed since the new watermark.
			n := 0
			if _, err := c.DeltaImport(ctx, tt.req, nwm, func(connector.Change) error { n++; return nil }); err != nil || n != 0 {
				t.Errorf("second delta: %d changes, err %v", n, err)
			}
		})
	}

	for _, bad := range []string{"x", "999999"} {
		if _, err := c.DeltaImport(ctx, connector.ImportRequest{}, bad, func(connector.Change) error { return nil }); err == nil {
			t.Errorf("watermark %q accepted", bad)
		}
	}
	if _, err := c.FullImport(ctx, connector.ImportRequest{Partition: "DC=x"}, func(*model.Object) error { return nil }); err == nil {
		t.Error("unknown partition accepted")
	}
}

func TestSchema(t *testing.T) {
	c := New("t")
	c.Put(
		user("a", "", model.Attrs{"mail": model.Str("a"), "proxy": model.Str("1")}),
		user("b", "", model.Attrs{"proxy": model.Str("1", "2"), "manager": model.Ref("a")}),
	)
	s, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &model.Schema{ObjectTypes: []model.ObjectTypeSchema{{Name: "user", Attributes: []model.AttributeSchema{
		{Name: "mail"}, {Name: "manager", Type: model.Reference}, {Name: "proxy", MultiValued: true},
	}}}, Inferred: true}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("inferred %+v, want %+v", s, want)
	}
	set := &model.Schema{ObjectTypes: []model.ObjectTypeSchema{{Name: "x"}}}
	c.SetSchema(set)
	if s, _ := c.Schema(context.Background()); !reflect.DeepEqual(s, set) {
		t.Errorf("configured schema not returned: %+v", s)
	}
}
