package expr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Date and time functions. Dates are UTC.

func init() {
	register(
		fixed("Now", 0, 0, false, func(*ctx, []value) (value, error) { return date(time.Now()), nil }),
		fixed("DateFromNum", 1, 1, true, nullOr(func(a []value) (value, error) {
			n, err := argNum(a, 0)
			return date(fromFileTime(n)), err
		})),
		fixed("NumFromDate", 1, 1, true, nullOr(func(a []value) (value, error) {
			t, err := toDate(a[0])
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			return num(toFileTime(t)), nil
		})),
		fixed("DateAdd", 3, 3, false, fnDateAdd),
		fixed("FormatDateTime", 2, 2, true, nullOr(func(a []value) (value, error) {
			t, err := toDate(a[0])
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			f, err := argStr(a, 1)
			if err != nil {
				return null, err
			}
			return str(formatNet(t, f)), nil
		})),
	)
}

// fileTimeEpoch is 1601-01-01 in Unix seconds; AD dates count 100 ns
// intervals from it.
const fileTimeEpoch = 11644473600

func fromFileTime(n int64) time.Time {
	sec, rem := n/1e7, n%1e7
	if rem < 0 {
		sec, rem = sec-1, rem+1e7
	}
	return time.Unix(sec-fileTimeEpoch, rem*100).UTC()
}

func toFileTime(t time.Time) int64 {
	return (t.Unix()+fileTimeEpoch)*1e7 + int64(t.Nanosecond()/100)
}

// fnDateAdd adds a number of intervals: yyyy, q, m (clamped to the end of
// the month as in VBScript), y, d, w (days), ww (weeks), h, n, s.
func fnDateAdd(_ *ctx, a []value) (value, error) {
	if a[2].isNull() {
		return null, nil
	}
	iv, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	n, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	t, err := toDate(a[2])
	if err != nil {
		return null, fmt.Errorf("argument 3: %w", err)
	}
	const maxN = 1 << 40
	if n > maxN || n < -maxN {
		return null, fmt.Errorf("argument 2: %d is out of range", n)
	}
	switch strings.ToLower(iv) {
	case "yyyy":
		return date(addMonths(t, 12*n)), nil
	case "q":
		return date(addMonths(t, 3*n)), nil
	case "m":
		return date(addMonths(t, n)), nil
	case "y", "d", "w":
		return date(t.AddDate(0, 0, int(n))), nil
	case "ww":
		return date(t.AddDate(0, 0, int(7*n))), nil
	case "h":
		return date(t.Add(time.Duration(n) * time.Hour)), nil
	case "n":
		return date(t.Add(time.Duration(n) * time.Minute)), nil
	case "s":
		return date(t.Add(time.Duration(n) * time.Second)), nil
	}
	return null, fmt.Errorf("argument 1: unknown interval %q (want yyyy, q, m, y, d, w, ww, h, n or s)", iv)
}

func addMonths(t time.Time, n int64) time.Time {
	m := int64(t.Year())*12 + int64(t.Month()-1) + n
	y, mo := int(m/12), time.Month(m%12+1)
	if m%12 < 0 {
		y, mo = int(m/12)-1, time.Month(m%12+13)
	}
	d := min(t.Day(), time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day())
	return time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

var (
	// tzSuffix is a trailing zone: Z, UTC, GMT, or +h, -hh, +hh:mm, -hhmm.
	tzSuffix    = regexp.MustCompile(`(?i)\s*(Z|UTC|GMT|[+-]\d{1,2}(:?\d{2})?)$`)
	dateLayouts = []string{
		"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04",
		"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02 15:04",
		"2006-01-02 3:04:05 PM", "2006-01-02 3:04 PM", "2006-01-02",
		"1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM", "1/2/2006",
		"20060102150405.0", "20060102150405",
	}
)

// parseDate parses a date with an optional time and zone; without a zone
// the time is UTC.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	offset := 0
	if m := tzSuffix.FindStringSubmatchIndex(s); m != nil {
		z := strings.ToUpper(s[m[2]:m[3]])
		rest := strings.TrimSpace(s[:m[0]])
		ok := true
		if z[0] == '+' || z[0] == '-' {
			// A bare "-02" may be the day of a date: only take it as a zone
			// after a time.
			if !strings.Contains(rest, ":") {
				ok = false
			} else {
				digits := strings.ReplaceAll(z[1:], ":", "")
				h, mm := digits, "0"
				if len(digits) > 2 {
					h, mm = digits[:len(digits)-2], digits[len(digits)-2:]
				}
				hv, _ := strconv.Atoi(h)
				mv, _ := strconv.Atoi(mm)
				offset = hv*3600 + mv*60
				if z[0] == '-' {
					offset = -offset
				}
			}
		}
		if ok {
			s = rest
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Add(-time.Duration(offset) * time.Second).UTC(), true
		}
	}
	return time.Time{}, false
}

// formatNet formats t with a .NET custom date and time format string.
func formatNet(t time.Time, f string) string {
	var b strings.Builder
	rs := []rune(f)
	for i := 0; i < len(rs); {
		c := rs[i]
		n := 1
		for i+n < len(rs) && rs[i+n] == c {
			n++
		}
		pad := func(v, w int) { fmt.Fprintf(&b, "%0*d", w, v) }
		switch c {
		case 'y':
			switch n {
			case 1:
				pad(t.Year()%100, 1)
			case 2:
				pad(t.Year()%100, 2)
			default:
				pad(t.Year(), n)
			}
		case 'M':
			switch {
			case n <= 2:
				pad(int(t.Month()), n)
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(t.Month().String())
			}
		case 'd':
			switch {
			case n <= 2:
				pad(t.Day(), n)
			case n == 3:
				b.WriteString(t.Weekday().String()[:3])
			default:
				b.WriteString(t.Weekday().String())
			}
		case 'H':
			pad(t.Hour(), min(n, 2))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(h, min(n, 2))
		case 'm':
			pad(t.Minute(), min(n, 2))
		case 's':
			pad(t.Second(), min(n, 2))
		case 'f', 'F':
			w := min(n, 7)
			frac := fmt.Sprintf("%09d", t.Nanosecond())[:w]
			if c == 'F' {
				frac = strings.TrimRight(frac, "0")
			}
			b.WriteString(frac)
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			b.WriteString(ampm[:min(n, 2)])
		case 'K':
			b.WriteString("Z")
			n = 1
		case 'z':
			b.WriteString([]string{"+0", "+00", "+00:00"}[min(n, 3)-1])
		case '\'', '"':
			j := i + 1
			for j < len(rs) && rs[j] != c {
				j++
			}
			b.WriteString(string(rs[i+1 : j]))
			n = j - i + 1
		case '\\':
			if i+1 < len(rs) {
				b.WriteRune(rs[i+1])
			}
			n = 2
		default:
			b.WriteRune(c)
			n = 1
		}
		i += n
	}
	return b.String()
}
