package scim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Path is a parsed flat attribute name, the way idsync names SCIM attributes
// (and a subset of the RFC 7644 §3.10 attribute path syntax):
//
//	userName
//	name.givenName
//	emails[type eq "work"].value
//	urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber
type Path struct {
	// URN is the schema URN of an extension attribute; "" for the core schema.
	URN string
	// Attr is the top-level attribute.
	Attr string
	// FilterAttr and FilterValue are the value filter [FilterAttr eq "FilterValue"]
	// of a multi-valued attribute; FilterAttr is "" when there is none.
	FilterAttr, FilterValue string
	// Sub is the sub-attribute, "" for none.
	Sub string
}

// ParsePath parses a flat attribute name.
func ParsePath(s string) (Path, error) {
	var p Path
	if len(s) > 4096 {
		return p, errors.New("attribute name too long")
	}
	rest := s
	if len(s) >= 4 && strings.EqualFold(s[:4], "urn:") {
		head := s
		if i := strings.IndexByte(s, '['); i >= 0 {
			head = s[:i]
		}
		i := strings.LastIndexByte(head, ':')
		if i <= len("urn:") || i == len(head)-1 {
			return p, fmt.Errorf("attribute %q: an extension attribute is written URN:name, e.g. %s:employeeNumber", s, EnterpriseUser)
		}
		p.URN, rest = s[:i], s[i+1:]
		if strings.ContainsAny(p.URN, " \t\r\n\"") {
			return p, fmt.Errorf("attribute %q: invalid schema URN %q", s, p.URN)
		}
	}
	name, rest := scanName(rest)
	if name == "" {
		return p, fmt.Errorf("attribute %q: expected an attribute name", s)
	}
	p.Attr = name
	if strings.HasPrefix(rest, "[") {
		var err error
		p.FilterAttr, p.FilterValue, rest, err = parseValueFilter(rest[1:])
		if err != nil {
			return p, fmt.Errorf("attribute %q: %w", s, err)
		}
	}
	if strings.HasPrefix(rest, ".") {
		p.Sub, rest = scanName(rest[1:])
		if p.Sub == "" {
			return p, fmt.Errorf("attribute %q: expected a sub-attribute name after '.'", s)
		}
	}
	if rest != "" {
		return p, fmt.Errorf("attribute %q: unexpected %q", s, rest)
	}
	return p, nil
}

// parseValueFilter parses `attr eq "value"]` (after the '[').
func parseValueFilter(s string) (attr, value, rest string, err error) {
	s = strings.TrimLeft(s, " ")
	attr, s = scanName(s)
	if attr == "" {
		return "", "", "", errors.New(`a value filter is written [type eq "work"]`)
	}
	t := strings.TrimLeft(s, " ")
	if len(t) == len(s) || len(t) < 2 || !strings.EqualFold(t[:2], "eq") {
		return "", "", "", errors.New(`a value filter is written [type eq "work"] (only eq is supported)`)
	}
	s = t[2:]
	t = strings.TrimLeft(s, " ")
	if len(t) == len(s) {
		return "", "", "", errors.New(`a value filter is written [type eq "work"]`)
	}
	value, s, err = unquote(t)
	if err != nil {
		return "", "", "", err
	}
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, "]") {
		return "", "", "", errors.New(`value filter: expected "]"`)
	}
	return attr, value, s[1:], nil
}

// scanName reads an attribute name (RFC 7643 §2.1: ALPHA *(ALPHA / DIGIT /
// "-" / "_"), plus "$ref").
func scanName(s string) (name, rest string) {
	if strings.HasPrefix(s, "$ref") {
		return "$ref", s[4:]
	}
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_') {
			i++
			continue
		}
		break
	}
	return s[:i], s[i:]
}

// String renders the path in canonical form; ParsePath(p.String()) == p.
func (p Path) String() string {
	var b strings.Builder
	if p.URN != "" {
		b.WriteString(p.URN)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr)
	if p.FilterAttr != "" {
		b.WriteByte('[')
		b.WriteString(p.FilterAttr)
		b.WriteString(" eq ")
		b.WriteString(Quote(p.FilterValue))
		b.WriteByte(']')
	}
	if p.Sub != "" {
		b.WriteByte('.')
		b.WriteString(p.Sub)
	}
	return b.String()
}

// Quote renders s as a filter string value (RFC 7644 §3.4.2.2: a JSON
// string): '"' and '\' are escaped with a backslash, control characters as
// \u and four hex digits, and invalid UTF-8 as U+FFFD.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// unquote reads a JSON string literal at the start of s and returns its
// value and what follows it.
func unquote(s string) (value, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", errors.New("a filter value must be a quoted string")
	}
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", "", errors.New("unterminated escape in filter value")
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+6 > len(s) {
					return "", "", errors.New(`short \u escape in filter value`)
				}
				n, perr := strconv.ParseUint(s[i+2:i+6], 16, 32)
				if perr != nil {
					return "", "", fmt.Errorf(`invalid \u escape %q in filter value`, s[i:i+6])
				}
				b.WriteRune(rune(n))
				i += 6
				continue
			default:
				return "", "", fmt.Errorf(`invalid escape \%c in filter value`, e)
			}
			i += 2
		case c < 0x20:
			return "", "", errors.New("control character in filter value (escape it)")
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r)
			i += n
		}
	}
	return "", "", errors.New("unterminated filter value")
}
