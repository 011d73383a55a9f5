package file

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/idsync/idsync/model"
)

// normalize converts a value read from a file to the canonical form of its
// model type (see model.Type).
func normalize(t model.Type, v string) (string, error) {
	switch t {
	case model.Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", fmt.Errorf("invalid integer %q", v)
		}
		return strconv.FormatInt(n, 10), nil
	case model.Boolean:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return "", fmt.Errorf("invalid boolean %q (want true or false)", v)
		}
		return strconv.FormatBool(b), nil
	case model.DateTime:
		tm, err := parseTime(strings.TrimSpace(v))
		if err != nil {
			return "", err
		}
		return tm.UTC().Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// timeLayouts are the date-time forms accepted on read: RFC 3339, LDAP
// GeneralizedTime (fractional seconds allowed) and a plain date.
var timeLayouts = []string{time.RFC3339Nano, "20060102150405Z0700", "2006-01-02T15:04:05", "2006-01-02"}

func parseTime(v string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date-time %q (want RFC 3339 like 2026-01-02T15:04:05Z, or LDAP generalized time like 20260102150405Z)", v)
}

// encodeAnchor turns the value of the anchor attribute into an anchor:
// binary values (objectGUID) are base64-encoded (standard alphabet, padded:
// the text LDIF shows after "objectGUID::"), other values are used as is.
func encodeAnchor(t model.Type, v string) string {
	if t == model.Binary {
		return base64.StdEncoding.EncodeToString([]byte(v))
	}
	return v
}

// anchorValue returns the value of the anchor attribute for an added object
// that has none: the anchor idsync proposes (a new UUID when it proposes
// none); for a binary anchor attribute the 16 bytes of the UUID when the
// proposal is one.
func anchorValue(t model.Type, proposal string) string {
	if proposal == "" {
		proposal = uuid.NewString()
	}
	if t == model.Binary {
		if u, err := uuid.Parse(proposal); err == nil {
			return string(u[:])
		}
	}
	return proposal
}

// dedupe drops repeated values, keeping the first occurrence.
func dedupe(vals []string) []string {
	if len(vals) < 2 {
		return vals
	}
	if len(vals) <= 8 {
		out := vals[:1]
	small:
		for _, v := range vals[1:] {
			for _, w := range out {
				if v == w {
					continue small
				}
			}
			out = append(out, v)
		}
		return out
	}
	seen := make(map[string]struct{}, len(vals))
	out := vals[:0]
	for _, v := range vals {
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}

// dnKey is the key of the DN index: DNs compare case-insensitively (no other
// normalization of spaces or escapes is done).
func dnKey(dn string) string { return strings.ToLower(dn) }

// dnSortKey orders DNs hierarchically: the RDNs from the root down, compared
// case-insensitively, so that a parent sorts before its children (as LDAP
// tools need to add them).
func dnSortKey(dn string) string {
	rdns := splitDN(strings.ToLower(dn))
	for i, j := 0, len(rdns)-1; i < j; i, j = i+1, j-1 {
		rdns[i], rdns[j] = rdns[j], rdns[i]
	}
	return strings.Join(rdns, "\x00")
}

// splitDN splits a DN into its RDNs at the commas that are neither escaped
// nor quoted, trimming spaces around them.
func splitDN(dn string) []string {
	var rdns []string
	start, quoted := 0, false
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',', ';':
			if !quoted {
				rdns = append(rdns, strings.TrimSpace(dn[start:i]))
				start = i + 1
			}
		}
	}
	return append(rdns, strings.TrimSpace(dn[start:]))
}
