package ldap

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Config is the configuration block of an ldap connector. The package
// documentation and docs/connectors.md explain every key.
type Config struct {
	URL                string            `yaml:"url" json:"url"`
	StartTLS           bool              `yaml:"startTLS,omitempty" json:"startTLS,omitempty"`
	CAFile             string            `yaml:"caFile,omitempty" json:"caFile,omitempty"`
	InsecureSkipVerify bool              `yaml:"insecureSkipVerify,omitempty" json:"insecureSkipVerify,omitempty"`
	BindDN             string            `yaml:"bindDN,omitempty" json:"bindDN,omitempty"`
	Password           string            `yaml:"password,omitempty" json:"-"`
	Flavor             string            `yaml:"flavor,omitempty" json:"flavor,omitempty"`
	BaseDN             string            `yaml:"baseDN,omitempty" json:"baseDN,omitempty"`
	Anchor             string            `yaml:"anchor,omitempty" json:"anchor,omitempty"`
	PageSize           int               `yaml:"pageSize,omitempty" json:"pageSize,omitempty"`
	Timeout            Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Connections        int               `yaml:"connections,omitempty" json:"connections,omitempty"`
	Retries            int               `yaml:"retries,omitempty" json:"retries,omitempty"`
	ObjectTypes        []ObjectTypeMap   `yaml:"objectTypes,omitempty" json:"objectTypes,omitempty"`
	ExcludeClasses     []string          `yaml:"excludeObjectClasses,omitempty" json:"excludeObjectClasses,omitempty"`
	Filter             string            `yaml:"filter,omitempty" json:"filter,omitempty"`
	Containers         Containers        `yaml:"containers,omitempty" json:"containers,omitempty"`
	Types              map[string]string `yaml:"types,omitempty" json:"types,omitempty"`
	DeltaMethod        string            `yaml:"deltaMethod,omitempty" json:"deltaMethod,omitempty"`
	// CreateContainers lists OUs the connector creates (organizationalUnit)
	// when an export adds an object under one that does not exist, such as
	// a managed domain's OU=AADDC Users. Other missing parents stay an error.
	CreateContainers []string `yaml:"createContainers,omitempty" json:"createContainers,omitempty"`
}

// ObjectTypeMap maps an LDAP object class to an idsync object type.
type ObjectTypeMap struct {
	ObjectClass string `yaml:"objectClass" json:"objectClass"`
	Type        string `yaml:"type" json:"type"`
}

// Containers is OU-based filtering (R2.7): which containers of a partition
// are synchronized.
type Containers struct {
	// Include lists containers whose subtrees are synchronized; empty means
	// the whole partition.
	Include []string `yaml:"include,omitempty" json:"include,omitempty"`
	// Exclude lists containers (under an included one) that are not.
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// NoNewChildren lists included containers whose child containers are
	// synchronized only when they are listed in Include themselves ("don't
	// synchronize new OUs"); objects directly in the container still are.
	NoNewChildren []string `yaml:"noNewChildren,omitempty" json:"noNewChildren,omitempty"`
}

// Duration is a duration in the configuration block ("30s").
type Duration = connector.Duration

// ResolvePaths makes a relative caFile relative to baseDir, the directory of
// the configuration file.
func (c *Config) ResolvePaths(baseDir string) {
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(baseDir, c.CAFile)
	}
}

// Directory flavors.
const (
	FlavorAuto     = ""
	FlavorAD       = "ad"
	FlavorOpenLDAP = "openldap"
	FlavorGeneric  = "generic"
)

// Delta methods.
const (
	DeltaAuto      = ""
	DeltaDirSync   = "dirsync"
	DeltaUSN       = "usnchanged"
	DeltaSyncRepl  = "syncrepl"
	DeltaTimestamp = "timestamp"
	DeltaNone      = "none"
)

// Defaults.
const (
	DefaultPageSize    = 1000
	DefaultTimeout     = 60 * time.Second
	DefaultConnections = 4
	DefaultRetries     = 3
)

// adObjectTypes are the object types of an Active Directory by default; the
// first class of the list an entry has decides its type.
var adObjectTypes = []ObjectTypeMap{
	{"user", "user"}, {"contact", "contact"}, {"group", "group"},
	{"foreignSecurityPrincipal", "foreignSecurityPrincipal"},
}

// openLDAPObjectTypes are the object types of other directories by default.
var openLDAPObjectTypes = []ObjectTypeMap{
	{"inetOrgPerson", "user"}, {"groupOfNames", "group"}, {"groupOfUniqueNames", "group"},
}

// settings is a validated Config. Flavor-dependent defaults are filled in by
// fill once the flavor is known.
type settings struct {
	Config
	u          *url.URL
	hostport   string
	types      map[string]model.Type // lower-case attribute → type override
	include    []string              // normalized DNs
	exclude    map[string]bool
	noNew      map[string]bool
	explicitly map[string]bool   // include list, normalized, for noNewChildren
	create     map[string]string // createContainers: normalized DN → as configured
}

