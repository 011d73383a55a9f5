package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// Apply writes rows with multi-row statements: executing a statement costs
// far more than binding one more row (database/sql bookkeeping, a context
// watcher per call in the driver), so full groups of rowsPerStmt rows go in
// one statement and the rest one by one.
//
// Puts avoid multi-row upserts (INSERT … ON CONFLICT DO UPDATE): a statement
// that writes several rows and may fail half-way makes SQLite keep a
// statement journal, a copy of every page the statement touches so it can
// undo just that statement, which costs about as much as the insert itself.
// Instead a group is first written with one multi-row INSERT OR IGNORE,
// which cannot fail half-way and so needs no journal. When every row was
// inserted (an import of new objects) the group is done. Otherwise some row
// was skipped (its ID exists, its anchor is taken, or its ID occurs twice)
// and the whole group is upserted again one row at a time, in order: rows the
// first statement inserted are rewritten unchanged, the others are updated or
// fail exactly as in a sequential application. The result is always that of
// upserting the rows one by one in order.
const rowsPerStmt = 64

// rowStmts writes rows with a one-row and a rowsPerStmt-row statement.
type rowStmts struct {
	one, many *sql.Stmt
	// update, when set, is tried before one for each row written one by
	// one: an UPDATE of the row that leaves its key columns as they are,
	// with the same parameters. When it changes no row (a new row, or a key
	// column changed) the row goes through one.
	update *sql.Stmt
	cols   int // bound values per row
	// redo is set for puts: a group whose multi-row statement affected fewer
	// rows than it has is written again row by row with one.
	redo bool
}

// valuesList returns "(?, …), (?, …)…": rows tuples of cols placeholders.
func valuesList(rows, cols int) string {
	tuple := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(tuple+", ", rows-1) + tuple
}

// prepareRows prepares one (for a row) and many (for rowsPerStmt rows):
// prefix + valuesList + suffix.
func prepareRows(ctx context.Context, db *sql.DB, cols int, redo bool,
	onePrefix, oneSuffix, manyPrefix, manySuffix string) (rowStmts, error) {
	r := rowStmts{cols: cols, redo: redo}
	var err error
	if r.one, err = db.PrepareContext(ctx, onePrefix+valuesList(1, cols)+oneSuffix); err != nil {
		return r, err
	}
	if r.many, err = db.PrepareContext(ctx, manyPrefix+valuesList(rowsPerStmt, cols)+manySuffix); err != nil {
		r.one.Close()
		return r, err
	}
	return r, nil
}

func (r rowStmts) close() error {
	var err error
	for _, st := range []*sql.Stmt{r.one, r.many, r.update} {
		if st != nil {
			if e := st.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// rowFunc appends the values of row i to args; first is true for the first
// row of a statement (a row's values must stay valid until the statement has
// run, and may be reused from then on).
type rowFunc func(args []any, i int, first bool) []any

// exec writes rows 0..n-1 in tx. rowErr makes the error of a failed row.
func (r rowStmts) exec(ctx context.Context, tx *sql.Tx, n int, row rowFunc, rowErr func(i int, err error) error) error {
	if n == 0 {
		return nil
	}
	args := make([]any, 0, r.cols*min(n, rowsPerStmt))
	var one, update *sql.Stmt
	oneByOne := func(from, to int) error {
		if one == nil {
			one = tx.StmtContext(ctx, r.one)
			if r.update != nil {
				update = tx.StmtContext(ctx, r.update)
			}
		}
		for i := from; i < to; i++ {
			args = row(args[:0], i, true)
			if update != nil {
				res, err := update.ExecContext(ctx, args...)
				if err != nil {
					return rowErr(i, err)
				}
				if n, err := res.RowsAffected(); err == nil && n == 1 {
					continue
				}
			}
			if _, err := one.ExecContext(ctx, args...); err != nil {
				return rowErr(i, err)
			}
		}
		return nil
	}
	i := 0
	if n >= rowsPerStmt {
		many := tx.StmtContext(ctx, r.many)
		skip := 0 // groups to write row by row without trying many first
		for ; i+rowsPerStmt <= n; i += rowsPerStmt {
			if skip > 0 {
				// The previous group only updated existing rows (a
				// synchronization relinking objects, an import of changes):
				// the next ones likely do too, and the multi-row insert would
				// be wasted work.
				skip--
				if err := oneByOne(i, i+rowsPerStmt); err != nil {
					return err
				}
				continue
			}
			args = args[:0]
			for j := i; j < i+rowsPerStmt; j++ {
				args = row(args, j, j == i)
			}
			res, err := many.ExecContext(ctx, args...)
			if err != nil {
				return rowErr(i, err)
			}
			if !r.redo {
				continue
			}
			if affected, err := res.RowsAffected(); err != nil || affected != rowsPerStmt {
				if err := oneByOne(i, i+rowsPerStmt); err != nil {
					return err
				}
				if err == nil && affected == 0 {
					skip = 7
				}
			}
		}
	}
	return oneByOne(i, n)
}
