package expr

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Text functions. Positions and lengths count characters (runes), 1-based.

func init() {
	register(
		fixed("Left", 2, 2, true, func(_ *ctx, a []value) (value, error) {
			return leftRight(a, true)
		}),
		fixed("Right", 2, 2, true, func(_ *ctx, a []value) (value, error) {
			return leftRight(a, false)
		}),
		fixed("Mid", 2, 3, true, fnMid),
		fixed("Len", 1, 1, true, func(_ *ctx, a []value) (value, error) {
			s, err := argStr(a, 0)
			return num(int64(utf8.RuneCountInString(s))), err
		}),
		strFn("LCase", strings.ToLower),
		strFn("UCase", strings.ToUpper),
		strFn("PCase", pcase),
		strFn("Trim", strings.TrimSpace),
		strFn("LTrim", func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }),
		strFn("RTrim", func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }),
		fixed("Replace", 3, 3, true, fnReplace),
		fixed("ReplaceChars", 2, 2, true, fnReplaceChars),
		fixed("InStr", 2, 4, false, func(_ *ctx, a []value) (value, error) { return instr(a, false) }),
		fixed("InStrRev", 2, 4, false, func(_ *ctx, a []value) (value, error) { return instr(a, true) }),
		fixed("Word", 3, 3, true, fnWord),
		fixed("PadLeft", 3, 3, true, func(_ *ctx, a []value) (value, error) { return pad(a, true) }),
		fixed("PadRight", 3, 3, true, func(_ *ctx, a []value) (value, error) { return pad(a, false) }),
		fixed("GUID", 0, 0, false, func(*ctx, []value) (value, error) { return str(uuid.NewString()), nil }),
	)
}

// strFn is a per-value string → string function; NULL stays NULL.
func strFn(name string, f func(string) string) *fnSpec {
	return fixed(name, 1, 1, true, func(_ *ctx, a []value) (value, error) {
		if a[0].isNull() {
			return null, nil
		}
		s, err := argStr(a, 0)
		if err != nil {
			return null, err
		}
		return str(f(s)), nil
	})
}

// leftRight: numChars 0 → "", < 0 → the input, NULL string → "".
func leftRight(a []value, left bool) (value, error) {
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	n, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	count := int64(utf8.RuneCountInString(s))
	switch {
	case n < 0 || n >= count:
		return str(s), nil
	case left:
		return str(s[:byteOffset(s, n)]), nil
	}
	return str(s[byteOffset(s, count-n):]), nil
}

// byteOffset returns the byte offset of rune n (0-based) of s.
func byteOffset(s string, n int64) int {
	if n <= 0 {
		return 0
	}
	var i int64
	for off := range s {
		if i == n {
			return off
		}
		i++
	}
	return len(s)
}

// fnMid: numChars 0 → ""; numChars < 0, start <= 0 or start past the end →
// the input; NULL → "". Without numChars, the rest of the string.
func fnMid(_ *ctx, a []value) (value, error) {
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	start, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	r := []rune(s)
	n := int64(len(r))
	if len(a) > 2 {
		if n, err = argNum(a, 2); err != nil {
			return null, err
		}
	}
	switch {
	case n == 0:
		return emptyStr, nil
	case n < 0 || start <= 0 || start > int64(len(r)):
		return str(s), nil
	}
	end := min(start-1+n, int64(len(r)))
	return str(string(r[start-1 : end])), nil
}

// pcase upper-cases the first letter of each space-delimited word and
// lower-cases the rest.
func pcase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	first := true
	for _, r := range s {
		if unicode.IsSpace(r) {
			first = true
			b.WriteRune(r)
			continue
		}
		if first {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		first = false
	}
	return b.String()
}

// monikers turns the written monikers \n, \r, \t into their characters.
var monikers = strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t")

func fnReplace(_ *ctx, a []value) (value, error) {
	if a[0].isNull() {
		return null, nil
	}
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	old, err := argStr(a, 1)
	if err != nil {
		return null, err
	}
	repl, err := argStr(a, 2)
	if err != nil {
		return null, err
	}
	old, repl = monikers.Replace(old), monikers.Replace(repl)
	if old == "" {
		return str(s), nil
	}
	if len(repl) > len(old) && len(s)+strings.Count(s, old)*(len(repl)-len(old)) > maxLen {
		return null, errTooLong
	}
	return str(strings.ReplaceAll(s, old, repl)), nil
}

