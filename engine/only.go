package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// An export restricted to some metaverse objects (RunOptions.Only: "provision
// this user now") sends their objects' pending exports whole, and, of the
// other objects' pending exports, only the reference values that name them:
// the user joins (or leaves) its groups now, while the groups' other
// changes — other members, perhaps not created yet — stay pending for the
// next export. A group not created yet is created with only those members.

// onlyExport is the restriction of one export run.
type onlyExport struct {
	mv map[string]bool // the MV objects whose exports go out whole
	// anchors are the anchors (as pending exports name them) of those
	// objects' objects in the connector.
	anchors map[string]bool
	// partial: CS ID → the changes sent instead of its pending export.
	partial map[string][]connector.AttrChange
}

func (e *Engine) newOnlyExport(ctx context.Context, conn string, mvids []string) (*onlyExport, error) {
	o := &onlyExport{mv: map[string]bool{}, anchors: map[string]bool{}, partial: map[string][]connector.AttrChange{}}
	for _, id := range mvids {
		o.mv[id] = true
		cs, err := e.Store.CSForMV(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read the objects of metaverse object %s: %w", id, err)
		}
		for _, c := range cs {
			if c.Connector == conn {
				o.anchors[c.Object.Anchor] = true
				if c.Object.DN != "" {
					o.anchors[c.Object.DN] = true
				}
			}
		}
	}
	return o, nil
}

// keep reports whether t's pending export goes out in this run, recording
// the partial changes of an object that only references the objects.
func (o *onlyExport) keep(t *store.CSObject) bool {
	if o == nil {
		return true
	}
	if o.mv[t.MVID] {
		return true
	}
	p := t.Pending
	if p.Op != connector.OpAdd && p.Op != connector.OpUpdate {
		return false
	}
	var out []connector.AttrChange
	refs := false
	for _, ch := range p.Changes {
		if ch.Type != model.Reference {
			if p.Op == connector.OpAdd {
				out = append(out, ch) // the object's own values: it must be created
			}
			continue
		}
		mine := slices.DeleteFunc(slices.Clone(ch.Values), func(v string) bool { return !o.anchors[v] })
		switch {
		case p.Op == connector.OpAdd:
			out = append(out, connector.AttrChange{Name: ch.Name, Mode: connector.Replace, Type: ch.Type, Values: mine})
			refs = refs || len(mine) > 0
		case ch.Mode == connector.Replace:
			// The values it will have: add ours it lacks, remove ours it
			// has and will not keep.
			have := t.Object.Attrs[ch.Name].Values
			var add, del []string
			for v := range o.anchors {
				switch {
				case slices.Contains(mine, v) && !slices.Contains(have, v):
					add = append(add, v)
				case !slices.Contains(mine, v) && slices.Contains(have, v):
					del = append(del, v)
				}
			}
			if len(add) > 0 {
				slices.Sort(add)
				out = append(out, connector.AttrChange{Name: ch.Name, Mode: connector.AddVals, Type: ch.Type, Values: add})
			}
			if len(del) > 0 {
				slices.Sort(del)
				out = append(out, connector.AttrChange{Name: ch.Name, Mode: connector.DelVals, Type: ch.Type, Values: del})
			}
			refs = refs || len(add)+len(del) > 0
		case len(mine) > 0:
			out = append(out, connector.AttrChange{Name: ch.Name, Mode: ch.Mode, Type: ch.Type, Values: mine})
			refs = true
		}
	}
	if !refs {
		return false
	}
	o.partial[t.ID] = out
	return true
}

// partialOf returns the partial changes sent for t, if its export is
// partial.
func (o *onlyExport) partialOf(t *store.CSObject) ([]connector.AttrChange, bool) {
	if o == nil {
		return nil, false
	}
	ch, ok := o.partial[t.ID]
	return ch, ok
}

// op returns the operation sent for t: its pending export, or its partial
// changes.
func (o *onlyExport) op(t *store.CSObject) connector.ExportOp {
	op := opFor(t)
	if o == nil {
		return op
	}
	if ch, ok := o.partial[t.ID]; ok {
		op.Changes = ch
	}
	return op
}

// remaining is what stays pending of t's export once its partial changes
// were sent: its reference changes without the values sent (whole again,
// as a replace, for an object just created), and for an update its other
// changes. nil: nothing.
func (o *onlyExport) remaining(t *store.CSObject, p *store.PendingExport) *store.PendingExport {
	sent := o.partial[t.ID]
	var rest []connector.AttrChange
	for _, ch := range p.Changes {
		switch {
		case ch.Type != model.Reference && p.Op == connector.OpAdd:
			continue // sent with the add
		case ch.Type != model.Reference, ch.Mode == connector.Replace:
			rest = append(rest, ch) // the full list, which holds what was sent
			continue
		}
		vals := slices.DeleteFunc(slices.Clone(ch.Values), func(v string) bool {
			return slices.ContainsFunc(sent, func(s connector.AttrChange) bool { return s.Name == ch.Name && slices.Contains(s.Values, v) })
		})
		if len(vals) > 0 {
			rest = append(rest, connector.AttrChange{Name: ch.Name, Mode: ch.Mode, Type: ch.Type, Values: vals})
		}
	}
	// What it still lacks is an update (the object exists now); a replace
	// the partial changes completed is done.
	rest = slices.DeleteFunc(rest, func(ch connector.AttrChange) bool {
		return ch.Mode == connector.Replace && t.Object.Attrs[ch.Name].Equal(model.Values{Type: ch.Type, Values: ch.Values})
	})
	if len(rest) == 0 {
		return nil
	}
	return &store.PendingExport{ID: newID(), Op: connector.OpUpdate, Rule: p.Rule, State: store.ExportPending, Changes: rest, Created: p.Created}
}
