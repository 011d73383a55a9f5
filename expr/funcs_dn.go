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

// eachRDN calls f on the components of a DN, split at the unescaped commas
// (and semicolons) outside quotes, until f returns false.
func eachRDN(dn string, f func(rdn) bool) {
	start, quoted, more := 0, false, true
	add := func(part string) {
		part = strings.TrimSpace(part)
		if part == "" || !more {
			return
		}
		t, v, ok := strings.Cut(part, "=")
		if !ok {
			more = f(rdn{val: part})
			return
		}
		more = f(rdn{typ: strings.TrimSpace(t), val: strings.TrimSpace(v)})
	}
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',', ';':
			if !quoted {
				add(dn[start:i])
				start = i + 1
			}
		}
	}
	add(dn[start:])
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
	counted := func(c rdn) bool { return !skipDC || !strings.EqualFold(c.typ, "dc") }
	if rev {
		total := int64(0)
		eachRDN(dn, func(c rdn) bool {
			if counted(c) {
				total++
			}
			return true
		})
		n = total - n + 1
		if n < 1 {
			return null, nil
		}
	}
	res, i := null, int64(0)
	eachRDN(dn, func(c rdn) bool {
		if counted(c) {
			if i++; i == n {
				res = str(c.val)
				return false
			}
		}
		return true
	})
	return res, nil
}
