package file

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Export applies a batch of ops to the file. Outside an export run (see
// BeginExport) it reads the file (and its journal), applies the ops in
// order to the in-memory image, then rewrites the file once, atomically.
// Within a run the image is kept between calls while the file is unchanged,
// and the ops that succeeded are appended to the journal, synced, instead;
// the file is rewritten when the journal outgrows it and at the end of the
// run. An op that fails changes nothing; when the file or the journal
// cannot be written every op of the batch fails.
//
// add creates an object: an object with the same anchor or DN makes it fail
// with connector.ErrAlreadyExists (Anchor set to the existing object's).
// update applies attribute changes and renames to NewDN when set; rename
// moves an object to NewDN; delete removes it. They find the object by
// anchor (by DN when the op has no anchor) and fail with
// connector.ErrNotFound when it is missing.
func (c *Connector) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	res := make([]connector.ExportResult, len(ops))
	for i, op := range ops {
		res[i].ID = op.ID
	}
	fail := func(err error) []connector.ExportResult {
		for i := range res {
			if res[i].Err == nil {
				res[i].Err = err
			}
		}
		return res
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if !c.s.target {
		// A source file (an HR export, a directory dump) is never written
		// by accident: writing must be asked for.
		return fail(fmt.Errorf("file connector %q is a source: idsync does not write to %s unless the connector sets target: true", c.name, c.s.path))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions == 0 {
		defer func() { c.img = nil }() // outside a run, nothing is kept
	}
	img, err := c.current(ctx)
	if err != nil {
		return fail(fmt.Errorf("file connector %q: export: reading the file: %w", c.name, err))
	}
	done := img.applyBatch(ops, func(i int, anchor string, err error) {
		res[i].Anchor = anchor
		if err != nil {
			res[i].Err = fmt.Errorf("file connector %q: %s %q: %w", c.name, ops[i].Op, opName(ops[i]), err)
		}
	})
	if len(done) == 0 {
		c.img = img
		return res
	}
	if c.sessions == 0 {
		if err := c.compact(img); err != nil {
			return fail(fmt.Errorf("file connector %q: export: %w", c.name, err))
		}
		return res
	}
	jp := c.journalPath()
	j, err := appendJournal(jp, c.disk.journal, sumRecord(recHeader, c.disk.sum), batchRecord(done))
	if err != nil {
		c.img = nil // the journal may or may not hold the batch: read it again
		return fail(fmt.Errorf("file connector %q: export: writing the journal %s: %w", c.name, jp, err))
	}
	c.disk.journal = j
	c.img = img
	limit := int64(journalCompactMin)
	if c.disk.file != nil {
		limit = max(limit, c.disk.file.Size())
	}
	if c.compactAt > 0 {
		limit = c.compactAt
	}
	if j.end > limit {
		// The ops are safe in the journal: a failed rewrite is retried at
		// the end of the run (compact drops the image).
		_ = c.compact(img)
	}
	return res
}

func opName(op connector.ExportOp) string {
	if op.DN != "" {
		return op.DN
	}
	return op.Anchor
}

// apply applies one op to the image and returns the object's anchor.
func (img *image) apply(op connector.ExportOp) (string, error) {
	switch op.Op {
	case connector.OpAdd:
		return img.add(op)
	case connector.OpRename:
		if op.NewDN == "" {
			return "", errors.New("rename without a new DN")
		}
	case connector.OpUpdate, connector.OpDelete:
	default:
		return "", fmt.Errorf("unknown export operation %q", op.Op)
	}
	cur := img.find(op)
	if cur == nil {
		return "", connector.ErrNotFound
	}
	if op.Op == connector.OpDelete {
		img.remove(cur)
		return cur.Anchor, nil
	}
	o := cur.Clone()
	if op.Op == connector.OpUpdate {
		if err := img.change(o, op.Changes); err != nil {
			return cur.Anchor, err
		}
	}
	if op.NewDN != "" && img.s.hasDN() {
		if k, ok := img.lookupDN(op.NewDN); ok && k != img.s.anchorKey(cur.Anchor) {
			return cur.Anchor, fmt.Errorf("cannot rename to %q: the DN is used by the object %q", op.NewDN, img.anchorOf(k))
		}
		o.DN = op.NewDN
	}
	if err := img.finish(o, cur.Anchor); err != nil {
		return cur.Anchor, err
	}
	img.remove(cur)
	img.put(o)
	return o.Anchor, nil
}

// add applies an add op.
func (img *image) add(op connector.ExportOp) (string, error) {
	s := img.s
	// Room for the anchor and objectClass the add may set besides the
	// changes: a map grown by halves as they are set is garbage thrice over.
	o := &model.Object{Type: op.ObjectType, Attrs: make(model.Attrs, len(op.Changes)+2)}
	if s.hasDN() {
		o.DN = op.DN
	}
	if s.format == FormatLDIF && o.DN == "" {
		return "", errors.New("an LDIF object needs a DN")
	}
	if o.DN != "" {
		if k, ok := img.lookupDN(o.DN); ok {
			return img.anchorOf(k), connector.ErrAlreadyExists
		}
	}
	if err := img.change(o, op.Changes); err != nil {
		return "", err
	}
	if s.anchor != "" && attrName(o.Attrs, s.anchor) == "" {
		t := s.typeOf(s.anchor)
		v, err := normalize(t, anchorValue(t, op.Anchor))
		if err != nil {
			return "", fmt.Errorf("the object has no anchor attribute %q, and the proposed anchor does not fit its type: %w", s.anchor, err)
		}
		o.Attrs[s.anchor] = model.Values{Type: t, Values: []string{v}}
	}
	if s.format == FormatLDIF && s.fixedType == "" && attrName(o.Attrs, "objectClass") == "" {
		if op.ObjectType == "" {
			return "", errors.New("an LDIF object needs an objectClass or an object type")
		}
		o.Attrs["objectClass"] = model.Str(op.ObjectType)
	}
	if err := img.finish(o, ""); err != nil {
		return "", err
	}
	if k := s.anchorKey(o.Anchor); img.has(k) {
		// The same anchor (the one idsync proposed, or the value its rules
		// flow into the anchor attribute): this object itself.
		return img.anchorOf(k), fmt.Errorf("%w (%w)", connector.ErrAlreadyExists, connector.ErrIdentityMatch)
	}
	img.put(o)
	return o.Anchor, nil
}

// hasDN reports whether objects of the file have DNs.
func (s *settings) hasDN() bool { return s.format == FormatLDIF || s.dnCol != "" }

// finish checks an added or changed object and sets its type and anchor as
// an import of the written file will see them. oldAnchor is the anchor of
// the object before an update ("" for an add): an update must not change it,
// except through a rename when the DN is the anchor.
func (img *image) finish(o *model.Object, oldAnchor string) error {
	s := img.s
	names := map[string]int{}
	keys := make([]string, 0, len(o.Attrs))
	for name, v := range o.Attrs {
		if err := s.checkAttr(name, v.Values); err != nil {
			return err
		}
		names[strings.ToLower(name)] = len(keys)
		keys = append(keys, name)
	}
	if s.format == FormatLDIF {
		t, err := s.objectType(o.Attrs[attrName(o.Attrs, "objectClass")].Values)
		if err != nil {
			return err
		}
		o.Type = t
	} else if s.typeCol == "" || o.Type == "" {
		o.Type = s.fixedType
	}
	anchor, err := s.anchorOf(o, names, func(i int) string { return keys[i] })
	if err != nil {
		return err
	}
	if oldAnchor != "" && s.anchor != "" && anchor != oldAnchor {
		return fmt.Errorf("the anchor attribute %q cannot change (from %q to %q)", s.anchor, oldAnchor, anchor)
	}
	o.Anchor = anchor
	return nil
}

// checkAttr checks that an attribute can be written to the file.
func (s *settings) checkAttr(name string, vals []string) error {
	switch {
	case s.format == FormatLDIF && !writableLDIFName(name):
		return fmt.Errorf("attribute name %q cannot be written to LDIF", name)
	case s.format == FormatCSV && (strings.EqualFold(name, s.dnCol) || strings.EqualFold(name, s.typeCol)):
		return fmt.Errorf("attribute %q has the name of the DN or object type column", name)
	case s.format == FormatCSV:
		if _, err := s.csvCell(name, vals); err != nil {
			return err
		}
	}
	return nil
}

// change applies attribute changes to o. Attribute names match existing
// attributes case-insensitively; values are converted to the types
// configured for the file. (CSV cannot hold empty values: they are dropped.)
func (img *image) change(o *model.Object, changes []connector.AttrChange) error {
	for _, ch := range changes {
		if ch.Name == "" {
			return errors.New("attribute change without a name")
		}
		name := attrName(o.Attrs, ch.Name)
		if name == "" {
			name = ch.Name
		}
		t := img.s.typeOf(name)
		vals := make([]string, 0, len(ch.Values))
		for _, v := range ch.Values {
			if v == "" && img.s.format == FormatCSV {
				continue
			}
			n, err := normalize(t, v)
			if err != nil {
				return fmt.Errorf("attribute %q: %w", name, err)
			}
			vals = append(vals, n)
		}
		cur := o.Attrs[name].Values
		switch ch.Mode {
		case connector.Replace:
		case connector.AddVals:
			vals = append(slices.Clone(cur), vals...)
		case connector.DelVals:
			if len(ch.Values) == 0 {
				vals = nil
				break
			}
			del := make(map[string]bool, len(vals))
			for _, v := range vals {
				del[v] = true
			}
			vals = slices.DeleteFunc(slices.Clone(cur), func(v string) bool { return del[v] })
		default:
			return fmt.Errorf("attribute %q: unknown change mode %q", name, ch.Mode)
		}
		delete(o.Attrs, name)
		o.Attrs.Set(name, model.Values{Type: t, Values: dedupe(vals)})
	}
	return nil
}

// anchorAttr returns the name under which a holds the attribute name
// (compared case-insensitively), or "".
func attrName(a model.Attrs, name string) string {
	if _, ok := a[name]; ok {
		return name
	}
	for k := range a {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}
