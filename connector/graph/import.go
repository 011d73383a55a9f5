package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// selection is what an import asks Graph for, for one object type.
type selection struct {
	ot      *objectType
	attrs   []*attrDef // attributes read from the object's properties
	members bool       // read the member list (groups)
}

// selections returns what req asks for, in the order user, group, contact.
func selections(req connector.ImportRequest) []*selection {
	var out []*selection
	for _, ot := range objectTypes {
		if len(req.ObjectTypes) > 0 && !contains(req.ObjectTypes, ot.name) {
			continue
		}
		sel := &selection{ot: ot}
		for i := range ot.attrs {
			a := &ot.attrs[i]
			if a.prop == "" || len(req.Attributes) > 0 && !contains(req.Attributes, a.name) {
				continue
			}
			if a.kind == kRefs {
				sel.members = true
			} else {
				sel.attrs = append(sel.attrs, a)
			}
		}
		out = append(out, sel)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// selectProps is the $select of the object properties: id and the selected
// attributes' properties.
func (sel *selection) selectProps() string {
	p := []string{"id"}
	for _, a := range sel.attrs {
		if a.prop != "id" {
			p = append(p, a.prop)
		}
	}
	return strings.Join(p, ",")
}

// deltaSelect is the $select of a delta query: with members on groups, so
// that membership changes are reported.
func (sel *selection) deltaSelect() string {
	if sel.members {
		return sel.selectProps() + ",members"
	}
	return sel.selectProps()
}

// FullImport reads every user, group and organizational contact (those of
// req.ObjectTypes), page by page: GET /users, /groups and /contacts with
// $select and $top, following @odata.nextLink, and the members of each
// group with GET /groups/{id}/members. Before it reads anything it asks
// /users/delta, /groups/delta and /contacts/delta for the current delta
// link ($deltatoken=latest), so that a delta import started from the
// returned watermark sees every change made during the full import.
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	sels := selections(req)
	wm := watermark{V: watermarkVersion, Delta: map[string]string{}}
	for _, sel := range sels {
		link, err := c.latestDeltaLink(ctx, sel)
		if err != nil {
			return "", c.errorf("start change tracking of %s: %w", sel.ot.coll, err)
		}
		wm.Delta[sel.ot.name] = link
	}
	for _, sel := range sels {
		_, err := c.cl.eachPage(ctx, &request{method: http.MethodGet, path: "/" + sel.ot.coll,
			query: [][2]string{{"$select", sel.selectProps()}, {"$top", strconv.Itoa(c.s.pageSize)}}},
			func(values []json.RawMessage) error {
				objs := make([]*model.Object, len(values))
				for i, raw := range values {
					o, err := decodeObject(sel, raw)
					if err != nil {
						req.ReportObjectError(o.Anchor, "", c.errorf("%s %s: %w", sel.ot.name, o.Anchor, err))
						continue
					}
					objs[i] = o
				}
				if err := c.readMembers(ctx, sel, objs); err != nil {
					return err
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
		if err != nil {
			return "", c.errorf("import %s: %w", sel.ot.coll, err)
		}
	}
	return wm.encode(), nil
}

// latestDeltaLink returns a delta link from which a delta round reports the
// changes made from now on: GET /{coll}/delta?$deltatoken=latest, which
// returns no objects. Should Graph refuse that option (400), it runs an
// initial delta round to its end instead, discarding the objects.
func (c *Connector) latestDeltaLink(ctx context.Context, sel *selection) (string, error) {
	path := "/" + sel.ot.coll + "/delta"
	link, err := c.cl.eachPage(ctx, &request{method: http.MethodGet, path: path,
		query: [][2]string{{"$select", sel.deltaSelect()}, {"$deltatoken", "latest"}}}, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		c.log.Debug("graph: $deltatoken=latest refused; running an initial delta round", "connector", c.name, "collection", sel.ot.coll, "err", err)
		link, err = c.cl.eachPage(ctx, &request{method: http.MethodGet, path: path,
			query: [][2]string{{"$select", sel.deltaSelect()}}}, nil)
	}
	if err == nil && link == "" {
		err = errors.New("the answer has no @odata.deltaLink")
	}
	return link, err
}

// decodeObject converts one Graph object. On error the returned object
// still carries the anchor when it could be read.
func decodeObject(sel *selection, raw json.RawMessage) (*model.Object, error) {
	o := &model.Object{Type: sel.ot.name, Attrs: model.Attrs{}}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return o, fmt.Errorf("not a JSON object: %s", clipRaw(raw))
	}
	o.Anchor = rawStr(m["id"])
	if o.Anchor == "" {
		return o, errors.New("the object has no id")
	}
	for _, a := range sel.attrs {
		v, err := decodeValue(a, m[a.prop])
		if err != nil {
			return o, err
		}
		o.Attrs.Set(a.name, v)
	}
	return o, nil
}

// readMembers fills the member attribute of the groups in objs (nil
// entries are skipped), `concurrency` groups at a time. A group deleted
// meanwhile is dropped from objs.
func (c *Connector) readMembers(ctx context.Context, sel *selection, objs []*model.Object) error {
	if !sel.members {
		return nil
	}
	return parallel(ctx, c.s.concurrency, len(objs), func(i int) error {
		o := objs[i]
		if o == nil {
			return nil
		}
		ids, err := c.currentMembers(ctx, o.Anchor)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			objs[i] = nil
			return nil
		}
		if err != nil {
			return err
		}
		o.Attrs.Set("member", model.Ref(ids...))
		return nil
	})
}

// currentMembers lists the ids of a group's members.
func (c *Connector) currentMembers(ctx context.Context, gid string) ([]string, error) {
	var ids []string
	_, err := c.cl.eachPage(ctx, &request{method: http.MethodGet, path: "/groups/" + url.PathEscape(gid) + "/members",
		query: [][2]string{{"$select", "id"}, {"$top", strconv.Itoa(c.s.pageSize)}}},
		func(values []json.RawMessage) error {
			for _, raw := range values {
				var m map[string]json.RawMessage
				if json.Unmarshal(raw, &m) != nil {
					continue
				}
				if id := rawStr(m["id"]); id != "" {
					ids = append(ids, id)
				}
			}
			return nil
		})
	return ids, err
}

// parallel runs fn(0) … fn(count-1) on up to n goroutines and returns the
// first error; after an error no new call starts.
func parallel(ctx context.Context, n, count int, fn func(i int) error) error {
	if count == 0 {
		return nil
	}
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

// DeltaImport follows the delta links of the watermark (GET
// /users/delta?$deltatoken=…, and so on): an entry with "@removed" (reason
// "changed": in the deleted items; "deleted": gone for good) is a
// connector.Delete; any other entry names an object that changed, which is
// read again in full (delta answers carry only the changed properties) and
// emitted as an Upsert, with its complete member list for a group. It
// returns the new delta links. An expired delta token (410 Gone,
// syncStateNotFound) is an error that asks for a full import.
func (c *Connector) DeltaImport(ctx context.Context, req connector.ImportRequest, wmText string, emit func(connector.Change) error) (string, error) {
	wm, err := parseWatermark(wmText, c.s.base)
	if err != nil {
		return "", c.errorf("watermark: %w: run a full import of this connector", err)
	}
	out := watermark{V: watermarkVersion, Delta: map[string]string{}}
	for k, v := range wm.Delta {
		out.Delta[k] = v // types not imported this time keep their place
	}
	for _, sel := range selections(req) {
		link := wm.Delta[sel.ot.name]
		if link == "" {
			return "", c.errorf("the watermark has no delta link for %s (the last full import did not read them): run a full import of this connector", sel.ot.coll)
		}
		next, err := c.cl.eachPage(ctx, &request{method: http.MethodGet, link: link}, func(values []json.RawMessage) error {
			return c.deltaPage(ctx, req, sel, values, emit)
		})
		if expired(err) {
			return "", c.errorf("the delta token of %s has expired or is unknown to Graph (%w): Graph keeps the changes of directory objects for a limited time; run a full import of this connector", sel.ot.coll, err)
		}
		if err != nil {
			return "", c.errorf("delta import of %s: %w", sel.ot.coll, err)
		}
		if next == "" {
			return "", c.errorf("delta import of %s: the last page has no @odata.deltaLink", sel.ot.coll)
		}
		out.Delta[sel.ot.name] = next
	}
	return out.encode(), nil
}

// expired reports whether err says that a delta token is no longer valid.
func expired(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusGone || strings.EqualFold(ae.Code, "syncStateNotFound") || strings.EqualFold(ae.Code, "resyncRequired")
}

// deltaPage turns one page of a delta round into changes, in page order.
func (c *Connector) deltaPage(ctx context.Context, req connector.ImportRequest, sel *selection, values []json.RawMessage, emit func(connector.Change) error) error {
	changes := make([]*connector.Change, len(values))
	var reread []int
	for i, raw := range values {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			req.ReportObjectError("", "", c.errorf("delta of %s: an entry is not a JSON object: %s", sel.ot.coll, clipRaw(raw)))
			continue
		}
		id := rawStr(m["id"])
		if id == "" {
			req.ReportObjectError("", "", c.errorf("delta of %s: an entry has no id: %s", sel.ot.coll, clipRaw(raw)))
			continue
		}
		if r, ok := m["@removed"]; ok && string(r) != "null" {
			changes[i] = &connector.Change{Kind: connector.Delete, Object: &model.Object{Anchor: id, Type: sel.ot.name}}
			continue
		}
		changes[i] = &connector.Change{Kind: connector.Upsert, Object: &model.Object{Anchor: id, Type: sel.ot.name}}
		reread = append(reread, i)
	}
	bad := make([]error, len(values)) // objects Graph returned that idsync cannot represent
	err := parallel(ctx, c.s.concurrency, len(reread), func(k int) error {
		i := reread[k]
		ch := changes[i]
		o, err := c.readObject(ctx, sel, ch.Object.Anchor)
		var ae *APIError
		var oe *objectError
		switch {
		case err == nil:
			ch.Object = o
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			ch.Kind = connector.Delete // deleted since the change
		case errors.As(err, &oe):
			bad[i] = err
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, ch := range changes {
		if bad[i] != nil {
			req.ReportObjectError(ch.Object.Anchor, "", c.errorf("%s %s: %w", sel.ot.name, ch.Object.Anchor, bad[i]))
			continue
		}
		if ch == nil {
			continue
		}
		if err := emit(*ch); err != nil {
			return err
		}
	}
	return nil
}

// readObject reads one object in full: GET /{coll}/{id}?$select=…, and the
// member list of a group. A 404 comes back as an *APIError; an object that
// cannot be represented is reported through req and returned as nil.
func (c *Connector) readObject(ctx context.Context, sel *selection, id string) (*model.Object, error) {
	resp, err := c.cl.do(ctx, &request{method: http.MethodGet, path: "/" + sel.ot.coll + "/" + url.PathEscape(id),
		query: [][2]string{{"$select", sel.selectProps()}}})
	if err != nil {
		return nil, err
	}
	o, err := decodeObject(sel, resp.body)
	if err != nil {
		return nil, &objectError{id: id, err: err}
	}
	objs := []*model.Object{o}
	if err := c.readMembers(ctx, sel, objs); err != nil {
		return nil, err
	}
	if objs[0] == nil {
		return nil, &APIError{Method: http.MethodGet, Path: "/groups/" + id + "/members", Status: http.StatusNotFound}
	}
	return o, nil
}

// objectError is an object Graph returned that idsync cannot represent.
type objectError struct {
	id  string
	err error
}

func (e *objectError) Error() string { return e.err.Error() }
