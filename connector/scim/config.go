package scim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idsync/idsync/connector"
)

// Config is the configuration block of a scim connector. The package
// documentation and docs/connector-scim.md explain every key.
type Config struct {
	URL                string            `yaml:"url" json:"url"`
	Auth               Auth              `yaml:"auth" json:"auth"`
	CAFile             string            `yaml:"caFile,omitempty" json:"caFile,omitempty"`
	InsecureSkipVerify bool              `yaml:"insecureSkipVerify,omitempty" json:"insecureSkipVerify,omitempty"`
	AllowHTTP          bool              `yaml:"allowHTTP,omitempty" json:"allowHTTP,omitempty"`
	Timeout            Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Concurrency        int               `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	PageSize           int               `yaml:"pageSize,omitempty" json:"pageSize,omitempty"`
	MemberBatch        int               `yaml:"memberBatch,omitempty" json:"memberBatch,omitempty"`
	MaxRetries         *int              `yaml:"maxRetries,omitempty" json:"maxRetries,omitempty"`
	RetryBase          Duration          `yaml:"retryBase,omitempty" json:"retryBase,omitempty"`
	RetryCap           Duration          `yaml:"retryCap,omitempty" json:"retryCap,omitempty"`
	ObjectTypes        map[string]string `yaml:"objectTypes,omitempty" json:"objectTypes,omitempty"`
}

// Auth says how the connector authenticates. Secrets are never logged nor
// put in error messages, and are left out of the JSON form.
type Auth struct {
	// Type is bearer, basic, oauth2 or none. Default: bearer when token is
	// set, basic when username is set, oauth2 when tokenURL is set.
	Type         string   `yaml:"type,omitempty" json:"type,omitempty"`
	Token        string   `yaml:"token,omitempty" json:"-"`
	Username     string   `yaml:"username,omitempty" json:"username,omitempty"`
	Password     string   `yaml:"password,omitempty" json:"-"`
	TokenURL     string   `yaml:"tokenURL,omitempty" json:"tokenURL,omitempty"`
	ClientID     string   `yaml:"clientID,omitempty" json:"clientID,omitempty"`
	ClientSecret string   `yaml:"clientSecret,omitempty" json:"-"`
	Scopes       []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
}

// Authentication types.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthOAuth2 = "oauth2"
	AuthNone   = "none"
)

// Defaults.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 4
	DefaultPageSize    = 100
	DefaultMemberBatch = 100
	DefaultMaxRetries  = 5
	DefaultRetryBase   = 500 * time.Millisecond
	DefaultRetryCap    = 30 * time.Second
)

// DefaultObjectTypes maps idsync object types to SCIM resource types.
var DefaultObjectTypes = map[string]string{"user": "User", "group": "Group"}

// Duration is a duration in the configuration block ("30s").
type Duration = connector.Duration

// ResolvePaths makes a relative caFile relative to baseDir, the directory of
// the configuration file (config.PathResolver).
func (c *Config) ResolvePaths(baseDir string) {
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(baseDir, c.CAFile)
	}
}

// settings is a validated Config with the defaults filled in.
type settings struct {
	base        *url.URL
	auth        Auth
	tls         *tls.Config
	timeout     time.Duration
	concurrency int
	pageSize    int
	memberBatch int
	maxRetries  int
	retryBase   time.Duration
	retryCap    time.Duration
	objectTypes map[string]string // idsync type → SCIM resource type name or endpoint
}

func newSettings(cfg Config) (*settings, error) {
	s := &settings{
		timeout: cfg.Timeout.Duration, concurrency: cfg.Concurrency, pageSize: cfg.PageSize,
		memberBatch: cfg.MemberBatch, maxRetries: DefaultMaxRetries,
		retryBase: cfg.RetryBase.Duration, retryCap: cfg.RetryCap.Duration,
	}
	u, err := checkURL("url", cfg.URL, cfg.AllowHTTP)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimRight(u.Path, "/")
	s.base = u

	a := cfg.Auth
	if a.Type == "" {
		switch {
		case a.Token != "":
			a.Type = AuthBearer
		case a.TokenURL != "":
			a.Type = AuthOAuth2
		case a.Username != "":
			a.Type = AuthBasic
		default:
			return nil, errors.New("auth is required: auth.type bearer with auth.token, basic with auth.username and auth.password, oauth2 with auth.tokenURL, auth.clientID and auth.clientSecret, or none")
		}
	}
	a.Type = strings.ToLower(a.Type)
	switch a.Type {
	case AuthBearer:
		if a.Token == "" {
			return nil, errors.New("auth.token is required for auth.type bearer")
		}
	case AuthBasic:
		if a.Username == "" || a.Password == "" {
			return nil, errors.New("auth.username and auth.password are required for auth.type basic")
		}
	case AuthOAuth2:
		if a.TokenURL == "" || a.ClientID == "" || a.ClientSecret == "" {
			return nil, errors.New("auth.tokenURL, auth.clientID and auth.clientSecret are required for auth.type oauth2 (client credentials grant)")
		}
		if _, err := checkURL("auth.tokenURL", a.TokenURL, cfg.AllowHTTP); err != nil {
			return nil, err
		}
	case AuthNone:
	default:
		return nil, fmt.Errorf("auth.type %q: want bearer, basic, oauth2 or none", cfg.Auth.Type)
	}
	if a.Type != AuthBearer && a.Token != "" || a.Type != AuthBasic && (a.Username != "" || a.Password != "") ||
		a.Type != AuthOAuth2 && (a.TokenURL != "" || a.ClientID != "" || a.ClientSecret != "" || len(a.Scopes) > 0) {
		return nil, fmt.Errorf("auth: keys set that auth.type %s does not use", a.Type)
	}
	s.auth = a

	if cfg.CAFile != "" || cfg.InsecureSkipVerify {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // explicit opt-in
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("caFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("caFile %s: no PEM certificate in it", cfg.CAFile)
			}
			s.tls.RootCAs = pool
		}
	}

	for _, n := range []struct {
		key string
		v   *int
		def int
	}{{"concurrency", &s.concurrency, DefaultConcurrency}, {"pageSize", &s.pageSize, DefaultPageSize}, {"memberBatch", &s.memberBatch, DefaultMemberBatch}} {
		if *n.v < 0 {
			return nil, fmt.Errorf("%s must be positive, not %d", n.key, *n.v)
		}
		if *n.v == 0 {
			*n.v = n.def
		}
	}
	if s.concurrency > 64 {
		return nil, fmt.Errorf("concurrency %d is too high (at most 64)", s.concurrency)
	}
	if cfg.MaxRetries != nil {
		if *cfg.MaxRetries < 0 {
			return nil, fmt.Errorf("maxRetries must be 0 or more, not %d", *cfg.MaxRetries)
		}
		s.maxRetries = *cfg.MaxRetries
	}
	for _, d := range []struct {
		key string
		v   *time.Duration
		def time.Duration
	}{{"timeout", &s.timeout, DefaultTimeout}, {"retryBase", &s.retryBase, DefaultRetryBase}, {"retryCap", &s.retryCap, DefaultRetryCap}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("%s must be positive, not %s", d.key, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if s.retryBase > s.retryCap {
		return nil, fmt.Errorf("retryBase %s is more than retryCap %s", s.retryBase, s.retryCap)
	}

	s.objectTypes = DefaultObjectTypes
	if cfg.ObjectTypes != nil {
		if len(cfg.ObjectTypes) == 0 {
			return nil, errors.New("objectTypes is empty: map at least one idsync object type to a SCIM resource type, e.g. {user: User}")
		}
		for k, v := range cfg.ObjectTypes {
			if k == "" || v == "" {
				return nil, fmt.Errorf("objectTypes: %q: %q: both the object type and the resource type (User) or endpoint (/Users) are required", k, v)
			}
		}
		s.objectTypes = cfg.ObjectTypes
	}
	return s, nil
}

// checkURL validates an http(s) URL. Plain http is refused for other hosts
// than loopback unless allowHTTP is set: the credentials would travel in
// clear text.
func checkURL(key, raw string, allowHTTP bool) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is required (the SCIM base URL, e.g. https://app.example.com/scim/v2)", key)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: put credentials under auth, not in the URL", key)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s %q: a base URL has no query or fragment", key, u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%s %q: plain http would send the credentials in clear text: use https, or set allowHTTP: true", key, u.Redacted())
		}
	default:
		return nil, fmt.Errorf("%s %q: want an http:// or https:// URL", key, u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s %q: no host", key, u.Redacted())
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
