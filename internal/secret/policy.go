package secret

import (
	"slices"
	"strings"
)

// DefaultAttributes are always secret, in every connector space and in the
// metaverse: Active Directory's and LDAP's passwords, the SCIM password
// (the onboarding password of provisioning) and the Graph passwordProfile,
// and initialPassword as rules commonly name the onboarding password.
var DefaultAttributes = []string{"unicodePwd", "userPassword", "password", "passwordProfile", "initialPassword"}

// Policy says which attributes are secret. Names are compared without
// regard to case (LDAP attribute names are case-insensitive); a dotted
// name (a SCIM flat name such as passwordProfile.password) is secret when
// its last component or its first is. The zero Policy holds the defaults.
type Policy struct {
	extra []string
}

// NewPolicy returns the defaults plus the named attributes.
func NewPolicy(extra ...string) *Policy {
	p := &Policy{}
	for _, n := range extra {
		if n = strings.TrimSpace(n); n != "" && !p.IsSecret(n) {
			p.extra = append(p.extra, n)
		}
	}
	return p
}

// Names returns the secret attribute names: the defaults, then the extra.
func (p *Policy) Names() []string {
	out := slices.Clone(DefaultAttributes)
	if p != nil {
		out = append(out, p.extra...)
	}
	return out
}

// IsSecret reports whether the attribute name is secret.
func (p *Policy) IsSecret(name string) bool {
	if p.is(name) {
		return true
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return p.is(name[:i]) || p.is(name[strings.LastIndexByte(name, '.')+1:])
	}
	return false
}

func (p *Policy) is(name string) bool {
	for _, n := range DefaultAttributes {
		if len(n) == len(name) && strings.EqualFold(n, name) {
			return true
		}
	}
	if p == nil {
		return false
	}
	for _, n := range p.extra {
		if len(n) == len(name) && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
