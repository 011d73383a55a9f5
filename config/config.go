// Package config loads idsync's configuration file: the store, the
// connectors, the rule files, the scheduler and the safety settings.
//
// Loading is strict: defaults first, then the file; unknown keys are errors
// reported with file:line; then a table of validation checks.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Config is the whole configuration.
type Config struct {
	// DataDir holds the embedded store and run artefacts (preview files).
	DataDir string `yaml:"dataDir"`
	// Store selects the store backend.
	Store StoreConfig `yaml:"store"`
	// Connectors are the configured links to external systems.
	Connectors []Connector `yaml:"connectors"`
	// Rules are rule files or glob patterns, relative to the config file.
	Rules []string `yaml:"rules"`
	// Scheduler configures the sync cycle of `idsync serve`.
	Scheduler Scheduler `yaml:"scheduler"`
	// Safety configures the accidental-delete guard.
	Safety Safety `yaml:"safety"`
	// Limits bound the values accepted at import and export (limits.go).
	Limits Limits `yaml:"limits"`
	// Engine tunes the synchronization engine.
	Engine EngineConfig `yaml:"engine"`
	// OutOfBox generates the out-of-box Azure AD Connect rules for the
	// named forests and cloud directory.
	OutOfBox OutOfBox `yaml:"outOfBox"`
	// StagingMode makes this server import and synchronize but never
	// export (the passive server of an active/passive pair); its pending
	// exports can be previewed.
	StagingMode bool `yaml:"stagingMode"`
	// HA makes `idsync serve` one of an active/passive group on a
	// PostgreSQL store (package ha).
	HA HA `yaml:"ha"`
	// RunHistory configures how long run history is kept.
	RunHistory RunHistory `yaml:"runHistory"`
	// Security configures the key that seals secret attributes in the
	// store, and which attributes are secret (security.go).
	Security Security `yaml:"security"`
	// Tenants configures a service provider's tenants (R5): how their
	// domains are verified.
	Tenants Tenants `yaml:"tenants"`
	// Console configures the web console's sign-in (oidc.go).
	Console Console `yaml:"console"`

	// Path is the file the configuration was loaded from.
	Path string `yaml:"-"`
}

// StoreConfig selects and configures the store.
type StoreConfig struct {
	// Type is "sqlite" (the default, embedded) or "postgres".
	Type string `yaml:"type"`
	// Path of the SQLite database (default: <dataDir>/idsync.db); its
	// run lock is the file Path + ".lock". With postgres the run lock is
	// an advisory lock in the database.
	Path string `yaml:"path"`
	// DSN is the PostgreSQL database of type postgres: a postgres:// URL
	// or libpq key=value pairs. It holds a password: write it as
	// ${NAME} references (anywhere in the DSN), read from the environment
	// when the configuration is loaded; it is never logged, and shown
	// masked (MaskDSN).
	DSN string `yaml:"dsn" json:"-"`
	// SearchAttributes are the metaverse attributes the store indexes for
	// the console's and the API's search (search.go); unset:
	// store.DefaultSearchAttrs.
	SearchAttributes []string `yaml:"searchAttributes"`
}

// HA configures high availability: several `idsync serve` processes on
// one PostgreSQL store, one active (it exports), the others standbys.
type HA struct {
	// Enabled makes `idsync serve` take part: it exports only while it
	// holds the active lease, and stands by otherwise.
	Enabled bool `yaml:"enabled"`
	// TakeoverAfter is the longest a standby takes to export once the
	// active server stops or loses the database (default 30s). It also
	// sets how soon a process whose run lock's connection fails stops
	// exporting (a sixth of it), with or without Enabled.
	TakeoverAfter Duration `yaml:"takeoverAfter"`
}

// Store types.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// String describes the store without its password, for messages.
func (s StoreConfig) String() string {
	if s.Type == StorePostgres {
		return "postgres " + MaskDSN(s.DSN)
	}
	return "sqlite " + s.Path
}

