package sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// TypeName is the connector type this package registers.
const TypeName = "sql"

func init() { connector.Register(TypeName, open) }

// Compile-time checks of the capabilities the connector offers.
var (
	_ connector.Connector       = (*Connector)(nil)
	_ connector.Tester          = (*Connector)(nil)
	_ connector.SchemaDescriber = (*Connector)(nil)
	_ connector.FullImporter    = (*Connector)(nil)
	_ connector.DeltaImporter   = (*Connector)(nil)
	_ connector.Exporter        = (*Connector)(nil)
)

// Errors TestConnection wraps, so that callers can tell what failed.
var (
	// ErrUnreachable: the database could not be opened or reached, or
	// refused the credentials.
	ErrUnreachable = errors.New("cannot reach the database")
	// ErrTable: the table or a configured column is missing, or a column's
	// type does not fit the configured type.
	ErrTable = errors.New("the table does not fit the configuration")
)

// Connector reads and writes one table of a relational database. It is safe
// for concurrent use.
type Connector struct {
	name string
	s    *settings
	db   *sql.DB
	d    dialect

	mu  sync.Mutex
	tab *tableInfo // cached by table()
}

// open is the registered factory.
func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg Config
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("sql connector %q: config: %w", name, err)
	}
	return New(name, cfg)
}

// New returns a sql connector named name (used in error messages) for cfg.
// It checks the configuration and opens the connection pool; it does not
// connect: TestConnection does.
func New(name string, cfg Config) (*Connector, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, fmt.Errorf("sql connector %q: config: %w", name, err)
	}
	c := &Connector{name: name, s: s}
	switch s.driver {
	case DriverSQLite:
		c.d = sqliteDialect{}
		c.db, err = sql.Open("sqlite", s.dsn)
		// One connection: SQLite has one writer, and a second connection
		// of the same process would only wait for the first.
		c.db.SetMaxOpenConns(1)
		c.db.SetConnMaxLifetime(0)
	case DriverPostgres:
		c.d = postgresDialect{}
		c.db, err = sql.Open("pgx", s.dsn)
	}
	if err != nil {
		// database/sql.Open only fails for an unknown driver; never show the DSN.
		return nil, fmt.Errorf("sql connector %q: open %s: %w", name, s.driver, err)
	}
	return c, nil
}

// Close closes the connection pool.
func (c *Connector) Close() error { return c.db.Close() }

// errorf prefixes a message with the connector's name.
func (c *Connector) errorf(format string, a ...any) error {
	return fmt.Errorf("sql connector %q: "+format, append([]any{c.name}, a...)...)
}

// unreachable wraps a connection error: it says where, without the password.
func (c *Connector) unreachable(err error) error {
	return c.errorf("%w (%s %s): %w; check dsn (host, port, database, user, password, sslmode) and that the database is running", ErrUnreachable, c.s.driver, redactDSN(c.s.dsn), err)
}

// tableInfo is what the database says of the table.
type tableInfo struct {
	cols  map[string]dbColumn // by column name
	scope []scopeCond         // the configured scope, its values converted
}

// scopeCond is one condition of the scope: column = param.
type scopeCond struct {
	name  string
	param any
}

// dbColumn is one column of the table as the database declares it.
type dbColumn struct {
	name    string
	dbType  string // lower case, as declared
	kind    model.Type
	notNull bool
}

// table returns the table's columns, reading them the first time, and
// checks them against the configuration.
func (c *Connector) table(ctx context.Context) (*tableInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tab != nil {
		return c.tab, nil
	}
	t, err := c.readTable(ctx)
	if err != nil {
		return nil, err
	}
	c.tab = t
	return t, nil
}

func (c *Connector) readTable(ctx context.Context) (*tableInfo, error) {
	cols, err := c.d.columns(ctx, c.db, c.s.schema, c.s.table)
	if err != nil {
		return nil, c.unreachable(err)
	}
	if len(cols) == 0 {
		return nil, c.errorf("%w: table %s not found (the name is case-sensitive as the database stores it; in PostgreSQL an unquoted name is stored in lower case)", ErrTable, c.tableName())
	}
	t := &tableInfo{cols: map[string]dbColumn{}}
	for _, col := range cols {
		t.cols[col.name] = col
	}
	need := append([]*column{c.s.anchor}, c.s.cols...)
	for _, cc := range need {
		col, ok := t.cols[cc.name]
		if !ok {
			return nil, c.errorf("%w: table %s has no column %s (its columns: %s)", ErrTable, c.tableName(), cc.name, strings.Join(sortedKeys(t.cols), ", "))
		}
		if !fits(cc.typ, col.kind) {
			return nil, c.errorf("%w: column %s is %s in the database, which does not hold %s values: fix columns.%s.type", ErrTable, cc.name, col.dbType, cc.typ, cc.name)
		}
	}
	for _, k := range []struct{ key, name string }{{"deltaColumn", c.s.delta}, {"deletedColumn", c.s.deleted}} {
		if k.name == "" {
			continue
		}
		col, ok := t.cols[k.name]
		if !ok {
			return nil, c.errorf("%w: %s %s: table %s has no such column (its columns: %s)", ErrTable, k.key, k.name, c.tableName(), strings.Join(sortedKeys(t.cols), ", "))
		}
		switch {
		case k.key == "deltaColumn" && col.kind != model.Integer && col.kind != model.DateTime:
			return nil, c.errorf("%w: deltaColumn %s is %s: it must be an integer (a version) or a timestamp that grows with every change", ErrTable, k.name, col.dbType)
		case k.key == "deletedColumn" && col.kind != model.Integer && col.kind != model.DateTime && col.kind != model.Boolean:
			return nil, c.errorf("%w: deletedColumn %s is %s: it must be a boolean, an integer (0/1) or a timestamp (NULL while the row is live)", ErrTable, k.name, col.dbType)
		}
	}
	for i, sc := range c.s.scope {
		col, ok := t.cols[sc.Column]
		if !ok {
			return nil, c.errorf("%w: scope[%d].column %s: table %s has no such column (its columns: %s)", ErrTable, i, sc.Column, c.tableName(), strings.Join(sortedKeys(t.cols), ", "))
		}
		p, err := c.scopeParam(sc, col)
		if err != nil {
			return nil, c.errorf("%w: scope[%d]: %w", ErrTable, i, err)
		}
		t.scope = append(t.scope, scopeCond{name: sc.Column, param: p})
	}
	return t, nil
}

