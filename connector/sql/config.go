package sql

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/idsync/idsync/model"
)

// Config is the configuration block of a sql connector. docs/connector-sql.md
// explains every key.
type Config struct {
	Driver        string            `yaml:"driver" json:"driver"`
	DSN           string            `yaml:"dsn" json:"-"` // a secret: it may hold a password
	Table         string            `yaml:"table" json:"table"`
	ObjectType    string            `yaml:"objectType,omitempty" json:"objectType,omitempty"`
	Anchor        Anchor            `yaml:"anchor" json:"anchor"`
	Columns       map[string]Column `yaml:"columns" json:"columns"`
	DeltaColumn   string            `yaml:"deltaColumn,omitempty" json:"deltaColumn,omitempty"`
	DeletedColumn string            `yaml:"deletedColumn,omitempty" json:"deletedColumn,omitempty"`
	PageSize      int               `yaml:"pageSize,omitempty" json:"pageSize,omitempty"`
	// Scope limits the connector to the rows of one tenant of a shared
	// table: every statement it runs has these column = value conditions,
	// and an add writes them.
	Scope []Scope `yaml:"scope,omitempty" json:"scope,omitempty"`
}

// Scope is one column = value condition of Config.Scope. The value is
// given as text and converted to the column's type in the database
// (text, integer or boolean).
type Scope struct {
	Column string `yaml:"column" json:"column"`
	Value  string `yaml:"value" json:"value"`
}

// ResolvePaths makes a relative SQLite database path relative to baseDir,
// the directory of the configuration file (config.PathResolver).
func (c *Config) ResolvePaths(baseDir string) {
	if !strings.EqualFold(c.Driver, DriverSQLite) || c.DSN == "" || strings.HasPrefix(c.DSN, ":memory:") {
		return
	}
	path, query, _ := strings.Cut(c.DSN, "?")
	prefix := ""
	if strings.HasPrefix(path, "file:") {
		prefix, path = "file:", strings.TrimPrefix(path, "file:")
	}
	if path == "" || filepath.IsAbs(path) || strings.HasPrefix(path, "//") {
		return
	}
	c.DSN = prefix + filepath.Join(baseDir, path)
	if query != "" {
		c.DSN += "?" + query
	}
}

// Anchor says which column holds the anchor and where its value comes from.
type Anchor struct {
	Column string `yaml:"column" json:"column"`
	// Source is attribute, idsync or database (see the Source constants).
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Type of the anchor column's values: string or integer.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// MatchColumns find the row an add created when the add is replayed
	// (source database only, where the anchor cannot).
	MatchColumns []string `yaml:"matchColumns,omitempty" json:"matchColumns,omitempty"`
}

// Column maps one column to an attribute.
type Column struct {
	Attribute string `yaml:"attribute" json:"attribute"`
	// Type is string (the default), integer, boolean, datetime or reference.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Secret columns are written by exports and never imported, logged nor
	// put in error messages (a SIP password).
	Secret bool `yaml:"secret,omitempty" json:"secret,omitempty"`
}

// Anchor sources.
const (
	// SourceAttribute: the anchor is the value of an exported attribute,
	// the one columns maps to the anchor column (an e-mail, a SIP user).
	SourceAttribute = "attribute"
	// SourceIdsync: the anchor column receives the anchor idsync proposes
	// for an add (a UUID).
	SourceIdsync = "idsync"
	// SourceDatabase: the database generates the anchor (an identity or
	// serial column); an add returns it.
	SourceDatabase = "database"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DefaultPageSize is the number of rows an import reads per query.
const DefaultPageSize = 500

// column is a validated column mapping.
type column struct {
	name   string // column name
	attr   string // attribute name
	typ    model.Type
	secret bool
	anchor bool // the anchor column
}

// settings is a validated Config.
type settings struct {
	driver       string
	dsn          string
	schema       string // "" for the default schema
	table        string
	objectType   string
	anchor       *column // always set; also in cols when mapped to an attribute
	source       string
	matchColumns []*column
	cols         []*column // mapped columns, sorted by column name
	byAttr       map[string]*column
	byCol        map[string]*column
	delta        string
	deleted      string
	pageSize     int
	scope        []Scope // column = value conditions, in configuration order
}

// identRE is what a table or column name may be: a letter or underscore,
// then letters, digits, underscores; quoted when used, so names are
// case-sensitive as the database stores them.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func checkIdent(key, name string) error {
	if name == "" {
		return fmt.Errorf("%s is required", key)
	}
	if !identRE.MatchString(name) {
		return fmt.Errorf("%s %q: a name is a letter or underscore, then letters, digits or underscores, at most 63 characters", key, name)
	}
	return nil
}

// parseType reads a column type of the configuration.
func parseType(s string) (model.Type, error) {
	switch strings.ToLower(s) {
	case "", "string":
		return model.String, nil
	case "integer":
		return model.Integer, nil
	case "boolean":
		return model.Boolean, nil
	case "datetime":
		return model.DateTime, nil
	case "reference":
		return model.Reference, nil
	}
	return 0, fmt.Errorf("type %q: want string, integer, boolean, datetime or reference", s)
}