var (
	dsnURLPassword = regexp.MustCompile(`^([a-z]+://[^:/@?#]*:)[^@/?#]*@`)
	dsnKeyPassword = regexp.MustCompile(`(^|\s)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
	dsnEnvRef      = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// escapeAll percent-encodes every byte of s but the unreserved characters
// of RFC 3986, which keeps its meaning in any part of a URL.
func escapeAll(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// MaskDSN returns a DSN with its password replaced by xxxxx.
func MaskDSN(dsn string) string {
	dsn = dsnURLPassword.ReplaceAllString(dsn, "${1}xxxxx@")
	return dsnKeyPassword.ReplaceAllString(dsn, "${1}${2}xxxxx")
}

// DSNPassword returns the password of a DSN ("" when none), for masking
// it wherever it might appear.
func DSNPassword(dsn string) string {
	if m := dsnURLPassword.FindStringSubmatch(dsn); m != nil {
		full := dsnURLPassword.FindString(dsn)
		if p, err := url.PathUnescape(full[len(m[1]) : len(full)-1]); err == nil {
			return p
		}
	}
	if m := dsnKeyPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[3], "'")
	}
	return ""
}

// ExpandDSN replaces the ${NAME} references of a DSN with the variables'
// values; an unset variable is an error naming it. In a URL the values are
// percent-encoded (a password may hold @, : or /); in key=value pairs they
// are inserted as they are.
func ExpandDSN(dsn string) (string, error) {
	isURL := strings.Contains(dsn, "://")
	var missing []string
	out := dsnEnvRef.ReplaceAllStringFunc(dsn, func(ref string) string {
		name := dsnEnvRef.FindStringSubmatch(ref)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		if isURL {
			return escapeAll(v)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// Connector is one configured connector.
type Connector struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Partitions to synchronize (domain-based filtering); empty = all.
	Partitions []string `yaml:"partitions"`
	// Config is the type-specific block, decoded by the connector's factory.
	Config Block `yaml:"config"`
	// DeleteThreshold overrides Safety.DeleteThreshold for this connector.
	DeleteThreshold *int `yaml:"deleteThreshold"`
	// DeleteThresholdPercent overrides Safety.DeleteThresholdPercent.
	DeleteThresholdPercent *int `yaml:"deleteThresholdPercent"`
	// ImportShrinkPercent overrides Safety.ImportShrinkPercent.
	ImportShrinkPercent *int `yaml:"importShrinkPercent"`
	// Limits overrides the top-level limits for this connector.
	Limits *Limits `yaml:"limits"`
	// Parameters are values rules may refer to, e.g. Domain.FQDN.
	Parameters map[string]string `yaml:"parameters"`
	// UniqueAttributes must not share a value between two of the
	// connector's objects linked to different metaverse objects (a cloud
	// directory's userPrincipalName, mail, proxyAddresses): an export that
	// would is an error on the object (R1.10).
	UniqueAttributes []string `yaml:"uniqueAttributes"`
}

// OutOfBox selects the out-of-box rule set (package outofbox): Azure AD
// Connect's default rules for Active Directory forests synchronized to a
// cloud directory. Unset (no cloud) means no out-of-box rules.
type OutOfBox struct {
	// Cloud is the cloud directory connector.
	Cloud string `yaml:"cloud"`
	// Forests are the Active Directory connectors, in precedence order.
	Forests []string `yaml:"forests"`
	// MatchUsersOnMail joins users of different forests on mail (R1.10).
	MatchUsersOnMail bool `yaml:"matchUsersOnMail"`
	// CloudDN is the DN template of objects created in a cloud directory
	// that has DNs (LDAP-backed), e.g. "cn={sourceAnchor},ou=people,dc=cloud".
	CloudDN string `yaml:"cloudDN"`
	// GroupFilters maps forests to pilot groups (group-based filtering).
	GroupFilters map[string]string `yaml:"groupFilters"`
	// ManagedDomain adds the managed-domain rules (R4): users and groups
	// flow one way into an Active Directory domain. Independent of Cloud.
	ManagedDomain *ManagedDomain `yaml:"managedDomain"`
}

// ManagedDomain selects the managed-domain rule set (outofbox.ManagedDomain).
type ManagedDomain struct {
	// Source is the cloud directory connector the metaverse gets its users
	// and groups from; empty when the metaverse is fed otherwise.
	Source string `yaml:"source"`
	// Target is the managed domain's AD connector.
	Target string `yaml:"target"`
	// BaseDN is the domain's naming context; objects go to
	// OU=AADDC Users,<baseDN>.
	BaseDN string `yaml:"baseDN"`
	// SourcePassword is the attribute of the source's users carrying a
	// password (an initial password), flowed into the metaverse's password
	// and on to unicodePwd. It must be a secret attribute.
	SourcePassword string `yaml:"sourcePassword"`
	// AzureADAttributes writes mailNickname and objectId to
	// msDS-AzureADMailNickname and msDS-AzureADObjectId, which the
	// domain's schema must have.
	AzureADAttributes bool `yaml:"azureADAttributes"`
}

// DefaultCloudUnique are the attributes a cloud directory keeps unique; the
// out-of-box cloud connector gets them unless it sets uniqueAttributes.
var DefaultCloudUnique = []string{"userPrincipalName", "mail", "proxyAddresses", "sourceAnchor"}

// Tenants configures tenant domain verification (package tenant).
type Tenants struct {
	// Resolver is the DNS server (host:port) domain verification looks
	// TXT records up at; empty = the system's resolver.
	Resolver string `yaml:"resolver"`
	// RecordName is the label under a domain that holds its verification
	// record (default _idsync: _idsync.contoso.com).
	RecordName string `yaml:"recordName"`
	// VerifyFor is how long a verification attempt looks for the record
	// before the domain fails (default 1h).
	VerifyFor Duration `yaml:"verifyFor"`
	// Template is the directory of the configuration every tenant's
	// synchronization is made from (package tenant, Render), relative to
	// this file; empty: tenants have no synchronization of their own.
	Template string `yaml:"template"`
	// Dir holds each tenant's configuration and store, in a directory per
	// tenant (default <dataDir>/tenants).
	Dir string `yaml:"dir"`
	// Interval is how often idsync serve re-synchronizes every tenant whose
	// onboarding was confirmed (default 1h; 0s: never).
	Interval *Duration `yaml:"interval"`
	// Consent configures the Entra ID admin consent of the provider's
	// multi-tenant application, from the console (empty: off).
	Consent TenantConsent `yaml:"consent"`
}

// TenantConsent is the provider's multi-tenant Entra ID application that a
// tenant's administrator consents to (connector/graph Consent).
type TenantConsent struct {
	// ClientID is the application (client) ID.
	ClientID string `yaml:"clientId"`
	// RedirectURL is the console's /consent/callback as the browser
	// reaches it, registered as a redirect URI of the application.
	RedirectURL string `yaml:"redirectURL"`
	// Authority is the Microsoft identity platform (default
	// https://login.microsoftonline.com).
	Authority string `yaml:"authority"`
	// Setting is the tenant setting the consenting directory's ID is
	// written to (default directoryId), which the template's graph
	// connector reads.
	Setting string `yaml:"setting"`
}

// TenantInterval is tenants.interval with its default (0: off).
func (c *Config) TenantInterval() time.Duration {
	if c.Tenants.Interval == nil {
		return time.Hour
	}
	return c.Tenants.Interval.Duration
}

// Scheduler configures the sync cycle.
type Scheduler struct {
	// Interval between cycles (default 30m, R2.3).
	Interval Duration `yaml:"interval"`
	// Order of connectors in a cycle; default: configuration order.
	Order []string `yaml:"order"`
	// LiveInterval turns on live mode under `idsync serve`: every
	// LiveInterval the connectors' change feeds are polled and a change is
	// synchronized and exported at once. 0 (the default) = off.
	LiveInterval Duration `yaml:"liveInterval"`
}

// RunHistory configures the run history.
type RunHistory struct {
	// Retention is how long runs and their per-object errors are kept
	// (default 168h, the 7 days Azure AD Connect keeps); 0 keeps them
	// forever. The newest run of each connector and profile is always kept.
	Retention *Duration `yaml:"retention"`
}

// DefaultRunRetention is how long run history is kept by default.
const DefaultRunRetention = 7 * 24 * time.Hour

// RunRetention returns how long run history is kept (0: forever).
func (c *Config) RunRetention() time.Duration {
	if r := c.RunHistory.Retention; r != nil {
		return r.Duration
	}
	return DefaultRunRetention
}

// Safety configures the accidental-delete guard (R2.4).
type Safety struct {
	// PreventAccidentalDeletes is on by default.
	PreventAccidentalDeletes *bool `yaml:"preventAccidentalDeletes"`
	// DeleteThreshold is the largest number of deletes an export run may
	// perform without an explicit allowance (default 500).
	DeleteThreshold int `yaml:"deleteThreshold"`
	// DeleteThresholdPercent also stops an export whose deletes (disables
	// included) exceed this percentage of the connector's objects, once
	// they number more than DeleteThresholdMinimum (defaults 20 and 10);
	// 0 leaves only the count.
	DeleteThresholdPercent int `yaml:"deleteThresholdPercent"`
	DeleteThresholdMinimum int `yaml:"deleteThresholdMinimum"`
	// PreventImportShrink stops an import that would delete all of a
	// connector space partition, or more than ImportShrinkPercent of it
	// once more than ImportShrinkMinimum objects (defaults: on, 50, 10).
	PreventImportShrink *bool `yaml:"preventImportShrink"`
	ImportShrinkPercent int   `yaml:"importShrinkPercent"`
	ImportShrinkMinimum int   `yaml:"importShrinkMinimum"`
}

// EngineConfig tunes the engine.
type EngineConfig struct {
	// BatchSize is the number of objects per store transaction during imports
	// and per call to a connector's export (default 1000).
	BatchSize int `yaml:"batchSize"`
	// WholeSyncLimit: a full synchronization loads the store whole when it
	// holds at most this many objects, and runs in parts of SyncChunk
	// objects above it (0: the engine's default, 400,000; -1: always whole).
	WholeSyncLimit int64 `yaml:"wholeSyncLimit"`
	// SyncChunk is the number of objects per part (0: 20,000).
	SyncChunk int `yaml:"syncChunk"`
}

// Duration is a time.Duration written as "30m", "1h".
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"'`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (write e.g. 30m or 1h): %w", s, err)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() ([]byte, error) { return []byte(d.String()), nil }

// Block is a configuration block decoded later by its owner (a connector's
// factory). It keeps the YAML node so errors still carry file:line.
type Block struct {
	node ast.Node
	file string
	// console lists the keys the console-managed file set (console.go).
	console []string
}

// UnmarshalYAML keeps the node.
func (b *Block) UnmarshalYAML(n ast.Node) error { b.node = n; return nil }

// PathResolver is implemented by connector configurations that hold file
// paths: relative paths are resolved against the configuration file's
// directory, so idsync behaves the same from any working directory.
type PathResolver interface {
	ResolvePaths(baseDir string)
}

// Text returns the block as written in the configuration file (before
// ${NAME} references are expanded), for change detection.
func (b Block) Text() string {
	if b.node == nil {
		return ""
	}
	return b.node.String()
}

// Decode decodes the block into v strictly (unknown keys are errors). A
// string value written ${NAME} is read from the environment variable NAME.
func (b Block) Decode(v any) error {
	if b.node != nil {
		if err := yaml.NodeToValue(b.node, v, yaml.Strict()); err != nil {
			return positioned(b.file, err)
		}
	}
	if err := expandEnv(v); err != nil {
		return positioned(b.file, err)
	}
	if r, ok := v.(PathResolver); ok && b.file != "" {
		r.ResolvePaths(filepath.Dir(b.file))
	}
	return nil
}

// DeletesGuarded reports whether the accidental-delete guard is on.
func (s Safety) DeletesGuarded() bool {
	return s.PreventAccidentalDeletes == nil || *s.PreventAccidentalDeletes
}

// ShrinkGuarded reports whether the import-shrink guard is on.
func (s Safety) ShrinkGuarded() bool {
	return s.PreventImportShrink == nil || *s.PreventImportShrink
}

// DeletePercent returns the delete guard's percentage for a connector.
func (c *Config) DeletePercent(connector string) int {
	if cc := c.Connector(connector); cc != nil && cc.DeleteThresholdPercent != nil {
		return *cc.DeleteThresholdPercent
	}
	return c.Safety.DeleteThresholdPercent
}

// ShrinkPercent returns the import-shrink guard's percentage for a
// connector (0: the guard is off).
func (c *Config) ShrinkPercent(connector string) int {
	if !c.Safety.ShrinkGuarded() {
		return 0
	}
	if cc := c.Connector(connector); cc != nil && cc.ImportShrinkPercent != nil {
		return *cc.ImportShrinkPercent
	}
	return c.Safety.ImportShrinkPercent
}

// Threshold returns the delete threshold for a connector.
func (c *Config) Threshold(connector string) int {
	if cc := c.Connector(connector); cc != nil && cc.DeleteThreshold != nil {
		return *cc.DeleteThreshold
	}
	return c.Safety.DeleteThreshold
}

// Connector returns the named connector config, or nil.
func (c *Config) Connector(name string) *Connector {
	for i := range c.Connectors {
		if c.Connectors[i].Name == name {
			return &c.Connectors[i]
		}
	}
	return nil
}

// Lookup returns the named connector config, or an error that lists the
// configured ones.
func (c *Config) Lookup(name string) (*Connector, error) {
	if cc := c.Connector(name); cc != nil {
		return cc, nil
	}
	return nil, fmt.Errorf("connector %q is not configured (configured: %v)", name, c.Names())
}

// CycleOrder returns the order connectors run in within a cycle: those
// scheduler.order lists, then the others in configuration order.
func (c *Config) CycleOrder() []string {
	out := append([]string(nil), c.Scheduler.Order...)
	listed := map[string]bool{}
	for _, o := range out {
		listed[o] = true
	}
	for _, cc := range c.Connectors {
		if !listed[cc.Name] {
			out = append(out, cc.Name)
		}
	}
	return out
}

// Names returns the connector names in configuration order.
func (c *Config) Names() []string {
	n := make([]string, len(c.Connectors))
	for i, cc := range c.Connectors {
		n[i] = cc.Name
	}
	return n
}

// Default returns the configuration defaults.
func Default() *Config {
	return &Config{
		DataDir:   ".",
		Store:     StoreConfig{Type: "sqlite"},
		Scheduler: Scheduler{Interval: Duration{30 * time.Minute}},
		Safety: Safety{DeleteThreshold: 500, DeleteThresholdPercent: 20, DeleteThresholdMinimum: 10,
			ImportShrinkPercent: 50, ImportShrinkMinimum: 10},
		Engine: EngineConfig{BatchSize: 1000},
		HA:     HA{TakeoverAfter: Duration{30 * time.Second}},
	}
}

// Load reads and validates a configuration file, and merges the
// console-managed connector settings next to it (ConsolePath).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if err := c.applyConsole(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse parses and validates configuration data; name is used in messages
// and to resolve relative paths.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	if !emptyYAML(data) {
		if err := yaml.UnmarshalWithOptions(data, c, yaml.Strict()); err != nil {
			return nil, positioned(name, err)
		}
	}
	c.Path = name
	base := filepath.Dir(name)
	for i := range c.Connectors {
		c.Connectors[i].Config.file = name
	}
	if !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(base, c.DataDir)
	}
	if c.Store.Path == "" {
		c.Store.Path = filepath.Join(c.DataDir, "idsync.db")
	} else if !filepath.IsAbs(c.Store.Path) {
		c.Store.Path = filepath.Join(base, c.Store.Path)
	}
	if c.Tenants.Dir == "" {
		c.Tenants.Dir = filepath.Join(c.DataDir, "tenants")
	} else if !filepath.IsAbs(c.Tenants.Dir) {
		c.Tenants.Dir = filepath.Join(base, c.Tenants.Dir)
	}
	if t := c.Tenants.Template; t != "" && !filepath.IsAbs(t) {
		c.Tenants.Template = filepath.Join(base, t)
	}
	if c.Store.DSN != "" {
		dsn, err := ExpandDSN(c.Store.DSN)
		if err != nil {
			return nil, fmt.Errorf("%s: store.dsn: %w", name, err)
		}
		c.Store.DSN = dsn
	}
	if f := c.Security.SecretKeyFile; f != "" && !filepath.IsAbs(f) {
		c.Security.SecretKeyFile = filepath.Join(base, f)
	}
	c.resolveOIDC(base)
	for i, r := range c.Rules {
		if !filepath.IsAbs(r) {
			c.Rules[i] = filepath.Join(base, r)
		}
	}
	for i := range c.Connectors {
		if cc := &c.Connectors[i]; cc.Name == c.OutOfBox.Cloud && cc.UniqueAttributes == nil {
			cc.UniqueAttributes = DefaultCloudUnique
		}
	}
	if errs := c.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = "  " + e.Error()
		}
		return nil, fmt.Errorf("%s: invalid configuration:\n%s", name, strings.Join(msgs, "\n"))
	}
	return c, nil
}

