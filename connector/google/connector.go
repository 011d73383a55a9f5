package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// TypeName is the connector type this package registers.
const TypeName = "google"

func init() { connector.Register(TypeName, open) }

func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg Config
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("google connector %q: config: %w", name, err)
	}
	c, err := New(name, cfg)
	if err != nil {
		return nil, fmt.Errorf("google connector %q: %w", name, err)
	}
	return c, nil
}

// Connector is a Google Workspace account read through the Admin SDK
// Directory API. It connects on first use, not when it is opened.
type Connector struct {
	name string
	s    *settings
	cl   *client
	log  *slog.Logger
}

var (
	_ connector.Connector       = (*Connector)(nil)
	_ connector.Tester          = (*Connector)(nil)
	_ connector.SchemaDescriber = (*Connector)(nil)
	_ connector.FullImporter    = (*Connector)(nil)
)

// New validates cfg (and reads the service account key) and returns a
// connector; it does not connect.
func New(name string, cfg Config) (*Connector, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	c := &Connector{name: name, s: s, cl: newClient(s), log: slog.Default()}
	c.cl.retrying = func(method, path string, attempt int, wait time.Duration, why string) {
		c.log.Debug("google: retrying a request", "connector", c.name, "request", method+" "+path,
			"attempt", attempt, "wait", wait, "reason", why)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Connector) Close() error {
	c.cl.close()
	return nil
}

func (c *Connector) errorf(format string, args ...any) error {
	return fmt.Errorf("google connector %q: "+format, append([]any{c.name}, args...)...)
}

// scope is the customer or domain parameter of a list.
func (c *Connector) scope(q url.Values) url.Values {
	if c.s.domain != "" {
		q.Set("domain", c.s.domain)
	} else {
		q.Set("customer", c.s.customer)
	}
	return q
}

// TestConnection obtains an access token as the subject, then reads one
// user and one group. The error says which step failed and what to do.
func (c *Connector) TestConnection(ctx context.Context) error {
	if _, err := c.cl.accessToken(); err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			switch te.Code {
			case "unauthorized_client":
				return c.errorf("%w. The service account %s (its client ID) is not allowed these scopes for domain-wide delegation: "+
					"in the Admin console, Security → Access and data control → API controls → Manage domain-wide delegation, "+
					"add its client ID with the scopes %v", err, c.s.email, c.s.jwt.Scopes)
			case "invalid_grant":
				return c.errorf("%w. Check that subject %s is an existing user of the Workspace account, that the key (id %s) "+
					"is still valid for %s, and that this machine's clock is right", err, c.s.subject, c.s.keyID, c.s.email)
			}
		}
		return c.errorf("%w", err)
	}
	for _, chk := range []struct{ path, what string }{{"/users", "users"}, {"/groups", "groups"}} {
		q := c.scope(url.Values{"maxResults": {"1"}})
		_, err := c.cl.get(ctx, &request{path: chk.path, query: q, quick: true})
		if err == nil {
			continue
		}
		var ne *netError
		var ae *APIError
		switch {
		case errors.As(err, &ne):
			return c.errorf("cannot reach the Directory API at %s: %w", c.s.base, err)
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			return c.errorf("may not read %s: %w. The subject %s must be an administrator with the privilege to read %s "+
				"(Admin console → Account → Admin roles), and the scopes must be delegated to the service account", chk.what, err, c.s.subject, chk.what)
		case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
			return c.errorf("%w. Check customer (my_customer or the customer ID) or domain", err)
		}
		return c.errorf("%w", err)
	}
	return nil
}

