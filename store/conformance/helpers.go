package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// binaryValue holds NUL, invalid UTF-8 and high bytes: it must round-trip
// byte for byte.
const binaryValue = "\x00\xff\xfe\x80ok\x00\xc3\x28\xed\xa0\x80"

// ts is a fixed timestamp in a non-UTC zone with microsecond precision.
var ts = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("CET", 3600))

// user returns a CS user with one attribute of each type, multi-valued ones
// and a binary value with arbitrary bytes.
func user(id, conn, anchor string) *store.CSObject {
	return &store.CSObject{
		ID:        id,
		Connector: conn,
		Object: model.Object{
			Anchor: anchor,
			DN:     "CN=" + anchor + ",OU=Users,DC=contoso,DC=test",
			Type:   "user",
			Attrs: model.Attrs{
				"cn":          model.Str(anchor),
				"mail":        model.Str(anchor+"@contoso.test", "alias."+anchor+"@contoso.test"),
				"objectGUID":  {Type: model.Binary, Values: []string{binaryValue, "\x01\x02"}},
				"uac":         {Type: model.Integer, Values: []string{"-512"}},
				"enabled":     {Type: model.Boolean, Values: []string{"true"}},
				"lastLogon":   {Type: model.DateTime, Values: []string{"2026-11-23T10:00:00Z"}},
				"manager":     model.Ref("CN=boss,OU=Users,DC=contoso,DC=test"),
				"description": model.Str("ünïcödé ✓", "", "multi\nline"),
			},
		},
		Modified: ts,
	}
}

// fullUser is user with every optional field of CSObject set.
func fullUser(id, conn, anchor string) *store.CSObject {
	o := user(id, conn, anchor)
	o.Partition = "DC=contoso,DC=test"
	o.MVID = "mv-" + id
	o.LinkRule = "join-by-mail"
	o.Provisioned = true
	o.Placeholder = true
	o.SyncPending = true
	o.Deleted = true
	o.Unconfirmed = []string{"mail", "cn"}
	o.Pending = &store.PendingExport{
		ID:    "exp-" + id,
		Op:    connector.OpUpdate,
		NewDN: "CN=new,DC=contoso,DC=test",
		Changes: []connector.AttrChange{
			{Name: "mail", Mode: connector.Replace, Values: []string{"a@b", "c@d"}},
			{Name: "objectGUID", Mode: connector.AddVals, Type: model.Binary, Values: []string{binaryValue}},
			{Name: "title", Mode: connector.Replace},
			{Name: "uac", Mode: connector.DelVals, Type: model.Integer, Values: []string{"2"}},
		},
		State:    store.ExportError,
		Attempts: 3,
		MayExist: true,
		Error:    "target said no",
		Created:  ts.Add(-time.Hour),
		Rule:     "out-ad",
	}
	return o
}

// mvUser returns an MV object with attributes of each type and lineage.
func mvUser(id string) *store.MVObject {
	return &store.MVObject{
		ID:   id,
		Type: "person",
		Attrs: model.Attrs{
			"displayName": model.Str("Ann Example"),
			"mail":        model.Str("ann@contoso.test", "a@contoso.test"),
			"guid":        {Type: model.Binary, Values: []string{binaryValue}},
			"employeeID":  {Type: model.Integer, Values: []string{"42"}},
			"active":      {Type: model.Boolean, Values: []string{"false"}},
			"hired":       {Type: model.DateTime, Values: []string{"2020-01-02T03:04:05Z"}},
			"manager":     model.Ref("mv-boss"),
		},
		Lineage: store.NewLineage(map[string]store.Contribution{
			"displayName": {Rule: "in-hr", Connector: "hr", CSID: "cs-1", Precedence: 10},
			"mail":        {Rule: "in-ad", Connector: "ad", CSID: "cs-2", Precedence: -1},
		}),
		Modified: ts,
	}
}

func apply(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	if err := s.Apply(t.Context(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func putCS(t *testing.T, s store.Store, objs ...*store.CSObject) {
	t.Helper()
	apply(t, s, &store.Batch{PutCS: objs})
}

func putMV(t *testing.T, s store.Store, objs ...*store.MVObject) {
	t.Helper()
	apply(t, s, &store.Batch{PutMV: objs})
}

func getCS(t *testing.T, s store.Store, id string) *store.CSObject {
	t.Helper()
	o, err := s.GetCS(t.Context(), id)
	if err != nil {
		t.Fatalf("GetCS(%q): %v", id, err)
	}
	return o
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: got error %v, want one wrapping store.ErrNotFound", what, err)
	}
}

func wantCount(t *testing.T, s store.Store, conn string, want int64) {
	t.Helper()
	n, err := s.CountCS(t.Context(), conn)
	if err != nil {
		t.Fatalf("CountCS(%q): %v", conn, err)
	}
	if n != want {
		t.Fatalf("CountCS(%q) = %d, want %d", conn, n, want)
	}
}

// scanIDs returns the IDs ScanCS visits.
func scanIDs(t *testing.T, s store.Store, conn string) []string {
	t.Helper()
	var ids []string
	err := s.ScanCS(t.Context(), conn, func(o *store.CSObject) error {
		ids = append(ids, o.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanCS(%q): %v", conn, err)
	}
	return ids
}

func id(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }
