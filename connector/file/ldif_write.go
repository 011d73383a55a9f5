package file

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
)

// ldifLineLen is the length at which written lines are folded.
const ldifLineLen = 76

// writeLDIF writes objs, in the given order, as an LDIF content file:
// "version: 1", then one record per object with objectClass first and the
// other attributes sorted by name, values in stored order. Values are written
// base64-encoded ("name:: …") when the attribute is binary or the value is
// not a safe string in the sense of RFC 2849; long lines are folded.
func writeLDIF(w io.Writer, objs iter.Seq[*model.Object]) error {
	bw := bufio.NewWriter(w)
	lw := &ldifLineWriter{w: bw}
	lw.line("version: 1")
	for o := range objs {
		if err := lw.record(o); err != nil {
			return err
		}
	}
	if lw.err != nil {
		return lw.err
	}
	return bw.Flush()
}

// writeLDIFRecords is writeLDIF for objects encoded in records of the
// attribute table tab (record.go), written from the records without
// decoding them: the rewrite of a million objects then makes no garbage
// per object, which would otherwise count as live heap while the GC marks
// and raise the heap's peak.
func writeLDIFRecords(w io.Writer, tab *attrTable, recs []string) error {
	bw := bufio.NewWriter(w)
	lw := &ldifLineWriter{w: bw}
	lw.line("version: 1")
	names := make([]int8, len(tab.attrs)) // nameObjectClass, nameOther, nameBad; 0 when not yet looked at
	for _, rec := range recs {
		if err := lw.encodedRecord(tab, names, rec); err != nil {
			return err
		}
	}
	if lw.err != nil {
		return lw.err
	}
	return bw.Flush()
}

// The kinds of attribute names writeLDIFRecords tells apart.
const (
	nameObjectClass = iota + 1
	nameOther
	nameBad // not writable (writableLDIFName)
)

// encodedRecord is record for an object encoded in rec. Its attributes are
// in name order: it writes those named objectClass (in any case) in a first
// pass over them and the others in a second, the order of ldifAttrOrder.
// names caches the kind of each name of tab.
func (lw *ldifLineWriter) encodedRecord(tab *attrTable, names []int8, rec string) error {
	r := recordReader{s: rec}
	r.str() // the anchor
	dn := r.str()
	r.str() // the type
	n := r.uvarint()
	attrs := r
	lw.line("")
	lw.attr("dn", dn, false)
	for _, pass := range []int8{nameObjectClass, nameOther} {
		r := attrs
		for range n - 1 {
			i, k := r.attr()
			if r.err != nil || i >= len(names) {
				return errRecord
			}
			a := tab.attrs[i]
			if names[i] == 0 {
				switch {
				case strings.EqualFold(a.name, "objectClass"):
					names[i] = nameObjectClass
				case writableLDIFName(a.name):
					names[i] = nameOther
				default:
					names[i] = nameBad
				}
			}
			if names[i] == nameBad {
				return fmt.Errorf("%q: attribute name %q cannot be written to LDIF", dn, a.name)
			}
			for range k {
				if v := r.str(); names[i] == pass {
					lw.attr(a.name, v, a.t == model.Binary)
				}
			}
		}
		if r.err != nil {
			return errRecord
		}
	}
	return lw.err
}

type ldifLineWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

// record writes one object, preceded by a blank line.
func (lw *ldifLineWriter) record(o *model.Object) error {
	lw.line("")
	lw.attr("dn", o.DN, false)
	for _, name := range ldifAttrOrder(o.Attrs) {
		if !writableLDIFName(name) {
			return fmt.Errorf("%q: attribute name %q cannot be written to LDIF", o.DN, name)
		}
		v := o.Attrs[name]
		for _, val := range v.Values {
			lw.attr(name, val, v.Type == model.Binary)
		}
	}
	return lw.err
}

// writableLDIFName reports whether an attribute can be written as name: an
// attribute name without options, and not a keyword of LDIF records.
func writableLDIFName(name string) bool {
	if !validAttrName(name) || strings.Contains(name, ";") {
		return false
	}
	switch strings.ToLower(name) {
	case "dn", "changetype", "control":
		return false
	}
	return true
}

// ldifAttrOrder returns the attribute names with objectClass first, then
// sorted by name.
func ldifAttrOrder(a model.Attrs) []string {
	names := a.Names()
	slices.SortStableFunc(names, func(x, y string) int {
		xo, yo := strings.EqualFold(x, "objectClass"), strings.EqualFold(y, "objectClass")
		switch {
		case xo && !yo:
			return -1
		case yo && !xo:
			return 1
		}
		return 0
	})
	return names
}

// attr writes "name: value", or "name:: base64" when binary or unsafe.
func (lw *ldifLineWriter) attr(name, value string, binary bool) {
	b := append(lw.buf[:0], name...)
	switch {
	case binary || !safeString(value):
		b = append(b, ":: "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(value))
	case value == "":
		b = append(b, ':')
	default:
		b = append(b, ": "...)
		b = append(b, value...)
	}
	lw.buf = b
	lw.fold(b)
}

// fold writes a logical line, folded into physical lines of at most
// ldifLineLen bytes (continuations start with a space). Lines are ASCII.
func (lw *ldifLineWriter) fold(b []byte) {
	n := ldifLineLen
	for len(b) > n {
		lw.write(b[:n])
		lw.write([]byte{'\n', ' '})
		b = b[n:]
		n = ldifLineLen - 1
	}
	lw.write(b)
	lw.write([]byte{'\n'})
}

func (lw *ldifLineWriter) line(s string) { lw.fold([]byte(s)) }

func (lw *ldifLineWriter) write(b []byte) {
	if lw.err == nil {
		_, lw.err = lw.w.Write(b)
	}
}

// safeString reports whether s can be written as is after "name: ": printable
// ASCII, not starting with a space, ':' or '<', not ending with a space.
func safeString(s string) bool {
	if s == "" {
		return true
	}
	if c := s[0]; c == ' ' || c == ':' || c == '<' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
