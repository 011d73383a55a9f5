package sql

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// FullImport reads the table in pages of pageSize rows, in the order of the
// anchor column, each page a query of its own that continues after the
// last anchor of the one before (keyset paging): the table is never held in
// memory, and no connection stays open while the engine stores a page.
// Soft-deleted rows are left out, and so are the rows outside the scope.
// With a deltaColumn, the watermark is the
// column's highest value read before the first page, so a change made
// during the import is read again by the next delta import.
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	if _, err := c.table(ctx); err != nil {
		return "", err
	}
	wm := ""
	if c.s.delta != "" {
		var err error
		if wm, err = c.maxDelta(ctx); err != nil {
			return "", err
		}
	}
	if !c.wants(req) {
		return wm, nil
	}
	cols := c.importColumns(req)
	sel := c.selectList(cols)
	live := c.livePredicate()
	var last any
	for {
		var where []string
		var args []any
		if last != nil {
			where = append(where, quote(c.s.anchor.name)+" > "+c.d.placeholder(1))
			args = append(args, last)
		}
		if live != "" {
			where = append(where, live)
		}
		where, args = c.scopeWhere(where, args)
		q := "SELECT " + sel + " FROM " + c.tableName()
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += " ORDER BY " + quote(c.s.anchor.name) + " LIMIT " + strconv.Itoa(c.s.pageSize)
		page, err := c.readPage(ctx, q, args, len(cols)+1)
		if err != nil {
			return "", err
		}
		for _, row := range page {
			if o := c.object(req, row[0], cols, row[1:]); o != nil {
				if err := emit(o); err != nil {
					return "", err
				}
			}
		}
		if len(page) < c.s.pageSize {
			return wm, nil
		}
		last = page[len(page)-1][0]
	}
}

// DeltaImport reads the rows whose deltaColumn is at or after the
// watermark, in pages ordered by (deltaColumn, anchor). Rows at the
// watermark itself are read again (harmless: an upsert of the same state),
// so that a change committed with the same timestamp as the last one seen
// is not missed. A soft-deleted row is a Delete; a row deleted from the
// table (a hard delete) leaves no trace a delta import could see: the next
// full import finds it gone.
func (c *Connector) DeltaImport(ctx context.Context, req connector.ImportRequest, watermark string, emit func(connector.Change) error) (string, error) {
	if c.s.delta == "" {
		return "", c.errorf("delta import needs deltaColumn: configure a column the table raises on every change (a version or updated-at), or run full imports")
	}
	if _, err := c.table(ctx); err != nil {
		return "", err
	}
	from, err := c.decodeWatermark(watermark)
	if err != nil {
		return "", err
	}
	cols := c.importColumns(req)
	wanted := c.wants(req)
	// The row's delta value, its deleted flag (or the anchor again), its
	// anchor, then the attributes.
	lead := quote(c.s.delta) + ", "
	if c.s.deleted != "" {
		lead += quote(c.s.deleted) + ", "
	} else {
		lead += quote(c.s.anchor.name) + ", "
	}
	sel := lead + c.selectList(cols)
	dq, aq := quote(c.s.delta), quote(c.s.anchor.name)
	newWM := watermark
	var lastDelta, lastAnchor any
	for {
		var where []string
		var args []any
		switch {
		case lastDelta != nil:
			where = []string{"(" + dq + " > " + c.d.placeholder(1) + " OR (" + dq + " = " + c.d.placeholder(2) + " AND " + aq + " > " + c.d.placeholder(3) + "))"}
			args = []any{lastDelta, lastDelta, lastAnchor}
		case from != nil:
			where = []string{dq + " >= " + c.d.placeholder(1)}
			args = []any{from}
		default:
			where = []string{dq + " IS NOT NULL"}
		}
		where, args = c.scopeWhere(where, args)
		q := "SELECT " + sel + " FROM " + c.tableName() + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + dq + ", " + aq + " LIMIT " + strconv.Itoa(c.s.pageSize)
		page, err := c.readPage(ctx, q, args, len(cols)+3)
		if err != nil {
			return "", err
		}
		for _, row := range page {
			if !wanted {
				continue
			}
			deleted := false
			if c.s.deleted != "" {
				deleted = isDeleted(row[1])
			}
			if deleted {
				anchor, ok, err := fromDB(row[2], c.s.anchor.typ)
				if err != nil || !ok {
					continue // a row without a readable anchor was never imported
				}
				if err := emit(connector.Change{Kind: connector.Delete, Object: &model.Object{Anchor: anchor, Type: c.s.objectType}}); err != nil {
					return "", err
				}
				continue
			}
			if o := c.object(req, row[2], cols, row[3:]); o != nil {
				if err := emit(connector.Change{Kind: connector.Upsert, Object: o}); err != nil {
					return "", err
				}
			}
		}
		if len(page) > 0 {
			last := page[len(page)-1]
			lastDelta, lastAnchor = last[0], last[2]
			if t, ok := lastDelta.(time.Time); ok {
				lastDelta = c.d.timeParam(t) // as SQLite stores it
			}
			if newWM, err = encodeWatermark(lastDelta); err != nil {
				return "", c.errorf("deltaColumn %s: %w", c.s.delta, err)
			}
		}
		if len(page) < c.s.pageSize {
			return newWM, nil
		}
	}
}

