package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// TypeName is the connector type this package registers.
const TypeName = "scim"

func init() { connector.Register(TypeName, open) }

// Compile-time checks of the capabilities the connector offers. It is not a
// connector.DeltaImporter: SCIM has no standard change feed (a filter on
// meta.lastModified misses deletions), so the engine runs full imports.
var (
	_ connector.Connector       = (*Connector)(nil)
	_ connector.Tester          = (*Connector)(nil)
	_ connector.SchemaDescriber = (*Connector)(nil)
	_ connector.FullImporter    = (*Connector)(nil)
	_ connector.Exporter        = (*Connector)(nil)
)

// Errors TestConnection wraps, so that callers can tell what failed.
var (
	// ErrUnreachable: the server could not be reached (DNS, TCP, TLS, timeout).
	ErrUnreachable = errors.New("cannot reach the SCIM server")
	// ErrCredentials: the server answered 401 or 403.
	ErrCredentials = errors.New("the SCIM server rejected the credentials")
	// ErrDiscovery: the discovery endpoints (/ServiceProviderConfig,
	// /ResourceTypes, /Schemas) are missing or invalid, or a configured
	// object type is not offered.
	ErrDiscovery = errors.New("SCIM discovery failed")
)

// Connector is a SCIM 2.0 client (RFC 7643, RFC 7644). It is safe for
// concurrent use.
type Connector struct {
	name string
	s    *settings
	c    *client

	discMu sync.Mutex
	disc   *discovered

	// refMu guards known and ext: what the connector learnt of the server's
	// ids from its imports, lookups and adds.
	refMu sync.Mutex
	known map[string]struct{} // resource ids
	ext   map[string]string   // externalId → id
}

// open is the registered factory.
func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg Config
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("scim connector %q: config: %w", name, err)
	}
	return New(name, cfg)
}

// New returns a SCIM connector named name (used in error messages) for cfg.
// It checks the configuration only: TestConnection checks the server.
func New(name string, cfg Config) (*Connector, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: config: %w", name, err)
	}
	return &Connector{name: name, s: s, c: newClient(s), known: map[string]struct{}{}, ext: map[string]string{}}, nil
}

// Close releases idle connections.
func (c *Connector) Close() error {
	c.c.close()
	return nil
}

// discovered is what the server says about itself.
type discovered struct {
	patch, filter, etag bool
	types               map[string]*resourceType // by idsync object type
}

// resourceTypeDoc is an entry of /ResourceTypes.
type resourceTypeDoc struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Endpoint         string            `json:"endpoint"`
	Schema           string            `json:"schema"`
	SchemaExtensions []schemaExtension `json:"schemaExtensions"`
}

type schemaExtension struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

// listResponse is a SCIM ListResponse.
type listResponse[T any] struct {
	TotalResults *int `json:"totalResults"`
	ItemsPerPage int  `json:"itemsPerPage"`
	StartIndex   int  `json:"startIndex"`
	Resources    []T  `json:"Resources"`
}

// discovery returns the cached discovery, running it when needed.
func (c *Connector) discovery(ctx context.Context) (*discovered, error) {
	c.discMu.Lock()
	defer c.discMu.Unlock()
	if c.disc != nil {
		return c.disc, nil
	}
	d, err := c.discover(ctx, false)
	if err != nil {
		return nil, err
	}
	c.disc = d
	return d, nil
}