func newSettings(cfg Config) (*settings, error) {
	s := &settings{driver: strings.ToLower(cfg.Driver), dsn: cfg.DSN, objectType: cfg.ObjectType, pageSize: cfg.PageSize,
		byAttr: map[string]*column{}, byCol: map[string]*column{}}
	switch s.driver {
	case DriverSQLite, DriverPostgres:
	case "":
		return nil, errors.New("driver is required: sqlite or postgres")
	default:
		return nil, fmt.Errorf("driver %q: want sqlite or postgres", cfg.Driver)
	}
	if s.dsn == "" {
		return nil, errors.New("dsn is required (sqlite: a file path or file: URI; postgres: postgres://user@host/db or key=value pairs; give the password as ${ENV})")
	}
	if s.driver == DriverPostgres {
		if err := checkPostgresDSN(s.dsn); err != nil {
			return nil, err
		}
	}
	schema, table, dotted := strings.Cut(cfg.Table, ".")
	if !dotted {
		schema, table = "", cfg.Table
	} else if err := checkIdent("table (schema part)", schema); err != nil {
		return nil, err
	}
	if err := checkIdent("table", table); err != nil {
		return nil, err
	}
	s.schema, s.table = schema, table
	if s.objectType == "" {
		return nil, errors.New("objectType is required: the CS object type of the rows (e.g. subscriber or user), as rules name it in csObjectType")
	}
	if s.pageSize < 0 {
		return nil, fmt.Errorf("pageSize must be positive, not %d", s.pageSize)
	}
	if s.pageSize == 0 {
		s.pageSize = DefaultPageSize
	}

	if len(cfg.Columns) == 0 {
		return nil, errors.New("columns is required: map each column to an attribute, e.g. columns: {email: {attribute: mail}}")
	}
	for _, name := range sortedKeys(cfg.Columns) {
		cc := cfg.Columns[name]
		if err := checkIdent("columns", name); err != nil {
			return nil, err
		}
		if cc.Attribute == "" {
			return nil, fmt.Errorf("columns.%s.attribute is required: the attribute the column holds", name)
		}
		t, err := parseType(cc.Type)
		if err != nil {
			return nil, fmt.Errorf("columns.%s: %w", name, err)
		}
		if other := s.byAttr[cc.Attribute]; other != nil {
			return nil, fmt.Errorf("columns.%s: attribute %q is already the attribute of column %s", name, cc.Attribute, other.name)
		}
		c := &column{name: name, attr: cc.Attribute, typ: t, secret: cc.Secret}
		s.cols = append(s.cols, c)
		s.byAttr[c.attr] = c
		s.byCol[c.name] = c
	}

	a := cfg.Anchor
	if err := checkIdent("anchor.column", a.Column); err != nil {
		return nil, err
	}
	s.source = strings.ToLower(a.Source)
	mapped := s.byCol[a.Column]
	if s.source == "" {
		s.source = SourceIdsync
		if mapped != nil {
			s.source = SourceAttribute
		}
	}
	at := a.Type
	if at == "" {
		at = "string"
		if s.source == SourceDatabase {
			at = "integer"
		}
	}
	var anchorType model.Type
	switch strings.ToLower(at) {
	case "string":
		anchorType = model.String
	case "integer":
		anchorType = model.Integer
	default:
		return nil, fmt.Errorf("anchor.type %q: want string or integer", a.Type)
	}
	switch s.source {
	case SourceAttribute:
		if mapped == nil {
			return nil, fmt.Errorf("anchor.source attribute: map the anchor column %s to the attribute exports set under columns", a.Column)
		}
		if mapped.secret {
			return nil, fmt.Errorf("anchor.column %s: a secret column cannot be the anchor", a.Column)
		}
		if mapped.typ != model.String && mapped.typ != model.Integer {
			return nil, fmt.Errorf("anchor.column %s: the anchor's type is string or integer, not %s", a.Column, mapped.typ)
		}
		if a.Type != "" && mapped.typ != anchorType {
			return nil, fmt.Errorf("anchor.type %s differs from columns.%s.type %s", a.Type, a.Column, mapped.typ)
		}
		anchorType = mapped.typ
	case SourceIdsync:
		if anchorType != model.String {
			return nil, errors.New("anchor.source idsync: the anchor is a UUID, anchor.type must be string")
		}
	case SourceDatabase:
	default:
		return nil, fmt.Errorf("anchor.source %q: want attribute, idsync or database", a.Source)
	}
	if mapped != nil {
		if mapped.typ != anchorType && s.source != SourceAttribute {
			return nil, fmt.Errorf("columns.%s.type %s differs from anchor.type %s", a.Column, mapped.typ, anchorType)
		}
		mapped.anchor = true
		s.anchor = mapped
	} else {
		s.anchor = &column{name: a.Column, typ: anchorType, anchor: true}
	}
	if s.source == SourceDatabase {
		if len(a.MatchColumns) == 0 {
			return nil, errors.New("anchor.matchColumns is required with anchor.source database: one or more mapped columns under a unique constraint (an e-mail, a SIP user) that find the row an add created when the add is replayed after a crash; without them a replay would add the row twice")
		}
	} else if len(a.MatchColumns) > 0 {
		return nil, fmt.Errorf("anchor.matchColumns applies to anchor.source database only (the anchor itself finds the row with source %s)", s.source)
	}
	for _, m := range a.MatchColumns {
		c := s.byCol[m]
		switch {
		case c == nil:
			return nil, fmt.Errorf("anchor.matchColumns: %q is not a column under columns", m)
		case c.secret:
			return nil, fmt.Errorf("anchor.matchColumns: %s is a secret column", m)
		case c.anchor:
			return nil, fmt.Errorf("anchor.matchColumns: %s is the anchor column", m)
		}
		s.matchColumns = append(s.matchColumns, c)
	}

	for _, k := range []struct {
		key  string
		v    string
		dest *string
	}{{"deltaColumn", cfg.DeltaColumn, &s.delta}, {"deletedColumn", cfg.DeletedColumn, &s.deleted}} {
		if k.v == "" {
			continue
		}
		if err := checkIdent(k.key, k.v); err != nil {
			return nil, err
		}
		if k.v == a.Column {
			return nil, fmt.Errorf("%s %s is the anchor column", k.key, k.v)
		}
		if s.byCol[k.v] != nil {
			return nil, fmt.Errorf("%s %s is also under columns: the connector maintains it, it is no attribute", k.key, k.v)
		}
		*k.dest = k.v
	}
	if s.delta != "" && s.delta == s.deleted {
		return nil, errors.New("deltaColumn and deletedColumn must be two columns")
	}
	if err := s.checkScope(cfg.Scope); err != nil {
		return nil, err
	}
	return s, nil
}

