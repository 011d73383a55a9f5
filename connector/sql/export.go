package sql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Export writes ops one after the other, each in a transaction of its own,
// and returns one result per op. An op that fails (a constraint, a value
// the column cannot hold) changes nothing and is an error on that object;
// the next ops still run.
//
// Replays are idempotent: an add whose row exists (same anchor, or with
// source database the same matchColumns values) returns
// connector.ErrAlreadyExists with the row's anchor (and
// connector.ErrIdentityMatch when the anchor is the one idsync proposed),
// which the engine turns into an update of that row; an update or delete
// of a missing row returns connector.ErrNotFound (for a delete, done).
//
// With a scope, every statement is limited to the scope's rows and an add
// writes the scope's values: a row outside the scope is never read,
// changed, revived nor deleted, even one with the same anchor (it is "not
// found"); an add whose values a unique constraint finds in such a row is
// refused by the table, an error on that object.
func (c *Connector) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	res := make([]connector.ExportResult, len(ops))
	_, terr := c.table(ctx)
	for i, op := range ops {
		res[i] = connector.ExportResult{ID: op.ID, Anchor: op.Anchor}
		err := terr
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			var anchor string
			anchor, err = c.exportOne(ctx, op)
			if anchor != "" {
				res[i].Anchor = anchor
			}
		}
		if err != nil {
			res[i].Err = c.errorf("%s %s %q: %w", op.Op, op.ObjectType, op.Anchor, err)
		}
	}
	return res
}

