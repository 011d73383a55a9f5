package model

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

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

// ValidateDN checks that dn is a distinguished name that parses (RFC 4514,
// with the leniency of what directories write: spaces around separators
// and ";" between RDNs). Every RDN must be
// type=value with a non-empty type (a name such as cn, or a numeric OID) and
// a non-empty value; escapes must be a backslash before a special character
// or two hex digits; a value starting with '#' must be hex pairs. The text,
// escapes included, must be valid UTF-8 without control characters. The
// empty DN (the root) is valid. The error says what is wrong and where.
func ValidateDN(dn string) error {
	if dn == "" {
		return nil
	}
	if !utf8.ValidString(dn) {
		return errors.New("the DN is not valid UTF-8")
	}
	for i := 0; i < len(dn); i++ {
		if c := dn[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("the DN holds the control character %U at byte %d", rune(c), i)
		}
	}
	rdn := 1
	for i := 0; ; {
		var err error
		if i, err = validateAVA(dn, i); err != nil {
			return fmt.Errorf("RDN %d: %w", rdn, err)
		}
		if i == len(dn) {
			return nil
		}
		switch dn[i] {
		case ',', ';':
			rdn++
		}
		i++ // past ',' ';' or '+'
		if i == len(dn) {
			return fmt.Errorf("the DN ends with %q: RDN %d is missing", dn[i-1], rdn)
		}
	}
}

