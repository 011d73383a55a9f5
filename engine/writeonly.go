package engine

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// writeOnly is the set of a connector's write-only attributes
// (connector.WriteOnlyAttributer), by lower-case name: values the target
// accepts and never gives back (AD's unicodePwd). For these, the target
// object's state in the connector space is what idsync last exported, not
// what an import read: an import neither asks for them nor replaces them,
// so a value is exported when the object is created and whenever the
// desired value changes, never again at every cycle because the target
// does not return it (which would look like drift). Their removal is never
// exported either: a target that does not show a value cannot be asked to
// clear it, and no password is better than none.
type writeOnly map[string]bool

// writeOnlyOf returns c's write-only attributes (nil when it has none).
func writeOnlyOf(c *Connector) writeOnly {
	if c == nil {
		return nil
	}
	wa, ok := c.Conn.(connector.WriteOnlyAttributer)
	if !ok {
		return nil
	}
	var w writeOnly
	for _, n := range wa.WriteOnlyAttributes() {
		if w == nil {
			w = writeOnly{}
		}
		w[strings.ToLower(n)] = true
	}
	return w
}

// writeOnlyByTarget returns the write-only attributes of the targets of
// the rules (only those that have some).
func writeOnlyByTarget(e *Engine, rv *ruleView) map[string]writeOnly {
	out := map[string]writeOnly{}
	for _, t := range rv.targets {
		if w := writeOnlyOf(e.Connectors[t]); w != nil {
			out[t] = w
		}
	}
	return out
}

func (w writeOnly) has(name string) bool { return len(w) > 0 && w[strings.ToLower(name)] }

// request drops the write-only attributes from the attributes an import
// asks for (nil, all, stays nil: the connector never returns them).
func (w writeOnly) request(attrs []string) []string {
	if len(w) == 0 || len(attrs) == 0 {
		return attrs
	}
	return slices.DeleteFunc(slices.Clone(attrs), w.has)
}

// carry makes imported object o hold, for every write-only attribute, the
// values cur (its connector-space object before the import, nil for a new
// one) last exported, and nothing the connector may have returned.
func (w writeOnly) carry(cur *store.CSObject, o *model.Object) {
	if len(w) == 0 {
		return
	}
	for name := range o.Attrs {
		if w.has(name) {
			delete(o.Attrs, name)
		}
	}
	if cur == nil {
		return
	}
	for name, v := range cur.Object.Attrs {
		if w.has(name) && len(v.Values) > 0 {
			o.Attrs[name] = model.Values{Type: v.Type, Values: slices.Clone(v.Values)}
		}
	}
}
