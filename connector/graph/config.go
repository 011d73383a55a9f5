package graph

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/tlsroots"
)

// Config is the configuration block of a graph connector. The package
// documentation explains every key.
type Config struct {
	TenantID     string   `yaml:"tenantID" json:"tenantID"`
	ClientID     string   `yaml:"clientID" json:"clientID"`
	ClientSecret string   `yaml:"clientSecret" json:"-"`
	TokenURL     string   `yaml:"tokenURL,omitempty" json:"tokenURL,omitempty"`
	BaseURL      string   `yaml:"baseURL,omitempty" json:"baseURL,omitempty"`
	Scope        string   `yaml:"scope,omitempty" json:"scope,omitempty"`
	CAFile       string   `yaml:"caFile,omitempty" json:"caFile,omitempty"`
	Timeout      Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Concurrency  int      `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	MaxRetries   *int     `yaml:"maxRetries,omitempty" json:"maxRetries,omitempty"`
	RetryCap     Duration `yaml:"retryCap,omitempty" json:"retryCap,omitempty"`
	PageSize     int      `yaml:"pageSize,omitempty" json:"pageSize,omitempty"`
	// SoftMatch takes over a cloud user with the same userPrincipalName and
	// no onPremisesImmutableId, as Azure AD Connect's soft match does. Off
	// by default: idsync does not touch objects it did not create (R2.2).
	SoftMatch bool `yaml:"softMatch,omitempty" json:"softMatch,omitempty"`
}

// Defaults.
const (
	DefaultBaseURL     = "https://graph.microsoft.com/v1.0"
	DefaultTokenURL    = "https://login.microsoftonline.com/{tenantID}/oauth2/v2.0/token"
	DefaultScope       = "https://graph.microsoft.com/.default"
	DefaultTimeout     = 60 * time.Second
	DefaultConcurrency = 4
	DefaultMaxRetries  = 5
	DefaultRetryCap    = 60 * time.Second
	DefaultPageSize    = 999
)

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
	tenantID     string
	clientID     string
	clientSecret string
	tokenURL     *url.URL
	base         *url.URL // no trailing slash
	scope        string
	tls          *tls.Config
	timeout      time.Duration
	concurrency  int
	maxRetries   int
	retryCap     time.Duration
	pageSize     int
	softMatch    bool
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
)

func newSettings(cfg Config) (*settings, error) {
	s := &settings{
		tenantID: strings.TrimSpace(cfg.TenantID), clientID: strings.TrimSpace(cfg.ClientID), clientSecret: cfg.ClientSecret,
		scope: cfg.Scope, timeout: cfg.Timeout.Duration, concurrency: cfg.Concurrency,
		maxRetries: DefaultMaxRetries, retryCap: cfg.RetryCap.Duration, pageSize: cfg.PageSize,
		softMatch: cfg.SoftMatch,
	}
	switch {
	case s.tenantID == "":
		return nil, errors.New("tenantID is required: the directory (tenant) ID of the app registration, a GUID, or a verified domain such as contoso.onmicrosoft.com")
	case !guidRE.MatchString(s.tenantID) && !domainRE.MatchString(s.tenantID):
		return nil, fmt.Errorf("tenantID %q: want the directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com", s.tenantID)
	case s.clientID == "":
		return nil, errors.New("clientID is required: the application (client) ID of the app registration")
	case s.clientSecret == "":
		return nil, errors.New("clientSecret is required: a client secret of the app registration (write ${ENV_VAR} to keep it out of the file)")
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	// {tenantID} in a configured tokenURL too: a provider's configuration
	// names the authority host once (a national cloud, a fake) and the
	// tenant of each customer's connector (ConsentResult.GraphConfig).
	tokenURL = strings.ReplaceAll(tokenURL, "{tenantID}", url.PathEscape(s.tenantID))
	var err error
	if s.tokenURL, err = checkURL("tokenURL", tokenURL); err != nil {
		return nil, err
	}
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if s.base, err = checkURL("baseURL", baseURL); err != nil {
		return nil, err
	}
	if s.base.RawQuery != "" {
		return nil, fmt.Errorf("baseURL %q: a base URL has no query", baseURL)
	}
	s.base.Path = strings.TrimRight(s.base.Path, "/")
	s.base.RawPath = ""
	if s.scope == "" {
		s.scope = DefaultScope
	}
	if !strings.HasSuffix(s.scope, "/.default") || strings.ContainsAny(s.scope, " \t") {
		return nil, fmt.Errorf("scope %q: the client credentials grant takes one resource with /.default, e.g. %s", s.scope, DefaultScope)
	}

	pool, err := tlsroots.Pool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	s.tls = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}

	if s.concurrency < 0 || s.concurrency > 64 {
		return nil, fmt.Errorf("concurrency %d: want 1 to 64", s.concurrency)
	}
	if s.concurrency == 0 {
		s.concurrency = DefaultConcurrency
	}
	if s.pageSize < 0 || s.pageSize > 999 {
		return nil, fmt.Errorf("pageSize %d: Graph pages hold 1 to 999 objects", s.pageSize)
	}
	if s.pageSize == 0 {
		s.pageSize = DefaultPageSize
	}
	if cfg.MaxRetries != nil {
		if *cfg.MaxRetries < 0 || *cfg.MaxRetries > 20 {
			return nil, fmt.Errorf("maxRetries %d: want 0 to 20", *cfg.MaxRetries)
		}
		s.maxRetries = *cfg.MaxRetries
	}
	for _, d := range []struct {
		key string
		v   *time.Duration
		def time.Duration
	}{{"timeout", &s.timeout, DefaultTimeout}, {"retryCap", &s.retryCap, DefaultRetryCap}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("%s must be positive, not %s", d.key, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return s, nil
}

// checkURL validates an https URL: the client secret and the access tokens
// never travel in clear text.
func checkURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("%s: credentials do not belong in the URL", key)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%s %q: want an https:// URL (credentials and tokens never travel in clear text)", key, u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("%s %q: no host", key, u.Redacted())
	case u.Fragment != "":
		return nil, fmt.Errorf("%s %q: no fragment, please", key, u.Redacted())
	}
	return u, nil
}