// wants reports whether the request asks for the connector's object type.
func (c *Connector) wants(req connector.ImportRequest) bool {
	return len(req.ObjectTypes) == 0 || slices.Contains(req.ObjectTypes, c.s.objectType)
}

// importColumns are the mapped columns an import reads: not secret, and
// asked for (all when req.Attributes is empty). The anchor column, when it
// is mapped, is always read.
func (c *Connector) importColumns(req connector.ImportRequest) []*column {
	var cols []*column
	for _, col := range c.s.cols {
		if col.secret || !col.anchor && len(req.Attributes) > 0 && !slices.Contains(req.Attributes, col.attr) {
			continue
		}
		cols = append(cols, col)
	}
	return cols
}

// selectList is the anchor column, then cols.
func (c *Connector) selectList(cols []*column) string {
	names := []string{quote(c.s.anchor.name)}
	for _, col := range cols {
		names = append(names, quote(col.name))
	}
	return strings.Join(names, ", ")
}

// livePredicate is the condition of rows not soft-deleted ("" without a
// deletedColumn).
func (c *Connector) livePredicate() string {
	if c.s.deleted == "" {
		return ""
	}
	d := quote(c.s.deleted)
	switch c.tab.cols[c.s.deleted].kind {
	case model.Boolean:
		return "(" + d + " IS NULL OR NOT " + d + ")"
	case model.Integer:
		return "(" + d + " IS NULL OR " + d + " = 0)"
	}
	return d + " IS NULL"
}

// isDeleted reads a deletedColumn value: set and not false or 0.
func isDeleted(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case []byte:
		return isDeletedText(string(x))
	case string:
		return isDeletedText(x)
	}
	return true // a timestamp
}

func isDeletedText(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "f", "false":
		return false
	}
	return true
}

// readPage runs a query and returns its rows, each of n scanned values.
func (c *Connector) readPage(ctx context.Context, q string, args []any, n int) ([][]any, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, c.errorf("read table %s: %w", c.tableName(), err)
	}
	defer rows.Close()
	var page [][]any
	for rows.Next() {
		row := make([]any, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, c.errorf("read table %s: %w", c.tableName(), err)
		}
		page = append(page, row)
	}
	if err := rows.Err(); err != nil {
		return nil, c.errorf("read table %s: %w", c.tableName(), err)
	}
	return page, nil
}

// object builds the object of one row. A row whose anchor or a value
// cannot be read is reported to req.ObjectError, and nil is returned.
func (c *Connector) object(req connector.ImportRequest, anchorVal any, cols []*column, vals []any) *model.Object {
	anchor, ok, err := fromDB(anchorVal, c.s.anchor.typ)
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("the anchor column %s is NULL", c.s.anchor.name)
		}
		req.ReportObjectError("", "", c.errorf("row without a readable anchor (column %s): %w", c.s.anchor.name, err))
		return nil
	}
	o := &model.Object{Anchor: anchor, Type: c.s.objectType, Attrs: model.Attrs{}}
	for i, col := range cols {
		s, ok, err := fromDB(vals[i], col.typ)
		if err != nil {
			req.ReportObjectError(anchor, "", c.errorf("row %s: column %s (attribute %s): %w", anchor, col.name, col.attr, err))
			return nil
		}
		if ok {
			o.Attrs.Set(col.attr, model.Values{Type: col.typ, Values: []string{s}})
		}
	}
	return o
}

// maxDelta is the watermark of the table's current state.
func (c *Connector) maxDelta(ctx context.Context) (string, error) {
	var v any
	q := "SELECT MAX(" + quote(c.s.delta) + ") FROM " + c.tableName()
	where, args := c.scopeWhere(nil, nil)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if err := c.db.QueryRowContext(ctx, q, args...).Scan(&v); err != nil {
		return "", c.errorf("read deltaColumn %s: %w", c.s.delta, err)
	}
	wm, err := encodeWatermark(v)
	if err != nil {
		return "", c.errorf("deltaColumn %s: %w", c.s.delta, err)
	}
	return wm, nil
}

// Watermarks are the deltaColumn's value with its kind: "i:42" (an
// integer), "t:2026-12-07T10:00:00.123Z" (a timestamp), "s:2026-12-07
// 10:00:00" (a timestamp SQLite returned as text), or "0:" (the table was
// empty: a delta import reads every row).
func encodeWatermark(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "0:", nil
	case int64:
		return "i:" + strconv.FormatInt(x, 10), nil
	case time.Time:
		return "t:" + x.UTC().Format(time.RFC3339Nano), nil
	case string:
		return "s:" + x, nil
	case []byte:
		return "s:" + string(x), nil
	}
	return "", fmt.Errorf("a value of Go type %T cannot be a watermark: use an integer or timestamp column", v)
}

func (c *Connector) decodeWatermark(wm string) (any, error) {
	kind, v, ok := strings.Cut(wm, ":")
	if wm == "" || kind == "0" && ok {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, c.errorf("watermark %q was not written by this connector: run a full import", wm)
	}
	if !ok {
		return bad()
	}
	switch kind {
	case "i":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad()
		}
		return n, nil
	case "t":
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad()
		}
		return c.d.timeParam(t), nil
	case "s":
		return v, nil
	}
	return bad()
}
