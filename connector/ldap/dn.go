package ldap

import (
	"fmt"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/model"
)

// normDN returns the normalized form of a DN used to compare DNs: attribute
// types and values lower-cased, spaces around separators removed, values
// escaped the one RFC 4514 way.
func normDN(dn string) (string, error) {
	anc, err := ancestors(dn)
	if err != nil {
		return "", err
	}
	if len(anc) == 0 {
		return "", nil
	}
	return anc[0], nil
}

// ancestors returns the normalized DN and those of all its ancestors:
// [dn, parent, grandparent, …, the last RDN].
func ancestors(dn string) ([]string, error) {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, fmt.Errorf("invalid DN %q: %w", dn, err)
	}
	out := make([]string, len(d.RDNs))
	suffix := ""
	for i := len(d.RDNs) - 1; i >= 0; i-- {
		r := normRDN(d.RDNs[i])
		if suffix == "" {
			suffix = r
		} else {
			suffix = r + "," + suffix
		}
		out[i] = suffix
	}
	return out, nil
}

func normRDN(r *ldap.RelativeDN) string {
	n := &ldap.RelativeDN{Attributes: make([]*ldap.AttributeTypeAndValue, len(r.Attributes))}
	for i, a := range r.Attributes {
		n.Attributes[i] = &ldap.AttributeTypeAndValue{Type: strings.ToLower(a.Type), Value: strings.ToLower(a.Value)}
	}
	return n.String()
}

// inScope reports whether an entry with the given DN is in the configured
// containers (OU-based filtering, R2.7): walking up from the entry's parent,
// the nearest container that is excluded or explicitly included decides; a
// container whose parent is marked noNewChildren and that is not included
// itself is out of scope; with no include list everything else is in scope.
func (s *settings) inScope(dn string) (bool, error) {
	if len(s.include) == 0 && len(s.exclude) == 0 && len(s.noNew) == 0 {
		return true, nil
	}
	anc, err := ancestors(dn)
	if err != nil {
		return false, err
	}
	for i := 1; i < len(anc); i++ {
		a := anc[i]
		if s.exclude[a] {
			return false, nil
		}
		if s.explicitly[a] {
			return true, nil
		}
		if i+1 < len(anc) && s.noNew[anc[i+1]] {
			return false, nil
		}
	}
	return len(s.include) == 0, nil
}

// containersUnder returns the configured containers (include, exclude and
// noNewChildren, as written) that lie in a partition.
func (s *settings) containersUnder(partition string) ([]string, error) {
	p, err := normDN(partition)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{s.Containers.Include, s.Containers.Exclude, s.Containers.NoNewChildren} {
		for _, dn := range list {
			n, err := normDN(dn)
			if err != nil || seen[n] || (n != p && !strings.HasSuffix(n, ","+p)) {
				continue
			}
			seen[n] = true
			out = append(out, dn)
		}
	}
	return out, nil
}

// searchBases returns where to search a partition: the included containers
// under it that are not under another included one, or the partition itself.
func (s *settings) searchBases(partition string) ([]string, error) {
	if len(s.include) == 0 {
		return []string{partition}, nil
	}
	p, err := normDN(partition)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, inc := range s.Containers.Include {
		n := s.include[i]
		if n != p && !strings.HasSuffix(n, ","+p) {
			continue
		}
		nested := false
		for _, other := range s.include {
			if other != n && strings.HasSuffix(n, ","+other) {
				nested = true
				break
			}
		}
		if !nested {
			out = append(out, inc)
		}
	}
	return out, nil
}

// compileFilter checks an LDAP filter's syntax.
func compileFilter(f string) (string, error) {
	if !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		return "", err
	}
	return f, nil
}

// canonicalDN rewrites a DN the server returned in idsync's one escaping
// (model.EscapeDNValue: the RFC 4514 backslash form, no hex pairs but for
// NUL), keeping the case of types and values, so that DNs from the server
// compare equal to the DNs idsync's rules compute (slapd writes "=" as \3D,
// AD as \=). An unparsable DN is returned as is.
func canonicalDN(dn string) string {
	if !strings.ContainsRune(dn, '\\') && !strings.Contains(dn, ", ") {
		return dn // nothing escaped, nothing to normalize: the common case
	}
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	var b strings.Builder
	for i, r := range d.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range r.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(a.Type)
			b.WriteByte('=')
			b.WriteString(model.EscapeDNValue(a.Value))
		}
	}
	return b.String()
}
