package expr

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/idsync/idsync/rules"
)

// Dialect 2: the attribute-mapping functions of Microsoft Entra application
// provisioning. The functions whose documented behaviour is the same as in
// the sync-rule dialect share its specs (provShared); the others are
// registered with registerProv.

// provFunctions maps the case-sensitive names of the provisioning dialect to
// their specs. Use provTable to read it: the shared specs are added on first
// use, once every init has registered its functions.
var provFunctions = map[string]*fnSpec{}

func registerProv(specs ...*fnSpec) {
	for _, s := range specs {
		if _, dup := provFunctions[s.name]; dup {
			panic("expr: duplicate provisioning function " + s.name)
		}
		provFunctions[s.name] = s
	}
}

// provShared are the sync-rule functions the provisioning dialect uses as
// they are.
var provShared = []string{
	"BitAnd", "CBool", "ConvertToBase64", "ConvertToUTF8Hex", "Count", "CStr",
	"DateAdd", "DateFromNum", "GeneratePassword", "IIF", "ImportedValue", "InStr", "IsNull", "IsNullOrEmpty",
	"IsPresent", "IsString", "Item", "Left", "Mid", "Now", "NumFromDate",
	"NextFreeNumber", "RemoveDuplicates", "ShortHash", "Split", "Word",
}

var provOnce sync.Once

// provTable returns the provisioning function table.
func provTable() map[string]*fnSpec {
	provOnce.Do(func() {
		for _, name := range provShared {
			if fn, ok := functions[name]; ok {
				if _, own := provFunctions[name]; !own {
					provFunctions[name] = fn
				}
			}
		}
	})
	return provFunctions
}

// UniqueChecker is the hook SelectUniqueValue uses to ask the target system
// whether a candidate value is already taken. The provisioning engine's Env
// implements it; without it, SelectUniqueValue returns the first non-empty
// candidate.
type UniqueChecker interface {
	// ValueExists reports whether the target already holds value for the
	// attribute being mapped.
	ValueExists(value string) (bool, error)
}

