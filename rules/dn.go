package rules

import (
	"fmt"
	"strings"

	"github.com/idsync/idsync/model"
)

// DN templates name the objects an outbound Provision rule creates, e.g.
// "cn={cn},ou=people,dc=example,dc=org": each {attr} placeholder is replaced
// by the first value of the MV attribute attr, escaped as an RFC 4514
// attribute value; "{{" and "}}" stand for literal braces. Placeholders
// therefore fill in RDN values, never whole DN fragments such as a parent DN.
// A placeholder {@attr} is instead the first value the rule's own flows
// compute for the target attribute attr (a SelectUniqueValue, say), so that
// an RDN can be kept unique and within the target's limits.

// OwnPrefix starts a DN template placeholder that names a target attribute
// computed by the rule's flows ({@cn}) instead of an MV attribute.
const OwnPrefix = "@"

// ExpandDN expands a DN template. attr returns the first value of an
// attribute and whether it has one; a placeholder whose attribute has no
// (or an empty) value is an error.
func ExpandDN(template string, attr func(name string) (string, bool)) (string, error) {
	var b strings.Builder
	b.Grow(len(template) + 16)
	err := scanDN(template, func(lit string) { b.WriteString(lit) }, func(name string) error {
		v, ok := attr(name)
		if !ok || v == "" {
			return fmt.Errorf("dn template %q: attribute %q has no value", template, name)
		}
		b.WriteString(EscapeDNValue(v))
		return nil
	})
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// DNTemplateAttributes returns the attributes a DN template's placeholders
// name, in order of appearance (with repeats), or a syntax error.
func DNTemplateAttributes(template string) ([]string, error) {
	var names []string
	err := scanDN(template, func(string) {}, func(name string) error {
		names = append(names, name)
		return nil
	})
	return names, err
}

// scanDN splits a template into literal text and placeholders.
func scanDN(template string, lit func(string), placeholder func(string) error) error {
	s := template
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			lit(s)
			return nil
		}
		lit(s[:i])
		if i+1 < len(s) && s[i+1] == s[i] { // "{{" or "}}"
			lit(s[i : i+1])
			s = s[i+2:]
			continue
		}
		if s[i] == '}' {
			return fmt.Errorf("dn template %q: unmatched '}' at offset %d (write }} for a literal brace)", template, len(template)-len(s)+i)
		}
		end := strings.IndexAny(s[i+1:], "{}")
		if end < 0 || s[i+1+end] != '}' {
			return fmt.Errorf("dn template %q: unclosed '{' at offset %d (write {{ for a literal brace)", template, len(template)-len(s)+i)
		}
		name := strings.TrimSpace(s[i+1 : i+1+end])
		if name == "" {
			return fmt.Errorf("dn template %q: empty placeholder {} at offset %d", template, len(template)-len(s)+i)
		}
		if err := placeholder(name); err != nil {
			return err
		}
		s = s[i+2+end:]
	}
	return nil
}

// EscapeDNValue escapes an attribute value for use in a DN (RFC 4514 §2.4);
// see model.EscapeDNValue.
func EscapeDNValue(v string) string { return model.EscapeDNValue(v) }
