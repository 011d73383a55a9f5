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
)

// refEndpoints lists the resource types a reference attribute may point
// at: those its $ref names (User, Group), else all configured ones.
func refEndpoints(d *discovered, t *target) []*resourceType {
	var names []string
	if r := t.top.sub("$ref"); r != nil {
		names = r.ReferenceTypes
	} else {
		names = t.leaf.ReferenceTypes
	}
	var out, all []*resourceType
	for _, objType := range sortedKeys(d.types) {
		rt := d.types[objType]
		all = append(all, rt)
		for _, n := range names {
			if strings.EqualFold(n, rt.name) {
				out = append(out, rt)
				break
			}
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// resolveRefs maps reference values to resource ids. A value is an id, or
// the externalId of a resource (the anchor idsync proposed when it added
// it). Values the connector has not seen are looked up on the server; one
// that matches nothing is an error, except when removing values.
func (c *Connector) resolveRefs(ctx context.Context, d *discovered, t *target, mode connector.Mode, vals []string) ([]string, error) {
	out := make([]string, 0, len(vals))
	var unknown []string
	for _, v := range vals {
		if id, ok := c.localID(v); ok {
			out = append(out, id)
		} else {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) == 0 {
		return out, nil
	}
	if mode == connector.DelVals {
		return append(out, unknown...), nil
	}
	found, err := c.lookupRefs(ctx, d, refEndpoints(d, t), unknown)
	if err != nil {
		return nil, fmt.Errorf("%s: look up references: %w", t.name, err)
	}
	var missing []string
	for _, v := range unknown {
		if id, ok := found[v]; ok {
			out = append(out, id)
		} else {
			missing = append(missing, strconv.Quote(v))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 10 {
			missing = append(missing[:10], fmt.Sprintf("and %d more", len(missing)-10))
		}
		return nil, fmt.Errorf("%s: no resource has the id or externalId %s", t.name, strings.Join(missing, ", "))
	}
	return out, nil
}

// refLookupBatch is how many values one lookup query asks for.
const refLookupBatch = 50

// lookupRefs finds resources whose id or externalId is one of values.
func (c *Connector) lookupRefs(ctx context.Context, d *discovered, rts []*resourceType, values []string) (map[string]string, error) {
	found := map[string]string{}
	pending := values
	for _, rt := range rts {
		for k := 0; k < len(pending); k += refLookupBatch {
			chunk := pending[k:min(k+refLookupBatch, len(pending))]
			if err := c.lookupChunk(ctx, d, rt, chunk, found); err != nil {
				return nil, err
			}
		}
		var rest []string
		for _, v := range pending {
			if _, ok := found[v]; !ok {
				rest = append(rest, v)
			}
		}
		if pending = rest; len(pending) == 0 {
			break
		}
	}
	return found, nil
}

// lookupChunk looks up a few values in one resource type: with one filter
// (id eq … or externalId eq …) when the server filters, else one GET each.
func (c *Connector) lookupChunk(ctx context.Context, d *discovered, rt *resourceType, chunk []string, found map[string]string) error {
	record := func(res map[string]any, want map[string]bool) {
		id, _ := fromJSON(nil, res["id"])
		ext, _ := fromJSON(nil, res["externalId"])
		c.remember(id, ext)
		if want[id] {
			found[id] = id
		}
		if _, done := found[ext]; want[ext] && !done {
			found[ext] = id
		}
	}
	want := map[string]bool{}
	for _, v := range chunk {
		want[v] = true
	}
	if d.filter {
		conds := make([]string, 0, 2*len(chunk))
		for _, v := range chunk {
			conds = append(conds, "id eq "+Quote(v), "externalId eq "+Quote(v))
		}
		q := url.Values{"filter": {strings.Join(conds, " or ")}, "attributes": {"id,externalId"},
			"startIndex": {"1"}, "count": {strconv.Itoa(2 * len(chunk))}}
		page, err := c.list(ctx, rt, q)
		if err == nil {
			for _, res := range page.Resources {
				record(res, want)
			}
			return nil
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
			return err
		}
		// The server does not filter on id: one value at a time.
	}
	for _, v := range chunk {
		if d.filter {
			r, err := c.findOne(ctx, d, rt, "externalId eq "+Quote(v))
			if err != nil && !errors.Is(err, errAmbiguous) {
				return err
			}
			if r != nil {
				record(r, want)
				continue
			}
		}
		r, err := c.get(ctx, rt, v)
		switch {
		case err == nil:
			record(r, want)
		case errors.Is(err, connector.ErrNotFound):
		default:
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
				return err
			}
		}
	}
	return nil
}
