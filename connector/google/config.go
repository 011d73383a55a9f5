package google

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/tlsroots"
)

// Config is the configuration block of a google connector. The package
// documentation explains every key.
type Config struct {
	// CredentialsFile is the path of the service account's JSON key file.
	CredentialsFile string `yaml:"credentialsFile,omitempty" json:"credentialsFile,omitempty"`
	// Credentials is the content of the key file, inline (a secret: give
	// it as ${ENV_VAR}).
	Credentials string   `yaml:"credentials,omitempty" json:"-"`
	Subject     string   `yaml:"subject" json:"subject"`
	Customer    string   `yaml:"customer,omitempty" json:"customer,omitempty"`
	Domain      string   `yaml:"domain,omitempty" json:"domain,omitempty"`
	Scopes      []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	TokenURL    string   `yaml:"tokenURL,omitempty" json:"tokenURL,omitempty"`
	BaseURL     string   `yaml:"baseURL,omitempty" json:"baseURL,omitempty"`
	CAFile      string   `yaml:"caFile,omitempty" json:"caFile,omitempty"`
	Timeout     Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Concurrency int      `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	MaxRetries  *int     `yaml:"maxRetries,omitempty" json:"maxRetries,omitempty"`
	RetryCap    Duration `yaml:"retryCap,omitempty" json:"retryCap,omitempty"`
	PageSize    int      `yaml:"pageSize,omitempty" json:"pageSize,omitempty"`
}

// Defaults.
const (
	DefaultBaseURL     = "https://admin.googleapis.com/admin/directory/v1"
	DefaultTokenURL    = "https://oauth2.googleapis.com/token"
	DefaultCustomer    = "my_customer"
	DefaultTimeout     = 60 * time.Second
	DefaultConcurrency = 4
	DefaultMaxRetries  = 5
	DefaultRetryCap    = 60 * time.Second
	DefaultPageSize    = 500
	// maxGroupPage is the most groups or members a page holds.
	maxGroupPage = 200
)

// DefaultScopes are the read-only Directory API scopes the connector needs;
// the customer's administrator delegates them to the service account's
// client ID (domain-wide delegation).
var DefaultScopes = []string{
	"https://www.googleapis.com/auth/admin.directory.user.readonly",
	"https://www.googleapis.com/auth/admin.directory.group.readonly",
}

// Duration is a duration in the configuration block ("30s").
type Duration = connector.Duration

// ResolvePaths makes a relative credentialsFile and caFile relative to
// baseDir, the directory of the configuration file (config.PathResolver).
func (c *Config) ResolvePaths(baseDir string) {
	for _, p := range []*string{&c.CredentialsFile, &c.CAFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(baseDir, *p)
		}
	}
}

// settings is a validated Config with the defaults filled in.
type settings struct {
	jwt         *jwt.Config // carries the private key: never logged
	keyID       string
	email       string // the service account
	subject     string
	customer    string
	domain      string
	tokenURL    *url.URL
	base        *url.URL // no trailing slash
	tls         *tls.Config
	timeout     time.Duration
	concurrency int
	maxRetries  int
	retryCap    time.Duration
	pageSize    int
}

var (
	domainRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	customerRE = regexp.MustCompile(`^(my_customer|C[0-9a-z]{6,16})$`)
)

func newSettings(cfg Config) (*settings, error) {
	s := &settings{
		subject: strings.TrimSpace(cfg.Subject), customer: strings.TrimSpace(cfg.Customer), domain: strings.TrimSpace(cfg.Domain),
		timeout: cfg.Timeout.Duration, concurrency: cfg.Concurrency, maxRetries: DefaultMaxRetries,
		retryCap: cfg.RetryCap.Duration, pageSize: cfg.PageSize,
	}
	var key []byte
	switch {
	case cfg.CredentialsFile != "" && cfg.Credentials != "":
		return nil, errors.New("credentialsFile and credentials: give one of them, not both")
	case cfg.CredentialsFile != "":
		var err error
		if key, err = os.ReadFile(cfg.CredentialsFile); err != nil {
			return nil, fmt.Errorf("credentialsFile: %w", err)
		}
	case cfg.Credentials != "":
		key = []byte(cfg.Credentials)
	default:
		return nil, errors.New("credentialsFile (or credentials) is required: the JSON key of a service account with domain-wide delegation " +
			"(Google Cloud console → IAM & Admin → Service accounts → Keys → Add key → JSON)")
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	for _, sc := range scopes {
		if u, err := url.Parse(sc); err != nil || u.Scheme != "https" || strings.ContainsAny(sc, " \t") {
			return nil, fmt.Errorf("scopes: %q is not an OAuth scope URL such as %s", sc, DefaultScopes[0])
		}
	}
	var err error
	if s.jwt, s.keyID, s.email, err = parseKey(key, cfg.CredentialsFile, scopes); err != nil {
		return nil, err
	}
	if s.subject == "" {
		return nil, errors.New("subject is required: the e-mail address of a Workspace administrator the service account acts as (domain-wide delegation)")
	}
	if a, err := mail.ParseAddress(s.subject); err != nil || a.Address != s.subject {
		return nil, fmt.Errorf("subject %q: want the e-mail address of a Workspace administrator, e.g. admin@example.com", s.subject)
	}
	s.jwt.Subject = s.subject
	switch {
	case s.customer != "" && s.domain != "":
		return nil, errors.New("customer and domain: give one of them (domain reads the users and groups of one domain only)")
	case s.domain != "" && !domainRE.MatchString(s.domain):
		return nil, fmt.Errorf("domain %q: want a domain of the Workspace account, e.g. example.com", s.domain)
	case s.domain == "" && s.customer == "":
		s.customer = DefaultCustomer
	}
	if s.customer != "" && !customerRE.MatchString(s.customer) {
		return nil, fmt.Errorf("customer %q: want my_customer (the administrator's account) or a customer ID such as C03az79cb", s.customer)
	}

	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = s.jwt.TokenURL // the key file's token_uri
	}
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	if s.tokenURL, err = checkURL("tokenURL", tokenURL); err != nil {
		return nil, err
	}
	s.jwt.TokenURL = s.tokenURL.String() // also the JWT's aud
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
	if s.pageSize < 0 || s.pageSize > 500 {
		return nil, fmt.Errorf("pageSize %d: Directory API pages hold 1 to 500 users (groups and members: at most 200)", s.pageSize)
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

// parseKey reads a service account key file. Its errors never quote the
// file's content (it holds the private key).
func parseKey(key []byte, file string, scopes []string) (*jwt.Config, string, string, error) {
	where := "credentials"
	if file != "" {
		where = "credentialsFile " + file
	}
	var f struct {
		Type       string `json:"type"`
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, "", "", fmt.Errorf("%s: not JSON (a syntax error at byte %d): want the service account's JSON key file", where, se.Offset)
		}
		return nil, "", "", fmt.Errorf("%s: not a service account key file: want the JSON key file of a service account", where)
	}
	if f.Type != "service_account" {
		return nil, "", "", fmt.Errorf("%s: type is %q, want \"service_account\": the JSON key of a service account (not OAuth client or user credentials)", where, clip(f.Type, 40))
	}
	cfg, err := google.JWTConfigFromJSON(key, scopes...)
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: not a service account key file", where)
	}
	if cfg.Email == "" {
		return nil, "", "", fmt.Errorf("%s: client_email is missing", where)
	}
	block, _ := pem.Decode(cfg.PrivateKey)
	if block == nil {
		return nil, "", "", fmt.Errorf("%s: private_key is not a PEM private key", where)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: private_key is not an RSA private key", where)
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return nil, "", "", fmt.Errorf("%s: private_key is not an RSA key (service account keys are RSA, signed RS256)", where)
	}
	return cfg, cfg.PrivateKeyID, cfg.Email, nil
}

// checkURL validates an https URL: the signed assertions and the access
// tokens never travel in clear text.
func checkURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("%s: credentials do not belong in the URL", key)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%s %q: want an https:// URL (assertions and tokens never travel in clear text)", key, u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("%s %q: no host", key, u.Redacted())
	case u.Fragment != "":
		return nil, fmt.Errorf("%s %q: no fragment, please", key, u.Redacted())
	}
	return u, nil
}

// clip shortens a text a server or a file gave for a message, without
// control characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
