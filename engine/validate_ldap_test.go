package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/ldap"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// An export to an LDAP directory is checked against the directory's own
// schema (slapd: displayName is SINGLE-VALUE, cn is not) before it is sent,
// and reference values (member) must be DNs that parse.
func TestExportValueChecksLDAPSchema(t *testing.T) {
	srv := peers.Slapd(t)
	c, err := ldap.New("dir", ldap.Config{URL: srv.URL, BindDN: srv.BindDN, Password: srv.Password, BaseDN: srv.BaseDN})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := &Engine{Connectors: map[string]*Connector{"dir": {Name: "dir", Conn: c}}}
	op := func(typ string, changes ...connector.AttrChange) *store.CSObject {
		return &store.CSObject{ID: "cs1", Connector: "dir", Object: model.Object{Anchor: "a1", DN: "uid=a1,ou=people," + srv.BaseDN, Type: typ},
			Pending: &store.PendingExport{ID: "p1", Op: connector.OpUpdate, Changes: changes}}
	}
	for _, tt := range []struct {
		name string
		t    *store.CSObject
		want string // "" = sent
	}{
		{"two display names", op("user", connector.AttrChange{Name: "displayName", Mode: connector.Replace, Values: []string{"A", "B"}}),
			`attribute "displayName": 2 values, but the connector's schema says it is single-valued`},
		{"two cns", op("user", connector.AttrChange{Name: "cn", Mode: connector.Replace, Values: []string{"A", "B"}}), ""},
		{"member not a DN", op("group", connector.AttrChange{Name: "member", Mode: connector.AddVals, Type: model.Reference,
			Values: []string{"uid=a1,ou=people," + srv.BaseDN, "CN=Grace Kim,,=OU==Sales,DC"}}),
			`attribute "member": value 2, "CN=Grace Kim,,=OU==Sales,DC", is not a DN that parses`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rr := &runRec{e: e, r: &store.Run{Connector: "dir", Profile: string(Export)}}
			refused := e.refuseExport(context.Background(), rr, &store.Batch{}, tt.t)
			if refused != (tt.want != "") {
				t.Fatalf("refused = %v, want %v (%v)", refused, tt.want != "", rr.errs)
			}
			if refused && (len(rr.errs) != 1 || !strings.Contains(rr.errs[0].Message, tt.want)) {
				t.Errorf("errors %+v, want one containing %q", rr.errs, tt.want)
			}
		})
	}
}
