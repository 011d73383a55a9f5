package expr

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Conversion and math functions.

func init() {
	register(
		fixed("CBool", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			b, err := argBool(a, 0)
			return boolean(b), err
		}),
		fixed("CNum", 1, 1, true, nullOr(func(a []value) (value, error) {
			n, err := argNum(a, 0)
			return num(n), err
		})),
		fixed("CStr", 1, 1, true, nullOr(func(a []value) (value, error) {
			if a[0].k == kBin {
				return null, errors.New("argument 1: cannot convert binary to a string; use ConvertToBase64, StringFromGuid or StringFromSid")
			}
			s, err := argStr(a, 0)
			return str(s), err
		})),
		fixed("CRef", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := argStr(a, 0)
			return value{k: kRef, s: s}, err
		})),
		fixed("CBin", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := argStr(a, 0)
			return bin(s), err
		})),
		fixed("CDate", 1, 1, true, nullOr(func(a []value) (value, error) {
			t, err := toDate(a[0])
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			return date(t), nil
		})),
		fixed("CGuid", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			b, ok := parseGUID(s)
			if !ok {
				return null, fmt.Errorf("argument 1: %q is not a GUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx or {…})", s)
			}
			return bin(string(b)), nil
		})),
		fixed("StringFromGuid", 1, 1, true, nullOr(func(a []value) (value, error) {
			if a[0].k != kBin && a[0].k != kStr || len(a[0].s) != 16 {
				return null, fmt.Errorf("argument 1: expected a 16-byte binary GUID")
			}
			return str(formatGUID([]byte(a[0].s))), nil
		})),
		fixed("StringFromSid", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := formatSID([]byte(a[0].s))
			if a[0].k != kBin && a[0].k != kStr {
				err = fmt.Errorf("expected a binary SID, got %s", a[0].k)
			}
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			return str(s), nil
		})),
		fixed("ConvertToBase64", 1, 1, true, nullOr(func(a []value) (value, error) {
			if a[0].k == kBin {
				return str(base64.StdEncoding.EncodeToString([]byte(a[0].s))), nil
			}
			s, err := argStr(a, 0)
			return str(base64.StdEncoding.EncodeToString(utf16le(s))), err
		})),
		fixed("ConvertFromBase64", 1, 2, true, nullOr(fnFromBase64)),
		fixed("ConvertToUTF8Hex", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := argStr(a, 0)
			return str(strings.ToUpper(hex.EncodeToString([]byte(s)))), err
		})),
		fixed("ConvertFromUTF8Hex", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			b, err := hex.DecodeString(s)
			if err != nil {
				return null, fmt.Errorf("argument 1: %q is not hexadecimal", s)
			}
			return str(string(b)), nil
		})),
		fixed("BitAnd", 2, 2, false, bitOp(func(x, y int64) int64 { return x & y })),
		fixed("BitOr", 2, 2, false, bitOp(func(x, y int64) int64 { return x | y })),
		fixed("RandomNum", 2, 2, false, func(_ *ctx, a []value) (value, error) {
			lo, err := argNum(a, 0)
			if err != nil {
				return null, err
			}
			hi, err := argNum(a, 1)
			if err != nil {
				return null, err
			}
			if hi < lo || uint64(hi-lo) >= 1<<63-1 {
				return null, fmt.Errorf("invalid range %d to %d", lo, hi)
			}
			return num(lo + rand.Int64N(hi-lo+1)), nil
		}),
	)
}

// nullOr wraps a conversion so that NULL gives NULL.
func nullOr(f func(a []value) (value, error)) func(*ctx, []value) (value, error) {
	return func(_ *ctx, a []value) (value, error) {
		if a[0].isNull() {
			return null, nil
		}
		return f(a)
	}
}

func bitOp(f func(x, y int64) int64) func(*ctx, []value) (value, error) {
	return func(_ *ctx, a []value) (value, error) {
		if a[0].isNull() || a[1].isNull() {
			return null, nil
		}
		x, err := argNum(a, 0)
		if err != nil {
			return null, err
		}
		y, err := argNum(a, 1)
		if err != nil {
			return null, err
		}
		return num(f(x, y)), nil
	}
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// fnFromBase64 decodes base64 text as Unicode (UTF-16LE, the default),
// UTF8 or ASCII.
func fnFromBase64(a []value) (value, error) {
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	enc, err := optStr(a, 1, "Unicode")
	if err != nil {
		return null, err
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return null, fmt.Errorf("argument 1: not base64: %w", err)
	}
	switch enc {
	case "Unicode":
		if len(b)%2 != 0 {
			return null, errors.New("argument 1: odd number of bytes for Unicode (UTF-16) text")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return str(string(utf16.Decode(u))), nil
	case "UTF8", "ASCII":
		return str(string(b)), nil
	}
	return null, fmt.Errorf("argument 2: unknown encoding %q (want Unicode, UTF8 or ASCII)", enc)
}

// parseGUID parses xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, optionally in
// braces, into the 16 bytes in AD (Microsoft) byte order: the first three
// groups little-endian.
func parseGUID(s string) ([]byte, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	raw, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if err != nil {
		return nil, false
	}
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = raw[3], raw[2], raw[1], raw[0]
	b[4], b[5] = raw[5], raw[4]
	b[6], b[7] = raw[7], raw[6]
	copy(b[8:], raw[8:])
	return b, true
}

// formatGUID writes 16 bytes in AD byte order as xxxxxxxx-xxxx-… (lower case).
func formatGUID(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// formatSID writes a binary SID as S-1-5-21-….
func formatSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errors.New("a SID has at least 8 bytes")
	}
	n := int(b[1])
	if len(b) != 8+4*n {
		return "", fmt.Errorf("a SID with %d sub-authorities has %d bytes, got %d", n, 8+4*n, len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-")
	sb.WriteString(strconv.Itoa(int(b[0])))
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatUint(auth, 10))
	for i := 0; i < n; i++ {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}
