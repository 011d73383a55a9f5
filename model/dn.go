package model

import "strings"

// EscapeDNValue escapes an attribute value for use in a DN (RFC 4514 §2.4):
// a backslash before , + " \ < > ; and =, before a leading space or '#' and a
// trailing space; NUL becomes \00.
func EscapeDNValue(v string) string {
	if !needsDNEscape(v) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == 0:
			b.WriteString(`\00`)
			continue
		case strings.IndexByte(`,+"\<>;=`, c) >= 0,
			i == 0 && (c == ' ' || c == '#'),
			i == len(v)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsDNEscape(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == ' ' || v[0] == '#' || v[len(v)-1] == ' ' {
		return true
	}
	return strings.ContainsAny(v, ",+\"\\<>;=\x00")
}