// scopeParam converts a scope value to a bind parameter of its column's
// type in the database.
func (c *Connector) scopeParam(sc Scope, col dbColumn) (any, error) {
	switch col.kind {
	case model.String:
		return sc.Value, nil
	case model.Integer, model.Boolean:
		p, err := c.toDB(&column{name: sc.Column, typ: col.kind}, sc.Value, col.kind)
		if err != nil {
			return nil, fmt.Errorf("column %s is %s in the database: value %q is not %s", sc.Column, col.dbType, sc.Value, map[model.Type]string{model.Integer: "an integer", model.Boolean: "true or false"}[col.kind])
		}
		return p, nil
	}
	return nil, fmt.Errorf("column %s is %s in the database: a scope column is text, an integer or a boolean", sc.Column, col.dbType)
}

// scopeWhere appends the scope's conditions to where and their values to
// args (numbered after the args before them: put the conditions in the
// statement in the order of args).
func (c *Connector) scopeWhere(where []string, args []any) ([]string, []any) {
	for _, sc := range c.tab.scope {
		args = append(args, sc.param)
		where = append(where, quote(sc.name)+" = "+c.d.placeholder(len(args)))
	}
	return where, args
}

// scopeText describes the scope for messages ("" without one).
func (c *Connector) scopeText() string {
	var parts []string
	for _, sc := range c.s.scope {
		parts = append(parts, sc.Column+" = "+sc.Value)
	}
	return strings.Join(parts, ", ")
}

// fits reports whether a column of the database kind holds values of the
// configured type. Strings fit anything textual; SQLite's declared types
// are only affinities, so its untyped columns (kind String) fit all.
func fits(want, kind model.Type) bool {
	switch want {
	case model.String, model.Reference:
		return kind == model.String || kind == model.Integer
	case model.Integer:
		return kind == model.Integer || kind == model.String
	case model.Boolean:
		return kind == model.Boolean || kind == model.Integer || kind == model.String
	case model.DateTime:
		return kind == model.DateTime || kind == model.String
	}
	return false
}

// tableName is the quoted table name for SQL.
func (c *Connector) tableName() string {
	if c.s.schema != "" {
		return quote(c.s.schema) + "." + quote(c.s.table)
	}
	return quote(c.s.table)
}

// quote quotes a validated identifier (both dialects use double quotes).
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// TestConnection connects, checks the table and its columns against the
// configuration, and reads one row. The error wraps ErrUnreachable or
// ErrTable and says what to check.
func (c *Connector) TestConnection(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return c.unreachable(err)
	}
	t, err := c.readTable(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.tab = t
	c.mu.Unlock()
	q := "SELECT " + quote(c.s.anchor.name) + " FROM " + c.tableName()
	where, args := c.scopeWhere(nil, nil)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := c.db.QueryContext(ctx, q+" LIMIT 1", args...)
	if err != nil {
		return c.errorf("read table %s: %w; check that the user may SELECT from it", c.tableName(), err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return c.errorf("read table %s: %w", c.tableName(), err)
	}
	return nil
}

// Schema describes the one object type with the attributes of the mapped
// columns, checked against the table's columns.
func (c *Connector) Schema(ctx context.Context) (*model.Schema, error) {
	if _, err := c.table(ctx); err != nil {
		return nil, err
	}
	ot := model.ObjectTypeSchema{Name: c.s.objectType}
	for _, col := range c.s.cols {
		ot.Attributes = append(ot.Attributes, model.AttributeSchema{Name: col.attr, Type: col.typ})
	}
	sort.Slice(ot.Attributes, func(i, j int) bool { return ot.Attributes[i].Name < ot.Attributes[j].Name })
	return &model.Schema{ObjectTypes: []model.ObjectTypeSchema{ot}}, nil
}

var _ connector.WriteOnlyAttributer = (*Connector)(nil)

// WriteOnlyAttributes are the attributes of secret columns: written by
// exports, never imported, so the engine keeps the values it last exported
// as the row's (it exports one when the row is added and when the desired
// value changes, not at every cycle because an import did not return it).
func (c *Connector) WriteOnlyAttributes() []string {
	var out []string
	for _, col := range c.s.cols {
		if col.secret {
			out = append(out, col.attr)
		}
	}
	return out
}
