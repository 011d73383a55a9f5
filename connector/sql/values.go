package sql

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
)

// Values travel between the database and idsync's model in these forms
// (model.Type): a column of type string holds text, integer a base-10
// number, boolean true/false, datetime an RFC 3339 time in UTC, reference
// the anchor of another row.

// fromDB turns a value the driver scanned into the canonical text of typ.
// ok is false for NULL.
func fromDB(v any, typ model.Type) (s string, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case []byte:
		return fromText(string(x), typ)
	case string:
		return fromText(x, typ)
	case int64:
		switch typ {
		case model.Boolean:
			return strconv.FormatBool(x != 0), true, nil
		case model.DateTime:
			return "", false, fmt.Errorf("a number (%d) where a timestamp was expected", x)
		}
		return strconv.FormatInt(x, 10), true, nil
	case float64:
		if typ == model.Integer && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true, nil
		}
		if typ == model.String {
			return strconv.FormatFloat(x, 'f', -1, 64), true, nil
		}
		return "", false, fmt.Errorf("a decimal number where %s was expected", typ)
	case bool:
		if typ == model.Integer {
			if x {
				return "1", true, nil
			}
			return "0", true, nil
		}
		return strconv.FormatBool(x), true, nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), true, nil
	}
	return "", false, fmt.Errorf("a value of Go type %T, which the connector does not read", v)
}

// sqliteTimes are the text forms of timestamps SQLite holds (its date and
// time functions write the first ones).
var sqliteTimes = []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano, "2006-01-02"}

func fromText(s string, typ model.Type) (string, bool, error) {
	switch typ {
	case model.Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return "", false, errors.New("a value that is not an integer")
		}
		return strconv.FormatInt(n, 10), true, nil
	case model.Boolean:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true", "y", "yes":
			return "true", true, nil
		case "0", "f", "false", "n", "no":
			return "false", true, nil
		}
		return "", false, errors.New("a value that is not a boolean")
	case model.DateTime:
		for _, layout := range sqliteTimes {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC().Format(time.RFC3339Nano), true, nil
			}
		}
		return "", false, errors.New("a value that is not a timestamp")
	}
	return s, true, nil
}

// toDB turns a canonical value into a bind parameter for a column of the
// database kind. The error never quotes a secret column's value.
func (c *Connector) toDB(col *column, v string, kind model.Type) (any, error) {
	typ := col.typ
	if typ == model.Reference {
		typ = c.s.anchor.typ
	}
	shown := strconv.Quote(v)
	if col.secret {
		shown = "(secret value)"
	}
	switch typ {
	case model.Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("column %s (attribute %s) holds integers: %s is not one", col.name, col.attr, shown)
		}
		if kind == model.String {
			return strconv.FormatInt(n, 10), nil
		}
		return n, nil
	case model.Boolean:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("column %s (attribute %s) holds booleans: %s is neither true nor false", col.name, col.attr, shown)
		}
		switch kind {
		case model.Integer:
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		case model.String:
			return strconv.FormatBool(b), nil
		}
		return b, nil
	case model.DateTime:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("column %s (attribute %s) holds timestamps: %s is not an RFC 3339 time (2026-11-23T10:00:00Z)", col.name, col.attr, shown)
		}
		return c.d.timeParam(t), nil
	}
	return v, nil
}

// anchorParam is an anchor as a bind parameter of the anchor column.
func (c *Connector) anchorParam(anchor string) (any, error) {
	if c.s.anchor.typ == model.Integer {
		n, err := strconv.ParseInt(anchor, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("anchor %q is not an integer, as the anchor column %s holds", anchor, c.s.anchor.name)
		}
		return n, nil
	}
	return anchor, nil
}
