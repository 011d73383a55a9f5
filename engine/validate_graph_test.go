package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/graph"
	"github.com/idsync/idsync/internal/graphfake"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// An export to a connector with a declared schema (Graph: department is
// single-valued, proxyAddresses is not) is checked against it before it is
// sent; deletes and value removals are never refused.
func TestExportValueChecksGraphSchema(t *testing.T) {
	srv := graphfake.New(t)
	c, err := graph.New("aad", graph.Config{TenantID: srv.TenantID, ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		TokenURL: srv.TokenURL, BaseURL: srv.URL, CAFile: srv.CAFile, Timeout: graph.Duration{Duration: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := &Engine{Connectors: map[string]*Connector{"aad": {Name: "aad", Conn: c}}}
	op := func(o connector.Op, changes ...connector.AttrChange) *store.CSObject {
		return &store.CSObject{ID: "cs1", Connector: "aad", Object: model.Object{Anchor: "a1", Type: graph.TypeUser},
			Pending: &store.PendingExport{ID: "p1", Op: o, Changes: changes}}
	}
	for _, tt := range []struct {
		name string
		t    *store.CSObject
		want string // "" = sent
	}{
		{"two departments", op(connector.OpUpdate, connector.AttrChange{Name: "department", Mode: connector.Replace, Values: []string{"Sales", "Marketing"}}),
			`update: not sent, the values break aad's limits: attribute "department": 2 values, but the connector's schema says it is single-valued`},
		{"two departments added", op(connector.OpAdd, connector.AttrChange{Name: "department", Mode: connector.AddVals, Values: []string{"Sales", "Marketing"}}),
			`attribute "department": 2 values, but the connector's schema says it is single-valued`},
		{"NUL", op(connector.OpUpdate, connector.AttrChange{Name: "displayName", Mode: connector.Replace, Values: []string{"a\x00"}}),
			`attribute "displayName": value 1 holds the control character U+0000`},
		{"proxy addresses", op(connector.OpUpdate, connector.AttrChange{Name: "proxyAddresses", Mode: connector.Replace, Values: []string{"SMTP:a@x", "smtp:b@x"}}), ""},
		{"two departments removed", op(connector.OpUpdate, connector.AttrChange{Name: "department", Mode: connector.DelVals, Values: []string{"Sales", "Marketing"}}), ""},
		{"delete", op(connector.OpDelete), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rr := &runRec{e: e, r: &store.Run{Connector: "aad", Profile: string(Export)}}
			journal := &store.Batch{}
			refused := e.refuseExport(context.Background(), rr, journal, tt.t)
			if refused != (tt.want != "") {
				t.Fatalf("refused = %v, want %v (%v)", refused, tt.want != "", rr.errs)
			}
			if !refused {
				return
			}
			if len(rr.errs) != 1 || !strings.Contains(rr.errs[0].Message, tt.want) || rr.errs[0].CSID != "cs1" {
				t.Errorf("errors %+v, want one containing %q", rr.errs, tt.want)
			}
			if p := tt.t.Pending; p.State != store.ExportError || p.Error != rr.errs[0].Message || len(journal.PutCSState) != 1 {
				t.Errorf("journal: %+v, %d objects", p, len(journal.PutCSState))
			}
		})
	}
}
