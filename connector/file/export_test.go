package file

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

const baseLDIF = `version: 1

dn: CN=Ann,OU=IT,DC=x
objectClass: user
employeeID: 1
mail: ann@x
proxyAddresses: smtp:a1
proxyAddresses: smtp:a2

dn: CN=Bob,OU=IT,DC=x
objectClass: user
employeeID: 2
mail: bob@x
`

func replace(name string, vals ...string) connector.AttrChange {
	return connector.AttrChange{Name: name, Mode: connector.Replace, Values: vals}
}

func TestExportLDIF(t *testing.T) {
	cfg := Config{Anchor: "employeeID", Target: true}
	tests := []struct {
		name    string
		op      connector.ExportOp
		wantErr error
		errText string
		anchor  string
		want    map[string]*model.Object // expected objects by anchor after the op (nil: unchanged)
	}{
		{
			name:   "add with anchor attribute",
			op:     connector.ExportOp{Op: connector.OpAdd, Anchor: "proposed", DN: "CN=Cy,OU=IT,DC=x", ObjectType: "user", Changes: []connector.AttrChange{replace("employeeID", "3"), replace("objectClass", "top", "user"), {Name: "manager", Mode: connector.AddVals, Type: model.Reference, Values: []string{"CN=Ann,OU=IT,DC=x"}}}},
			anchor: "3",
			want: map[string]*model.Object{
				"3": {Anchor: "3", DN: "CN=Cy,OU=IT,DC=x", Type: "user", Attrs: model.Attrs{"employeeID": model.Str("3"), "objectClass": model.Str("top", "user"), "manager": model.Ref("CN=Ann,OU=IT,DC=x")}},
			},
		},
		{
			name:   "add without anchor value takes the proposal, objectClass from the type",
			op:     connector.ExportOp{Op: connector.OpAdd, Anchor: "p-9", DN: "CN=Dee,DC=x", ObjectType: "contact", Changes: []connector.AttrChange{replace("mail", "dee@x")}},
			anchor: "p-9",
			want: map[string]*model.Object{
				"p-9": {Anchor: "p-9", DN: "CN=Dee,DC=x", Type: "contact", Attrs: model.Attrs{"employeeID": model.Str("p-9"), "objectClass": model.Str("contact"), "mail": model.Str("dee@x")}},
			},
		},
		{name: "add of existing anchor", op: connector.ExportOp{Op: connector.OpAdd, DN: "CN=New,DC=x", ObjectType: "user", Changes: []connector.AttrChange{replace("employeeID", "2")}}, wantErr: connector.ErrAlreadyExists, anchor: "2"},
		{name: "add of existing DN", op: connector.ExportOp{Op: connector.OpAdd, Anchor: "9", DN: "cn=ann,ou=it,dc=x", ObjectType: "user"}, wantErr: connector.ErrAlreadyExists, anchor: "1"},
		{name: "add without DN", op: connector.ExportOp{Op: connector.OpAdd, Anchor: "9", ObjectType: "user"}, errText: "needs a DN"},
		{name: "add with invalid attribute name", op: connector.ExportOp{Op: connector.OpAdd, Anchor: "9", DN: "CN=z", ObjectType: "user", Changes: []connector.AttrChange{replace("bad name", "v")}}, errText: "cannot be written to LDIF"},
		{
			name:   "update: replace, add, delete values; names match case-insensitively",
			op:     connector.ExportOp{Op: connector.OpUpdate, Anchor: "1", Changes: []connector.AttrChange{replace("Mail", "ann2@x"), {Name: "proxyAddresses", Mode: connector.DelVals, Values: []string{"smtp:a1"}}, {Name: "proxyAddresses", Mode: connector.AddVals, Values: []string{"smtp:a2", "smtp:a3"}}, replace("title", "CTO")}},
			anchor: "1",
			want: map[string]*model.Object{
				"1": {Anchor: "1", DN: "CN=Ann,OU=IT,DC=x", Type: "user", Attrs: model.Attrs{"objectClass": model.Str("user"), "employeeID": model.Str("1"), "mail": model.Str("ann2@x"), "proxyAddresses": model.Str("smtp:a2", "smtp:a3"), "title": model.Str("CTO")}},
			},
		},
		{
			name:   "update with rename, found by DN",
			op:     connector.ExportOp{Op: connector.OpUpdate, DN: "CN=Bob,OU=IT,DC=x", NewDN: "CN=Bob,OU=HR,DC=x", Changes: []connector.AttrChange{{Name: "mail", Mode: connector.DelVals}}},
			anchor: "2",
			want: map[string]*model.Object{
				"2": {Anchor: "2", DN: "CN=Bob,OU=HR,DC=x", Type: "user", Attrs: model.Attrs{"objectClass": model.Str("user"), "employeeID": model.Str("2")}},
			},
		},
		{name: "update changing the anchor", op: connector.ExportOp{Op: connector.OpUpdate, Anchor: "1", Changes: []connector.AttrChange{replace("employeeID", "5")}}, errText: "cannot change", anchor: "1"},
		{name: "update of missing object", op: connector.ExportOp{Op: connector.OpUpdate, Anchor: "7"}, wantErr: connector.ErrNotFound},
		{name: "rename onto another DN", op: connector.ExportOp{Op: connector.OpRename, Anchor: "1", NewDN: "CN=bob,OU=IT,DC=x"}, errText: "is used by the object \"2\"", anchor: "1"},
		{name: "rename of missing object", op: connector.ExportOp{Op: connector.OpRename, Anchor: "7", NewDN: "CN=x"}, wantErr: connector.ErrNotFound},
		{
			name:   "rename",
			op:     connector.ExportOp{Op: connector.OpRename, Anchor: "1", NewDN: "CN=Ann Lee,OU=IT,DC=x"},
			anchor: "1",
			want: map[string]*model.Object{
				"1": {Anchor: "1", DN: "CN=Ann Lee,OU=IT,DC=x", Type: "user", Attrs: model.Attrs{"objectClass": model.Str("user"), "employeeID": model.Str("1"), "mail": model.Str("ann@x"), "proxyAddresses": model.Str("smtp:a1", "smtp:a2")}},
			},
		},
		{name: "delete", op: connector.ExportOp{Op: connector.OpDelete, Anchor: "2"}, anchor: "2", want: map[string]*model.Object{"2": nil}},
		{name: "delete of missing object", op: connector.ExportOp{Op: connector.OpDelete, Anchor: "7"}, wantErr: connector.ErrNotFound},
		{name: "unknown op", op: connector.ExportOp{Op: "move", Anchor: "1"}, errText: "unknown export operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path := newFileConn(t, "people.ldif", []byte(baseLDIF), cfg)
			before := byAnchor(importAll(t, c, connector.ImportRequest{}))
			tt.op.ID = "x"
			res := c.Export(context.Background(), []connector.ExportOp{tt.op})
			if len(res) != 1 || res[0].ID != "x" {
				t.Fatalf("results %+v", res)
			}
			err := res[0].Err
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errText)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			if res[0].Anchor != tt.anchor {
				t.Errorf("anchor = %q, want %q", res[0].Anchor, tt.anchor)
			}
			want := before
			for a, o := range tt.want {
				if o == nil {
					delete(want, a)
				} else {
					want[a] = o
				}
			}
			if got := byAnchor(importAll(t, c, connector.ImportRequest{})); !reflect.DeepEqual(got, want) {
				data, _ := os.ReadFile(path)
				t.Errorf("file after export:\n%s", data)
			}
		})
	}
}

func TestExportDNAnchor(t *testing.T) {
	c, _ := newFileConn(t, "people.ldif", []byte(baseLDIF), Config{Target: true})
	res := c.Export(context.Background(), []connector.ExportOp{
		{ID: "1", Op: connector.OpRename, Anchor: "CN=Ann,OU=IT,DC=x", NewDN: "CN=Ann Lee,OU=IT,DC=x"},
		{ID: "2", Op: connector.OpAdd, Anchor: "ignored", DN: "CN=Cy,DC=x", ObjectType: "user"},
	})
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if res[0].Anchor != "CN=Ann Lee,OU=IT,DC=x" || res[1].Anchor != "CN=Cy,DC=x" {
		t.Errorf("anchors %q %q: with the DN as anchor, a rename changes the anchor", res[0].Anchor, res[1].Anchor)
	}
	got := byAnchor(importAll(t, c, connector.ImportRequest{}))
	if got["CN=Ann Lee,OU=IT,DC=x"] == nil || got["CN=Ann,OU=IT,DC=x"] != nil || got["CN=Cy,DC=x"] == nil {
		t.Errorf("objects after export: %v", got)
	}
}
