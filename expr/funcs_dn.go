package expr

import (
	"strings"

	"github.com/idsync/idsync/model"
)

// Directory functions.

func init() {
	register(
		fixed("DNComponent", 2, 2, true, func(_ *ctx, a []value) (value, error) { return dnComponent(a, false) }),
		fixed("DNComponentRev", 2, 3, true, func(_ *ctx, a []value) (value, error) { return dnComponent(a, true) }),
		fixed("EscapeDNComponent", 1, 1, true, nullOr(func(a []value) (value, error) {
			s, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			if typ, val, ok := strings.Cut(s, "="); ok && isAttrType(typ) {
				return str(typ + "=" + model.EscapeDNValue(val)), nil
			}
			return str(model.EscapeDNValue(s)), nil
		})),
	)
}

// isAttrType reports whether s looks like an RDN attribute type (cn, ou,
// 2.5.4.3 …).
func isAttrType(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '-' && r != '.' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// rdn is one component of a DN, its value kept as written (escaped).
type rdn struct{ typ, val string }

// nextRDN scans the component of a DN that starts at byte i, up to the
// next unescaped comma (or semicolon) outside quotes. It returns the
// component (ok false when it is blank) and where the next one starts;
// next > len(dn) when the DN is done.
func nextRDN(dn string, i int) (c rdn, ok bool, next int) {
	start, quoted := i, false
scan:
	for ; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',', ';':
			if !quoted {
				break scan
			}
		}
	}
	part := strings.TrimSpace(dn[start:min(i, len(dn))])
	if part == "" {
		return rdn{}, false, i + 1
	}
	t, v, found := strings.Cut(part, "=")
	if !found {
		return rdn{val: part}, true, i + 1
	}
	return rdn{typ: strings.TrimSpace(t), val: strings.TrimSpace(v)}, true, i + 1
}

// dnComponent returns the value of component n (1-based) counted from the
// left, or from the right for DNComponentRev, whose option "DC" skips the
// dc= components. Out of range gives NULL.
func dnComponent(a []value, rev bool) (value, error) {
	if a[0].isNull() {
		return null, nil
	}
	dn, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	n, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	opt, err := optStr(a, 2, "")
	if err != nil {
		return null, err
	}
	skipDC := strings.EqualFold(opt, "DC")
	if !skipDC && opt != "" {
		return null, errorf("argument 3: unknown option %q (want \"DC\")", opt)
	}
	if n < 1 {
		return null, nil
	}
	// counted: the components that count (all, or all but dc= with "DC").
	counted := func(c rdn) bool { return !skipDC || !strings.EqualFold(c.typ, "dc") }
	if rev {
		total := int64(0)
		for i := 0; i <= len(dn); {
			c, ok, next := nextRDN(dn, i)
			if ok && counted(c) {
				total++
			}
			i = next
		}
		n = total - n + 1
		if n < 1 {
			return null, nil
		}
	}
	res, seen := null, int64(0)
	for i := 0; i <= len(dn); {
		c, ok, next := nextRDN(dn, i)
		if ok && counted(c) {
			if seen++; seen == n {
				res = str(c.val)
				break
			}
		}
		i = next
	}
	return res, nil
}