// Validate checks the configuration and returns every problem found.
func (c *Config) Validate() []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Store.Type == StoreSQLite || c.Store.Type == StorePostgres, "store.type %q is not supported (use sqlite or postgres)", c.Store.Type)
	check(c.Store.Type != StorePostgres || c.Store.DSN != "",
		"store.dsn is required with store.type postgres, e.g. postgres://idsync:${PGPASSWORD}@db.example.com:5432/idsync?sslmode=verify-full")
	check(c.Store.Type == StorePostgres || c.Store.DSN == "", "store.dsn is only for store.type postgres (the store type is %s)", c.Store.Type)
	errs = append(errs, c.validateSearch()...)
	check(!c.HA.Enabled || c.Store.Type == StorePostgres,
		"ha.enabled needs store.type postgres: the servers of a high-availability group share their store (see docs/operations.md)")
	check(!c.HA.Enabled || !c.StagingMode,
		"ha.enabled with stagingMode: true: a server that never exports cannot take over; remove one of them")
	check(c.HA.TakeoverAfter.Duration >= 3*time.Second && c.HA.TakeoverAfter.Duration <= 10*time.Minute,
		"ha.takeoverAfter must be between 3s and 10m, not %s", c.HA.TakeoverAfter)
	check(c.Safety.DeleteThreshold >= 0, "safety.deleteThreshold must be ≥ 0, not %d", c.Safety.DeleteThreshold)
	check(c.Safety.DeleteThresholdPercent >= 0 && c.Safety.DeleteThresholdPercent <= 100,
		"safety.deleteThresholdPercent must be between 0 (off) and 100, not %d", c.Safety.DeleteThresholdPercent)
	check(c.Safety.DeleteThresholdMinimum >= 0, "safety.deleteThresholdMinimum must be ≥ 0, not %d", c.Safety.DeleteThresholdMinimum)
	check(c.Safety.ImportShrinkPercent >= 1 && c.Safety.ImportShrinkPercent <= 100,
		"safety.importShrinkPercent must be between 1 and 100 (100: stop only an import that would delete everything; turn the guard off with preventImportShrink: false), not %d", c.Safety.ImportShrinkPercent)
	check(c.Safety.ImportShrinkMinimum >= 0, "safety.importShrinkMinimum must be ≥ 0, not %d", c.Safety.ImportShrinkMinimum)
	check(c.Engine.BatchSize >= 1 && c.Engine.BatchSize <= 100000, "engine.batchSize must be between 1 and 100000, not %d", c.Engine.BatchSize)
	check(c.Engine.WholeSyncLimit >= -1, "engine.wholeSyncLimit must be -1 (always load the store whole), 0 (the default) or a number of objects, not %d", c.Engine.WholeSyncLimit)
	check(c.Engine.SyncChunk == 0 || c.Engine.SyncChunk >= 100 && c.Engine.SyncChunk <= 1000000, "engine.syncChunk must be between 100 and 1000000 objects (0: the default, 20000), not %d", c.Engine.SyncChunk)
	if c.Tenants.Resolver != "" {
		_, _, err := net.SplitHostPort(c.Tenants.Resolver)
		check(err == nil, "tenants.resolver %q: give host:port, e.g. 127.0.0.1:53", c.Tenants.Resolver)
	}
	check(c.Tenants.RecordName == "" || !strings.ContainsAny(c.Tenants.RecordName, ". "),
		"tenants.recordName %q: one DNS label, e.g. _idsync", c.Tenants.RecordName)
	check(c.Tenants.VerifyFor.Duration >= 0, "tenants.verifyFor must not be negative")
	if cc := c.Tenants.Consent; cc.ClientID != "" || cc.RedirectURL != "" {
		u, err := url.Parse(cc.RedirectURL)
		check(cc.ClientID != "", "tenants.consent.clientId: the multi-tenant application's client ID is required")
		check(err == nil && u.Scheme == "https" || err == nil && u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"),
			"tenants.consent.redirectURL %q: the console's https URL ending in /consent/callback (http only on localhost)", cc.RedirectURL)
		check(err == nil && strings.HasSuffix(u.Path, "/consent/callback"), "tenants.consent.redirectURL %q must end in /consent/callback", cc.RedirectURL)
	}
	check(c.Tenants.Interval == nil || c.Tenants.Interval.Duration == 0 || c.Tenants.Interval.Duration >= time.Minute,
		"tenants.interval must be 0s (off) or at least 1m")
	check(c.Scheduler.Interval.Duration >= time.Minute, "scheduler.interval must be at least 1m, not %s", c.Scheduler.Interval)
	check(c.Scheduler.LiveInterval.Duration == 0 || c.Scheduler.LiveInterval.Duration >= 100*time.Millisecond,
		"scheduler.liveInterval must be 0 (off) or at least 100ms, not %s", c.Scheduler.LiveInterval)
	if r := c.RunHistory.Retention; r != nil {
		check(r.Duration == 0 || r.Duration >= time.Hour, "runHistory.retention must be 0 (keep forever) or at least 1h, not %s", r)
	}
	errs = append(errs, c.validateLimits()...)
	seen := map[string]bool{}
	for i, cc := range c.Connectors {
		check(cc.Name != "", "connectors[%d]: name is required", i)
		check(cc.Type != "", "connector %q: type is required", cc.Name)
		check(!seen[cc.Name], "connector %q is configured twice", cc.Name)
		check(!strings.ContainsAny(cc.Name, " /\\:"), "connector %q: a name must not contain spaces, slashes or colons", cc.Name)
		if cc.DeleteThreshold != nil {
			check(*cc.DeleteThreshold >= 0, "connector %q: deleteThreshold must be ≥ 0", cc.Name)
		}
		if p := cc.DeleteThresholdPercent; p != nil {
			check(*p >= 0 && *p <= 100, "connector %q: deleteThresholdPercent must be between 0 (off) and 100, not %d", cc.Name, *p)
		}
		if p := cc.ImportShrinkPercent; p != nil {
			check(*p >= 0 && *p <= 100, "connector %q: importShrinkPercent must be between 0 (guard off for this connector) and 100, not %d", cc.Name, *p)
		}
		seen[cc.Name] = true
	}
	if ob := c.OutOfBox; ob.Cloud != "" || len(ob.Forests) > 0 {
		check(ob.Cloud != "", "outOfBox.cloud: name the cloud directory connector")
		check(ob.Cloud == "" || seen[ob.Cloud], "outOfBox.cloud names connector %q, which is not configured", ob.Cloud)
		check(len(ob.Forests) > 0, "outOfBox.forests: name at least one Active Directory connector")
		for _, f := range ob.Forests {
			check(seen[f], "outOfBox.forests names connector %q, which is not configured", f)
		}
	}
	if md := c.OutOfBox.ManagedDomain; md != nil {
		errs = append(errs, c.validateManagedDomain(md, seen)...)
	}
	errs = append(errs, c.Security.validate()...)
	if c.Console.OIDC != nil {
		errs = append(errs, c.Console.OIDC.validate()...)
	}
	inOrder := map[string]bool{}
	for _, o := range c.Scheduler.Order {
		check(seen[o], "scheduler.order names connector %q, which is not configured", o)
		check(!inOrder[o], "scheduler.order names connector %q twice", o)
		inOrder[o] = true
	}
	return errs
}

// emptyYAML reports whether data holds no YAML content (only blanks and
// comments): such a file keeps every default.
func emptyYAML(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

// positioned turns a YAML error into "file:line: message".
func positioned(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Errorf("%s:%d: %s", file, tk.Position.Line, ye.GetMessage())
		}
		return fmt.Errorf("%s: %s", file, ye.GetMessage())
	}
	return fmt.Errorf("%s: %w", file, err)
}
