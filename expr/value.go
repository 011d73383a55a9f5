package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
)

// kind is the type of an internal value.
type kind uint8

const (
	kNull     kind = iota // NULL, or an absent attribute
	kAuthNull             // AuthoritativeNull
	kIgnore               // IgnoreThisFlow
	kStr                  // str
	kNum                  // num (int64)
	kBool                 // bool
	kDate                 // dt
	kBin                  // bin (raw bytes in s)
	kRef                  // ref (identifier in s)
	kList                 // mvstr / mvbin / mvref: single values in l
)

var kindNames = [...]string{"null", "AuthoritativeNull", "IgnoreThisFlow", "str", "num", "bool", "dt", "bin", "ref", "mv"}

func (k kind) String() string { return kindNames[k] }

// value is one evaluated value. Lists hold only single values (never nulls
// or nested lists).
type value struct {
	k kind
	s string    // kStr, kBin, kRef
	n int64     // kNum; kBool (0 or 1)
	t time.Time // kDate (UTC)
	l []value   // kList
}

var (
	null     = value{}
	authNull = value{k: kAuthNull}
	ignore   = value{k: kIgnore}
	trueV    = value{k: kBool, n: 1}
	falseV   = value{k: kBool}
	emptyStr = value{k: kStr}
)

func str(s string) value     { return value{k: kStr, s: s} }
func num(n int64) value      { return value{k: kNum, n: n} }
func date(t time.Time) value { return value{k: kDate, t: t.UTC()} }
func bin(b string) value     { return value{k: kBin, s: b} }
func boolean(b bool) value {
	if b {
		return trueV
	}
	return falseV
}

// list makes a multi-valued value; nulls are dropped and an empty list is
// NULL.
func list(vs []value) value {
	out := vs[:0:0]
	for _, v := range vs {
		switch v.k {
		case kNull, kAuthNull, kIgnore:
		case kList:
			out = append(out, v.l...)
		default:
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return null
	}
	return value{k: kList, l: out}
}

func (v *value) isNull() bool    { return v.k == kNull }
func (v *value) isSpecial() bool { return v.k == kAuthNull || v.k == kIgnore }

// items returns the values of v: none for NULL, one for a single value.
func (v value) items() []value {
	switch v.k {
	case kNull, kAuthNull, kIgnore:
		return nil
	case kList:
		return v.l
	}
	return []value{v}
}

// fromModel converts an attribute's values.
func fromModel(mv model.Values) value {
	switch len(mv.Values) {
	case 0:
		return null
	case 1:
		return fromModel1(mv.Type, mv.Values[0])
	}
	l := make([]value, len(mv.Values))
	for i, s := range mv.Values {
		l[i] = fromModel1(mv.Type, s)
	}
	return value{k: kList, l: l}
}

func fromModel1(t model.Type, s string) value {
	switch t {
	case model.Binary:
		return bin(s)
	case model.Reference:
		return value{k: kRef, s: s}
	case model.Integer:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return num(n)
		}
	case model.Boolean:
		switch strings.ToLower(s) {
		case "true":
			return trueV
		case "false":
			return falseV
		}
	case model.DateTime:
		if d, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return date(d)
		}
	}
	return str(s)
}

var kindTypes = map[kind]model.Type{kStr: model.String, kNum: model.Integer, kBool: model.Boolean, kDate: model.DateTime, kBin: model.Binary, kRef: model.Reference}

// toModel converts a value (not NULL or special) to model.Values. A list
// whose items have different types becomes a list of strings.
func toModel(v value) model.Values {
	items := v.items()
	if len(items) == 0 {
		return model.Values{}
	}
	t := kindTypes[items[0].k]
	for _, it := range items[1:] {
		if kindTypes[it.k] != t {
			t = model.String
		}
	}
	out := model.Values{Type: t, Values: make([]string, len(items))}
	for i, it := range items {
		out.Values[i] = canonical(it, t)
	}
	return out
}

// canonical writes a single value in the canonical text form of model type t.
func canonical(v value, t model.Type) string {
	switch {
	case t == model.Boolean && v.k == kBool:
		return strconv.FormatBool(v.n != 0)
	case t == model.DateTime && v.k == kDate:
		return v.t.UTC().Format(time.RFC3339)
	case t == model.Integer && v.k == kNum:
		return strconv.FormatInt(v.n, 10)
	}
	s, _ := toStr(&v)
	return s
}

// toStr converts a single value to text. NULL is "". Booleans are "True" /
// "False" and dates "yyyy-MM-ddTHH:mm:ssZ", as CStr writes them.
func toStr(v *value) (string, error) {
	switch v.k {
	case kNull:
		return "", nil
	case kStr, kRef, kBin:
		return v.s, nil
	case kNum:
		return strconv.FormatInt(v.n, 10), nil
	case kBool:
		if v.n != 0 {
			return "True", nil
		}
		return "False", nil
	case kDate:
		return v.t.UTC().Format(time.RFC3339), nil
	case kList:
		return "", fmt.Errorf("expected a single value, got %d values", len(v.l))
	}
	return "", fmt.Errorf("expected a value, got %s", v.k)
}

// toNum converts a single value to a number.
func toNum(v *value) (int64, error) {
	switch v.k {
	case kNum, kBool:
		return v.n, nil
	case kStr:
		s := strings.TrimSpace(v.s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if len(s) > 2 && s[0] == '&' && (s[1] == 'H' || s[1] == 'h') {
			if n, err := strconv.ParseUint(s[2:], 16, 64); err == nil {
				return int64(n), nil
			}
		}
		return 0, fmt.Errorf("%q is not a number", v.s)
	case kNull:
		return 0, fmt.Errorf("expected a number, got NULL")
	case kList:
		return 0, fmt.Errorf("expected a single number, got %d values", len(v.l))
	}
	return 0, fmt.Errorf("expected a number, got %s", v.k)
}

// toBool converts a single value to a boolean: NULL is false, numbers are
// true when non-zero, strings "True"/"False" (any case) or numbers.
func toBool(v *value) (bool, error) {
	switch v.k {
	case kNull:
		return false, nil
	case kBool, kNum:
		return v.n != 0, nil
	case kStr:
		switch t := strings.TrimSpace(v.s); {
		case strings.EqualFold(t, "true"):
			return true, nil
		case t == "" || strings.EqualFold(t, "false"):
			return false, nil
		}
		if n, err := toNum(v); err == nil {
			return n != 0, nil
		}
		return false, fmt.Errorf("%q is not a boolean", v.s)
	case kList:
		return false, fmt.Errorf("expected a single boolean, got %d values", len(v.l))
	}
	return false, fmt.Errorf("expected a boolean, got %s", v.k)
}

// toDate converts a single value to a date.
func toDate(v value) (time.Time, error) {
	switch v.k {
	case kDate:
		return v.t, nil
	case kStr:
		if t, ok := parseDate(v.s); ok {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("%q is not a date", v.s)
	case kNull:
		return time.Time{}, fmt.Errorf("expected a date, got NULL")
	}
	return time.Time{}, fmt.Errorf("expected a date, got %s", v.k)
}