// fnReplaceChars applies a pattern "s1:t1,s2:t2": each source is exactly one
// character, a target may be empty or longer; white space is ignored.
func fnReplaceChars(_ *ctx, a []value) (value, error) {
	if a[0].isNull() {
		return null, nil
	}
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	pat, err := argStr(a, 1)
	if err != nil {
		return null, err
	}
	pat = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, pat)
	m := map[rune]string{}
	for _, pair := range strings.Split(pat, ",") {
		if pair == "" {
			continue
		}
		src, tgt, ok := strings.Cut(pair, ":")
		if !ok || utf8.RuneCountInString(src) != 1 {
			return null, errors.New("argument 2: pattern entry " + quote(pair) + " is not <one character>:<replacement>")
		}
		r, _ := utf8.DecodeRuneInString(src)
		m[r] = tgt
	}
	var b strings.Builder
	for _, r := range s {
		if t, ok := m[r]; ok {
			b.WriteString(t)
		} else {
			b.WriteRune(r)
		}
		if b.Len() > maxLen {
			return null, errTooLong
		}
	}
	return str(b.String()), nil
}

func quote(s string) string { return `"` + s + `"` }

// compareMode reads a vbTextCompare / vbBinaryCompare option.
func compareMode(a []value, i int) (fold bool, err error) {
	opt, err := optStr(a, i, "vbBinaryCompare")
	if err != nil {
		return false, err
	}
	switch opt {
	case "vbBinaryCompare":
		return false, nil
	case "vbTextCompare":
		return true, nil
	}
	return false, errors.New("argument " + itoa(i+1) + ": want vbBinaryCompare or vbTextCompare, got " + quote(opt))
}

func runeEq(fold bool) func(a, b rune) bool {
	if fold {
		return func(a, b rune) bool { return a == b || unicode.ToLower(a) == unicode.ToLower(b) }
	}
	return func(a, b rune) bool { return a == b }
}

func matchAt(s, m []rune, i int, eq func(a, b rune) bool) bool {
	for j, r := range m {
		if !eq(s[i+j], r) {
			return false
		}
	}
	return true
}

// instr implements InStr and InStrRev: the 1-based position of the match,
// 0 when not found. InStr searches forward from start (default 1); InStrRev
// searches backward for a match ending at or before start (default -1: the
// end).
func instr(a []value, rev bool) (value, error) {
	if a[0].isNull() || a[0].k == kList {
		if a[0].k == kList {
			return null, errors.New("argument 1: expected a single value, got multiple values")
		}
		return num(0), nil
	}
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	m, err := argStr(a, 1)
	if err != nil {
		return null, err
	}
	start := int64(1)
	if rev {
		start = -1
	}
	if len(a) > 2 {
		if start, err = argNum(a, 2); err != nil {
			return null, err
		}
	}
	fold, err := compareMode(a, 3)
	if err != nil {
		return null, err
	}
	if !rev && !fold {
		if start < 1 {
			start = 1
		}
		off := byteOffset(s, start-1)
		if start-1 > int64(utf8.RuneCountInString(s)) {
			return num(0), nil
		}
		i := strings.Index(s[off:], m)
		if i < 0 {
			return num(0), nil
		}
		return num(int64(utf8.RuneCountInString(s[:off+i]) + 1)), nil
	}
	eq := runeEq(fold)
	sr, mr := []rune(s), []rune(m)
	if !rev {
		if start < 1 {
			start = 1
		}
		for i := int(min(start, int64(len(sr))+1)) - 1; i+len(mr) <= len(sr); i++ {
			if matchAt(sr, mr, i, eq) {
				return num(int64(i + 1)), nil
			}
		}
		return num(0), nil
	}
	last := int64(len(sr))
	if start >= 0 && start < last {
		last = start
	}
	for i := int(last) - len(mr); i >= 0; i-- {
		if matchAt(sr, mr, i, eq) {
			return num(int64(i + 1)), nil
		}
	}
	return num(0), nil
}

// fnWord returns word n (1-based) of s, words being separated by any of the
// delimiter characters (empty words are skipped); "" when out of range.
func fnWord(_ *ctx, a []value) (value, error) {
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	n, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	delims, err := argStr(a, 2)
	if err != nil {
		return null, err
	}
	words := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if n < 1 || n > int64(len(words)) {
		return emptyStr, nil
	}
	return str(words[n-1]), nil
}

// pad implements PadLeft / PadRight: NULL → "", long enough → unchanged.
func pad(a []value, left bool) (value, error) {
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	n, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	if a[2].isNull() {
		return null, errors.New("argument 3: the pad character cannot be NULL")
	}
	p, err := argStr(a, 2)
	if err != nil {
		return null, err
	}
	if utf8.RuneCountInString(p) != 1 {
		return null, errors.New("argument 3: the pad character must be exactly one character, got " + quote(p))
	}
	have := int64(utf8.RuneCountInString(s))
	if a[0].isNull() || n <= have {
		return str(s), nil
	}
	if n > maxLen {
		return null, errors.New("argument 2: length " + itoa(int(n)) + " is too large")
	}
	fill := strings.Repeat(p, int(n-have))
	if left {
		return str(fill + s), nil
	}
	return str(s + fill), nil
}