func (c *Connector) exportOne(ctx context.Context, op connector.ExportOp) (anchor string, err error) {
	if op.ObjectType != c.s.objectType {
		return "", fmt.Errorf("the connector holds objects of type %s only (objectType)", c.s.objectType)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return "", c.unreachable(err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	switch op.Op {
	case connector.OpAdd:
		anchor, err = c.add(ctx, tx, op)
	case connector.OpUpdate, connector.OpRename:
		// A table has no DNs: a rename is an update of its attributes.
		anchor, err = op.Anchor, c.update(ctx, tx, op.Anchor, op.Changes)
	case connector.OpDelete:
		anchor, err = op.Anchor, c.delete(ctx, tx, op.Anchor)
	default:
		err = fmt.Errorf("unknown export operation %q", op.Op)
	}
	if err != nil {
		return anchor, err
	}
	if err := tx.Commit(); err != nil {
		return anchor, c.dbErr(err)
	}
	return anchor, nil
}

// dbErr describes an error of a statement: a refusal of the row by the
// database, or another error (the connection).
func (c *Connector) dbErr(err error) error {
	r, ok := c.d.refusal(err)
	if !ok {
		return fmt.Errorf("%w; the export is retried by the next export run", err)
	}
	if r.unique {
		if sc := c.scopeText(); sc != "" {
			return fmt.Errorf("the table refused the row: %s; another row holds the value of a unique column, maybe a row outside this connector's scope (%s), another tenant's, which this connector neither reads nor changes: change this object's value, or have the table's unique constraint include the scope columns when tenants may share the value", r.msg, sc)
		}
		return fmt.Errorf("the table refused the row: %s; another row holds the value of a unique column: change this object's value or the other row", r.msg)
	}
	return fmt.Errorf("the table refused the row: %s; fix the value (or the table's constraint)", r.msg)
}

// assign applies attribute changes to the current values of the columns
// (nil: NULL) and returns the columns they change with their new values.
func (c *Connector) assign(cur map[*column]*string, changes []connector.AttrChange) (map[*column]*string, error) {
	set := map[*column]*string{}
	value := func(col *column) *string {
		if v, ok := set[col]; ok {
			return v
		}
		return cur[col]
	}
	for _, ch := range changes {
		col := c.s.byAttr[ch.Name]
		if col == nil {
			return nil, fmt.Errorf("attribute %s has no column: map it under columns, or have no outbound flow write it", ch.Name)
		}
		var vals []string
		for _, v := range ch.Values {
			if len(vals) == 0 || vals[0] != v {
				vals = append(vals, v)
			}
		}
		switch ch.Mode {
		case connector.Replace:
		case connector.AddVals:
			if old := value(col); old != nil && (len(vals) == 0 || vals[0] != *old) {
				vals = append([]string{*old}, vals...)
			}
		case connector.DelVals:
			old := value(col)
			keep := old != nil && len(vals) > 0
			for _, v := range vals {
				if old != nil && v == *old {
					keep = false
				}
			}
			vals = nil
			if keep {
				vals = []string{*old}
			}
		default:
			return nil, fmt.Errorf("attribute %s: unknown change mode %q", ch.Name, ch.Mode)
		}
		switch len(vals) {
		case 0:
			set[col] = nil
		case 1:
			v := vals[0]
			set[col] = &v
		default:
			return nil, fmt.Errorf("attribute %s: %d values, but column %s holds one", ch.Name, len(vals), col.name)
		}
	}
	return set, nil
}

// param is a new column value as a bind parameter.
func (c *Connector) param(col *column, v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	return c.toDB(col, *v, c.tab.cols[col.name].kind)
}

func (c *Connector) add(ctx context.Context, tx *sql.Tx, op connector.ExportOp) (string, error) {
	set, err := c.assign(map[*column]*string{}, op.Changes)
	if err != nil {
		return "", err
	}
	anchorCol := c.s.anchor
	var anchor string
	switch c.s.source {
	case SourceAttribute:
		v := set[anchorCol]
		if v == nil || *v == "" {
			return "", fmt.Errorf("the add sets no %s, the attribute of the anchor column %s: have an outbound flow set it", anchorCol.attr, anchorCol.name)
		}
		anchor = *v
	case SourceIdsync:
		if _, ok := set[anchorCol]; ok {
			return "", fmt.Errorf("attribute %s is the anchor column %s, which idsync sets: no flow may write it", anchorCol.attr, anchorCol.name)
		}
		anchor = op.Anchor
		if anchor == "" {
			anchor = uuid.NewString()
		}
		set[anchorCol] = &anchor
	case SourceDatabase:
		if _, ok := set[anchorCol]; ok {
			return "", fmt.Errorf("attribute %s is the anchor column %s, which the database sets: no flow may write it", anchorCol.attr, anchorCol.name)
		}
	}

	// Is the row there already (a replay, or a soft-deleted row)?
	existing, deleted, err := c.findExisting(ctx, tx, anchor, set)
	if err != nil {
		return "", err
	}
	if existing != "" && !deleted {
		if c.s.source == SourceIdsync {
			return existing, fmt.Errorf("a row with anchor %s: %w (%w)", existing, connector.ErrAlreadyExists, connector.ErrIdentityMatch)
		}
		return existing, fmt.Errorf("a row with anchor %s: %w", existing, connector.ErrAlreadyExists)
	}
	if existing != "" {
		// A soft-deleted row holds the key: it comes back to life with the
		// add's values.
		delete(set, anchorCol)
		return existing, c.write(ctx, tx, existing, set, true)
	}

	var names, marks []string
	var args []any
	for _, col := range c.sortedCols(set) {
		p, err := c.param(col, set[col])
		if err != nil {
			return "", err
		}
		names = append(names, quote(col.name))
		args = append(args, p)
		marks = append(marks, c.d.placeholder(len(args)))
	}
	for _, sc := range c.tab.scope {
		names = append(names, quote(sc.name))
		args = append(args, sc.param)
		marks = append(marks, c.d.placeholder(len(args)))
	}
	q := "INSERT INTO " + c.tableName() + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ") RETURNING " + quote(anchorCol.name)
	var got any
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&got); err != nil {
		return "", c.dbErr(err)
	}
	a, ok, err := fromDB(got, anchorCol.typ)
	if err != nil {
		return "", fmt.Errorf("the anchor the database returned in column %s for the new row: %w", anchorCol.name, err)
	}
	if !ok {
		return "", fmt.Errorf("the database returned a NULL anchor in column %s for the new row: give the column a default (an identity or serial column)", anchorCol.name)
	}
	return a, nil
}

// findExisting looks for the row an add would create: by anchor, or with
// source database by the matchColumns' values. It returns "" when there
// is none.
func (c *Connector) findExisting(ctx context.Context, tx *sql.Tx, anchor string, set map[*column]*string) (string, bool, error) {
	var where []string
	var args []any
	if c.s.source == SourceDatabase {
		for _, m := range c.s.matchColumns {
			v := set[m]
			if v == nil {
				return "", false, fmt.Errorf("the add sets no %s (column %s), which anchor.matchColumns needs to find the row after a replay", m.attr, m.name)
			}
			p, err := c.param(m, v)
			if err != nil {
				return "", false, err
			}
			args = append(args, p)
			where = append(where, quote(m.name)+" = "+c.d.placeholder(len(args)))
		}
	} else {
		p, err := c.anchorParam(anchor)
		if err != nil {
			return "", false, err
		}
		args = append(args, p)
		where = append(where, quote(c.s.anchor.name)+" = "+c.d.placeholder(1))
	}
	where, args = c.scopeWhere(where, args)
	flag := "NULL"
	if c.s.deleted != "" {
		flag = quote(c.s.deleted)
	}
	q := "SELECT " + quote(c.s.anchor.name) + ", " + flag + " FROM " + c.tableName() + " WHERE " + strings.Join(where, " AND ") + c.d.forUpdate()
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return "", false, c.dbErr(err)
	}
	defer rows.Close()
	var found string
	deleted := false
	for rows.Next() {
		var a, d any
		if err := rows.Scan(&a, &d); err != nil {
			return "", false, c.dbErr(err)
		}
		s, _, _ := fromDB(a, c.s.anchor.typ)
		// A live row wins over soft-deleted ones with the same values.
		if found == "" || deleted && !isDeleted(d) {
			found, deleted = s, isDeleted(d)
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, c.dbErr(err)
	}
	return found, deleted, nil
}

func (c *Connector) update(ctx context.Context, tx *sql.Tx, anchor string, changes []connector.AttrChange) error {
	p, err := c.anchorParam(anchor)
	if err != nil {
		return err
	}
	// Read the row and the current values of the columns the changes name.
	var cols []*column
	seen := map[*column]bool{}
	for _, ch := range changes {
		if col := c.s.byAttr[ch.Name]; col != nil && !seen[col] {
			seen[col] = true
			cols = append(cols, col)
		}
	}
	flag := "NULL"
	if c.s.deleted != "" {
		flag = quote(c.s.deleted)
	}
	sel := flag
	for _, col := range cols {
		sel += ", " + quote(col.name)
	}
	where, args := c.scopeWhere([]string{quote(c.s.anchor.name) + " = " + c.d.placeholder(1)}, []any{p})
	rows, err := tx.QueryContext(ctx, "SELECT "+sel+" FROM "+c.tableName()+" WHERE "+strings.Join(where, " AND ")+c.d.forUpdate(), args...)
	if err != nil {
		return c.dbErr(err)
	}
	row := make([]any, len(cols)+1)
	found := false
	func() {
		defer rows.Close()
		if rows.Next() {
			ptrs := make([]any, len(row))
			for i := range row {
				ptrs[i] = &row[i]
			}
			err = rows.Scan(ptrs...)
			found = true
		}
		if err == nil {
			err = rows.Err()
		}
	}()
	if err != nil {
		return c.dbErr(err)
	}
	if !found || isDeleted(row[0]) {
		return fmt.Errorf("no row with anchor %s: %w", anchor, connector.ErrNotFound)
	}
	cur := map[*column]*string{}
	for i, col := range cols {
		if s, ok, _ := fromDB(row[i+1], col.typ); ok {
			cur[col] = &s
		}
	}
	set, err := c.assign(cur, changes)
	if err != nil {
		return err
	}
	for col, v := range set {
		old := cur[col]
		if old == nil && v == nil || old != nil && v != nil && *old == *v {
			delete(set, col) // unchanged: not written
			continue
		}
		if col.anchor {
			return fmt.Errorf("attribute %s is the anchor column %s, which never changes: an object with another %s is another row", col.attr, col.name, col.attr)
		}
	}
	return c.write(ctx, tx, anchor, set, false)
}

// write updates the columns of set in the row with the anchor, and brings
// a soft-deleted row back to life when revive is set.
func (c *Connector) write(ctx context.Context, tx *sql.Tx, anchor string, set map[*column]*string, revive bool) error {
	var assigns []string
	var args []any
	for _, col := range c.sortedCols(set) {
		p, err := c.param(col, set[col])
		if err != nil {
			return err
		}
		args = append(args, p)
		assigns = append(assigns, quote(col.name)+" = "+c.d.placeholder(len(args)))
	}
	if revive {
		args = append(args, c.liveValue())
		assigns = append(assigns, quote(c.s.deleted)+" = "+c.d.placeholder(len(args)))
	}
	if len(assigns) == 0 {
		return nil
	}
	p, err := c.anchorParam(anchor)
	if err != nil {
		return err
	}
	args = append(args, p)
	where, args := c.scopeWhere([]string{quote(c.s.anchor.name) + " = " + c.d.placeholder(len(args))}, args)
	q := "UPDATE " + c.tableName() + " SET " + strings.Join(assigns, ", ") + " WHERE " + strings.Join(where, " AND ")
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return c.dbErr(err)
	}
	return nil
}

