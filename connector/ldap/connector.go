package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
)

// TypeName is the connector type this package registers.
const TypeName = "ldap"

func init() { connector.Register(TypeName, open) }

func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg Config
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("ldap connector %q: config: %w", name, err)
	}
	c, err := New(name, cfg)
	if err != nil {
		return nil, fmt.Errorf("ldap connector %q: %w", name, err)
	}
	return c, nil
}

// Connector is an LDAP directory: Active Directory, OpenLDAP, or another
// LDAPv3 server. It connects on first use, not when it is opened.
type Connector struct {
	name string
	s    *settings
	pool *pool

	mu     sync.Mutex
	root   *rootDSE
	schema *dirSchema
}

// New validates cfg and returns a connector; it does not connect.
func New(name string, cfg Config) (*Connector, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	return &Connector{name: name, s: s, pool: newPool(name, s)}, nil
}

// writeOnlyAttrs are the attributes a directory accepts and never returns:
// AD's unicodePwd (a password, set over an encrypted connection only).
var writeOnlyAttrs = []string{"unicodePwd"}

// WriteOnlyAttributes returns unicodePwd: the connector never imports it,
// and the engine exports it only when it is set or changes.
func (c *Connector) WriteOnlyAttributes() []string { return slices.Clone(writeOnlyAttrs) }

// isWriteOnly reports whether attribute name is write-only.
func isWriteOnly(name string) bool {
	return slices.ContainsFunc(writeOnlyAttrs, func(w string) bool { return strings.EqualFold(w, name) })
}

// Close closes the pooled connections.
func (c *Connector) Close() error { return c.pool.close() }

// rootDSE is what the server says about itself.
type rootDSE struct {
	flavor           string
	namingContexts   []string
	defaultNC        string
	configurationNC  string
	schemaNC         string
	rootDomainNC     string
	subschema        string
	controls         map[string]bool
	extensions       map[string]bool
	highestCommitted string
	dnsHostName      string
}

// OIDs of the controls and capabilities the connector uses.
const (
	oidADCapability     = "1.2.840.113556.1.4.800"
	oidDirSync          = "1.2.840.113556.1.4.841"
	oidShowDeleted      = "1.2.840.113556.1.4.417"
	oidSyncRequest      = "1.3.6.1.4.1.4203.1.9.1.1"
	oidPagedResults     = "1.2.840.113556.1.4.319"
	oidPasswordModifyEx = "1.3.6.1.4.1.4203.1.11.1"
)

// rootDSE reads (once) the server's root DSE and settles the flavor.
func (c *Connector) rootDSE(ctx context.Context) (*rootDSE, error) {
	c.mu.Lock()
	if c.root != nil {
		defer c.mu.Unlock()
		return c.root, nil
	}
	c.mu.Unlock()
	var e *ldap.Entry
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"*", "+", "namingContexts", "supportedControl", "supportedCapabilities",
				"highestCommittedUSN", "subschemaSubentry", "vendorName", "defaultNamingContext",
				"configurationNamingContext", "schemaNamingContext", "rootDomainNamingContext", "dnsHostName", "supportedExtension"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) != 1 {
			return errors.New("the server returned no root DSE")
		}
		e = res.Entries[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the root DSE: %w", err)
	}
	r := &rootDSE{
		namingContexts:  e.GetAttributeValues("namingContexts"),
		defaultNC:       e.GetAttributeValue("defaultNamingContext"),
		configurationNC: e.GetAttributeValue("configurationNamingContext"),
		schemaNC:        e.GetAttributeValue("schemaNamingContext"),
		rootDomainNC:    e.GetAttributeValue("rootDomainNamingContext"),
		subschema:       e.GetAttributeValue("subschemaSubentry"),
		controls:        map[string]bool{},
		extensions:      map[string]bool{},
		dnsHostName:     e.GetAttributeValue("dnsHostName"),
	}
	r.highestCommitted = e.GetAttributeValue("highestCommittedUSN")
	for _, oid := range e.GetAttributeValues("supportedControl") {
		r.controls[oid] = true
	}
	for _, oid := range e.GetAttributeValues("supportedExtension") {
		r.extensions[oid] = true
	}
	switch {
	case slices.Contains(e.GetAttributeValues("supportedCapabilities"), oidADCapability):
		r.flavor = FlavorAD
	case r.controls[oidSyncRequest] || slices.ContainsFunc(e.GetAttributeValues("objectClass"), func(s string) bool { return strings.EqualFold(s, "OpenLDAProotDSE") }):
		r.flavor = FlavorOpenLDAP
	default:
		r.flavor = FlavorGeneric
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.root == nil {
		c.root = r
		c.s.fill(r.flavor)
	}
	return c.root, nil
}

