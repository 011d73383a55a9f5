package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/httpretry"
)

// maxBody caps a response body the connector reads.
const maxBody = 64 << 20

// HTTPError is an error answer of the SCIM server (RFC 7644 §3.12).
type HTTPError struct {
	Method   string
	Path     string // relative to the base URL, e.g. /Users/2819c223
	Status   int
	ScimType string
	Detail   string
	Retries  int // retries made before giving up
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.ScimType != "" {
		b.WriteString(" " + e.ScimType)
	}
	switch {
	case e.Detail != "":
		b.WriteString(": " + e.Detail)
	case http.StatusText(e.Status) != "":
		b.WriteString(" " + http.StatusText(e.Status))
	}
	if e.Retries > 0 {
		fmt.Fprintf(&b, " (after %d retries)", e.Retries)
	}
	return b.String()
}

// authError is a failure to obtain an OAuth 2.0 access token.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// request is one SCIM call.
type request struct {
	method string
	path   string // relative to the base URL
	query  url.Values
	body   any
	header map[string]string
	// quick limits the retries to one (TestConnection: say what is wrong
	// soon).
	quick bool
	// recover, when set, is called before a non-idempotent request (POST)
	// is sent again after a failure that may have reached the server (a
	// dropped connection, a 5xx). It returns the response to use instead
	// when it finds that the first attempt did succeed.
	recover func(ctx context.Context) (*response, bool, error)
}

// response is a SCIM answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) ok() bool { return r.status >= 200 && r.status < 300 }

// decode unmarshals the body.
func (r *response) decode(v any) error {
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	return d.Decode(v)
}

// httpError converts a non-2xx response.
func (r *response) httpError(req *request, retries int) *HTTPError {
	e := &HTTPError{Method: req.method, Path: req.path, Status: r.status, Retries: retries}
	var body struct {
		ScimType string          `json:"scimType"`
		Detail   json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(r.body, &body) == nil {
		e.ScimType = clip(body.ScimType, 64)
		var s string
		if json.Unmarshal(body.Detail, &s) == nil {
			e.Detail = clip(s, 500)
		} else if len(body.Detail) > 0 {
			e.Detail = clip(string(body.Detail), 500)
		}
	}
	return e
}

// clip shortens a server-provided text for an error message.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// client talks HTTP to a SCIM service provider, with authentication and
// retries.
type client struct {
	s    *settings
	hc   *http.Client
	auth func(ctx context.Context, r *http.Request) error
	// oauth2 token cache
	tokMu    sync.Mutex
	token    string
	tokenExp time.Time
	// sleep waits between retries (replaced by tests).
	sleep func(ctx context.Context, d time.Duration) error
}

func newClient(s *settings) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.tls != nil {
		tr.TLSClientConfig = s.tls
	}
	tr.MaxIdleConnsPerHost = s.concurrency * 2
	tr.MaxConnsPerHost = 0
	c := &client{s: s, hc: &http.Client{Transport: tr, Timeout: s.timeout}, sleep: connector.Sleep}
	// Never follow a redirect to another host with the credentials.
	c.hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 || req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
			return http.ErrUseLastResponse
		}
		return nil
	}
	switch s.auth.Type {
	case AuthBearer:
		c.auth = func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+s.auth.Token)
			return nil
		}
	case AuthBasic:
		c.auth = func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(s.auth.Username, s.auth.Password)
			return nil
		}
	case AuthOAuth2:
		c.auth = func(ctx context.Context, r *http.Request) error {
			tok, err := c.accessToken(ctx)
			if err != nil {
				return err
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}
	default:
		c.auth = func(context.Context, *http.Request) error { return nil }
	}
	return c
}

