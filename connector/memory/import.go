package memory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// SetSchema sets the schema Schema returns; nil makes Schema infer it from
// the objects again.
func (c *Connector) SetSchema(s *model.Schema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schema = s
}

// SchemaInferred reports whether the schema is inferred from the objects
// (none was set with SetSchema).
func (c *Connector) SchemaInferred() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.schema == nil
}

// Schema returns the schema set with SetSchema or, without one, a schema
// inferred from the stored objects: per object type the attributes seen, with
// the type of their values, multi-valued when an object has more than one
// value. Object types and attributes are sorted by name.
func (c *Connector) Schema(ctx context.Context) (*model.Schema, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.schema != nil {
		s := *c.schema
		s.ObjectTypes = slices.Clone(s.ObjectTypes)
		for i := range s.ObjectTypes {
			s.ObjectTypes[i].Attributes = slices.Clone(s.ObjectTypes[i].Attributes)
		}
		return &s, nil
	}
	return InferSchema(c.snapshotLocked()), nil
}

// InferSchema infers a schema from objects: per object type the attributes
// seen, with the type of their values (the first one seen wins), multi-valued
// when an object holds more than one value. Object types and attributes are
// sorted by name.
func InferSchema(objs []*model.Object) *model.Schema {
	types := map[string]map[string]*model.AttributeSchema{}
	for _, o := range objs {
		attrs := types[o.Type]
		if attrs == nil {
			attrs = map[string]*model.AttributeSchema{}
			types[o.Type] = attrs
		}
		for name, v := range o.Attrs {
			a := attrs[name]
			if a == nil {
				a = &model.AttributeSchema{Name: name, Type: v.Type}
				attrs[name] = a
			}
			if len(v.Values) > 1 {
				a.MultiValued = true
			}
		}
	}
	s := &model.Schema{ObjectTypes: []model.ObjectTypeSchema{}, Inferred: true}
	for t, attrs := range types {
		ot := model.ObjectTypeSchema{Name: t, Attributes: []model.AttributeSchema{}}
		for _, a := range attrs {
			ot.Attributes = append(ot.Attributes, *a)
		}
		slices.SortFunc(ot.Attributes, func(a, b model.AttributeSchema) int { return strings.Compare(a.Name, b.Name) })
		s.ObjectTypes = append(s.ObjectTypes, ot)
	}
	slices.SortFunc(s.ObjectTypes, func(a, b model.ObjectTypeSchema) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// FullImport emits copies of all objects matching req, sorted by anchor, and
// returns the current sequence number as watermark. emit is called without
// the connector's lock held.
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	if err := c.checkPartition(req); err != nil {
		return "", err
	}
	c.mu.Lock()
	objs := c.snapshotLocked()
	wm := c.seq
	wo := c.writeOnly
	c.mu.Unlock()
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if !wantType(req, o.Type) {
			continue
		}
		if err := emit(project(req, o, wo)); err != nil {
			return "", err
		}
	}
	return strconv.FormatUint(wm, 10), nil
}

// DeltaImport emits the objects changed since watermark, in the order of
// their last change: an Upsert with the current state of objects that exist,
// a Delete (Anchor, DN and Type set) for those removed. An object changed
// several times is reported once. The empty watermark means "since the
// beginning".
func (c *Connector) DeltaImport(ctx context.Context, req connector.ImportRequest, watermark string, emit func(connector.Change) error) (string, error) {
	if err := c.checkPartition(req); err != nil {
		return "", err
	}
	var since uint64
	if watermark != "" {
		n, err := strconv.ParseUint(watermark, 10, 64)
		if err != nil {
			return "", fmt.Errorf("memory connector %q: invalid watermark %q: %w", c.name, watermark, err)
		}
		since = n
	}
	c.mu.Lock()
	if since > c.seq {
		c.mu.Unlock()
		return "", fmt.Errorf("memory connector %q: watermark %d is ahead of the change log (%d): run a full import", c.name, since, c.seq)
	}
	type item struct {
		seq uint64
		ch  connector.Change
	}
	var items []item
	for anchor, ch := range c.changes {
		if ch.seq <= since {
			continue
		}
		if ch.deleted {
			items = append(items, item{ch.seq, connector.Change{Kind: connector.Delete, Object: &model.Object{Anchor: anchor, DN: ch.dn, Type: ch.typ}}})
		} else {
			items = append(items, item{ch.seq, connector.Change{Kind: connector.Upsert, Object: c.objs[anchor].Clone()}})
		}
	}
	wm := c.seq
	wo := c.writeOnly
	c.mu.Unlock()

	slices.SortFunc(items, func(a, b item) int { return cmpUint(a.seq, b.seq) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if !wantType(req, it.ch.Object.Type) {
			continue
		}
		if it.ch.Kind == connector.Upsert {
			it.ch.Object = project(req, it.ch.Object, wo)
		}
		if err := emit(it.ch); err != nil {
			return "", err
		}
	}
	return strconv.FormatUint(wm, 10), nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *Connector) checkPartition(req connector.ImportRequest) error {
	if req.Partition != "" {
		return fmt.Errorf("memory connector %q: unknown partition %q (it has only the partition \"\")", c.name, req.Partition)
	}
	return nil
}

// wantType reports whether req asks for objects of type t.
func wantType(req connector.ImportRequest, t string) bool {
	return len(req.ObjectTypes) == 0 || slices.Contains(req.ObjectTypes, t)
}

// project keeps only the attributes req asks for, never the write-only
// ones; o is owned by the caller.
func project(req connector.ImportRequest, o *model.Object, writeOnly []string) *model.Object {
	for name := range o.Attrs {
		if slices.ContainsFunc(writeOnly, func(w string) bool { return strings.EqualFold(w, name) }) {
			delete(o.Attrs, name)
		}
	}
	if len(req.Attributes) == 0 {
		return o
	}
	for name := range o.Attrs {
		if !slices.Contains(req.Attributes, name) {
			delete(o.Attrs, name)
		}
	}
	return o
}
