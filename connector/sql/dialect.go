package sql

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/idsync/idsync/model"
)

// dialect is what differs between the databases.
type dialect interface {
	// placeholder is the n-th (1-based) bind parameter.
	placeholder(n int) string
	// columns lists the table's columns; none when the table is missing.
	columns(ctx context.Context, db *sql.DB, schema, table string) ([]dbColumn, error)
	// timeParam is a timestamp as a bind parameter.
	timeParam(t time.Time) any
	// forUpdate locks the rows a SELECT reads in a transaction.
	forUpdate() string
	// refusal describes an error of the database that refused one row
	// (a constraint, a value it cannot store); ok is false for other
	// errors (the connection).
	refusal(err error) (r refusal, ok bool)
}

// refusal is a statement the database refused for the row's values.
type refusal struct {
	unique bool   // a unique or primary key constraint
	msg    string // the database's message, without values
}

type sqliteDialect struct{}

func (sqliteDialect) placeholder(int) string { return "?" }
func (sqliteDialect) forUpdate() string      { return "" } // the transaction holds the database's lock

// timeParam writes SQLite's own text form (CURRENT_TIMESTAMP's), so that
// comparisons with stored timestamps order as text does.
func (sqliteDialect) timeParam(t time.Time) any {
	return t.UTC().Format("2006-01-02 15:04:05.999999999")
}

func (sqliteDialect) columns(ctx context.Context, db *sql.DB, schema, table string) ([]dbColumn, error) {
	if schema == "" {
		schema = "main"
	}
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull" FROM pragma_table_info(?, ?)`, table, schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []dbColumn
	for rows.Next() {
		var c dbColumn
		var notNull int
		if err := rows.Scan(&c.name, &c.dbType, &notNull); err != nil {
			return nil, err
		}
		c.dbType = strings.ToLower(c.dbType)
		c.notNull = notNull != 0
		c.kind = sqliteKind(c.dbType)
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// sqliteKind follows SQLite's affinity rules (section 3.1 of "Datatypes In
// SQLite"), with booleans and timestamps told apart by their declared names
// as the driver does.
func sqliteKind(t string) model.Type {
	switch {
	case strings.Contains(t, "bool"):
		return model.Boolean
	case strings.Contains(t, "int"):
		return model.Integer
	case strings.Contains(t, "date") || strings.Contains(t, "time"):
		return model.DateTime
	case strings.Contains(t, "blob"):
		return model.Binary
	}
	return model.String
}

func (sqliteDialect) refusal(err error) (refusal, bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return refusal{}, false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return refusal{unique: true, msg: se.Error()}, true
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY,
		sqlite3.SQLITE_CONSTRAINT_TRIGGER, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
		return refusal{msg: se.Error()}, true
	}
	return refusal{}, false
}

type postgresDialect struct{}

var quotedRE = regexp.MustCompile(`"[^"]*"`)

func (postgresDialect) placeholder(n int) string { return "$" + strconv.Itoa(n) }
func (postgresDialect) forUpdate() string        { return " FOR UPDATE" }
func (postgresDialect) timeParam(t time.Time) any {
	return t
}

func (postgresDialect) columns(ctx context.Context, db *sql.DB, schema, table string) ([]dbColumn, error) {
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type, is_nullable = 'NO'
		FROM information_schema.columns
		WHERE table_schema = COALESCE(NULLIF($1, ''), current_schema()) AND table_name = $2
		ORDER BY ordinal_position`, schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []dbColumn
	for rows.Next() {
		var c dbColumn
		if err := rows.Scan(&c.name, &c.dbType, &c.notNull); err != nil {
			return nil, err
		}
		c.kind = postgresKind(c.dbType)
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func postgresKind(t string) model.Type {
	switch {
	case t == "boolean":
		return model.Boolean
	case t == "smallint" || t == "integer" || t == "bigint":
		return model.Integer
	case strings.HasPrefix(t, "timestamp") || t == "date":
		return model.DateTime
	case t == "bytea":
		return model.Binary
	case t == "numeric" || t == "real" || t == "double precision":
		return model.Binary // no type of idsync holds them faithfully: refused by fits
	}
	return model.String
}

// refusal reads the SQLSTATE class 22 (data exception) and 23 (integrity
// constraint violation). The message is the server's, which holds the
// constraint and column names, never the detail (PostgreSQL puts the row's
// values there).
func (postgresDialect) refusal(err error) (refusal, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return refusal{}, false
	}
	msg := pe.Message
	if pe.ConstraintName != "" && !strings.Contains(msg, pe.ConstraintName) {
		msg += " (constraint " + pe.ConstraintName + ")"
	}
	msg += " (SQLSTATE " + pe.Code + ")"
	switch pe.Code[:2] {
	case "23":
		return refusal{unique: pe.Code == "23505", msg: msg}, true
	case "22":
		// A data exception may quote the value (invalid input syntax for
		// type integer: "abc"): a secret's value must not be shown.
		return refusal{msg: quotedRE.ReplaceAllString(msg, `"…"`)}, true
	}
	return refusal{}, false
}
