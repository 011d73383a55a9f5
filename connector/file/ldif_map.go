package file

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/idsync/idsync/model"
)

// ldifObjects maps LDIF records to model objects.
type ldifObjects struct {
	lr    *ldifReader
	s     *settings
	names map[string]int      // lower-case attribute name → index in attrs, per record
	info  map[string]nameInfo // attribute name → its lower case and type
	attrs []recAttr           // the attributes of the record being mapped
	idx   []int               // per line of the record: its index in attrs
}

type nameInfo struct {
	lower string
	typ   model.Type
}

// recAttr is one attribute of a record being mapped: its values are
// vals[off:off+n] of the record's value array.
type recAttr struct {
	name   string
	typ    model.Type
	off, n int
}

func newLDIFObjects(r io.Reader, s *settings) *ldifObjects {
	return &ldifObjects{lr: newLDIFReader(r, s.name), s: s, names: map[string]int{}, info: map[string]nameInfo{}}
}

// next returns the next object and the line of its record, or io.EOF.
func (lo *ldifObjects) next() (*model.Object, int, error) {
	e, err := lo.lr.next()
	if err != nil {
		return nil, 0, err
	}
	o, line, err := lo.object(e)
	if err != nil {
		return nil, line, asRecordError(lo.s.rawAnchor(e), e.dn, lo.lr.errorf(line, "%q: %v", clip(e.dn), err))
	}
	return o, e.line, nil
}

// object maps one record. Attribute names compare case-insensitively (the
// first spelling wins); repeated values are dropped; values are converted to
// the configured types. All values of the object share one array.
func (lo *ldifObjects) object(e *ldifEntry) (*model.Object, int, error) {
	clear(lo.names)
	lo.attrs, lo.idx = lo.attrs[:0], lo.idx[:0]
	for _, a := range e.attrs {
		ni, ok := lo.info[a.name]
		if !ok {
			ni = nameInfo{lower: strings.ToLower(a.name), typ: lo.s.typeOf(a.name)}
			if len(lo.info) < 10000 {
				lo.info[a.name] = ni
			}
		}
		i, ok := lo.names[ni.lower]
		if !ok {
			i = len(lo.attrs)
			lo.names[ni.lower] = i
			lo.attrs = append(lo.attrs, recAttr{name: a.name, typ: ni.typ})
		}
		lo.attrs[i].n++
		lo.idx = append(lo.idx, i)
	}
	off := 0
	for i := range lo.attrs {
		lo.attrs[i].off, off, lo.attrs[i].n = off, off+lo.attrs[i].n, 0
	}
	vals := make([]string, len(e.attrs))
	for j, a := range e.attrs {
		ra := &lo.attrs[lo.idx[j]]
		v, err := normalize(ra.typ, a.value)
		if err != nil {
			return nil, a.line, fmt.Errorf("%s: %w", a.name, err)
		}
		vals[ra.off+ra.n] = v
		ra.n++
	}
	o := &model.Object{DN: e.dn, Attrs: make(model.Attrs, len(lo.attrs))}
	for _, ra := range lo.attrs {
		end := ra.off + ra.n
		o.Attrs[ra.name] = model.Values{Type: ra.typ, Values: dedupe(vals[ra.off:end:end])}
	}
	var classes []string
	if i, ok := lo.names["objectclass"]; ok {
		classes = o.Attrs[lo.attrs[i].name].Values
	}
	var err error
	if o.Type, err = lo.s.objectType(classes); err != nil {
		return nil, e.line, err
	}
	if o.Anchor, err = lo.s.anchorOf(o, lo.names, func(i int) string { return lo.attrs[i].name }); err != nil {
		return nil, e.line, err
	}
	return o, e.line, nil
}

// anchorOf returns the anchor of o: its DN, or the value of the anchor
// attribute (found case-insensitively through names).
func (s *settings) anchorOf(o *model.Object, names map[string]int, name func(int) string) (string, error) {
	if s.anchor == "" {
		if o.DN == "" {
			return "", errors.New("empty DN: the DN is the anchor (set anchor to an attribute)")
		}
		return o.DN, nil
	}
	var v model.Values
	if i, ok := names[strings.ToLower(s.anchor)]; ok {
		v = o.Attrs[name(i)]
	}
	if len(v.Values) == 0 {
		return "", fmt.Errorf("no value for the anchor attribute %q", s.anchor)
	}
	if len(v.Values) != 1 {
		return "", fmt.Errorf("the anchor attribute %q must have exactly one value, it has %d", s.anchor, len(v.Values))
	}
	if v.Values[0] == "" {
		return "", fmt.Errorf("the anchor attribute %q is empty", s.anchor)
	}
	return encodeAnchor(v.Type, v.Values[0]), nil
}