// validateAVA checks the attribute type and value that starts at dn[i] and
// returns the index of the separator after it (',', ';', '+') or len(dn).
// Quoted values (RFC 1779) are not accepted: LDAP libraries do not parse
// them either.
func validateAVA(dn string, i int) (int, error) {
	for i < len(dn) && dn[i] == ' ' {
		i++
	}
	start := i
	for i < len(dn) && dn[i] != '=' && dn[i] != ',' && dn[i] != ';' && dn[i] != '+' {
		i++
	}
	typ := strings.TrimRight(dn[start:i], " ")
	if i == len(dn) || dn[i] != '=' {
		if typ == "" {
			return 0, errors.New("empty (two separators in a row, or one at the start)")
		}
		return 0, fmt.Errorf("%q has no '=' (want type=value, e.g. CN=%s)", clipDN(typ), clipDN(typ))
	}
	if typ == "" {
		return 0, errors.New("no attribute type before '='")
	}
	if !validAttrType(typ) {
		return 0, fmt.Errorf("invalid attribute type %q (want a name such as CN or OU, or a numeric OID)", clipDN(typ))
	}
	i++ // past '='
	for i < len(dn) && dn[i] == ' ' {
		i++
	}
	if i == len(dn) || dn[i] == ',' || dn[i] == ';' || dn[i] == '+' {
		return 0, fmt.Errorf("%s= has no value", clipDN(typ))
	}
	switch dn[i] {
	case '#': // hexstring: the BER encoding of the value
		j := i + 1
		for j < len(dn) && isHex(dn[j]) {
			j++
		}
		if (j-i-1)%2 != 0 || j == i+1 {
			return 0, fmt.Errorf("%s=#…: a value starting with '#' must be pairs of hex digits (escape a literal '#' as \\#)", clipDN(typ))
		}
		if !validBER(dn[i+1 : j]) {
			return 0, fmt.Errorf("%s=#…: the hex value is not one BER-encoded value (escape a literal '#' as \\#)", clipDN(typ))
		}
		return endOfValue(dn, j, typ)
	}
	// The DN is valid UTF-8, so literal bytes are whole characters; only a
	// run of hex escapes (\C3\A9) can decode to invalid UTF-8.
	var run []byte // the current run of hex escapes, decoded
	var buf [16]byte
	for i < len(dn) {
		c := dn[i]
		switch c {
		case ',', ';', '+':
			return i, checkUnescaped(run, typ)
		case '\\':
			if i+1 == len(dn) {
				return 0, fmt.Errorf("%s=: the value ends with a lone backslash", clipDN(typ))
			}
			n := dn[i+1]
			if isHex(n) {
				if i+2 == len(dn) || !isHex(dn[i+2]) {
					return 0, fmt.Errorf("%s=: invalid escape %q (want \\ before a special character, or two hex digits)", clipDN(typ), dn[i:min(i+3, len(dn))])
				}
				b := unhex(n)<<4 | unhex(dn[i+2])
				if b < 0x20 || b == 0x7f {
					return 0, fmt.Errorf("%s=: the escape %s is a control character", clipDN(typ), dn[i:i+3])
				}
				if run == nil {
					run = buf[:0]
				}
				run = append(run, b)
				i += 3
				continue
			}
			if strings.IndexByte(` "#+,;<=>\`, n) < 0 {
				return 0, fmt.Errorf("%s=: invalid escape %q (want \\ before one of  \"#+,;<=>\\ or two hex digits)", clipDN(typ), dn[i:i+2])
			}
			if run != nil {
				if err := checkUnescaped(run, typ); err != nil {
					return 0, err
				}
				run = nil
			}
			i += 2
		case '"', '<', '>':
			return 0, fmt.Errorf("%s=: unescaped %q in the value (escape it as \\%c)", clipDN(typ), c, c)
		default:
			if run != nil {
				if err := checkUnescaped(run, typ); err != nil {
					return 0, err
				}
				run = nil
			}
			i++
		}
	}
	return i, checkUnescaped(run, typ)
}

// validBER reports whether hx (hex digits, an even number) encodes exactly
// one primitive BER element with a one-byte tag and a definite length, the
// form a DN's #hexstring value takes (an OCTET STRING, 04…).
func validBER(hx string) bool {
	b := make([]byte, len(hx)/2)
	for k := range b {
		b[k] = unhex(hx[2*k])<<4 | unhex(hx[2*k+1])
	}
	if len(b) < 2 || b[0]&0x20 != 0 || b[0]&0x1f == 0x1f {
		return false
	}
	n, rest := int(b[1]), b[2:]
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(rest) < k {
			return false
		}
		n = 0
		for _, c := range rest[:k] {
			n = n<<8 | int(c)
		}
		rest = rest[k:]
	}
	return n == len(rest) && decodableContent(b[0], rest)
}

// decodableContent reports whether the content of a BER element with the
// universal tag tag is one go-ldap's decoder accepts: it parses some types
// (times, reals, restricted strings) and rejects their malformed contents,
// so a DN idsync accepts is one every LDAP call can parse. Tags whose
// content it does not parse, and the other classes, take any content.
func decodableContent(tag byte, content []byte) bool {
	if tag&0xc0 != 0 { // application, context-specific or private class
		return true
	}
	switch tag & 0x1f {
	case 0x09, 0x18: // REAL, GeneralizedTime: not values a DN names
		return false
	case 0x0c: // UTF8String
		return utf8.Valid(content)
	case 0x13: // PrintableString
		for _, c := range content {
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !letter && strings.IndexByte(`'()+,-.=/:? `, c) < 0 {
				return false
			}
		}
	case 0x16: // IA5String
		if !utf8.Valid(content) {
			return false
		}
		for _, c := range content {
			if c >= 0x7f {
				return false
			}
		}
	}
	return true
}

// endOfValue returns the index of the separator after a hex value;
// anything else there is an error — spaces too: go-ldap decodes the whole
// rest of the value as hex and fails on them.
func endOfValue(dn string, j int, typ string) (int, error) {
	if j < len(dn) && dn[j] != ',' && dn[j] != ';' && dn[j] != '+' {
		return 0, fmt.Errorf("%s=: unexpected %q after the value", clipDN(typ), dn[j])
	}
	return j, nil
}

func checkUnescaped(raw []byte, typ string) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("%s=: the value's hex escapes are not valid UTF-8", clipDN(typ))
	}
	return nil
}

// validAttrType reports whether s is a descriptor (a letter, then letters,
// digits, hyphens) or a numeric OID; the "OID." prefix of RFC 1779 is
// accepted.
func validAttrType(s string) bool {
	if len(s) > 4 && strings.EqualFold(s[:4], "oid.") {
		s = s[4:]
	}
	if s[0] >= '0' && s[0] <= '9' {
		for _, part := range strings.Split(s, ".") {
			if part == "" || strings.Trim(part, "0123456789") != "" || (len(part) > 1 && part[0] == '0') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || (c < '0' || c > '9') && c != '-') {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// clipDN shortens a part of a DN quoted in an error message.
func clipDN(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 37
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