func (c *Connector) delete(ctx context.Context, tx *sql.Tx, anchor string) error {
	p, err := c.anchorParam(anchor)
	if err != nil {
		return err
	}
	var r sql.Result
	if c.s.deleted == "" {
		where, args := c.scopeWhere([]string{quote(c.s.anchor.name) + " = " + c.d.placeholder(1)}, []any{p})
		r, err = tx.ExecContext(ctx, "DELETE FROM "+c.tableName()+" WHERE "+strings.Join(where, " AND "), args...)
	} else {
		where, args := c.scopeWhere([]string{quote(c.s.anchor.name) + " = " + c.d.placeholder(2), c.livePredicate()}, []any{c.deletedValue(), p})
		r, err = tx.ExecContext(ctx, "UPDATE "+c.tableName()+" SET "+quote(c.s.deleted)+" = "+c.d.placeholder(1)+
			" WHERE "+strings.Join(where, " AND "), args...)
	}
	if err != nil {
		return c.dbErr(err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return c.dbErr(err)
	}
	if n == 0 {
		return fmt.Errorf("no row with anchor %s: %w", anchor, connector.ErrNotFound)
	}
	return nil
}

// deletedValue is what a soft delete writes to the deletedColumn.
func (c *Connector) deletedValue() any {
	switch c.tab.cols[c.s.deleted].kind {
	case model.Boolean:
		return true
	case model.Integer:
		return int64(1)
	}
	return c.d.timeParam(time.Now())
}

// liveValue is what a revived row's deletedColumn gets.
func (c *Connector) liveValue() any {
	switch c.tab.cols[c.s.deleted].kind {
	case model.Boolean:
		return false
	case model.Integer:
		return int64(0)
	}
	return nil
}

// sortedCols are set's columns in column order (stable statements).
func (c *Connector) sortedCols(set map[*column]*string) []*column {
	var cols []*column
	if _, ok := set[c.s.anchor]; ok && c.s.byCol[c.s.anchor.name] != c.s.anchor {
		cols = append(cols, c.s.anchor) // the anchor column, mapped to no attribute
	}
	for _, col := range c.s.cols {
		if _, ok := set[col]; ok {
			cols = append(cols, col)
		}
	}
	return cols
}
