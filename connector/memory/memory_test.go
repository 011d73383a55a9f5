package memory

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

func user(anchor, dn string, attrs model.Attrs) *model.Object {
	if attrs == nil {
		attrs = model.Attrs{}
	}
	return &model.Object{Anchor: anchor, DN: dn, Type: "user", Attrs: attrs}
}

func TestExport(t *testing.T) {
	seed := []*model.Object{
		user("a1", "CN=Ann,OU=IT,DC=x", model.Attrs{"mail": model.Str("ann@x"), "proxy": model.Str("p1", "p2")}),
		user("b2", "CN=Bob,OU=IT,DC=x", model.Attrs{"mail": model.Str("bob@x")}),
	}
	tests := []struct {
		name    string
		op      connector.ExportOp
		wantErr error  // nil: success
		errText string // substring of the error, when set
		anchor  string // expected result anchor ("*": any non-empty)
		check   func(t *testing.T, c *Connector)
	}{
		{
			name:   "add with proposed anchor",
			op:     connector.ExportOp{Op: connector.OpAdd, Anchor: "c3", DN: "CN=Cy,OU=IT,DC=x", ObjectType: "user", Changes: []connector.AttrChange{{Name: "mail", Mode: connector.Replace, Values: []string{"cy@x"}}, {Name: "member", Mode: connector.AddVals, Type: model.Reference, Values: []string{"CN=Ann,OU=IT,DC=x", "CN=Ann,OU=IT,DC=x"}}}},
			anchor: "c3",
			check: func(t *testing.T, c *Connector) {
				o := c.Get("c3")
				want := user("c3", "CN=Cy,OU=IT,DC=x", model.Attrs{"mail": model.Str("cy@x"), "member": model.Ref("CN=Ann,OU=IT,DC=x")})
				if !reflect.DeepEqual(o, want) {
					t.Errorf("got %+v, want %+v", o, want)
				}
			},
		},
		{
			name:   "add without anchor gets a uuid",
			op:     connector.ExportOp{Op: connector.OpAdd, DN: "CN=Dee,DC=x", ObjectType: "user"},
			anchor: "*",
			check: func(t *testing.T, c *Connector) {
				if o := c.GetByDN("cn=dee,dc=x"); o == nil || len(o.Anchor) != 36 {
					t.Errorf("object not added with a uuid anchor: %+v", o)
				}
			},
		},
		{name: "add of existing anchor", op: connector.ExportOp{Op: connector.OpAdd, Anchor: "a1", DN: "CN=Other,DC=x"}, wantErr: connector.ErrAlreadyExists, anchor: "a1"},
		{name: "add of existing DN (case differs)", op: connector.ExportOp{Op: connector.OpAdd, Anchor: "zz", DN: "cn=bob,ou=it,dc=x"}, wantErr: connector.ErrAlreadyExists, anchor: "b2"},
		{
			name: "update replace/add/delete values",
			op: connector.ExportOp{Op: connector.OpUpdate, Anchor: "a1", Changes: []connector.AttrChange{
				{Name: "mail", Mode: connector.Replace, Values: []string{"ann2@x"}},
				{Name: "proxy", Mode: connector.DelVals, Values: []string{"p1", "absent"}},
				{Name: "proxy", Mode: connector.AddVals, Values: []string{"p2", "p3"}},
				{Name: "title", Mode: connector.Replace},
			}},
			anchor: "a1",
			check: func(t *testing.T, c *Connector) {
				got := c.Get("a1").Attrs
				want := model.Attrs{"mail": model.Str("ann2@x"), "proxy": model.Str("p2", "p3")}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			},
		},
		{
			name: "update removes attribute with DelVals without values",
			op:   connector.ExportOp{Op: connector.OpUpdate, Anchor: "a1", Changes: []connector.AttrChange{{Name: "proxy", Mode: connector.DelVals}}},
			check: func(t *testing.T, c *Connector) {
				if c.Get("a1").Attrs.Has("proxy") {
					t.Error("proxy still present")
				}
			},
			anchor: "a1",
		},
		{
			name:   "update with rename",
			op:     connector.ExportOp{Op: connector.OpUpdate, Anchor: "a1", NewDN: "CN=Ann,OU=HR,DC=x", Changes: []connector.AttrChange{{Name: "department", Mode: connector.Replace, Values: []string{"HR"}}}},
			anchor: "a1",
			check: func(t *testing.T, c *Connector) {
				if o := c.GetByDN("CN=Ann,OU=HR,DC=x"); o == nil || o.Attrs.First("department") != "HR" {
					t.Errorf("not renamed/updated: %+v", o)
				}
				if c.GetByDN("CN=Ann,OU=IT,DC=x") != nil {
					t.Error("old DN still indexed")
				}
			},
		},
		{name: "update of missing object", op: connector.ExportOp{Op: connector.OpUpdate, Anchor: "nope"}, wantErr: connector.ErrNotFound},
		{name: "update with bad mode fails and changes nothing", op: connector.ExportOp{Op: connector.OpUpdate, Anchor: "a1", Changes: []connector.AttrChange{{Name: "mail", Mode: connector.Replace, Values: []string{"x"}}, {Name: "y", Mode: "bogus"}}}, errText: "unknown change mode", anchor: "a1",
			check: func(t *testing.T, c *Connector) {
				if got := c.Get("a1").Attrs.First("mail"); got != "ann@x" {
					t.Errorf("mail = %q after failed update", got)
				}
			}},
		{name: "rename by DN", op: connector.ExportOp{Op: connector.OpRename, DN: "CN=Bob,OU=IT,DC=x", NewDN: "CN=Robert,OU=IT,DC=x"}, anchor: "b2",
			check: func(t *testing.T, c *Connector) {
				if got := c.Get("b2").DN; got != "CN=Robert,OU=IT,DC=x" {
					t.Errorf("DN = %q", got)
				}
			}},
		{name: "rename to own DN is a no-op", op: connector.ExportOp{Op: connector.OpRename, Anchor: "b2", NewDN: "CN=Bob,OU=IT,DC=x"}, anchor: "b2"},
		{name: "rename onto another object's DN", op: connector.ExportOp{Op: connector.OpRename, Anchor: "b2", NewDN: "CN=Ann,OU=IT,DC=x"}, errText: "is used by the object \"a1\"", anchor: "b2"},
		{name: "rename without new DN", op: connector.ExportOp{Op: connector.OpRename, Anchor: "b2"}, errText: "without a new DN", anchor: "b2"},
		{name: "rename of missing object", op: connector.ExportOp{Op: connector.OpRename, Anchor: "nope", NewDN: "CN=X"}, wantErr: connector.ErrNotFound},
		{name: "delete", op: connector.ExportOp{Op: connector.OpDelete, Anchor: "b2"}, anchor: "b2",
			check: func(t *testing.T, c *Connector) {
				if c.Get("b2") != nil || c.GetByDN("CN=Bob,OU=IT,DC=x") != nil {
					t.Error("object still present")
				}
			}},
		{name: "delete of missing object", op: connector.ExportOp{Op: connector.OpDelete, Anchor: "nope"}, wantErr: connector.ErrNotFound},
		{name: "unknown op", op: connector.ExportOp{Op: "frob", Anchor: "a1"}, errText: "unknown export operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New("t")
			c.Put(seed...)
			tt.op.ID = "op1"
			res := c.Export(context.Background(), []connector.ExportOp{tt.op})
			if len(res) != 1 || res[0].ID != "op1" {
				t.Fatalf("results = %+v", res)
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
				t.Fatalf("unexpected error %v", err)
			}
			if tt.anchor == "*" {
				if res[0].Anchor == "" {
					t.Error("no anchor in result")
				}
			} else if tt.anchor != "" && res[0].Anchor != tt.anchor {
				t.Errorf("anchor = %q, want %q", res[0].Anchor, tt.anchor)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestExportReplay replays a batch, as the engine does after a crash: every
// op converges to ErrAlreadyExists / ErrNotFound or succeeds again.
func TestExportReplay(t *testing.T) {
	c := New("t")
	c.Put(user("a1", "CN=Ann,DC=x", nil))
	ops := []connector.ExportOp{
		{ID: "1", Op: connector.OpAdd, Anchor: "n1", DN: "CN=New,DC=x", Changes: []connector.AttrChange{{Name: "mail", Mode: connector.Replace, Values: []string{"n@x"}}}},
		{ID: "2", Op: connector.OpDelete, Anchor: "a1"},
	}
	for _, r := range c.Export(context.Background(), ops) {
		if r.Err != nil {
			t.Fatalf("first run: %v", r.Err)
		}
	}
	res := c.Export(context.Background(), ops)
	if !errors.Is(res[0].Err, connector.ErrAlreadyExists) || res[0].Anchor != "n1" {
		t.Errorf("replayed add: %+v", res[0])
	}
	if !errors.Is(res[1].Err, connector.ErrNotFound) {
		t.Errorf("replayed delete: %+v", res[1])
	}
	if got := len(c.Exported()); got != 4 {
		t.Errorf("Exported() has %d ops, want 4", got)
	}
}

func TestFaultHooks(t *testing.T) {
	boom := errors.New("boom")
	c := New("t")
	c.FailNext(2, boom)
	c.SetFailFunc(func(op connector.ExportOp) error {
		if op.DN == "CN=Bad" {
			return boom
		}
		return nil
	})
	var ops []connector.ExportOp
	for _, dn := range []string{"CN=1", "CN=2", "CN=3", "CN=Bad", "CN=5"} {
		ops = append(ops, connector.ExportOp{Op: connector.OpAdd, Anchor: dn, DN: dn})
	}
	res := c.Export(context.Background(), ops)
	var failed []string
	for i, r := range res {
		if errors.Is(r.Err, boom) {
			failed = append(failed, ops[i].DN)
		} else if r.Err != nil {
			t.Errorf("%s: %v", ops[i].DN, r.Err)
		}
	}
	if want := []string{"CN=1", "CN=2", "CN=Bad"}; !reflect.DeepEqual(failed, want) {
		t.Errorf("failed ops %v, want %v", failed, want)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2 (failed ops must change nothing)", c.Len())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := c.Export(ctx, ops[:1]); !errors.Is(r[0].Err, context.Canceled) {
		t.Errorf("cancelled export: %+v", r[0])
	}
}

func TestRegistry(t *testing.T) {
	Shared("reg").Put(user("a", "CN=A", nil))
	defer DropShared("reg")
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
	conn, err := f(context.Background(), "reg", strict(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if conn.(*Connector).Get("a") == nil {
		t.Error("factory did not return the shared connector")
	}
	if _, err := f(context.Background(), "reg", strict(`{"path":"x"}`)); err == nil {
		t.Error("unknown config key accepted")
	}
	boom := errors.New("down")
	Shared("reg").SetTestError(boom)
	if err := conn.(connector.Tester).TestConnection(context.Background()); !errors.Is(err, boom) {
		t.Errorf("TestConnection = %v", err)
	}
}