// do sends req, retrying throttled (429), unavailable (5xx) and failed
// (network) attempts with exponential backoff and jitter, up to maxRetries.
// It returns the final response whatever its status, or an error when the
// server could not be reached (*netError) or the context ended.
func (c *client) do(ctx context.Context, req *request) (*response, int, error) {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return nil, 0, fmt.Errorf("%s %s: encode the request: %w", req.method, req.path, err)
		}
	}
	reauthed := false
	maxRetries := c.s.maxRetries
	if req.quick {
		maxRetries = min(maxRetries, 1)
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, req, body)
		if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
			return nil, attempt, ctxErr
		}
		var wait time.Duration
		mayHaveReached := false
		switch {
		case err != nil:
			var ae *authError
			if errors.As(err, &ae) {
				return nil, attempt, err
			}
			if attempt >= maxRetries || httpretry.Permanent(err) {
				return nil, attempt, &netError{Method: req.method, Path: req.path, Err: err, Retries: attempt}
			}
			mayHaveReached = true
		case resp.status == http.StatusUnauthorized && c.s.auth.Type == AuthOAuth2 && !reauthed:
			// The access token may have been revoked or expired early.
			c.dropToken()
			reauthed = true
			attempt--
			continue
		case resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable:
			if attempt >= maxRetries {
				return resp, attempt, nil
			}
			wait = retryAfter(resp.header.Get("Retry-After"), time.Now())
			mayHaveReached = resp.status == http.StatusServiceUnavailable
		case resp.status == http.StatusInternalServerError || resp.status == http.StatusBadGateway || resp.status == http.StatusGatewayTimeout:
			if attempt >= maxRetries {
				return resp, attempt, nil
			}
			mayHaveReached = true
		default:
			return resp, attempt, nil
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if wait > c.s.retryCap {
			wait = c.s.retryCap
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, attempt, err
		}
		if mayHaveReached && req.recover != nil {
			if r, done, err := req.recover(ctx); err != nil || done {
				return r, attempt, err
			}
		}
	}
}

// netError is a failure to reach the server.
type netError = httpretry.NetError

// backoff is the wait before retry attempt+1: retryBase·2^attempt, capped at
// retryCap, with jitter (between half and all of it).
func (c *client) backoff(attempt int) time.Duration {
	return httpretry.Backoff(c.s.retryBase, c.s.retryCap, attempt)
}

// retryAfter parses a Retry-After header: seconds (at most a day) or an
// HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	return httpretry.RetryAfter(v, now, 24*time.Hour)
}

// once makes one attempt.
func (c *client) once(ctx context.Context, req *request, body []byte) (*response, error) {
	// req.path is already escaped (resourcePath).
	u := c.s.base.String() + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, rd)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Accept", "application/scim+json, application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	if err := c.auth(ctx, hr); err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, httpretry.StripURL(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// accessToken returns a cached OAuth 2.0 access token, or obtains one with
// the client credentials grant (RFC 6749 §4.4).
func (c *client) accessToken(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token != "" && time.Now().Before(c.tokenExp) {
		return c.token, nil
	}
	a := c.s.auth
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(a.Scopes) > 0 {
		form.Set("scope", strings.Join(a.Scopes, " "))
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, a.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Accept", "application/json")
	hr.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(a.ClientSecret))
	resp, err := c.hc.Do(hr)
	if err != nil {
		return "", &netError{Method: "POST", Path: "auth.tokenURL", Err: httpretry.StripURL(err)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.Number     `json:"expires_in"`
		Error       string          `json:"error"`
		Description json.RawMessage `json:"error_description"`
	}
	jerr := json.Unmarshal(b, &tr)
	if resp.StatusCode != http.StatusOK || jerr != nil || tr.AccessToken == "" {
		msg := fmt.Sprintf("oauth2 token request to auth.tokenURL: %d", resp.StatusCode)
		if tr.Error != "" {
			msg += " " + clip(tr.Error, 64)
			var d string
			if json.Unmarshal(tr.Description, &d) == nil && d != "" {
				msg += ": " + clip(d, 300)
			}
		} else if resp.StatusCode == http.StatusOK {
			msg += ": the answer has no access_token"
		}
		return "", &authError{msg: msg}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", &authError{msg: fmt.Sprintf("oauth2 token request to auth.tokenURL: token_type %q is not bearer", clip(tr.TokenType, 32))}
	}
	exp := time.Hour
	if n, err := tr.ExpiresIn.Int64(); err == nil && n > 0 {
		exp = time.Duration(n) * time.Second
	}
	// Renew a little early so that a token never expires in flight.
	if exp > 2*time.Minute {
		exp -= time.Minute
	} else {
		exp /= 2
	}
	c.token, c.tokenExp = tr.AccessToken, time.Now().Add(exp)
	return c.token, nil
}

func (c *client) dropToken() {
	c.tokMu.Lock()
	c.token = ""
	c.tokMu.Unlock()
}

func (c *client) close() { c.hc.CloseIdleConnections() }