// discover reads /ServiceProviderConfig, /ResourceTypes and /Schemas.
// Servers without /ResourceTypes or /Schemas get the RFC 7643 defaults.
// quick limits retries (TestConnection).
func (c *Connector) discover(ctx context.Context, quick bool) (*discovered, error) {
	var spc struct {
		Patch  struct{ Supported bool } `json:"patch"`
		Filter struct{ Supported bool } `json:"filter"`
		ETag   struct{ Supported bool } `json:"etag"`
	}
	if _, err := c.discoveryGet(ctx, "/ServiceProviderConfig", &spc, false, quick); err != nil {
		return nil, err
	}
	d := &discovered{patch: spc.Patch.Supported, filter: spc.Filter.Supported, etag: spc.ETag.Supported, types: map[string]*resourceType{}}

	rts := defaultResourceTypes
	var rtList listResponse[resourceTypeDoc]
	if found, err := c.discoveryGet(ctx, "/ResourceTypes", &rtList, true, quick); err != nil {
		return nil, err
	} else if found {
		rts = rtList.Resources
	}
	schemas := defaultSchemas
	var sList listResponse[*schemaDef]
	if found, err := c.discoveryGet(ctx, "/Schemas", &sList, true, quick); err != nil {
		return nil, err
	} else if found {
		schemas = map[string]*schemaDef{}
		for _, s := range sList.Resources {
			if s != nil && s.ID != "" {
				schemas[strings.ToLower(s.ID)] = s
			}
		}
	}
	schemaOf := func(urn string) *schemaDef {
		if s := schemas[strings.ToLower(urn)]; s != nil {
			return s
		}
		return defaultSchemas[strings.ToLower(urn)]
	}

	for _, objType := range sortedKeys(c.s.objectTypes) {
		want := c.s.objectTypes[objType]
		var doc *resourceTypeDoc
		var names []string
		for i := range rts {
			r := &rts[i]
			names = append(names, r.Name)
			if strings.HasPrefix(want, "/") && strings.EqualFold(strings.TrimRight(r.Endpoint, "/"), strings.TrimRight(want, "/")) ||
				strings.EqualFold(r.Name, want) || strings.EqualFold(r.ID, want) {
				doc = r
			}
		}
		if doc == nil {
			return nil, c.discoveryErr(fmt.Errorf("objectTypes: %s maps to %q, which the server does not offer (its resource types: %s)", objType, want, strings.Join(names, ", ")))
		}
		if !strings.HasPrefix(doc.Endpoint, "/") {
			return nil, c.discoveryErr(fmt.Errorf("resource type %s has an invalid endpoint %q", doc.Name, doc.Endpoint))
		}
		core := schemaOf(doc.Schema)
		if core == nil {
			return nil, c.discoveryErr(fmt.Errorf("resource type %s names the schema %s, which /Schemas does not describe", doc.Name, doc.Schema))
		}
		m := &mapper{core: core}
		for _, e := range doc.SchemaExtensions {
			if s := schemaOf(e.Schema); s != nil {
				m.exts = append(m.exts, s)
			}
		}
		d.types[objType] = &resourceType{objType: objType, name: doc.Name, endpoint: strings.TrimRight(doc.Endpoint, "/"), kind: kindOf(core.ID), m: m}
	}
	return d, nil
}

// discoveryGet reads one discovery endpoint into v. When optional, a 404
// (or 501) reports found = false instead of an error.
func (c *Connector) discoveryGet(ctx context.Context, path string, v any, optional, quick bool) (found bool, err error) {
	req := &request{method: http.MethodGet, path: path, quick: quick}
	resp, _, err := c.c.do(ctx, req)
	if err != nil {
		return false, c.classify(err)
	}
	switch {
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		return false, c.credentialsErr(resp.httpError(req, 0))
	case optional && (resp.status == http.StatusNotFound || resp.status == http.StatusNotImplemented):
		return false, nil
	case !resp.ok():
		return false, c.discoveryErr(resp.httpError(req, 0))
	}
	if err := resp.decode(v); err != nil {
		return false, c.discoveryErr(fmt.Errorf("GET %s: the answer is not SCIM JSON: %w", path, err))
	}
	return true, nil
}

// classify turns a transport error into an ErrUnreachable error.
func (c *Connector) classify(err error) error {
	var ne *netError
	if errors.As(err, &ne) {
		return fmt.Errorf("scim connector %q: %w at %s: %w; check url, that the server is running and reachable from here (firewalls, proxies) and, for certificate errors, caFile", c.name, ErrUnreachable, c.s.base.Redacted(), err)
	}
	var ae *authError
	if errors.As(err, &ae) {
		return c.credentialsErr(err)
	}
	return fmt.Errorf("scim connector %q: %w", c.name, err)
}

