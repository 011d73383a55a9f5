// Package memory is an in-memory connector for tests and experiments.
//
// A Connector holds model.Objects keyed by anchor, with an index by DN (DNs
// compared case-insensitively). It implements every capability idsync knows:
// TestConnection, Schema (configured with SetSchema, else inferred from the
// objects), FullImport, DeltaImport (backed by a change log with a sequence
// number: the watermark is the last sequence number, as a decimal string) and
// Export (add, update, rename, delete, with the idempotency errors of the
// connector contract).
//
// Tests fill a connector with Put, inspect it with Get and All, inject
// export failures with FailNext or SetFailFunc, and make attributes
// write-only (stored on export, never imported: AD's unicodePwd) with
// SetWriteOnly.
//
// The package registers the connector type "memory". Its data lives in the
// process, so the factory returns the connector shared under the configured
// name: a test pre-populates memory.Shared("hr") and then runs the engine with
// a configuration naming a connector "hr" of type memory. The config block
// takes no keys:
//
//	connectors:
//	  - name: hr
//	    type: memory
//	    config: {}
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Compile-time checks of the capabilities the connector offers.
var (
	_ connector.Connector       = (*Connector)(nil)
	_ connector.Tester          = (*Connector)(nil)
	_ connector.SchemaDescriber = (*Connector)(nil)
	_ connector.FullImporter    = (*Connector)(nil)
	_ connector.DeltaImporter   = (*Connector)(nil)
	_ connector.Exporter        = (*Connector)(nil)

	_ connector.WriteOnlyAttributer = (*Connector)(nil)
)

// Connector is an in-memory connector. All methods are safe for concurrent use.
type Connector struct {
	name string

	mu      sync.Mutex
	objs    map[string]*model.Object // anchor → object
	byDN    map[string]string        // dnKey(DN) → anchor
	seq     uint64                   // last change sequence number
	changes map[string]change        // anchor → last change of the anchor
	schema  *model.Schema            // nil: inferred
	// writeOnly: attributes stored on export and never imported.
	writeOnly []string

	testErr  error
	failN    int
	failErr  error
	failFunc func(connector.ExportOp) error
	exported []connector.ExportOp
}

// change is the last change recorded for an anchor.
type change struct {
	seq     uint64
	deleted bool
	dn      string // DN when deleted
	typ     string // object type when deleted
}

// New returns an empty connector. name only appears in error messages.
func New(name string) *Connector {
	return &Connector{
		name:    name,
		objs:    map[string]*model.Object{},
		byDN:    map[string]string{},
		changes: map[string]change{},
	}
}

// SetWriteOnly makes the named attributes write-only, as AD's unicodePwd:
// an export stores them (Get shows them), an import never returns them.
func (c *Connector) SetWriteOnly(names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeOnly = slices.Clone(names)
}

// WriteOnlyAttributes returns the attributes SetWriteOnly named.
func (c *Connector) WriteOnlyAttributes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writeOnly)
}

// Name returns the connector's name.
func (c *Connector) Name() string { return c.name }

// dnKey is the key of the DN index. DNs are compared case-insensitively; no
// further normalization (of spaces or escapes) is done.
func dnKey(dn string) string { return strings.ToLower(dn) }

// Close does nothing: the data stays in memory until the Connector is dropped.
func (c *Connector) Close() error { return nil }

// TestConnection returns the error set with SetTestError, or nil.
func (c *Connector) TestConnection(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.testErr != nil {
		return fmt.Errorf("memory connector %q: %w", c.name, c.testErr)
	}
	return nil
}

// SetTestError makes TestConnection fail with err (nil: succeed).
func (c *Connector) SetTestError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.testErr = err
}

// Put stores copies of objs, replacing objects with the same anchor, and
// records them in the change log. It panics when an object has no anchor or
// its DN is used by an object with another anchor: both are bugs of the test.
func (c *Connector) Put(objs ...*model.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range objs {
		if o.Anchor == "" {
			panic(fmt.Sprintf("memory connector %q: Put of an object without anchor (DN %q)", c.name, o.DN))
		}
		if o.DN != "" {
			if a, ok := c.byDN[dnKey(o.DN)]; ok && a != o.Anchor {
				panic(fmt.Sprintf("memory connector %q: Put of %q: DN %q is used by anchor %q", c.name, o.Anchor, o.DN, a))
			}
		}
		c.storeLocked(o.Clone())
	}
}

// Remove deletes the object with anchor and records the deletion. It reports
// whether the object existed.
func (c *Connector) Remove(anchor string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.objs[anchor]; !ok {
		return false
	}
	c.removeLocked(anchor)
	return true
}

// Get returns a copy of the object with anchor, or nil.
func (c *Connector) Get(anchor string) *model.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.objs[anchor]; ok {
		return o.Clone()
	}
	return nil
}

// GetByDN returns a copy of the object with dn (compared case-insensitively),
// or nil.
func (c *Connector) GetByDN(dn string) *model.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.byDN[dnKey(dn)]; ok {
		return c.objs[a].Clone()
	}
	return nil
}

// Len returns the number of objects.
func (c *Connector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.objs)
}

// All returns copies of all objects, sorted by anchor.
func (c *Connector) All() []*model.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked()
}

func (c *Connector) snapshotLocked() []*model.Object {
	out := make([]*model.Object, 0, len(c.objs))
	for _, o := range c.objs {
		out = append(out, o.Clone())
	}
	slices.SortFunc(out, func(a, b *model.Object) int { return strings.Compare(a.Anchor, b.Anchor) })
	return out
}

// Reset removes all objects, the change log, the schema, the recorded
// exports and the fault hooks. The sequence number keeps counting, so
// watermarks from before the reset are not mistaken for new ones.
func (c *Connector) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.objs = map[string]*model.Object{}
	c.byDN = map[string]string{}
	c.changes = map[string]change{}
	c.schema = nil
	c.testErr, c.failN, c.failErr, c.failFunc = nil, 0, nil, nil
	c.exported = nil
}

// storeLocked stores o (owned by the connector from now on), keeping the DN
// index in step, and records an upsert.
func (c *Connector) storeLocked(o *model.Object) {
	if old, ok := c.objs[o.Anchor]; ok && old.DN != "" {
		delete(c.byDN, dnKey(old.DN))
	}
	if o.Attrs == nil {
		o.Attrs = model.Attrs{}
	}
	c.objs[o.Anchor] = o
	if o.DN != "" {
		c.byDN[dnKey(o.DN)] = o.Anchor
	}
	c.seq++
	c.changes[o.Anchor] = change{seq: c.seq}
}

// removeLocked removes the object with anchor, which exists, and records the
// deletion.
func (c *Connector) removeLocked(anchor string) {
	o := c.objs[anchor]
	delete(c.objs, anchor)
	if o.DN != "" {
		delete(c.byDN, dnKey(o.DN))
	}
	c.seq++
	c.changes[anchor] = change{seq: c.seq, deleted: true, dn: o.DN, typ: o.Type}
}