// checkScope validates the scope: each column named once, and none the
// connector or an attribute writes otherwise.
func (s *settings) checkScope(scope []Scope) error {
	seen := map[string]bool{}
	for i, sc := range scope {
		key := fmt.Sprintf("scope[%d].column", i)
		if err := checkIdent(key, sc.Column); err != nil {
			return err
		}
		switch {
		case seen[sc.Column]:
			return fmt.Errorf("%s %s is in the scope twice", key, sc.Column)
		case sc.Value == "":
			return fmt.Errorf("scope[%d].value is required: the value column %s holds in this connector's rows (a tenant's id)", i, sc.Column)
		case sc.Column == s.anchor.name:
			return fmt.Errorf("%s %s is the anchor column: a scope column holds the tenant, the anchor a row of it", key, sc.Column)
		case s.byCol[sc.Column] != nil:
			return fmt.Errorf("%s %s is also under columns (attribute %s): the scope's value is the column's only value, no attribute may write it; remove it from columns", key, sc.Column, s.byCol[sc.Column].attr)
		case sc.Column == s.delta || sc.Column == s.deleted:
			return fmt.Errorf("%s %s is the deltaColumn or deletedColumn", key, sc.Column)
		}
		seen[sc.Column] = true
		s.scope = append(s.scope, sc)
	}
	return nil
}

// checkPostgresDSN checks that a PostgreSQL DSN does not turn off TLS
// verification by accident: sslmode disable/allow/prefer/require skip the
// certificate check, which is refused except on loopback and Unix sockets.
func checkPostgresDSN(dsn string) error {
	host, mode := "", ""
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return errors.New("dsn: not a valid postgres:// URL")
		}
		host = u.Hostname()
		mode = u.Query().Get("sslmode")
		if h := u.Query().Get("host"); h != "" {
			host = h
		}
	} else {
		for _, f := range strings.Fields(dsn) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "host":
				host = v
			case "sslmode":
				mode = v
			}
		}
	}
	local := host == "" || strings.HasPrefix(host, "/") || host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
	switch mode {
	case "verify-full", "verify-ca":
		return nil
	case "":
		if local {
			return nil
		}
		return fmt.Errorf("dsn: host %s: set sslmode=verify-full (with sslrootcert when the server's CA is private) so that the server's certificate is checked", host)
	case "disable", "allow", "prefer", "require":
		if local {
			return nil
		}
		return fmt.Errorf("dsn: sslmode=%s does not check the server's certificate of host %s: use sslmode=verify-full", mode, host)
	}
	return fmt.Errorf("dsn: unknown sslmode %q", mode)
}

// redactDSN hides the password of a DSN for messages.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && strings.Contains(dsn, "://") {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	f := strings.Fields(dsn)
	for i, kv := range f {
		if k, _, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "password") {
			f[i] = k + "=xxxxx"
		}
	}
	return strings.Join(f, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}
