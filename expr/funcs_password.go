package expr

import (
	"fmt"
	"strings"
)

// Character classes of GeneratePassword. The special characters leave out
// quotes, backslash, spaces, brackets and characters with a meaning in
// URIs, YAML and LDIF (:@/,;<>), so that a generated password can be
// typed, pasted into a configuration or a SIP client, and sent anywhere.
var passwordClasses = map[string]string{
	"upper":   "ABCDEFGHJKLMNPQRSTUVWXYZ",
	"lower":   "abcdefghijkmnopqrstuvwxyz",
	"digit":   "23456789",
	"special": "!#$%&*+-.=?^_~",
}

// passwordClassOrder is the default policy: every class, which meets
// Active Directory's complexity rule (three of the five categories).
var passwordClassOrder = []string{"upper", "lower", "digit", "special"}

// Length bounds of GeneratePassword: Active Directory's complexity rule
// wants at least 7 characters by default, and 8 is the least worth the
// name; 256 is AD's limit for unicodePwd.
const (
	passwordMinLen = 8
	passwordMaxLen = 256
)

// GeneratePassword returns a new random password of length characters
// (8–256) from crypto/rand, drawn from the named character classes
// ("upper", "lower", "digit", "special", without regard to case) with at
// least one character of each; without classes all four are used, which
// meets Active Directory's complexity rule. Letters and digits that look
// alike (I, l, O, 0, 1) are left out. It is the expression function
// GeneratePassword(length, class…), for callers outside rules (tenant
// onboarding).
func GeneratePassword(length int, classes ...string) (string, error) {
	if length < passwordMinLen || length > passwordMaxLen {
		return "", fmt.Errorf("the length must be between %d and %d, not %d", passwordMinLen, passwordMaxLen, length)
	}
	names := passwordClassOrder
	if len(classes) > 0 {
		names = nil
		seen := map[string]bool{}
		for _, s := range classes {
			s = strings.ToLower(s)
			if _, ok := passwordClasses[s]; !ok {
				return "", fmt.Errorf("unknown character class %q (want upper, lower, digit or special)", s)
			}
			if !seen[s] {
				seen[s] = true
				names = append(names, s)
			}
		}
	}
	var all []rune
	out := make([]rune, 0, length)
	for _, name := range names {
		cl := []rune(passwordClasses[name])
		out = append(out, pick(cl))
		all = append(all, cl...)
	}
	for len(out) < length {
		out = append(out, pick(all))
	}
	for i := len(out) - 1; i > 0; i-- {
		j := randInt(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// fnGeneratePassword: GeneratePassword(length, class…), see the Go
// function. Every evaluation gives another password: rules validation lets
// it only into outbound flows with applyOnce.
func fnGeneratePassword(_ *ctx, a []value) (value, error) {
	n, err := argNum(a, 0)
	if err != nil {
		return null, err
	}
	if n < passwordMinLen || n > passwordMaxLen {
		return null, fmt.Errorf("argument 1: the length must be between %d and %d, not %d", passwordMinLen, passwordMaxLen, n)
	}
	classes := make([]string, 0, len(a)-1)
	for i := 1; i < len(a); i++ {
		s, err := argStr(a, i)
		if err != nil {
			return null, err
		}
		if _, ok := passwordClasses[strings.ToLower(s)]; !ok {
			return null, fmt.Errorf("argument %d: unknown character class %q (want upper, lower, digit or special)", i+1, s)
		}
		classes = append(classes, s)
	}
	p, err := GeneratePassword(int(n), classes...)
	if err != nil {
		return null, err
	}
	return str(p), nil
}

// Volatile reports whether the expression gives another value at every
// evaluation (it calls GeneratePassword): rules validation lets it only
// into outbound flows with applyOnce.
func (x *compiled) Volatile() bool { return x.volatile }

func init() {
	register(&fnSpec{name: "GeneratePassword", min: 1, max: 5, call: fnGeneratePassword})
}
