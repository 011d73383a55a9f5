package graph

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The admin-consent flow of a multi-tenant application ("Admin consent on
// the Microsoft identity platform"). A service provider registers one
// multi-tenant app registration; each customer's administrator grants it the
// application permissions for their directory by opening the consent URL:
//
//	https://login.microsoftonline.com/{directory|organizations}/v2.0/adminconsent
//	    ?client_id=…&scope=https://graph.microsoft.com/.default&redirect_uri=…&state=…
//
// Microsoft then sends the browser to redirect_uri with
// admin_consent=True&tenant={directory ID}&state=… (or error and
// error_description, with the same state). From then on a graph connector
// with tenantID set to that directory ID and the app's clientID and
// clientSecret obtains client-credentials tokens for the customer's
// directory.
//
// The state ties the callback to the request: it is 32 random bytes, bound
// to the idsync tenant that asked, usable once and only until it expires.
// Consent keeps no state of its own; the caller's ConsentStore does (a
// table of the idsync store, a web session), which holds only a hash of the
// state.

// Consent defaults.
const (
	DefaultAuthority  = "https://login.microsoftonline.com"
	DefaultConsentTTL = 15 * time.Minute
	// ConsentOrganizations is the authority segment that lets an
	// administrator of any work or school directory consent.
	ConsentOrganizations = "organizations"
)

// ConsentState is one pending consent request as a ConsentStore keeps it.
type ConsentState struct {
	// Key is the SHA-256 of the state token, hex: the token itself is never
	// stored, so a copy of the store cannot complete anyone's consent.
	Key string
	// Tenant is the idsync tenant that asked for consent.
	Tenant string
	// Directory is the directory the consent URL named (a GUID or a
	// domain), or ConsentOrganizations.
	Directory string
	// RedirectURI is the redirect URI of the request.
	RedirectURI string
	// Expires is when the state stops being accepted.
	Expires time.Time
}

// ConsentStore keeps pending consent requests between the consent URL and
// its callback. Implementations must make Take atomic: of two concurrent
// Takes of one key, at most one gets the state (single use).
type ConsentStore interface {
	// Put records a pending request.
	Put(ctx context.Context, st ConsentState) error
	// Take removes the request with the key and returns it; found is false
	// when there is none (never issued, already used, or purged).
	Take(ctx context.Context, key string) (st ConsentState, found bool, err error)
}

// Consent builds admin-consent URLs for a multi-tenant app registration and
// checks their callbacks. Its zero value is not usable: ClientID and Store
// are required.
type Consent struct {
	// ClientID is the application (client) ID of the multi-tenant app.
	ClientID string
	// Authority is the Microsoft identity platform host
	// (DefaultAuthority; https://login.microsoftonline.us for US
	// Government, a fake in tests). https only.
	Authority string
	// Scope is what the administrator consents to: the application
	// permissions configured on the app registration (DefaultScope).
	Scope string
	// TTL is how long a state is accepted (DefaultConsentTTL).
	TTL time.Duration
	// Store keeps the pending requests.
	Store ConsentStore
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

// ConsentRequest is one consent URL to build.
type ConsentRequest struct {
	// Tenant is the idsync tenant asking; the callback must come back for
	// the same tenant.
	Tenant string
	// RedirectURI is where Microsoft sends the administrator back: the
	// console's callback page, registered as a redirect URI of the app
	// (https, or http://localhost for a local test).
	RedirectURI string
	// Directory optionally names the customer's directory (a GUID or a
	// verified domain) when it is known; the callback must then report
	// that directory when it is a GUID. Empty: ConsentOrganizations.
	Directory string
}

// ConsentResult is a completed consent.
type ConsentResult struct {
	// Tenant is the idsync tenant the consent was asked for.
	Tenant string
	// DirectoryID is the customer's directory (tenant) ID, a GUID: the
	// tenantID of the graph connector that reads it.
	DirectoryID string
	// Scope is the scope Microsoft reported, when it did.
	Scope string
}

// GraphConfig returns app with TenantID set to the consenting directory:
// the configuration of a graph connector reading the customer's directory
// with the provider's multi-tenant app (app carries its clientID,
// clientSecret and, outside the public cloud, tokenURL and baseURL).
func (r ConsentResult) GraphConfig(app Config) Config {
	app.TenantID = r.DirectoryID
	return app
}

// Errors of a consent callback. Callback wraps one of them, so that the
// console can tell the administrator what happened.
var (
	// ErrConsentState: the callback's state is missing, unknown, already
	// used, expired, or was issued for another idsync tenant. Start the
	// consent again.
	ErrConsentState = errors.New("the consent callback's state is not valid")
	// ErrConsentDenied: Microsoft reported an error (the administrator
	// declined, or may not consent). A *ConsentError says which.
	ErrConsentDenied = errors.New("consent was not granted")
	// ErrConsentResponse: the callback is not one Microsoft sends after a
	// consent (no admin_consent=True, no directory ID, another directory
	// than the one asked for).
	ErrConsentResponse = errors.New("the consent callback is not a granted consent")
)

// ConsentError is an error Microsoft reported to the redirect URI. It
// wraps ErrConsentDenied.
type ConsentError struct {
	Code        string // error, e.g. access_denied, consent_required
	Description string // the first line of error_description (AADSTS…)
}

func (e *ConsentError) Error() string {
	s := "Microsoft reported " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

func (e *ConsentError) Unwrap() error { return ErrConsentDenied }

func (c *Consent) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// authority returns the validated authority URL, without a trailing slash.
func (c *Consent) authority() (*url.URL, error) {
	a := c.Authority
	if a == "" {
		a = DefaultAuthority
	}
	u, err := checkURL("authority", a)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("authority %q: want the host only, e.g. %s", u.Redacted(), DefaultAuthority)
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

func (c *Consent) check() error {
	switch {
	case strings.TrimSpace(c.ClientID) == "":
		return errors.New("admin consent: ClientID is required: the application (client) ID of the multi-tenant app registration")
	case c.Store == nil:
		return errors.New("admin consent: Store is required: where the pending requests are kept until their callback")
	case c.TTL < 0:
		return fmt.Errorf("admin consent: TTL %s must be positive", c.TTL)
	}
	return nil
}

// URL returns the admin-consent URL for req and the state it carries, after
// recording the state in the Store. Send the administrator's browser to the
// URL; the state is for the caller's logs or tests only (the callback brings
// it back).
func (c *Consent) URL(ctx context.Context, req ConsentRequest) (consentURL, state string, err error) {
	if err := c.check(); err != nil {
		return "", "", err
	}
	auth, err := c.authority()
	if err != nil {
		return "", "", fmt.Errorf("admin consent: %w", err)
	}
	if strings.TrimSpace(req.Tenant) == "" {
		return "", "", errors.New("admin consent: the idsync tenant is required: the consent is recorded for it")
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return "", "", fmt.Errorf("admin consent: %w", err)
	}
	dir := strings.TrimSpace(req.Directory)
	switch {
	case dir == "":
		dir = ConsentOrganizations
	case dir == ConsentOrganizations:
	case guidRE.MatchString(dir):
		dir = strings.ToLower(dir)
	case domainRE.MatchString(dir):
	default:
		return "", "", fmt.Errorf("admin consent: directory %q: want the customer's directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com, or nothing (%s)", dir, ConsentOrganizations)
	}
	scope := c.Scope
	if scope == "" {
		scope = DefaultScope
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultConsentTTL
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("admin consent: random state: %w", err)
	}
	state = base64.RawURLEncoding.EncodeToString(b)
	st := ConsentState{Key: stateKey(state), Tenant: req.Tenant, Directory: dir, RedirectURI: req.RedirectURI, Expires: c.now().Add(ttl)}
	if err := c.Store.Put(ctx, st); err != nil {
		return "", "", fmt.Errorf("admin consent: record the request: %w", err)
	}
	q := url.Values{
		"client_id":    {strings.TrimSpace(c.ClientID)},
		"scope":        {scope},
		"redirect_uri": {req.RedirectURI},
		"state":        {state},
	}
	u := *auth
	u.Path = "/" + url.PathEscape(dir) + "/v2.0/adminconsent"
	u.RawQuery = q.Encode()
	return u.String(), state, nil
}

// checkRedirect accepts https URLs, and http on a loopback host (Microsoft
// allows http://localhost redirect URIs for development).
func checkRedirect(raw string) error {
	if raw == "" {
		return errors.New("the redirect URI is required: the console's consent callback, registered on the app")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI: %w", err)
	}
	host := u.Hostname()
	loop := host == "localhost" || host == "127.0.0.1" || host == "::1"
	switch {
	case u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("redirect URI %q: want an absolute URL without credentials or fragment", u.Redacted())
	case u.Scheme != "https" && (u.Scheme != "http" || !loop):
		return fmt.Errorf("redirect URI %q: want https (http only for localhost)", u.Redacted())
	}
	return nil
}

// stateKey is what the store keeps of a state token.
func stateKey(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}

// Callback checks the query of a consent callback that reached the
// redirect URI in a session of the idsync tenant `tenant`, and returns the
// consenting directory. The state is taken from the Store first, so it
// serves once whatever the outcome. Errors wrap ErrConsentState,
// ErrConsentDenied (a *ConsentError) or ErrConsentResponse; none repeats
// the state.
func (c *Consent) Callback(ctx context.Context, tenant string, query url.Values) (ConsentResult, error) {
	if err := c.check(); err != nil {
		return ConsentResult{}, err
	}
	state := query.Get("state")
	if state == "" {
		return ConsentResult{}, fmt.Errorf("%w: it has none (was the consent started from idsync?); start the consent again", ErrConsentState)
	}
	st, found, err := c.Store.Take(ctx, stateKey(state))
	if err != nil {
		return ConsentResult{}, fmt.Errorf("admin consent: look up the state: %w", err)
	}
	switch {
	case !found:
		return ConsentResult{}, fmt.Errorf("%w: unknown or already used; start the consent again", ErrConsentState)
	case !c.now().Before(st.Expires):
		return ConsentResult{}, fmt.Errorf("%w: it expired at %s; start the consent again and complete it within %s",
			ErrConsentState, st.Expires.UTC().Format(time.RFC3339), c.ttl())
	case st.Tenant != tenant:
		return ConsentResult{}, fmt.Errorf("%w: it was issued for another idsync tenant; start the consent again from this tenant", ErrConsentState)
	}
	if code := query.Get("error"); code != "" {
		desc := query.Get("error_description")
		if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
			desc = desc[:i] // drop the Trace ID and Correlation ID lines
		}
		return ConsentResult{}, fmt.Errorf("admin consent for directory %s: %w", st.Directory, &ConsentError{Code: clip(code, 64), Description: clip(desc, 400)})
	}
	dir := query.Get("tenant")
	switch {
	case !strings.EqualFold(query.Get("admin_consent"), "true"):
		return ConsentResult{}, fmt.Errorf("%w: admin_consent is %q, not True", ErrConsentResponse, clip(query.Get("admin_consent"), 16))
	case !guidRE.MatchString(dir):
		return ConsentResult{}, fmt.Errorf("%w: tenant %q is not a directory (tenant) ID", ErrConsentResponse, clip(dir, 64))
	case guidRE.MatchString(st.Directory) && !strings.EqualFold(dir, st.Directory):
		return ConsentResult{}, fmt.Errorf("%w: consent was asked of directory %s but granted by directory %s; sign in to the right directory and start again",
			ErrConsentResponse, st.Directory, strings.ToLower(dir))
	}
	return ConsentResult{Tenant: st.Tenant, DirectoryID: strings.ToLower(dir), Scope: clip(query.Get("scope"), 1000)}, nil
}

func (c *Consent) ttl() time.Duration {
	if c.TTL == 0 {
		return DefaultConsentTTL
	}
	return c.TTL
}

// clip shortens a text from the query for a message, without control
// characters.
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

// MemoryConsentStore is a ConsentStore in the process's memory, for a single
// idsync process (pending requests are lost on restart: the administrator
// starts the consent again). Expired requests are purged on Put.
type MemoryConsentStore struct {
	mu sync.Mutex
	m  map[string]ConsentState
}

// Put records a pending request.
func (s *MemoryConsentStore) Put(_ context.Context, st ConsentState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]ConsentState{}
	}
	now := time.Now()
	for k, v := range s.m {
		if !now.Before(v.Expires) {
			delete(s.m, k)
		}
	}
	s.m[st.Key] = st
	return nil
}

// Take removes and returns a pending request.
func (s *MemoryConsentStore) Take(_ context.Context, key string) (ConsentState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[key]
	delete(s.m, key)
	return st, ok, nil
}

// ConsentStateKey is the key a ConsentStore keeps a state token's request
// under (the token's SHA-256): a callback handler that must know the
// request's idsync tenant before calling Callback looks it up with it.
func ConsentStateKey(state string) string { return stateKey(state) }
