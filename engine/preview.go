package engine

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// PreviewRow is one attribute change of a pending export: the equivalent of a
// row of csexport + CSExportAnalyzer (R2.9).
type PreviewRow struct {
	Connector string `json:"connector"`
	// Object is the DN of the object, or its anchor when it has no DN.
	Object string `json:"object"`
	// Anchor is the object's anchor, which finds it in the connector
	// space (the console links by it); not a column of the preview.
	Anchor     string `json:"-"`
	ObjectType string `json:"objectType"`
	Operation  string `json:"operation"`
	Attribute  string `json:"attribute"`
	Change     string `json:"change"`
	OldValue   string `json:"oldValue"`
	NewValue   string `json:"newValue"`
	State      string `json:"state"`
	Error      string `json:"error,omitempty"`
}

// PreviewColumns are the CSV header.
var PreviewColumns = []string{"connector", "object", "objectType", "operation", "attribute", "change", "oldValue", "newValue", "state", "error"}

// Preview returns the pending exports of a connector, one row per object and
// attribute change, in a stable order.
func Preview(ctx context.Context, st store.Store, conn string) ([]PreviewRow, error) {
	var rows []PreviewRow
	err := st.ScanCSExports(ctx, conn, func(t *store.CSObject) error {
		rows = appendPreviewRows(rows, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("preview %s: %w", conn, err)
	}
	return rows, nil
}

// appendPreviewRows appends the rows of t's pending export (none without one).
func appendPreviewRows(rows []PreviewRow, t *store.CSObject) []PreviewRow {
	p := t.Pending
	if p == nil {
		return rows
	}
	obj := t.Object.DN
	if obj == "" {
		obj = t.Object.Anchor
	}
	base := PreviewRow{Connector: t.Connector, Object: obj, Anchor: t.Object.Anchor, ObjectType: t.Object.Type, Operation: string(p.Op), State: string(p.State), Error: p.Error}
	switch p.Op {
	case connector.OpDelete:
		if len(t.Object.Attrs) == 0 {
			rows = append(rows, base)
		}
		for _, a := range t.Object.Attrs.Names() {
			r := base
			r.Attribute, r.Change, r.OldValue = a, "delete", renderValues(t.Object.Attrs[a])
			rows = append(rows, r)
		}
		return rows
	}
	if p.NewDN != "" {
		r := base
		r.Attribute, r.Change, r.OldValue, r.NewValue = "dn", "rename", t.Object.DN, p.NewDN
		rows = append(rows, r)
	}
	for _, ch := range p.Changes {
		r := base
		r.Attribute, r.Change = ch.Name, string(ch.Mode)
		if p.Op != connector.OpAdd {
			r.OldValue = renderValues(t.Object.Attrs[ch.Name])
		}
		r.NewValue = renderValues(model.Values{Type: ch.Type, Values: ch.Values})
		rows = append(rows, r)
	}
	return rows
}

// renderValues writes values as text: multiple values separated by "; ",
// binary or non-UTF-8 values as base64 with a "base64:" prefix.
func renderValues(v model.Values) string {
	out := make([]string, len(v.Values))
	for i, x := range v.Values {
		if v.Type == model.Binary || !utf8.ValidString(x) {
			out[i] = "base64:" + base64.StdEncoding.EncodeToString([]byte(x))
		} else {
			out[i] = x
		}
	}
	return strings.Join(out, "; ")
}

// WritePreview writes rows as "csv" or "json".
func WritePreview(w io.Writer, rows []PreviewRow, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []PreviewRow{}
		}
		return enc.Encode(rows)
	case "csv", "":
		cw := csv.NewWriter(w)
		if err := cw.Write(PreviewColumns); err != nil {
			return err
		}
		for _, r := range rows {
			if err := cw.Write([]string{r.Connector, r.Object, r.ObjectType, r.Operation, r.Attribute, r.Change, r.OldValue, r.NewValue, r.State, r.Error}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	return fmt.Errorf("unknown preview format %q (use csv or json)", format)
}

// PendingCounts counts the pending exports of a connector by operation.
func PendingCounts(ctx context.Context, st store.Store, conn string) (map[connector.Op]int, error) {
	n := map[connector.Op]int{}
	err := st.ScanCSExports(ctx, conn, func(t *store.CSObject) error {
		if t.Pending != nil {
			n[t.Pending.Op]++
		}
		return nil
	})
	return n, err
}

// FormatCounts renders pending counts as "3 adds, 1 update".
func FormatCounts(n map[connector.Op]int) string {
	var parts []string
	for _, op := range []connector.Op{connector.OpAdd, connector.OpUpdate, connector.OpRename, connector.OpDelete} {
		if n[op] > 0 {
			parts = append(parts, strconv.Itoa(n[op])+" "+string(op)+plural(n[op]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