// FullImport reads every user (GET /users?customer=…&projection=full) and
// every group (GET /groups) with its members (GET
// /groups/{id}/members), page by page along nextPageToken. It returns no
// watermark: the connector has no delta import (see the package
// documentation).
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	for _, ot := range objectTypes {
		if len(req.ObjectTypes) > 0 && !slices.Contains(req.ObjectTypes, ot.name) {
			continue
		}
		want := func(attr string) bool { return len(req.Attributes) == 0 || slices.Contains(req.Attributes, attr) }
		var err error
		switch ot.name {
		case TypeUser:
			q := c.scope(url.Values{"maxResults": {strconv.Itoa(c.s.pageSize)}, "projection": {"full"}})
			err = c.cl.eachPage(ctx, &request{path: "/users", query: q}, "users", func(items []json.RawMessage) error {
				for _, raw := range items {
					o, err := decodeUser(raw, want)
					if err != nil {
						req.ReportObjectError(o.Anchor, "", c.errorf("user %s: %w", o.Anchor, err))
						continue
					}
					if err := emit(o); err != nil {
						return err
					}
				}
				return nil
			})
		case TypeGroup:
			q := c.scope(url.Values{"maxResults": {strconv.Itoa(min(c.s.pageSize, maxGroupPage))}})
			members := want("member") || want("externalMember") || want("allUsersMember")
			err = c.cl.eachPage(ctx, &request{path: "/groups", query: q}, "groups", func(items []json.RawMessage) error {
				objs := make([]*model.Object, len(items))
				for i, raw := range items {
					o, err := decodeGroup(raw, want)
					if err != nil {
						req.ReportObjectError(o.Anchor, "", c.errorf("group %s: %w", o.Anchor, err))
						continue
					}
					objs[i] = o
				}
				if members {
					if err := c.readMembers(ctx, objs, want); err != nil {
						return err
					}
				}
				for _, o := range objs {
					if o != nil {
						if err := emit(o); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
		if err != nil {
			return "", c.errorf("import %ss: %w", ot.name, err)
		}
	}
	return "", nil
}

// readMembers fills the member attributes of the groups in objs (nil
// entries are skipped), `concurrency` groups at a time. A group deleted
// meanwhile (404) is dropped from objs.
func (c *Connector) readMembers(ctx context.Context, objs []*model.Object, want func(string) bool) error {
	return parallel(ctx, c.s.concurrency, len(objs), func(i int) error {
		o := objs[i]
		if o == nil {
			return nil
		}
		var refs, external []string
		all := false
		q := url.Values{"maxResults": {strconv.Itoa(maxGroupPage)}}
		err := c.cl.eachPage(ctx, &request{path: "/groups/" + url.PathEscape(o.Anchor) + "/members", query: q}, "members",
			func(items []json.RawMessage) error {
				for _, raw := range items {
					var m struct {
						ID    string `json:"id"`
						Email string `json:"email"`
						Type  string `json:"type"`
					}
					if json.Unmarshal(raw, &m) != nil {
						return fmt.Errorf("group %s: a member is not a member resource: %s", o.Anchor, clip(string(raw), 60))
					}
					switch {
					case m.Type == "CUSTOMER":
						all = true
					case m.Type == "EXTERNAL" || m.ID == "":
						if m.Email != "" {
							external = append(external, m.Email)
						}
					default: // USER, GROUP
						refs = append(refs, m.ID)
					}
				}
				return nil
			})
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			objs[i] = nil
			return nil
		}
		if err != nil {
			return err
		}
		if want("member") && len(refs) > 0 {
			o.Attrs.Set("member", model.Ref(refs...))
		}
		if want("externalMember") && len(external) > 0 {
			o.Attrs.Set("externalMember", model.Str(external...))
		}
		if want("allUsersMember") {
			o.Attrs.Set("allUsersMember", model.Values{Type: model.Boolean, Values: []string{strconv.FormatBool(all)}})
		}
		return nil
	})
}

// parallel runs fn(0) … fn(count-1) on up to n goroutines and returns the
// first error; after an error no new call starts.
func parallel(ctx context.Context, n, count int, fn func(i int) error) error {
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(n, count) {
		wg.Go(func() {
			for {
				mu.Lock()
				if firstErr != nil || next >= count {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				err := ctx.Err()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
