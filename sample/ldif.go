package sample

import (
	"bufio"
	"encoding/base64"

	"github.com/idsync/idsync/model"
)

// EscapeDNValue escapes an attribute value for use in a DN (RFC 4514); see
// model.EscapeDNValue.
func EscapeDNValue(v string) string { return model.EscapeDNValue(v) }

// ldifWriter writes LDIF lines: values base64-encoded when they are not safe
// strings of RFC 2849, lines folded at 76 columns. The first write error is
// kept and returned by flush.
type ldifWriter struct {
	w   *bufio.Writer
	buf []byte
}

const foldAt = 76

// attr writes "name: value", or "name:: base64" when value is not safe.
func (lw *ldifWriter) attr(name, value string) {
	if safe(value) {
		lw.line(name, ": ", value)
	} else {
		lw.binary(name, value)
	}
}

// binary writes "name:: base64".
func (lw *ldifWriter) binary(name, value string) {
	lw.buf = base64.StdEncoding.AppendEncode(lw.buf[:0], []byte(value))
	lw.line(name, ":: ", string(lw.buf))
}

// line writes name+sep+value as one logical line, folded.
func (lw *ldifWriter) line(name, sep, value string) {
	if n := len(name) + len(sep) + len(value); n <= foldAt {
		lw.w.WriteString(name)
		lw.w.WriteString(sep)
		lw.w.WriteString(value)
		lw.w.WriteByte('\n')
		return
	}
	s := name + sep + value
	width := foldAt
	for len(s) > width {
		lw.w.WriteString(s[:width])
		lw.w.WriteString("\n ")
		s = s[width:]
		width = foldAt - 1
	}
	lw.w.WriteString(s)
	lw.w.WriteByte('\n')
}

// safe reports whether v is a SAFE-STRING of RFC 2849 without trailing
// space: printable ASCII not starting with space, ':' or '<'.
func safe(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == ':' || c == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
