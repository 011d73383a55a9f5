// Package codec is the binary encoding of CS and MV objects that the store
// backends keep in their data columns (sqlite's BLOB, postgres's bytea): the
// same bytes in both, so an object moves between them unchanged.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/idsync/idsync/model"
)

// The data column of cs_objects and mv_objects (in both backends) holds a compact binary
// encoding of the whole object (the other columns are copies of some fields,
// for the indexes). It is a sequence of fields without names or tags, in a
// fixed order per format version (the first byte; see codec_objects.go):
//
//   - unsigned integers and lengths are uvarints, signed integers varints
//     (encoding/binary);
//   - a string is its length followed by its raw bytes, so any byte sequence
//     (NUL, invalid UTF-8) round-trips exactly;
//   - a slice or map is its length plus one, 0 standing for nil, so nil and
//     empty stay distinct;
//   - a time is its Unix seconds (varint) and nanoseconds (uvarint), decoded
//     in UTC; the zero time round-trips as the zero time.
//
// Decoding reads from the blob copied into one string, slices every string
// field out of it, and carves all attribute value slices of an object out of
// a single []string, which keeps the allocations per object low. It checks
// every length against the remaining input, so corrupt data yields
// ErrCorrupt, never a panic or a huge allocation.

// formatV1 is the first byte of every blob written by this version.
const formatV1 = 1

// ErrCorrupt is wrapped by the errors of data that does not decode.
var ErrCorrupt = errors.New("corrupt object data")

// encoder appends fields to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) byte(v byte)      { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) length(n int)     { e.uvarint(uint64(n)) }
func (e *encoder) nilableLen(n int) { e.uvarint(uint64(n) + 1) }
func (e *encoder) str(s string)     { e.length(len(s)); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time) { e.varint(t.Unix()); e.uvarint(uint64(t.Nanosecond())) }

func (e *encoder) strs(v []string) {
	if v == nil {
		e.uvarint(0)
		return
	}
	e.nilableLen(len(v))
	for _, s := range v {
		e.str(s)
	}
}

// attrs writes the attribute count, the total number of values (so the
// decoder can allocate them at once), then each attribute.
func (e *encoder) attrs(a model.Attrs) {
	if a == nil {
		e.uvarint(0)
		return
	}
	e.nilableLen(len(a))
	total := 0
	for _, v := range a {
		total += len(v.Values)
	}
	e.length(total)
	for name, v := range a {
		e.str(name)
		e.byte(byte(v.Type))
		e.strs(v.Values)
	}
}

// decoder reads fields from a string. The first failure is kept in err and
// turns every later read into a no-op returning zero values.
type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s at offset %d", ErrCorrupt, what, d.off)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.s) {
		d.fail("byte")
		return 0
	}
	v := d.s[d.off]
	d.off++
	return v
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.err != nil || d.off >= len(d.s) {
			d.fail("uvarint")
			return 0
		}
		c := d.s[d.off]
		d.off++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.fail("uvarint")
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// length reads a length that must fit in the remaining input, given that
// every counted element takes at least one byte.
func (d *decoder) length() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.off) {
		d.fail("length")
		return 0
	}
	return int(n)
}

// nilableLen reads a length written by encoder.nilableLen; ok is false for nil.
func (d *decoder) nilableLen() (n int, ok bool) {
	v := d.uvarint()
	if v == 0 || d.err != nil {
		return 0, false
	}
	if v-1 > uint64(len(d.s)-d.off) {
		d.fail("length")
		return 0, false
	}
	return int(v - 1), true
}

func (d *decoder) str() string {
	n := d.length()
	if d.err != nil {
		return ""
	}
	v := d.s[d.off : d.off+n]
	d.off += n
	return v
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= uint64(time.Second) {
		d.fail("time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) strs() []string {
	n, ok := d.nilableLen()
	if !ok || d.err != nil {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}

func (d *decoder) attrs() model.Attrs {
	n, ok := d.nilableLen()
	if !ok || d.err != nil {
		return nil
	}
	total := d.length()
	if d.err != nil {
		return nil
	}
	backing := make([]string, total)
	a := make(model.Attrs, n)
	for range n {
		name := d.str()
		typ := model.Type(d.byte())
		k, ok := d.nilableLen()
		if d.err != nil {
			return nil
		}
		if !ok {
			a[name] = model.Values{Type: typ}
			continue
		}
		if k > len(backing) {
			d.fail("attribute value count")
			return nil
		}
		vals := backing[:k:k]
		backing = backing[k:]
		for i := range vals {
			vals[i] = d.str()
		}
		a[name] = model.Values{Type: typ, Values: vals}
	}
	return a
}

// done reports the first error, or trailing garbage.
func (d *decoder) done() error {
	if d.err == nil && d.off != len(d.s) {
		d.fail("trailing data")
	}
	return d.err
}
