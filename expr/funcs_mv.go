package expr

import (
	"errors"
	"fmt"
	"strings"
)

// Multi-valued functions. A single value counts as a list of one value and
// NULL as an empty list.

func init() {
	register(
		fixed("Count", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			return num(int64(len(a[0].items()))), nil
		}),
		fixed("Item", 2, 2, false, func(_ *ctx, a []value) (value, error) { return item(a, false) }),
		fixed("ItemOrNull", 2, 2, false, func(_ *ctx, a []value) (value, error) { return item(a, true) }),
		fixed("Contains", 2, 3, false, fnContains),
		fixed("Join", 1, 2, false, func(_ *ctx, a []value) (value, error) {
			if a[0].isNull() {
				return null, nil
			}
			sep, err := optStr(a, 1, " ")
			if err != nil {
				return null, err
			}
			items := a[0].items()
			parts := make([]string, len(items))
			total := 0
			for i, it := range items {
				if parts[i], err = toStr(&it); err != nil {
					return null, fmt.Errorf("argument 1: value %d: %w", i+1, err)
				}
				if total += len(parts[i]) + len(sep); total > maxLen {
					return null, errTooLong
				}
			}
			return str(strings.Join(parts, sep)), nil
		}),
		fixed("Split", 2, 3, true, fnSplit),
		fixed("RemoveDuplicates", 1, 1, false, func(_ *ctx, a []value) (value, error) {
			items := a[0].items()
			type key struct {
				k    kind
				s    string
				n, t int64
			}
			seen := make(map[key]bool, len(items))
			out := make([]value, 0, len(items))
			for _, it := range items {
				k := key{it.k, it.s, it.n, it.t.UnixNano()}
				if !seen[k] {
					seen[k] = true
					out = append(out, it)
				}
			}
			return list(out), nil
		}),
	)
}

// item returns value index (1-based); out of range is an error, or NULL for
// ItemOrNull.
func item(a []value, orNull bool) (value, error) {
	if a[1].isNull() && orNull {
		return null, nil
	}
	i, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	items := a[0].items()
	if i < 1 || i > int64(len(items)) {
		if orNull {
			return null, nil
		}
		return null, fmt.Errorf("index %d is out of range (the attribute has %d values)", i, len(items))
	}
	return items[i-1], nil
}

// fnContains returns the 1-based index of the first value containing the
// search string (references: equal to it), 0 when none does. The default is
// CaseSensitive.
func fnContains(_ *ctx, a []value) (value, error) {
	search, err := argStr(a, 1)
	if err != nil {
		return null, err
	}
	mode, err := optStr(a, 2, "CaseSensitive")
	if err != nil {
		return null, err
	}
	var fold bool
	switch mode {
	case "CaseSensitive":
	case "CaseInsensitive":
		fold = true
	default:
		return null, fmt.Errorf("argument 3: want CaseSensitive or CaseInsensitive, got %q", mode)
	}
	if fold {
		search = strings.ToLower(search)
	}
	for i, it := range a[0].items() {
		s, err := toStr(&it)
		if err != nil {
			return null, err
		}
		if fold {
			s = strings.ToLower(s)
		}
		if it.k == kRef && s == search || it.k != kRef && strings.Contains(s, search) {
			return num(int64(i + 1)), nil
		}
	}
	return num(0), nil
}

// fnSplit splits at a delimiter into at most limit values (the last one
// keeps the rest).
func fnSplit(_ *ctx, a []value) (value, error) {
	if a[0].isNull() {
		return null, nil
	}
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	d, err := argStr(a, 1)
	if err != nil {
		return null, err
	}
	if d == "" {
		return null, errors.New("argument 2: the delimiter cannot be empty")
	}
	limit := int64(-1)
	if len(a) > 2 {
		if limit, err = argNum(a, 2); err != nil {
			return null, err
		}
		if limit < 1 {
			limit = -1
		}
	}
	parts := strings.SplitN(s, d, int(min(limit, 1<<30)))
	out := make([]value, len(parts))
	for i, p := range parts {
		out[i] = str(p)
	}
	return list(out), nil
}
