package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// Console configures the web console of `idsync serve` beyond its command
// line flags (the address and TLS files).
type Console struct {
	// OIDC turns on sign-in with an OpenID Connect provider (Entra ID,
	// Keycloak, Okta, …) next to the local users; nil: local users only.
	OIDC *ConsoleOIDC `yaml:"oidc"`
}

// ConsoleOIDC is the console's OpenID Connect sign-in: the authorization
// code flow with PKCE, state and nonce (package web, oidc.go). A person's
// role comes from the values of a claim of their ID token (their groups)
// mapped to the console's roles.
type ConsoleOIDC struct {
	// Issuer is the provider's issuer URL, where
	// /.well-known/openid-configuration is found; https (plain http only
	// on a loopback address).
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are the console's registration at the
	// provider (a confidential web client). Write the secret as a ${NAME}
	// reference, read from the environment by idsync serve (WithSecret):
	// it is never logged or shown.
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret" json:"-"`
	// RedirectURL is the console's /login/oidc/callback as browsers reach
	// it, registered as a redirect URI of the client.
	RedirectURL string `yaml:"redirectURL"`
	// Scopes requested (default openid, profile); openid is required.
	Scopes []string `yaml:"scopes"`
	// UsernameClaim is the ID token claim that names the person in the
	// console and the audit log (default preferred_username).
	UsernameClaim string `yaml:"usernameClaim"`
	// RolesClaim is the ID token claim whose values Roles maps (default
	// groups): a string or a list of strings.
	RolesClaim string `yaml:"rolesClaim"`
	// Roles maps each console role (admin, operator, browse) to the claim
	// values that grant it; the most powerful role matched wins, and a
	// person matching none is refused.
	Roles map[string][]string `yaml:"roles"`
	// DisplayName is the provider's name on the sign-in page's button
	// (default the issuer's host name).
	DisplayName string `yaml:"displayName"`
	// CAFile is a PEM file of CA certificates trusted, next to the system's,
	// for the provider's https endpoints (a private CA), relative to the
	// configuration file.
	CAFile string `yaml:"caFile"`
}

// Defaults of ConsoleOIDC.
const (
	DefaultUsernameClaim = "preferred_username"
	DefaultRolesClaim    = "groups"
)

// consoleRoles are the console's roles, from the most powerful (the
// names of internal/auth, which config does not import).
var consoleRoles = []string{"admin", "operator", "browse"}

// OIDCCallbackPath is the path the console's redirect URL ends in.
const OIDCCallbackPath = "/login/oidc/callback"

// resolveOIDC fills the defaults and resolves caFile against base.
func (c *Config) resolveOIDC(base string) {
	o := c.Console.OIDC
	if o == nil {
		return
	}
	if len(o.Scopes) == 0 {
		o.Scopes = []string{"openid", "profile"}
	}
	if o.UsernameClaim == "" {
		o.UsernameClaim = DefaultUsernameClaim
	}
	if o.RolesClaim == "" {
		o.RolesClaim = DefaultRolesClaim
	}
	if o.DisplayName == "" {
		if u, err := url.Parse(o.Issuer); err == nil && u.Hostname() != "" {
			o.DisplayName = u.Hostname()
		}
	}
	if o.CAFile != "" && !filepath.IsAbs(o.CAFile) {
		o.CAFile = filepath.Join(base, o.CAFile)
	}
}

// WithSecret returns a copy of the settings whose ClientSecret is read from
// the environment when it is a ${NAME} reference. Only idsync serve needs
// the secret, so the other commands run without the variable set; serve
// refuses to start without it.
func (o *ConsoleOIDC) WithSecret() (*ConsoleOIDC, error) {
	secret, err := lookupRef(o.ClientSecret, "console.oidc.clientSecret")
	if err != nil {
		return nil, err
	}
	if secret == "" {
		return nil, errors.New("console.oidc.clientSecret: the environment variable is empty")
	}
	c := *o
	c.ClientSecret = secret
	return &c, nil
}

// loopbackHost reports whether host is a loopback address or localhost.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// webURL checks that s is an absolute https URL, or http on loopback.
func webURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, false
	}
	return u, u.Scheme == "https" || u.Scheme == "http" && loopbackHost(u.Hostname())
}

// validate checks console.oidc.
func (o *ConsoleOIDC) validate() []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	_, ok := webURL(o.Issuer)
	check(o.Issuer != "", "console.oidc.issuer is required: the provider's issuer URL, e.g. https://login.microsoftonline.com/<tenant ID>/v2.0")
	check(o.Issuer == "" || ok, "console.oidc.issuer %q: an https URL (plain http only on a loopback address), without query or fragment", o.Issuer)
	check(o.ClientID != "", "console.oidc.clientId is required: the client ID of the console's registration at the provider")
	check(o.ClientSecret != "", "console.oidc.clientSecret is required: write it as a ${NAME} reference to an environment variable")
	u, ok := webURL(o.RedirectURL)
	check(o.RedirectURL != "", "console.oidc.redirectURL is required: the console's URL ending in %s, e.g. https://idsync.example.com%s", OIDCCallbackPath, OIDCCallbackPath)
	check(o.RedirectURL == "" || ok, "console.oidc.redirectURL %q: an https URL (plain http only on a loopback address), without query or fragment", o.RedirectURL)
	check(u == nil || strings.HasSuffix(u.Path, OIDCCallbackPath), "console.oidc.redirectURL %q must end in %s (the console's callback)", o.RedirectURL, OIDCCallbackPath)
	check(slices.Contains(o.Scopes, "openid"), "console.oidc.scopes %q must include openid", o.Scopes)
	matched := 0
	seen := map[string]string{}
	for role := range o.Roles {
		check(slices.Contains(consoleRoles, role), "console.oidc.roles.%s: not a role (the roles are admin, operator and browse)", role)
	}
	for _, role := range consoleRoles {
		for _, v := range o.Roles[role] {
			check(strings.TrimSpace(v) != "", "console.oidc.roles.%s: an empty value", role)
			if other, dup := seen[v]; dup {
				check(false, "console.oidc.roles: %q is listed under %s and %s: give each value one role (the most powerful matched wins anyway)", v, other, role)
			}
			seen[v] = role
			matched++
		}
	}
	check(matched > 0, "console.oidc.roles: map at least one value of the %s claim to a role, e.g. roles: {admin: [idsync-admins]}", o.RolesClaim)
	return errs
}