// TestConnection connects, binds and reads the root DSE; the error says
// which of the three failed.
func (c *Connector) TestConnection(ctx context.Context) error {
	conn, err := c.pool.get(ctx)
	if err != nil {
		return err
	}
	c.pool.put(conn, false)
	r, err := c.rootDSE(ctx)
	if err != nil {
		return err
	}
	if c.s.BaseDN != "" {
		if err := c.pool.do(ctx, func(conn *ldap.Conn) error {
			_, err := conn.Search(ldap.NewSearchRequest(c.s.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
			return err
		}); err != nil {
			return fmt.Errorf("baseDN %q cannot be read with these credentials: %w", c.s.BaseDN, err)
		}
	}
	if len(r.namingContexts) == 0 && c.s.BaseDN == "" {
		return errors.New("the server lists no naming contexts: set baseDN")
	}
	return nil
}

// Partitions lists the partitions: for Active Directory the domains of the
// forest (crossRef objects of domain naming contexts under CN=Partitions);
// for other directories the configured baseDN, or the server's naming
// contexts. The list is read from the server each time, so domains added to
// or removed from the forest show up at the next import (R2.7).
func (c *Connector) Partitions(ctx context.Context) ([]connector.Partition, error) {
	r, err := c.rootDSE(ctx)
	if err != nil {
		return nil, err
	}
	if c.s.BaseDN != "" {
		return []connector.Partition{{Name: c.s.BaseDN}}, nil
	}
	if c.s.Flavor != FlavorAD || r.configurationNC == "" {
		var out []connector.Partition
		for _, nc := range r.namingContexts {
			if strings.EqualFold(nc, "cn=config") || strings.EqualFold(nc, "cn=accesslog") || strings.EqualFold(nc, "cn=monitor") {
				continue
			}
			out = append(out, connector.Partition{Name: nc})
		}
		return out, nil
	}
	var out []connector.Partition
	err = c.pool.do(ctx, func(conn *ldap.Conn) error {
		out = out[:0]
		res, err := conn.SearchWithPaging(ldap.NewSearchRequest("CN=Partitions,"+r.configurationNC, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=crossRef)(nCName=*))", []string{"nCName", "systemFlags", "dnsRoot"}, nil), 100)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			var flags int64
			_, _ = fmt.Sscan(e.GetAttributeValue("systemFlags"), &flags)
			// FLAG_CR_NTDS_NC (1) | FLAG_CR_NTDS_DOMAIN (2): a domain.
			if flags&2 != 0 {
				out = append(out, connector.Partition{Name: e.GetAttributeValue("nCName")})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the domains of the forest: %w", err)
	}
	slices.SortFunc(out, func(a, b connector.Partition) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Container is one container (OU) of a partition, for OU selection.
type Container struct {
	DN   string `json:"dn"`
	Name string `json:"name"`
}

// Containers lists the containers (organizational units and AD containers)
// of a partition, in DN order, parents before children.
func (c *Connector) Containers(ctx context.Context, partition string) ([]Container, error) {
	if _, err := c.rootDSE(ctx); err != nil {
		return nil, err
	}
	var out []Container
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		out = out[:0]
		res, err := conn.SearchWithPaging(ldap.NewSearchRequest(partition, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(|(objectClass=organizationalUnit)(objectClass=container)(objectClass=builtinDomain))", []string{"ou", "cn"}, nil), uint32(c.s.PageSize))
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			name := e.GetAttributeValue("ou")
			if name == "" {
				name = e.GetAttributeValue("cn")
			}
			out = append(out, Container{DN: e.DN, Name: name})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the containers of %s: %w", partition, err)
	}
	slices.SortFunc(out, func(a, b Container) int { return strings.Compare(reverseDN(a.DN), reverseDN(b.DN)) })
	return out, nil
}

// reverseDN orders DNs so that parents sort before their children.
func reverseDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	parts := make([]string, 0, len(d.RDNs))
	for i := len(d.RDNs) - 1; i >= 0; i-- {
		parts = append(parts, strings.ToLower(d.RDNs[i].String()))
	}
	return strings.Join(parts, "\x00")
}
