package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// FailNext makes the next n exported ops fail with err (without changing
// anything). n <= 0 or err == nil clears the hook.
func (c *Connector) FailNext(n int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= 0 || err == nil {
		n, err = 0, nil
	}
	c.failN, c.failErr = n, err
}

// SetFailFunc installs a hook called for every exported op (after FailNext
// is used up); an op for which it returns an error fails with that error
// without changing anything. nil removes the hook. The hook is called with the
// connector's lock held: it must not call the connector.
func (c *Connector) SetFailFunc(f func(op connector.ExportOp) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failFunc = f
}

// Exported returns the ops received by Export so far, in order, including
// those that failed.
func (c *Connector) Exported() []connector.ExportOp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.exported)
}

// Export applies ops in order and returns one result per op:
//   - add: creates the object with anchor op.Anchor (a new UUID when empty),
//     DN op.DN, type op.ObjectType and the attribute changes applied to an
//     empty object. An object with the same anchor or DN makes the result
//     wrap connector.ErrAlreadyExists, with Anchor the existing object's
//     (and connector.ErrIdentityMatch when it is the same anchor).
//   - update: applies the attribute changes, and renames to op.NewDN when set.
//   - rename: moves the object to op.NewDN.
//   - delete: removes the object.
//
// update, rename and delete find the object by op.Anchor, or by op.DN when
// the anchor is empty; a missing object makes the result wrap
// connector.ErrNotFound. Renaming to a DN another object has fails. An op
// that fails changes nothing.
func (c *Connector) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	res := make([]connector.ExportResult, len(ops))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, op := range ops {
		res[i].ID = op.ID
		if err := ctx.Err(); err != nil {
			res[i].Err = err
			continue
		}
		op.Changes = slices.Clone(op.Changes)
		c.exported = append(c.exported, op)
		if err := c.injectedLocked(op); err != nil {
			res[i].Err = err
			continue
		}
		anchor, err := c.applyLocked(op)
		res[i].Anchor = anchor
		if err != nil {
			res[i].Err = fmt.Errorf("memory connector %q: %s %q: %w", c.name, op.Op, opName(op), err)
		}
	}
	return res
}

func opName(op connector.ExportOp) string {
	if op.DN != "" {
		return op.DN
	}
	return op.Anchor
}

// injectedLocked returns the error a fault hook injects for op, if any.
func (c *Connector) injectedLocked(op connector.ExportOp) error {
	if c.failN > 0 {
		c.failN--
		err := c.failErr
		if c.failN == 0 {
			c.failErr = nil
		}
		return err
	}
	if c.failFunc != nil {
		return c.failFunc(op)
	}
	return nil
}

// applyLocked applies one op and returns the object's anchor.
func (c *Connector) applyLocked(op connector.ExportOp) (string, error) {
	if op.Op == connector.OpAdd {
		return c.addLocked(op)
	}
	anchor, ok := c.findLocked(op)
	if !ok {
		return "", connector.ErrNotFound
	}
	switch op.Op {
	case connector.OpDelete:
		c.removeLocked(anchor)
		return anchor, nil
	case connector.OpUpdate, connector.OpRename:
		o := c.objs[anchor].Clone()
		if op.Op == connector.OpUpdate {
			if err := ApplyChanges(o.Attrs, op.Changes); err != nil {
				return anchor, err
			}
		} else if op.NewDN == "" {
			return anchor, errors.New("rename without a new DN")
		}
		if op.NewDN != "" && dnKey(op.NewDN) != dnKey(o.DN) {
			if other, ok := c.byDN[dnKey(op.NewDN)]; ok {
				return anchor, fmt.Errorf("cannot rename to %q: the DN is used by the object %q", op.NewDN, other)
			}
		}
		if op.NewDN != "" {
			o.DN = op.NewDN
		}
		c.storeLocked(o)
		return anchor, nil
	}
	return "", fmt.Errorf("unknown export operation %q", op.Op)
}

func (c *Connector) addLocked(op connector.ExportOp) (string, error) {
	if op.Anchor != "" {
		if _, ok := c.objs[op.Anchor]; ok {
			// The anchor idsync proposed: this object itself.
			return op.Anchor, fmt.Errorf("%w (%w)", connector.ErrAlreadyExists, connector.ErrIdentityMatch)
		}
	}
	if op.DN != "" {
		if a, ok := c.byDN[dnKey(op.DN)]; ok {
			return a, connector.ErrAlreadyExists
		}
	}
	o := &model.Object{Anchor: op.Anchor, DN: op.DN, Type: op.ObjectType, Attrs: model.Attrs{}}
	if o.Anchor == "" {
		o.Anchor = uuid.NewString()
	}
	if err := ApplyChanges(o.Attrs, op.Changes); err != nil {
		return "", err
	}
	c.storeLocked(o)
	return o.Anchor, nil
}

// findLocked finds the object an op addresses: by anchor, else by DN.
func (c *Connector) findLocked(op connector.ExportOp) (string, bool) {
	if op.Anchor != "" {
		_, ok := c.objs[op.Anchor]
		return op.Anchor, ok
	}
	if op.DN != "" {
		a, ok := c.byDN[dnKey(op.DN)]
		return a, ok
	}
	return "", false
}

// ApplyChanges applies attribute changes to attrs in order:
//   - Replace: the attribute's values become the change's values (none:
//     the attribute is removed);
//   - AddVals: values not yet present are appended;
//   - DelVals: the values are removed; a DelVals without values removes the
//     attribute.
//
// Values are sets: duplicates are dropped. The attribute takes the change's
// type. On error attrs may be partly changed: apply to a copy when that
// matters.
func ApplyChanges(attrs model.Attrs, changes []connector.AttrChange) error {
	for _, ch := range changes {
		if ch.Name == "" {
			return errors.New("attribute change without a name")
		}
		switch ch.Mode {
		case connector.Replace:
			attrs.Set(ch.Name, model.Values{Type: ch.Type, Values: appendNew(nil, ch.Values)})
		case connector.AddVals:
			cur := attrs[ch.Name]
			attrs.Set(ch.Name, model.Values{Type: ch.Type, Values: appendNew(slices.Clone(cur.Values), ch.Values)})
		case connector.DelVals:
			cur, ok := attrs[ch.Name]
			if !ok {
				continue
			}
			if len(ch.Values) == 0 {
				delete(attrs, ch.Name)
				continue
			}
			del := make(map[string]bool, len(ch.Values))
			for _, v := range ch.Values {
				del[v] = true
			}
			kept := slices.DeleteFunc(slices.Clone(cur.Values), func(v string) bool { return del[v] })
			attrs.Set(ch.Name, model.Values{Type: cur.Type, Values: kept})
		default:
			return fmt.Errorf("attribute %q: unknown change mode %q", ch.Name, ch.Mode)
		}
	}
	return nil
}

// appendNew appends the values of add not yet in dst.
func appendNew(dst, add []string) []string {
	seen := make(map[string]bool, len(dst)+len(add))
	for _, v := range dst {
		seen[v] = true
	}
	for _, v := range add {
		if !seen[v] {
			seen[v] = true
			dst = append(dst, v)
		}
	}
	return dst
}
