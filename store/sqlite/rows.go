package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// rowsPerStmt is how many rows one multi-row statement writes. Executing a
// statement costs far more than binding one more row (database/sql
// bookkeeping, a context watcher per call in the driver), so Apply writes
// full groups of rows per statement and the rest one by one.
const rowsPerStmt = 64

// rowStmts writes rows with a one-row and a rowsPerStmt-row statement.
type rowStmts struct {
	one, many *sql.Stmt
	cols      int // bound values per row
}

// valuesList returns "(?, …), (?, …)…": rows tuples of cols placeholders.
func valuesList(rows, cols int) string {
	tuple := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(tuple+", ", rows-1) + tuple
}

// prepareRows prepares the statements that prefix + valuesList + suffix
// make for one and for rowsPerStmt rows.
func prepareRows(ctx context.Context, db *sql.DB, prefix, suffix string, cols int) (rowStmts, error) {
	r := rowStmts{cols: cols}
	var err error
	if r.one, err = db.PrepareContext(ctx, prefix+valuesList(1, cols)+suffix); err != nil {
		return r, err
	}
	if r.many, err = db.PrepareContext(ctx, prefix+valuesList(rowsPerStmt, cols)+suffix); err != nil {
		r.one.Close()
		return r, err
	}
	return r, nil
}

func (r rowStmts) close() error {
	var err error
	for _, st := range []*sql.Stmt{r.one, r.many} {
		if st != nil {
			if e := st.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// exec writes rows 0..n-1 in tx. appendRow appends the values of row i to
// args. When a multi-row statement fails, its rows are retried one by one so
// that the error of the first failing row is reported, through rowErr (the
// caller's transaction is rolled back anyway).
func (r rowStmts) exec(ctx context.Context, tx *sql.Tx, n int,
	appendRow func(args []any, i int) []any, rowErr func(i int, err error) error) error {
	args := make([]any, 0, r.cols*min(n, rowsPerStmt))
	i := 0
	if n >= rowsPerStmt {
		many := tx.StmtContext(ctx, r.many)
		for ; i+rowsPerStmt <= n; i += rowsPerStmt {
			args = args[:0]
			for j := i; j < i+rowsPerStmt; j++ {
				args = appendRow(args, j)
			}
			if _, err := many.ExecContext(ctx, args...); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if e := r.execOneByOne(ctx, tx, i, i+rowsPerStmt, args, appendRow, rowErr); e != nil {
					return e
				}
				return rowErr(i, err)
			}
		}
	}
	return r.execOneByOne(ctx, tx, i, n, args, appendRow, rowErr)
}

func (r rowStmts) execOneByOne(ctx context.Context, tx *sql.Tx, from, to int, args []any,
	appendRow func(args []any, i int) []any, rowErr func(i int, err error) error) error {
	if from >= to {
		return nil
	}
	one := tx.StmtContext(ctx, r.one)
	for i := from; i < to; i++ {
		args = appendRow(args[:0], i)
		if _, err := one.ExecContext(ctx, args...); err != nil {
			return rowErr(i, err)
		}
	}
	return nil
}
