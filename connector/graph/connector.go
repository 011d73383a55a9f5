package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/idsync/idsync/connector"
)

// TypeName is the connector type this package registers.
const TypeName = "graph"

func init() { connector.Register(TypeName, open) }

func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg Config
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("graph connector %q: config: %w", name, err)
	}
	c, err := New(name, cfg)
	if err != nil {
		return nil, fmt.Errorf("graph connector %q: %w", name, err)
	}
	return c, nil
}

// Connector is a Microsoft Entra ID tenant reached through Microsoft Graph.
// It connects on first use, not when it is opened.
type Connector struct {
	name string
	s    *settings
	cl   *client
	log  *slog.Logger

	// proposed maps the anchors idsync proposed for objects this process
	// added to the ids Graph gave them, so that references to an object
	// added earlier in the same run are translated.
	proposed sync.Map // string → string
	// created holds the ids of objects this process created, with the
	// time: a reference to one that Graph does not find yet (directory
	// replication lags) is retried.
	created sync.Map // string → time.Time
	// warned holds the read-only attributes already logged, "type/attr".
	warned sync.Map
}

var (
	_ connector.Connector       = (*Connector)(nil)
	_ connector.Tester          = (*Connector)(nil)
	_ connector.SchemaDescriber = (*Connector)(nil)
	_ connector.FullImporter    = (*Connector)(nil)
	_ connector.DeltaImporter   = (*Connector)(nil)
	_ connector.Exporter        = (*Connector)(nil)
)

// New validates cfg and returns a connector; it does not connect.
func New(name string, cfg Config) (*Connector, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	c := &Connector{name: name, s: s, cl: newClient(s), log: slog.Default()}
	c.cl.retrying = func(method, path string, attempt int, wait time.Duration, why string) {
		c.log.Debug("graph: retrying a request", "connector", c.name, "request", method+" "+path,
			"attempt", attempt, "wait", wait, "reason", why)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Connector) Close() error {
	c.cl.close()
	return nil
}

// errorf starts a message with the connector type and name.
func (c *Connector) errorf(format string, args ...any) error {
	return fmt.Errorf("graph connector %q: "+format, append([]any{c.name}, args...)...)
}

// TestConnection obtains an access token, then reads one user, one group and
// one contact. The error says which step failed: the token endpoint cannot
// be reached; it refused the credentials (with Microsoft Entra ID's AADSTS
// text); Graph cannot be reached; or the application lacks a permission.
func (c *Connector) TestConnection(ctx context.Context) error {
	if _, err := c.cl.accessToken(ctx); err != nil {
		var te *tokenError
		if errors.As(err, &te) && te.rejected() {
			return c.errorf("the token endpoint refused the credentials of application (client) ID %s in tenant %s: %w. "+
				"Check tenantID, clientID and clientSecret (the secret's value, not its ID; secrets expire)", c.s.clientID, c.s.tenantID, err)
		}
		return c.errorf("%w", err)
	}
	for _, chk := range []struct{ coll, what, perms string }{
		{"users", "read users", "User.ReadWrite.All"},
		{"groups", "read groups", "Group.ReadWrite.All (or GroupMember.ReadWrite.All with Group.Read.All)"},
		{"contacts", "read organizational contacts", "OrgContact.Read.All or Directory.Read.All"},
	} {
		_, err := c.cl.do(ctx, &request{method: http.MethodGet, path: "/" + chk.coll, quick: true,
			query: [][2]string{{"$select", "id"}, {"$top", "1"}}})
		if err == nil {
			continue
		}
		var ne *netError
		var ae *APIError
		switch {
		case errors.As(err, &ne):
			return c.errorf("cannot reach Microsoft Graph at %s: %w", c.s.base, err)
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			return c.errorf("the application may not %s: %w. Grant the app registration the Microsoft Graph application permission %s "+
				"(the connector needs User.ReadWrite.All, Group.ReadWrite.All and Directory.Read.All) and an administrator's consent", chk.what, err, chk.perms)
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return c.errorf("Microsoft Graph refused the access token: %w. Check that scope names Graph (%s) and that tokenURL belongs to the same cloud as baseURL", err, DefaultScope)
		}
		return c.errorf("%w", err)
	}
	return nil
}

// resolve translates an anchor idsync proposed for an object this process
// added into the id Graph gave it; other values are returned as they are.
func (c *Connector) resolve(anchor string) string {
	if id, ok := c.proposed.Load(anchor); ok {
		return id.(string)
	}
	return anchor
}

// recordAdd remembers the id of an added object.
func (c *Connector) recordAdd(proposed, id string, created bool) {
	if proposed != "" && proposed != id {
		c.proposed.Store(proposed, id)
	}
	if created {
		c.created.Store(id, time.Now())
	}
}

// fresh reports whether this process created the object id in the last two
// minutes (Graph may not find it everywhere yet).
func (c *Connector) fresh(id string) bool {
	t, ok := c.created.Load(id)
	return ok && time.Since(t.(time.Time)) < 2*time.Minute
}

// warnReadOnly logs once per object type and attribute that an exported
// attribute is not written.
func (c *Connector) warnReadOnly(objType string, a *attrDef) {
	if _, dup := c.warned.LoadOrStore(objType+"/"+a.name, true); dup {
		return
	}
	why := "Microsoft Graph offers it read-only"
	if a.prop == "" {
		why = "Microsoft Graph has no such property; the value stays in the connector space"
	}
	c.log.Warn("graph: an outbound rule writes an attribute idsync cannot write; it is skipped (logged once)",
		"connector", c.name, "objectType", objType, "attribute", a.name, "reason", why)
}
