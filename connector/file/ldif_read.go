package file

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ldifEntry is one record of an LDIF content file, before it is mapped to the
// model.
type ldifEntry struct {
	dn    string
	line  int // line of the dn: line
	attrs []ldifAttr
}

// ldifAttr is one "name: value" line of a record; name has no options.
type ldifAttr struct {
	name, value string
	line        int
}

// ldifReader parses LDIF content records (RFC 2849) from a stream, one
// record at a time.
type ldifReader struct {
	r       *bufio.Reader
	name    string // file name for error messages
	lineNo  int    // physical lines read so far
	started bool   // a version line is no longer allowed

	intern map[string]string // attribute names seen, to share their strings
	entry  ldifEntry         // the record returned by next, reused

	cur     []byte // the logical line being assembled
	pend    []byte // the next physical line, read ahead
	pendNo  int
	hasPend bool
	eof     bool
}

func newLDIFReader(r io.Reader, name string) *ldifReader {
	return &ldifReader{r: bufio.NewReaderSize(r, 64<<10), name: name, intern: map[string]string{}}
}

func (lr *ldifReader) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", lr.name, line, fmt.Sprintf(format, args...))
}

// readPhysical reads one physical line into dst[:0], without its line end.
func (lr *ldifReader) readPhysical(dst []byte) ([]byte, error) {
	dst = dst[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		dst = append(dst, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF && len(dst) > 0 {
			err = nil
		}
		if err != nil {
			return dst, err
		}
		lr.lineNo++
		dst = bytes.TrimSuffix(dst, []byte{'\n'})
		dst = bytes.TrimSuffix(dst, []byte{'\r'})
		return dst, nil
	}
}

// nextLogical returns the next logical line (folded lines joined), the
// number of its first physical line, and io.EOF at the end of the input. The
// slice is valid until the next call. An empty slice is a blank line.
func (lr *ldifReader) nextLogical() ([]byte, int, error) {
	if !lr.hasPend {
		if lr.eof {
			return nil, 0, io.EOF
		}
		var err error
		lr.pend, err = lr.readPhysical(lr.pend)
		if errors.Is(err, io.EOF) {
			lr.eof = true
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", lr.name, err)
		}
		lr.pendNo = lr.lineNo
	}
	lr.hasPend = false
	lr.cur = append(lr.cur[:0], lr.pend...)
	no := lr.pendNo
	if len(lr.cur) == 0 {
		return lr.cur, no, nil
	}
	if lr.cur[0] == ' ' {
		return nil, 0, lr.errorf(no, "continuation line (starting with a space) without a line to continue")
	}
	for !lr.eof {
		var err error
		lr.pend, err = lr.readPhysical(lr.pend)
		if errors.Is(err, io.EOF) {
			lr.eof = true
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", lr.name, err)
		}
		if len(lr.pend) > 0 && lr.pend[0] == ' ' {
			lr.cur = append(lr.cur, lr.pend[1:]...)
			continue
		}
		lr.hasPend, lr.pendNo = true, lr.lineNo
		break
	}
	return lr.cur, no, nil
}

// next returns the next record, or io.EOF after the last one. The record is
// valid until the next call.
func (lr *ldifReader) next() (*ldifEntry, error) {
	var e *ldifEntry
	for {
		line, no, err := lr.nextLogical()
		if errors.Is(err, io.EOF) {
			if e != nil {
				return e, nil
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if e != nil {
				return e, nil
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		name, value, err := lr.parseLine(line, no)
		if err != nil {
			return nil, err
		}
		first := !lr.started
		lr.started = true
		switch {
		case first && e == nil && strings.EqualFold(name, "version"):
			if value != "1" {
				return nil, lr.errorf(no, "unsupported LDIF version %q (want 1)", value)
			}
		case strings.EqualFold(name, "dn"):
			if e != nil {
				return nil, lr.errorf(no, "second dn line in a record (records must be separated by a blank line)")
			}
			// The entry is reused: callers are done with it when they ask
			// for the next one.
			e = &lr.entry
			e.dn, e.line, e.attrs = value, no, e.attrs[:0]
		case e == nil:
			return nil, lr.errorf(no, "expected a record starting with \"dn:\", got %q", clip(line))
		case strings.EqualFold(name, "changetype") || strings.EqualFold(name, "control"):
			return nil, lr.errorf(no, "%s: change records are not supported, only content records (a dn and its attributes)", name)
		default:
			e.attrs = append(e.attrs, ldifAttr{name: name, value: value, line: no})
		}
	}
}

// parseLine splits a logical line into an attribute name (options removed)
// and its value, decoding base64 values.
func (lr *ldifReader) parseLine(line []byte, no int) (string, string, error) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return "", "", lr.errorf(no, "missing ':' in %q", clip(line))
	}
	name, ok := lr.intern[string(line[:i])]
	if !ok {
		name = string(line[:i])
		if !validAttrName(name) {
			return "", "", lr.errorf(no, "invalid attribute name %q", clip(line[:i]))
		}
		if j := strings.IndexByte(name, ';'); j >= 0 {
			name = name[:j]
		}
		if len(lr.intern) < 10000 {
			lr.intern[string(line[:i])] = name
		}
	}
	rest := line[i+1:]
	switch {
	case len(rest) > 0 && rest[0] == ':':
		b64 := bytes.Trim(rest[1:], " ")
		v := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(v, b64)
		if err != nil {
			return "", "", lr.errorf(no, "%s: invalid base64 value: %v", name, err)
		}
		return name, string(v[:n]), nil
	case len(rest) > 0 && rest[0] == '<':
		return "", "", lr.errorf(no, "%s: values read from URLs (%q) are not supported: include the value, base64-encoded with \"%s::\"", name, clip(rest[1:]), name)
	}
	return name, string(bytes.TrimLeft(rest, " ")), nil
}

// validAttrName reports whether s is an LDAP attribute description: a
// name (letter first, then letters, digits, '-' or '_') or a numeric OID,
// followed by options like ";binary".
func validAttrName(s string) bool {
	base, opts, _ := strings.Cut(s, ";")
	if base == "" {
		return false
	}
	oid := base[0] >= '0' && base[0] <= '9'
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case c >= '0' && c <= '9':
		case oid:
			if c != '.' {
				return false
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-' && i > 0, c == '_' && i > 0:
		default:
			return false
		}
	}
	if opts == "" {
		return !strings.HasSuffix(s, ";")
	}
	for _, o := range strings.Split(opts, ";") {
		if o == "" {
			return false
		}
		for i := 0; i < len(o); i++ {
			if c := o[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' {
				return false
			}
		}
	}
	return true
}

// clip shortens text quoted in error messages.
func clip[T string | []byte](s T) string {
	const max = 60
	if len(s) > max {
		return string(s[:max]) + "…"
	}
	return string(s)
}