func init() {
	registerProv(
		fixed("Append", 2, 2, true, func(_ *ctx, a []value) (value, error) {
			s, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			suffix, err := argStr(a, 1)
			if err != nil {
				return null, err
			}
			if len(s)+len(suffix) > maxLen {
				return null, errTooLong
			}
			return str(s + suffix), nil
		}),
		// The provisioning engine gives a user's app roles as the
		// multi-valued [appRoleAssignments] (role names, in assignment
		// order). AppRoleAssignmentsComplex passes them all on, for
		// targets that take several roles; SingleAppRoleAssignment the
		// first, for targets that take one (Entra picks one too).
		&fnSpec{name: "AppRoleAssignmentsComplex", min: 1, max: 1, call: func(_ *ctx, a []value) (value, error) {
			return a[0], nil
		}},
		&fnSpec{name: "SingleAppRoleAssignment", min: 1, max: 1, call: func(_ *ctx, a []value) (value, error) {
			if it := a[0].items(); len(it) > 0 {
				return it[0], nil
			}
			return null, nil
		}},
		fixed("CDate", 1, 1, true, func(_ *ctx, a []value) (value, error) {
			if a[0].isNull() {
				return null, nil
			}
			t, err := provDate(a[0])
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			return date(t), nil
		}),
		&fnSpec{name: "Coalesce", min: 1, max: -1, lazy: fnCoalesce},
		fixed("DateDiff", 3, 3, false, fnDateDiff),
		fixed("FormatDateTime", 3, 4, true, fnProvFormatDateTime),
		fixed("Guid", 0, 0, false, func(*ctx, []value) (value, error) { return str(uuid.NewString()), nil }),
		&fnSpec{name: "IgnoreFlowIfNullOrEmpty", min: 1, max: 1, call: func(_ *ctx, a []value) (value, error) {
			if isNullOrEmpty(a[0]) {
				return ignore, nil
			}
			return a[0], nil
		}},
		fixed("Join", 1, -1, false, fnProvJoin),
		fixed("NormalizeDiacritics", 1, 1, true, func(_ *ctx, a []value) (value, error) {
			if a[0].isNull() {
				return null, nil
			}
			s, err := argStr(a, 0)
			return str(normalizeDiacritics(s)), err
		}),
		fixed("Not", 1, 1, true, func(_ *ctx, a []value) (value, error) {
			// Entra: "If source value is True, returns False. Otherwise,
			// returns True" — a value that is not a boolean is not True.
			b, err := toBool(&a[0])
			return boolean(err != nil || !b), nil //nolint:nilerr // see above
		}),
		fixed("PCase", 1, 2, true, func(_ *ctx, a []value) (value, error) {
			if a[0].isNull() {
				return null, nil
			}
			s, err := argStr(a, 0)
			if err != nil {
				return null, err
			}
			var seps string
			if len(a) > 1 && !a[1].isNull() {
				if seps, err = argStr(a, 1); err != nil {
					return null, err
				}
				return str(titleCase(s, func(r rune) bool { return strings.ContainsRune(seps, r) })), nil
			}
			return str(titleCase(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' })), nil
		}),
		fixed("RandomString", 5, 6, false, fnRandomString),
		&fnSpec{name: "Redact", min: 1, max: 1, call: func(_ *ctx, a []value) (value, error) { return a[0], nil }},
		&fnSpec{name: "Replace", min: 2, max: 7, perValue: true, call: fnProvReplace},
		&fnSpec{name: "SelectUniqueValue", min: 2, max: -1, lazy: fnSelectUniqueValue},
		provStrFn("StripSpaces", func(s string) string { return strings.ReplaceAll(s, " ", "") }),
		&fnSpec{name: "Switch", min: 2, max: -1, call: fnProvSwitch, check: func(a []node) string {
			if len(a)%2 != 0 {
				return "takes the source, the default value and then key, value pairs (an even number of arguments)"
			}
			return ""
		}},
		provStrFn("ToLower", strings.ToLower),
		provStrFn("ToUpper", strings.ToUpper),
	)
}

// provStrFn is a per-value string → string function with an optional,
// ignored culture argument; NULL stays NULL.
func provStrFn(name string, f func(string) string) *fnSpec {
	return fixed(name, 1, 2, true, func(_ *ctx, a []value) (value, error) {
		if a[0].isNull() {
			return null, nil
		}
		s, err := argStr(a, 0)
		return str(f(s)), err
	})
}

// fnCoalesce returns the first argument that is not NULL; the last argument
// doubles as the default value, so Coalesce of only NULLs is NULL.
func fnCoalesce(c *ctx, n *callNode, dst *value) error {
	for _, a := range n.args {
		if err := a.eval(c, dst); err != nil || !dst.isNull() {
			return err
		}
	}
	*dst = null
	return nil
}

// fnProvJoin joins the values of its sources, multi-valued sources value by
// value, skipping NULL and empty values.
func fnProvJoin(_ *ctx, a []value) (value, error) {
	sep, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	var b strings.Builder
	first := true
	for i, src := range a[1:] {
		for _, it := range src.items() {
			s, err := toStr(&it)
			if err != nil {
				return null, fmt.Errorf("argument %d: %w", i+2, err)
			}
			if s == "" {
				continue
			}
			if !first {
				b.WriteString(sep)
			}
			first = false
			b.WriteString(s)
			if b.Len() > maxLen {
				return null, errTooLong
			}
		}
	}
	return str(b.String()), nil
}

// fnProvSwitch: Switch(source, defaultValue, key1, value1, …) compares the
// text of source (NULL is "") with each key, case-sensitively.
func fnProvSwitch(_ *ctx, a []value) (value, error) {
	src, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	for i := 2; i+1 < len(a); i += 2 {
		k, err := argStr(a, i)
		if err != nil {
			return null, err
		}
		if k == src {
			return a[i+1], nil
		}
	}
	return a[1], nil
}

// titleCase upper-cases the first letter of each word and lower-cases the
// rest; sep tells the word separators.
func titleCase(s string, sep func(rune) bool) string {
	var b strings.Builder
	b.Grow(len(s))
	first := true
	for _, r := range s {
		switch {
		case sep(r):
			first = true
		case first:
			r = unicode.ToUpper(r)
			first = false
		default:
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// regexCache holds up to 256 compiled Replace patterns.
var regexCache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

func provRegexp(pattern string) (*regexp.Regexp, error) {
	regexCache.Lock()
	re, ok := regexCache.m[pattern]
	regexCache.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regexPattern: %w", err)
	}
	regexCache.Lock()
	if len(regexCache.m) < 256 {
		regexCache.m[pattern] = re
	}
	regexCache.Unlock()
	return re, nil
}

// fnProvReplace: Replace(source, oldValue, regexPattern, regexGroupName,
// replacementValue, replacementAttributeName, template); missing arguments
// are NULL.
func fnProvReplace(_ *ctx, a []value) (value, error) {
	var p [7]string
	var has [7]bool
	for i := range a {
		if a[i].isNull() {
			continue
		}
		s, err := argStr(a, i)
		if err != nil {
			return null, err
		}
		p[i], has[i] = s, true
	}
	source, oldValue, pattern, group, repl, replAttr, template := p[0], p[1], p[2], p[3], p[4], p[5], p[6]
	switch {
	case has[2] && has[3] && has[5] && !has[4]:
		// The source when it has a value, else the group of the pattern
		// matched in the replacement attribute.
		if source != "" {
			return a[0], nil
		}
		re, err := provRegexp(pattern)
		if err != nil {
			return null, err
		}
		m := re.FindStringSubmatch(replAttr)
		gi := re.SubexpIndex(group)
		if m == nil || gi < 0 {
			return null, nil
		}
		return str(m[gi]), nil
	case !has[0]:
		return null, nil
	case has[1] && has[6]:
		return limit(strings.ReplaceAll(template, oldValue, source))
	case has[1] && has[4]:
		if oldValue == "" {
			return str(source), nil
		}
		return limit(strings.ReplaceAll(source, oldValue, repl))
	case has[2] && has[3] && has[4]:
		re, err := provRegexp(pattern)
		if err != nil {
			return null, err
		}
		gi := re.SubexpIndex(group)
		if gi < 0 {
			return null, fmt.Errorf("regexGroupName: the pattern has no group named %q", group)
		}
		var b strings.Builder
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(source, -1) {
			if m[2*gi] < 0 {
				continue
			}
			b.WriteString(source[last:m[2*gi]])
			b.WriteString(repl)
			last = m[2*gi+1]
			if b.Len() > maxLen {
				return null, errTooLong
			}
		}
		b.WriteString(source[last:])
		return limit(b.String())
	case has[2] && has[4]:
		re, err := provRegexp(pattern)
		if err != nil {
			return null, err
		}
		return limit(re.ReplaceAllString(source, repl))
	}
	return null, errors.New("takes oldValue with replacementValue or template, or regexPattern with replacementValue (and optionally regexGroupName), or regexPattern, regexGroupName and replacementAttributeName")
}

func limit(s string) (value, error) {
	if len(s) > maxLen {
		return null, errTooLong
	}
	return str(s), nil
}

// fnSelectUniqueValue returns the first candidate that is not NULL or
// empty and, when the environment implements UniqueChecker, not already
// taken in the target.
func fnSelectUniqueValue(c *ctx, n *callNode, dst *value) error {
	v, err := selectUniqueValue(c, n)
	*dst = v
	return err
}

func selectUniqueValue(c *ctx, n *callNode) (value, error) {
	checker, _ := c.env.(UniqueChecker)
	for _, a := range n.args {
		v, err := c.evalTo(a)
		if err != nil || v.isSpecial() {
			return v, err
		}
		if isNullOrEmpty(v) {
			continue
		}
		s, err := toStr(&v)
		if err != nil {
			return null, err
		}
		if checker != nil {
			taken, err := checker.ValueExists(s)
			if err != nil {
				return null, fmt.Errorf("checking %q for uniqueness: %w", s, err)
			}
			if taken {
				continue
			}
		}
		return str(s), nil
	}
	return null, errors.New("no unique value: every candidate is empty or already taken")
}

// Character classes of RandomString (the password complexity classes).
const (
	rsDigits  = "0123456789"
	rsUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	rsLower   = "abcdefghijklmnopqrstuvwxyz"
	rsSpecial = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"
)

// fnRandomString: RandomString(Length, MinimumNumbers,
// MinimumSpecialCharacters, MinimumCapital, MinimumLowerCase,
// CharactersToAvoid?), from a cryptographic source.
func fnRandomString(_ *ctx, a []value) (value, error) {
	var n [5]int64
	for i := range n {
		v, err := argNum(a, i)
		if err != nil {
			return null, err
		}
		if v < 0 {
			return null, fmt.Errorf("argument %d: %d is negative", i+1, v)
		}
		n[i] = v
	}
	avoid := ""
	if len(a) > 5 {
		var err error
		if avoid, err = argStr(a, 5); err != nil {
			return null, err
		}
	}
	length := n[0]
	if length > 256 {
		return null, fmt.Errorf("length %d is more than 256", length)
	}
	if n[1]+n[2]+n[3]+n[4] > length {
		return null, fmt.Errorf("length %d is less than the sum of the minimums", length)
	}
	keep := func(set string) []rune {
		return []rune(strings.Map(func(r rune) rune {
			if strings.ContainsRune(avoid, r) {
				return -1
			}
			return r
		}, set))
	}
	classes := [][]rune{keep(rsDigits), keep(rsSpecial), keep(rsUpper), keep(rsLower)}
	var all []rune
	out := make([]rune, 0, length)
	for i, cl := range classes {
		if len(cl) == 0 && n[i+1] > 0 {
			return null, fmt.Errorf("argument %d: every character of the class is avoided", i+2)
		}
		for range n[i+1] {
			out = append(out, pick(cl))
		}
		all = append(all, cl...)
	}
	if len(all) == 0 && int64(len(out)) < length {
		return null, errors.New("every character is avoided")
	}
	for int64(len(out)) < length {
		out = append(out, pick(all))
	}
	for i := len(out) - 1; i > 0; i-- {
		j := randInt(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return str(string(out)), nil
}

func pick(set []rune) rune { return set[randInt(len(set))] }

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return int(v.Int64())
}

// dateOffset matches a date with a zone offset and no time
// ("2020-03-16-07:00", as Workday sends them).
var dateOffset = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})([+-]\d{2}):?(\d{2})$`)

// provDate converts a value to a date, also accepting a date followed by a
// zone offset.
func provDate(v value) (time.Time, error) {
	if v.k == kStr {
		if m := dateOffset.FindStringSubmatch(strings.TrimSpace(v.s)); m != nil {
			if t, err := time.Parse("2006-01-02-07:00", m[1]+m[2]+":"+m[3]); err == nil {
				return t.UTC(), nil
			}
		}
	}
	return toDate(v)
}

// fnDateDiff: DateDiff(interval, date1, date2) counts the interval
// boundaries from date1 to date2 (yyyy, m, ww: calendar years, months and
// Sunday-started weeks; d, h, n, s: whole units elapsed).
func fnDateDiff(_ *ctx, a []value) (value, error) {
	iv, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	if a[1].isNull() || a[2].isNull() {
		return null, nil
	}
	t1, err := provDate(a[1])
	if err != nil {
		return null, fmt.Errorf("argument 2: %w", err)
	}
	t2, err := provDate(a[2])
	if err != nil {
		return null, fmt.Errorf("argument 3: %w", err)
	}
	d := t2.Sub(t1)
	switch iv {
	case "yyyy":
		return num(int64(t2.Year() - t1.Year())), nil
	case "m":
		return num(int64((t2.Year()-t1.Year())*12 + int(t2.Month()) - int(t1.Month()))), nil
	case "ww":
		return num(weekIndex(t2) - weekIndex(t1)), nil
	case "d":
		return num(int64(d / (24 * time.Hour))), nil
	case "h":
		return num(int64(d / time.Hour)), nil
	case "n":
		return num(int64(d / time.Minute)), nil
	case "s":
		return num(int64(d / time.Second)), nil
	}
	return null, fmt.Errorf("argument 1: unknown interval %q (want yyyy, m, d, ww, h, n or s)", iv)
}

// weekIndex numbers the Sunday-started weeks.
func weekIndex(t time.Time) int64 {
	days := t.Unix() / 86400
	if t.Unix()%86400 < 0 {
		days--
	}
	w := days + 4 // 1970-01-01 was a Thursday
	if w < 0 {
		return (w - 6) / 7
	}
	return w / 7
}

// fnProvFormatDateTime: FormatDateTime(source, dateTimeStyles?,
// inputFormat, outputFormat). The source is parsed with the .NET custom
// inputFormat; dateTimeStyles is ignored (dates are UTC unless the input
// has an offset).
func fnProvFormatDateTime(_ *ctx, a []value) (value, error) {
	if a[0].isNull() {
		return null, nil
	}
	in, out := 1, 2
	if len(a) == 4 {
		in, out = 2, 3
	}
	inFmt, err := argStr(a, in)
	if err != nil {
		return null, err
	}
	outFmt, err := argStr(a, out)
	if err != nil {
		return null, err
	}
	var t time.Time
	if a[0].k == kDate {
		t = a[0].t
	} else {
		s, err := argStr(a, 0)
		if err != nil {
			return null, err
		}
		if t, err = parseNet(s, inFmt); err != nil {
			return null, fmt.Errorf("argument 1: %w", err)
		}
	}
	return str(formatNet(t, outFmt)), nil
}

// parseNet parses s with a .NET custom date and time format string (y, M,
// d, H, h, m, s, f, F, t, z, K, quoted and escaped literals).
func parseNet(s, f string) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q does not match the format %q", s, f)
	}
	year, month, day := 1, 1, 1
	var hour, minute, sec, nsec, offset int
	pm, ampm := false, false
	rs := []rune(f)
	// num reads between lo and hi digits.
	num := func(lo, hi int) (int, bool) {
		v, n := 0, 0
		for n < hi && n < len(s) && s[n] >= '0' && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
		}
		if n < lo {
			return 0, false
		}
		s = s[n:]
		return v, true
	}
	lit := func(r rune) bool {
		c, size := utf8.DecodeRuneInString(s)
		if size == 0 || c != r {
			return false
		}
		s = s[size:]
		return true
	}
	for i := 0; i < len(rs); {
		c := rs[i]
		n := 1
		for i+n < len(rs) && rs[i+n] == c {
			n++
		}
		ok := true
		switch c {
		case 'y':
			if n <= 2 {
				var y int
				if y, ok = num(1, 2); ok {
					year = 2000 + y
					if y >= 50 {
						year = 1900 + y
					}
				}
			} else {
				year, ok = num(n, max(n, 4))
			}
		case 'M':
			if n <= 2 {
				month, ok = num(n, 2)
				break
			}
			ok = false
			for m := time.January; m <= time.December; m++ {
				name := m.String()
				if n == 3 {
					name = name[:3]
				}
				if len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
					month, s, ok = int(m), s[len(name):], true
					break
				}
			}
		case 'd':
			if n <= 2 {
				day, ok = num(n, 2)
				break
			}
			// Day names: skip letters.
			j := 0
			for j < len(s) && unicode.IsLetter(rune(s[j])) {
				j++
			}
			s, ok = s[j:], j > 0
		case 'H', 'h':
			hour, ok = num(min(n, 2), 2)
			ampm = ampm || c == 'h'
		case 'm':
			minute, ok = num(min(n, 2), 2)
		case 's':
			sec, ok = num(min(n, 2), 2)
		case 'f', 'F':
			lo := n
			if c == 'F' {
				lo = 0
			}
			before := len(s)
			var v int
			if v, ok = num(lo, min(n, 9)); ok {
				for d := before - len(s); d < 9; d++ {
					v *= 10
				}
				nsec = v
			}
		case 't':
			up := strings.ToUpper(s)
			switch {
			case strings.HasPrefix(up, "PM"[:min(n, 2)]):
				pm = true
			case strings.HasPrefix(up, "AM"[:min(n, 2)]):
			default:
				ok = false
			}
			if ok {
				s = s[min(n, 2):]
			}
		case 'z', 'K':
			if lit('Z') || lit('z') {
				break
			}
			if len(s) == 0 {
				ok = c == 'K'
				break
			}
			sign := 1
			switch s[0] {
			case '+':
			case '-':
				sign = -1
			default:
				ok = false
			}
			if !ok {
				break
			}
			s = s[1:]
			var h, m int
			if h, ok = num(1, 2); !ok {
				break
			}
			if lit(':') || (len(s) >= 2 && s[0] >= '0' && s[0] <= '9') {
				m, ok = num(2, 2)
			}
			offset = sign * (h*3600 + m*60)
		case '\'', '"':
			j := i + 1
			for j < len(rs) && rs[j] != c {
				j++
			}
			for _, r := range rs[i+1 : min(j, len(rs))] {
				if ok = lit(r); !ok {
					break
				}
			}
			n = j - i + 1
		case '\\':
			if i+1 < len(rs) {
				ok = lit(rs[i+1])
			}
			n = 2
		default:
			for k := 0; k < n && ok; k++ {
				ok = lit(c)
			}
		}
		if !ok {
			return bad()
		}
		i += n
	}
	if strings.TrimSpace(s) != "" {
		return bad()
	}
	if ampm || pm {
		if hour > 12 {
			return bad()
		}
		if pm && hour < 12 {
			hour += 12
		} else if !pm && hour == 12 && ampm {
			hour = 0
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return bad()
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return bad()
	}
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// diacritics maps the characters NormalizeDiacritics replaces; combining
// marks (U+0300–U+036F) are dropped.
var diacritics = func() map[rune]string {
	m := map[rune]string{}
	for _, e := range []struct{ from, to string }{
		{"äàâãåáąăāǟǡ", "a"}, {"ÄÀÂÃÅÁĄĂĀǞǠ", "A"}, {"æǣ", "ae"}, {"ÆǢ", "AE"},
		{"çčć", "c"}, {"ÇČĆ", "C"}, {"ďḏ", "d"}, {"ĎḎ", "D"},
		{"ëèéêęěėēḗḕ", "e"}, {"ËÈÉÊĘĚĖĒḖḔ", "E"}, {"ğḡ", "g"}, {"ĞḠ", "G"},
		{"ïîìíıī", "i"}, {"ÏÎÌÍİĪ", "I"}, {"ľłḹḻ", "l"}, {"ŁĽḸḺ", "L"},
		{"ñńňṉ", "n"}, {"ÑŃŇṈ", "N"}, {"öòőõôóōṓṑȫǭȭȱ", "o"}, {"ÖÒŐÕÔÓŌṒṐȪǬȬȰ", "O"},
		{"øœ", "oe"}, {"ØŒ", "OE"}, {"řṟṝ", "r"}, {"ŘṞṜ", "R"}, {"ß", "ss"},
		{"šśșş", "s"}, {"ŠŚȘŞ", "S"}, {"ťțṯ", "t"}, {"ŤȚṮ", "T"},
		{"üùûúůűūǖṻ", "u"}, {"ÜÙÛÚŮŰŪǕṺ", "U"}, {"ÿýȳ", "y"}, {"ŸÝȲ", "Y"},
		{"źžżẕ", "z"}, {"ŹŽŻẔ", "Z"},
	} {
		for _, r := range e.from {
			m[r] = e.to
		}
	}
	return m
}()

func normalizeDiacritics(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r >= 0x300 && r <= 0x36f {
			continue
		}
		if to, ok := diacritics[r]; ok {
			b.WriteString(to)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Redacted reports whether the expression calls Redact: its result must be
// shown as "[Redact]" in logs and activity reports.
func (x *compiled) Redacted() bool { return x.redacted }

// IsRedacted reports whether c is a provisioning expression whose result
// must be hidden in logs (it calls Redact).
func IsRedacted(c rules.Compiled) bool {
	r, ok := c.(interface{ Redacted() bool })
	return ok && r.Redacted()
}

// provDateFormat is how the provisioning dialect writes dates.
const provDateFormat = "M/d/yyyy h:mm:ss tt"

// provDatesToText writes the dates of a result as provisioning does.
func provDatesToText(v value) value {
	switch v.k {
	case kDate:
		return str(formatNet(v.t, provDateFormat))
	case kList:
		out := make([]value, len(v.l))
		for i, it := range v.l {
			out[i] = provDatesToText(it)
		}
		return value{k: kList, l: out}
	}
	return v
}
