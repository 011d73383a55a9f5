package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// FullImport lists every resource of the requested object types (all
// configured ones when req.ObjectTypes is empty), page by page
// (startIndex/count, pageSize resources per request), and emits each as
// it arrives. The watermark is "": the connector has no delta import.
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	d, err := c.discovery(ctx)
	if err != nil {
		return "", err
	}
	types := req.ObjectTypes
	if len(types) == 0 {
		types = sortedKeys(d.types)
	}
	for _, objType := range types {
		rt, err := d.resourceType(objType)
		if err != nil {
			return "", fmt.Errorf("scim connector %q: import: %w", c.name, err)
		}
		if err := c.importType(ctx, rt, req.Attributes, emit); err != nil {
			return "", err
		}
	}
	return "", nil
}

// importType pages through one resource type.
func (c *Connector) importType(ctx context.Context, rt *resourceType, attributes []string, emit func(*model.Object) error) error {
	q := url.Values{"count": {strconv.Itoa(c.s.pageSize)}}
	var keep map[string]bool
	if len(attributes) > 0 {
		q.Set("attributes", strings.Join(rt.m.requestAttributes(attributes), ","))
		keep = map[string]bool{}
		for _, a := range attributes {
			keep[a] = true
			if t, err := rt.m.lookup(a); err == nil {
				keep[t.name] = true
			}
		}
	}
	seen := map[string]struct{}{}
	for start := 1; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		q.Set("startIndex", strconv.Itoa(start))
		page, err := c.list(ctx, rt, q)
		if err != nil {
			return fmt.Errorf("scim connector %q: import %s: %w", c.name, rt.objType, err)
		}
		fresh := 0
		for _, res := range page.Resources {
			obj, err := c.object(rt, res)
			if err != nil {
				return fmt.Errorf("scim connector %q: import %s: %w", c.name, rt.objType, err)
			}
			if _, dup := seen[obj.Anchor]; dup {
				continue // the list shifted under us
			}
			seen[obj.Anchor] = struct{}{}
			fresh++
			if keep != nil {
				for name := range obj.Attrs {
					if !keep[name] {
						delete(obj.Attrs, name)
					}
				}
			}
			if err := emit(obj); err != nil {
				return err
			}
		}
		n := len(page.Resources)
		start += n
		switch {
		case n == 0:
			return nil
		case fresh == 0 && (page.TotalResults == nil || start-n <= *page.TotalResults):
			// Stopping here would pass the rest for deleted.
			return fmt.Errorf("scim connector %q: import %s: the page at startIndex %d holds only resources already seen: the server seems to ignore startIndex", c.name, rt.objType, start-n)
		case page.TotalResults != nil && start > *page.TotalResults:
			return nil
		case page.TotalResults == nil && n < c.s.pageSize:
			return nil
		}
	}
}

// list runs one list (query) request.
func (c *Connector) list(ctx context.Context, rt *resourceType, q url.Values) (*listResponse[map[string]any], error) {
	req := &request{method: http.MethodGet, path: rt.endpoint, query: q}
	resp, retries, err := c.c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if !resp.ok() {
		return nil, resp.httpError(req, retries)
	}
	var page listResponse[map[string]any]
	if err := resp.decode(&page); err != nil {
		return nil, fmt.Errorf("GET %s: the answer is not a SCIM ListResponse: %w", rt.endpoint, err)
	}
	return &page, nil
}

// object maps a resource to an idsync object and remembers its ids.
func (c *Connector) object(rt *resourceType, res map[string]any) (*model.Object, error) {
	id, _ := fromJSON(nil, res["id"])
	if id == "" {
		return nil, errors.New("the server returned a resource without id")
	}
	attrs := rt.m.flatten(res)
	c.remember(id, attrs.First("externalId"))
	return &model.Object{Anchor: id, Type: rt.objType, Attrs: attrs}, nil
}

// requestAttributes maps flat attribute names to the SCIM attribute names of
// the attributes query parameter.
func (m *mapper) requestAttributes(flat []string) []string {
	out := []string{"id", "externalId"}
	seen := map[string]bool{"id": true, "externalid": true}
	for _, f := range flat {
		t, err := m.lookup(f)
		if err != nil {
			continue
		}
		p := Path{URN: t.path.URN, Attr: t.path.Attr}
		if t.shape == shapeSub {
			p.Sub = t.path.Sub
		}
		if s := p.String(); !seen[strings.ToLower(s)] {
			seen[strings.ToLower(s)] = true
			out = append(out, s)
		}
	}
	return out
}

// Get returns the resource of objectType with the SCIM id id, or an error
// wrapping connector.ErrNotFound.
func (c *Connector) Get(ctx context.Context, objectType, id string) (*model.Object, error) {
	d, err := c.discovery(ctx)
	if err != nil {
		return nil, err
	}
	rt, err := d.resourceType(objectType)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: %w", c.name, err)
	}
	res, err := c.get(ctx, rt, id)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: get %s %q: %w", c.name, objectType, id, err)
	}
	return c.object(rt, res)
}

// get reads one resource; a 404 wraps connector.ErrNotFound.
func (c *Connector) get(ctx context.Context, rt *resourceType, id string) (map[string]any, error) {
	req := &request{method: http.MethodGet, path: resourcePath(rt, id)}
	resp, retries, err := c.c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %w", connector.ErrNotFound, resp.httpError(req, retries))
	}
	if !resp.ok() {
		return nil, resp.httpError(req, retries)
	}
	var res map[string]any
	if err := resp.decode(&res); err != nil {
		return nil, fmt.Errorf("GET %s: the answer is not SCIM JSON: %w", req.path, err)
	}
	return res, nil
}

// Find returns the one resource of objectType whose flat attribute attr
// (userName, emails[type eq "work"].value …) equals value, using a SCIM
// filter; nil when there is none, an error when there are several. It is
// how accounts that already exist in an application are matched (R3.4).
func (c *Connector) Find(ctx context.Context, objectType, attr, value string) (*model.Object, error) {
	d, err := c.discovery(ctx)
	if err != nil {
		return nil, err
	}
	rt, err := d.resourceType(objectType)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: %w", c.name, err)
	}
	t, err := rt.m.lookup(attr)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: find %s: %w", c.name, objectType, err)
	}
	f, err := filterFor(t, value)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: find %s: %w", c.name, objectType, err)
	}
	res, err := c.findOne(ctx, d, rt, f)
	if err != nil {
		return nil, fmt.Errorf("scim connector %q: find %s where %s: %w", c.name, objectType, f, err)
	}
	if res == nil {
		return nil, nil
	}
	return c.object(rt, res)
}

// errAmbiguous is returned by findOne when several resources match.
var errAmbiguous = errors.New("several resources match")

// findOne runs a filter that should match at most one resource.
func (c *Connector) findOne(ctx context.Context, d *discovered, rt *resourceType, filter string) (map[string]any, error) {
	if !d.filter {
		return nil, errors.New("the server does not support filtering (ServiceProviderConfig filter.supported is false)")
	}
	page, err := c.list(ctx, rt, url.Values{"filter": {filter}, "startIndex": {"1"}, "count": {"2"}})
	if err != nil {
		return nil, err
	}
	n := len(page.Resources)
	if page.TotalResults != nil && *page.TotalResults > n {
		n = *page.TotalResults
	}
	switch {
	case n > 1:
		return nil, fmt.Errorf("%w (%d)", errAmbiguous, n)
	case len(page.Resources) == 0:
		return nil, nil
	}
	return page.Resources[0], nil
}