func newSettings(cfg Config) (*settings, error) {
	if cfg.URL == "" {
		return nil, errors.New("url is required (ldap://host:389 or ldaps://host:636)")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", cfg.URL, err)
	}
	s := &settings{Config: cfg, u: u}
	switch u.Scheme {
	case "ldap":
		s.hostport = hostPort(u, "389")
	case "ldaps":
		if cfg.StartTLS {
			return nil, errors.New("startTLS applies to ldap:// URLs; an ldaps:// URL is TLS from the start")
		}
		s.hostport = hostPort(u, "636")
	default:
		return nil, fmt.Errorf("url %q: the scheme must be ldap or ldaps", cfg.URL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q has no host", cfg.URL)
	}
	if (cfg.BindDN == "") != (cfg.Password == "") {
		return nil, errors.New("bindDN and password go together: set both for a simple bind, or neither for an anonymous one")
	}
	switch strings.ToLower(cfg.Flavor) {
	case FlavorAuto, FlavorAD, FlavorOpenLDAP, FlavorGeneric:
		s.Flavor = strings.ToLower(cfg.Flavor)
	default:
		return nil, fmt.Errorf("flavor %q: want ad, openldap or generic (or leave it out to detect it)", cfg.Flavor)
	}
	switch strings.ToLower(cfg.DeltaMethod) {
	case DeltaAuto, DeltaDirSync, DeltaUSN, DeltaSyncRepl, DeltaTimestamp, DeltaNone:
		s.DeltaMethod = strings.ToLower(cfg.DeltaMethod)
	default:
		return nil, fmt.Errorf("deltaMethod %q: want dirsync, usnchanged, syncrepl, timestamp or none (or leave it out to pick one)", cfg.DeltaMethod)
	}
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	if s.PageSize < 1 || s.PageSize > 100000 {
		return nil, fmt.Errorf("pageSize %d: want 1 to 100000", cfg.PageSize)
	}
	if s.Timeout.Duration == 0 {
		s.Timeout.Duration = DefaultTimeout
	}
	if s.Connections == 0 {
		s.Connections = DefaultConnections
	}
	if s.Connections < 1 || s.Connections > 64 {
		return nil, fmt.Errorf("connections %d: want 1 to 64", cfg.Connections)
	}
	if s.Retries == 0 {
		s.Retries = DefaultRetries
	}
	if s.Retries < 0 {
		s.Retries = 0
	}
	for _, m := range cfg.ObjectTypes {
		if m.ObjectClass == "" || m.Type == "" {
			return nil, errors.New("objectTypes: every entry needs objectClass and type")
		}
	}
	if cfg.Filter != "" {
		if _, err := compileFilter(cfg.Filter); err != nil {
			return nil, fmt.Errorf("filter %q: %w", cfg.Filter, err)
		}
	}
	s.types = map[string]model.Type{}
	for attr, name := range cfg.Types {
		t, err := model.ParseType(name)
		if err != nil {
			return nil, fmt.Errorf("types: %s: %w", attr, err)
		}
		s.types[strings.ToLower(attr)] = t
	}
	s.create = map[string]string{}
	for _, dn := range cfg.CreateContainers {
		d, err := ldap.ParseDN(dn)
		if err != nil || len(d.RDNs) < 2 {
			return nil, fmt.Errorf("createContainers: %q is not the DN of a container under another one", dn)
		}
		if a := d.RDNs[0].Attributes; len(a) != 1 || !strings.EqualFold(a[0].Type, "ou") {
			return nil, fmt.Errorf("createContainers: %q: only organizational units (OU=…) can be created", dn)
		}
		n, err := normDN(dn)
		if err != nil {
			return nil, fmt.Errorf("createContainers: %w", err)
		}
		s.create[n] = dn
	}
	s.exclude, s.noNew, s.explicitly = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, dn := range cfg.Containers.Include {
		n, err := normDN(dn)
		if err != nil {
			return nil, fmt.Errorf("containers.include: %w", err)
		}
		s.include = append(s.include, n)
		s.explicitly[n] = true
	}
	for _, dn := range cfg.Containers.Exclude {
		n, err := normDN(dn)
		if err != nil {
			return nil, fmt.Errorf("containers.exclude: %w", err)
		}
		s.exclude[n] = true
	}
	for _, dn := range cfg.Containers.NoNewChildren {
		n, err := normDN(dn)
		if err != nil {
			return nil, fmt.Errorf("containers.noNewChildren: %w", err)
		}
		s.noNew[n] = true
	}
	return s, nil
}

func hostPort(u *url.URL, port string) string {
	if u.Port() != "" {
		return u.Host
	}
	return u.Hostname() + ":" + port
}

// fill sets the defaults that depend on the flavor.
func (s *settings) fill(flavor string) {
	if s.Flavor == FlavorAuto {
		s.Flavor = flavor
	}
	if s.Anchor == "" {
		if s.Flavor == FlavorAD {
			s.Anchor = "objectGUID"
		} else {
			s.Anchor = "entryUUID"
		}
	}
	if s.ObjectTypes == nil {
		if s.Flavor == FlavorAD {
			s.ObjectTypes = adObjectTypes
		} else {
			s.ObjectTypes = openLDAPObjectTypes
		}
	}
	if s.ExcludeClasses == nil && s.Flavor == FlavorAD {
		s.ExcludeClasses = []string{"computer"}
	}
}
