package file

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"strings"
	"unsafe"

	"github.com/idsync/idsync/model"
)

// The image of a file (image.go) holds each object encoded in one string
// rather than as a model.Object with its map of attributes: about a fifth
// of the memory (an export of 1,150,000 adds to a file target held 4 GiB of
// objects). An object is decoded when an op reads it and when the file is
// written, one at a time.
//
// Encoding: the anchor, the DN and the type, then the number of attributes
// plus one (0: no attribute map) and, for each in name order, the number
// its name and type have in the image's attrTable, times two, plus one
// when it has exactly one value; then, unless it has exactly one, the
// number of its values; then the values. Every string is a uvarint (its
// length) followed by its bytes, every number a uvarint. Numbering the
// names keeps each record from holding a copy of them: they are a third of
// a typical user's record.

// attrTable numbers the attribute names, each with its type, of the
// objects an image encodes. Names are never removed: a file has few.
type attrTable struct {
	attrs []attrKey
	index map[attrKey]uint64
	names []string // the names of the object being encoded, reused
}

type attrKey struct {
	name string
	t    model.Type
}

// number returns the number of the attribute name of type t, adding it to
// the table when new.
func (tab *attrTable) number(name string, t model.Type) uint64 {
	k := attrKey{name, t}
	if i, ok := tab.index[k]; ok {
		return i
	}
	if tab.index == nil {
		tab.index = map[attrKey]uint64{}
	}
	k.name = strings.Clone(name) // not the memory of the op or line it came in
	i := uint64(len(tab.attrs))
	tab.attrs = append(tab.attrs, k)
	tab.index[k] = i
	return i
}

// encode returns o encoded.
func (tab *attrTable) encode(o *model.Object) string {
	names := tab.names[:0]
	for name := range o.Attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	defer func() { tab.names = names[:0] }()
	// The exact size first: the record is the one allocation.
	n := strLen(o.Anchor) + strLen(o.DN) + strLen(o.Type) + uvarintLen(uint64(len(o.Attrs))+1)
	for _, name := range names {
		v := o.Attrs[name]
		n += uvarintLen(tab.number(name, v.Type)<<1 | 1)
		if len(v.Values) != 1 {
			n += uvarintLen(uint64(len(v.Values)))
		}
		for _, x := range v.Values {
			n += strLen(x)
		}
	}
	b := make([]byte, 0, n)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(o.Anchor)
	str(o.DN)
	str(o.Type)
	if o.Attrs == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(o.Attrs))+1)
	}
	for _, name := range names {
		v := o.Attrs[name]
		i := tab.number(name, v.Type) << 1
		if len(v.Values) == 1 {
			b = binary.AppendUvarint(b, i|1)
		} else {
			b = binary.AppendUvarint(b, i)
			b = binary.AppendUvarint(b, uint64(len(v.Values)))
		}
		for _, x := range v.Values {
			str(x)
		}
	}
	// b is never written again: the string shares its memory.
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// uvarintLen returns the length of x as a uvarint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// strLen returns the length of s encoded: its length as a uvarint, then
// its bytes.
func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// errRecord is a record the image did not encode (a bug, never input).
var errRecord = errors.New("file connector: corrupt image record")

// recordReader reads an encoded object.
type recordReader struct {
	s   string
	err error
}

func (r *recordReader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(r.s[:min(len(r.s), binary.MaxVarintLen64)]))
	if n <= 0 || v > uint64(len(r.s)) {
		r.err = errRecord
		return 0
	}
	r.s = r.s[n:]
	return int(v)
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > len(r.s) {
		r.err = errRecord
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// number reads a uvarint that is not a length.
func (r *recordReader) number() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(r.s[:min(len(r.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.s = r.s[n:]
	return v
}

// attr reads the head of an attribute: its number in the table and the
// number of its values.
func (r *recordReader) attr() (i, values int) {
	v := r.number()
	if v>>1 >= 1<<31 {
		r.err = errRecord // more names than a table holds
		return 0, 0
	}
	if v&1 == 1 {
		return int(v >> 1), 1
	}
	return int(v >> 1), r.uvarint()
}

// recordKeys returns the anchor and the DN of an encoded object without
// decoding the rest.
func recordKeys(rec string) (anchor, dn string) {
	r := recordReader{s: rec}
	anchor = r.str()
	dn = r.str()
	return anchor, dn
}

// decode returns the object rec encodes. Its strings share rec's memory,
// which the image holds anyway, and the table's.
func (tab *attrTable) decode(rec string) (*model.Object, error) {
	r := recordReader{s: rec}
	o := &model.Object{Anchor: r.str(), DN: r.str(), Type: r.str()}
	n := r.uvarint()
	if n > 0 {
		o.Attrs = make(model.Attrs, n-1)
	}
	for range n - 1 {
		i, k := r.attr()
		if r.err != nil || i >= len(tab.attrs) {
			return nil, errRecord
		}
		a := tab.attrs[i]
		var vals []string
		if k > 0 {
			vals = make([]string, k)
			for j := range vals {
				vals[j] = r.str()
			}
		}
		o.Attrs[a.name] = model.Values{Type: a.t, Values: vals}
	}
	if r.err != nil || r.s != "" {
		return nil, errRecord
	}
	return o, nil
}
