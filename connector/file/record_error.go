package file

import "strings"

// recordError is the error of a record read whole that cannot be
// represented: a value that does not convert to its attribute's type, an
// LDIF record without objectClass. The reader can go on with the next
// record, so an import that reports per-object errors reports it as an
// error on that object and goes on. anchor is the record's anchor, which is
// always known: a record whose anchor cannot be read fails the scan, as the
// engine could not tell which object it is (and a full import would take
// that object for deleted).
type recordError struct {
	anchor, dn string
	err        error
}

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// asRecordError wraps err as a recordError when the record's anchor is
// known, else returns it as it is.
func asRecordError(anchor, dn string, err error) error {
	if anchor == "" {
		return err
	}
	return &recordError{anchor: anchor, dn: dn, err: err}
}

// rawAnchor returns the anchor of an LDIF record whose object could not be
// built: the DN, or the one value of the anchor attribute converted to its
// type; "" when it cannot be read.
func (s *settings) rawAnchor(e *ldifEntry) string {
	if s.anchor == "" {
		return e.dn
	}
	var raw []string
	var name string
	for _, a := range e.attrs {
		if strings.EqualFold(a.name, s.anchor) && a.value != "" {
			raw, name = append(raw, a.value), a.name
		}
	}
	return s.anchorFromRaw(name, raw)
}

// anchorFromRaw converts the raw values of the anchor attribute name to the
// anchor, or "" unless there is exactly one that converts.
func (s *settings) anchorFromRaw(name string, raw []string) string {
	if len(raw) != 1 {
		return ""
	}
	t := s.typeOf(name)
	v, err := normalize(t, raw[0])
	if err != nil || v == "" {
		return ""
	}
	return encodeAnchor(t, v)
}

// rawAnchor returns the anchor and DN of a CSV row whose object could not
// be built ("" when the anchor cannot be read).
func (co *csvObjects) rawAnchor(rec []string) (anchor, dn string) {
	for i, cell := range rec {
		if i >= len(co.cols) || cell == "" {
			continue
		}
		c := co.cols[i]
		switch {
		case c.role == colDN:
			dn = cell
		case c.role == colAttr && strings.EqualFold(c.name, co.s.anchor):
			if vals, err := co.values(c, cell); err == nil && len(vals) == 1 {
				anchor = encodeAnchor(c.typ, vals[0])
			}
		}
	}
	return anchor, dn
}
