package config

import (
	"fmt"
	"strings"
)

// Limits bound the values idsync accepts from a connector at import and
// sends to it at export (issue 16): an object with a value over a limit, or
// with more values than an attribute takes, is an error on that object (its
// last good state is kept, the run goes on). The top-level limits apply to
// every connector; connectors[].limits overrides them key by key. A limit
// written 0 is no limit.
type Limits struct {
	// MaxStringBytes bounds one value of a text attribute (string,
	// reference, integer, boolean, date-time), in bytes. Default 1 MiB.
	MaxStringBytes *int `yaml:"maxStringBytes"`
	// MaxBinaryBytes bounds one value of a binary attribute (thumbnailPhoto,
	// jpegPhoto, userCertificate), in bytes. Default 4 MiB.
	MaxBinaryBytes *int `yaml:"maxBinaryBytes"`
	// MaxValues bounds the number of values of one attribute that is not a
	// reference (proxyAddresses, servicePrincipalName). Default 10,000.
	MaxValues *int `yaml:"maxValues"`
	// MaxReferences bounds the number of values of one reference attribute
	// (a group's member). Default 1,000,000: Active Directory groups with
	// hundreds of thousands of members exist.
	MaxReferences *int `yaml:"maxReferences"`
	// SingleValued names attributes that take at most one value, for
	// connectors whose schema does not say (files); a connector's own
	// schema (LDAP, SCIM, Graph) is used as well. Names compare
	// case-insensitively. The connector's list is added to the top-level one.
	SingleValued []string `yaml:"singleValued"`
}

// Default limits.
const (
	DefaultMaxStringBytes = 1 << 20
	DefaultMaxBinaryBytes = 4 << 20
	DefaultMaxValues      = 10_000
	DefaultMaxReferences  = 1_000_000
)

// ValueLimits are the limits in force for one connector, defaults filled
// in; 0 is no limit.
type ValueLimits struct {
	MaxStringBytes, MaxBinaryBytes, MaxValues, MaxReferences int
	SingleValued                                             []string
}

// LimitsFor returns the limits of the named connector: its own keys, else
// the top-level ones, else the defaults.
func (c *Config) LimitsFor(connector string) ValueLimits {
	pick := func(def int, get func(*Limits) *int) int {
		if cc := c.Connector(connector); cc != nil && cc.Limits != nil {
			if v := get(cc.Limits); v != nil {
				return *v
			}
		}
		if v := get(&c.Limits); v != nil {
			return *v
		}
		return def
	}
	l := ValueLimits{
		MaxStringBytes: pick(DefaultMaxStringBytes, func(l *Limits) *int { return l.MaxStringBytes }),
		MaxBinaryBytes: pick(DefaultMaxBinaryBytes, func(l *Limits) *int { return l.MaxBinaryBytes }),
		MaxValues:      pick(DefaultMaxValues, func(l *Limits) *int { return l.MaxValues }),
		MaxReferences:  pick(DefaultMaxReferences, func(l *Limits) *int { return l.MaxReferences }),
		SingleValued:   append([]string(nil), c.Limits.SingleValued...),
	}
	if cc := c.Connector(connector); cc != nil && cc.Limits != nil {
		l.SingleValued = append(l.SingleValued, cc.Limits.SingleValued...)
	}
	return l
}

// validateLimits checks the top-level and per-connector limits.
func (c *Config) validateLimits() []error {
	var errs []error
	check := func(where string, l *Limits) {
		for _, f := range []struct {
			name string
			v    *int
		}{{"maxStringBytes", l.MaxStringBytes}, {"maxBinaryBytes", l.MaxBinaryBytes}, {"maxValues", l.MaxValues}, {"maxReferences", l.MaxReferences}} {
			if f.v != nil && *f.v < 0 {
				errs = append(errs, fmt.Errorf("%s.%s must be ≥ 0 (0: no limit), not %d", where, f.name, *f.v))
			}
		}
		for _, a := range l.SingleValued {
			if strings.TrimSpace(a) == "" {
				errs = append(errs, fmt.Errorf("%s.singleValued: an attribute name is empty", where))
			}
		}
	}
	check("limits", &c.Limits)
	for _, cc := range c.Connectors {
		if cc.Limits != nil {
			check(fmt.Sprintf("connector %q: limits", cc.Name), cc.Limits)
		}
	}
	return errs
}