func (c *Connector) credentialsErr(err error) error {
	what := map[string]string{
		AuthBearer: "auth.token: it may be wrong, expired, or lack provisioning rights",
		AuthBasic:  "auth.username and auth.password",
		AuthOAuth2: "auth.tokenURL, auth.clientID, auth.clientSecret and auth.scopes",
		AuthNone:   "auth: the server requires credentials",
	}[c.s.auth.Type]
	return fmt.Errorf("scim connector %q: %w: %w; check %s", c.name, ErrCredentials, err, what)
}

func (c *Connector) discoveryErr(err error) error {
	return fmt.Errorf("scim connector %q: %w: %w; check that url is the SCIM base URL (it usually ends in /scim/v2: the server must answer /ServiceProviderConfig there) and objectTypes", c.name, ErrDiscovery, err)
}

// TestConnection runs discovery afresh and reads one resource of every
// configured object type. The error wraps ErrUnreachable, ErrCredentials or
// ErrDiscovery and says what to check.
func (c *Connector) TestConnection(ctx context.Context) error {
	d, err := c.discover(ctx, true)
	if err != nil {
		return err
	}
	c.discMu.Lock()
	c.disc = d
	c.discMu.Unlock()
	for _, objType := range sortedKeys(d.types) {
		rt := d.types[objType]
		req := &request{method: http.MethodGet, path: rt.endpoint, query: url.Values{"startIndex": {"1"}, "count": {"1"}, "attributes": {"id"}}, quick: true}
		resp, _, err := c.c.do(ctx, req)
		if err != nil {
			return c.classify(err)
		}
		switch {
		case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
			return c.credentialsErr(resp.httpError(req, 0))
		case resp.status == http.StatusNotFound:
			return c.discoveryErr(fmt.Errorf("%w: the endpoint of %s does not exist", resp.httpError(req, 0), objType))
		case !resp.ok():
			return fmt.Errorf("scim connector %q: %w", c.name, resp.httpError(req, 0))
		}
		var l listResponse[map[string]any]
		if err := resp.decode(&l); err != nil {
			return c.discoveryErr(fmt.Errorf("GET %s: the answer is not a SCIM ListResponse: %w", rt.endpoint, err))
		}
	}
	return nil
}

// Schema describes the configured object types with their flat attributes
// (see the package documentation for the naming).
func (c *Connector) Schema(ctx context.Context) (*model.Schema, error) {
	d, err := c.discovery(ctx)
	if err != nil {
		return nil, err
	}
	s := &model.Schema{}
	for _, objType := range sortedKeys(d.types) {
		attrs := d.types[objType].m.flatAttributes()
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
		s.ObjectTypes = append(s.ObjectTypes, model.ObjectTypeSchema{Name: objType, Attributes: attrs})
	}
	return s, nil
}

// resourceType returns the configured object type.
func (d *discovered) resourceType(objType string) (*resourceType, error) {
	if rt := d.types[objType]; rt != nil {
		return rt, nil
	}
	return nil, fmt.Errorf("object type %q is not configured (objectTypes: %s)", objType, strings.Join(sortedKeys(d.types), ", "))
}

// remember records a resource's id and externalId.
func (c *Connector) remember(id, externalID string) {
	if id == "" {
		return
	}
	c.refMu.Lock()
	c.known[id] = struct{}{}
	if externalID != "" {
		c.ext[externalID] = id
	}
	c.refMu.Unlock()
}

// forget drops a deleted resource.
func (c *Connector) forget(id string) {
	c.refMu.Lock()
	delete(c.known, id)
	c.refMu.Unlock()
}

// localID maps a value to a resource id from what the connector knows: an
// id it has seen, or the externalId of a resource it has seen.
func (c *Connector) localID(v string) (string, bool) {
	c.refMu.Lock()
	defer c.refMu.Unlock()
	if _, ok := c.known[v]; ok {
		return v, true
	}
	id, ok := c.ext[v]
	return id, ok
}

// resourcePath is the path of one resource.
func resourcePath(rt *resourceType, id string) string {
	return rt.endpoint + "/" + url.PathEscape(id)
}
