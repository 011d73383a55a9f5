package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/httpretry"
)

const (
	// maxBody caps a response body the connector reads.
	maxBody = 64 << 20
	// retryBase is the first backoff wait; it doubles up to retryCap.
	retryBase = time.Second
	// maxRetryAfter caps a Retry-After the server asks for.
	maxRetryAfter = 5 * time.Minute
)

// APIError is an error answer of the Directory API:
// {"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}.
type APIError struct {
	Method  string
	Path    string // relative to baseURL, without the query: /users
	Status  int
	Reason  string // the first errors[].reason, e.g. rateLimitExceeded
	Message string // error.message
	Retries int    // retries made before giving up
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	} else if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Retries > 0 {
		fmt.Fprintf(&b, " (after %d retries)", e.Retries)
	}
	return b.String()
}

// TokenError is a failure to obtain an access token from the token
// endpoint with the service account's signed assertion.
type TokenError struct {
	URL    string // the token endpoint
	Status int    // 0: the endpoint was not reached
	Code   string // OAuth error, e.g. invalid_grant, unauthorized_client
	Desc   string // error_description
	Err    error  // transport error
}

func (e *TokenError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("cannot reach the token endpoint %s: %v", e.URL, e.Err)
	}
	s := fmt.Sprintf("token request to %s: %d", e.URL, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Desc != "" {
		s += ": " + e.Desc
	}
	return s
}

func (e *TokenError) Unwrap() error { return e.Err }

// transient reports token failures worth retrying.
func (e *TokenError) transient() bool {
	return e.Status == 0 && !httpretry.Permanent(e.Err) || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// netError is a failure to reach the Directory API.
type netError = httpretry.NetError

// client talks HTTP to the Directory API, with access tokens from the
// service account and retries.
type client struct {
	s  *settings
	hc *http.Client

	tokMu sync.Mutex
	ts    oauth2.TokenSource
	// tokenErr is the transport error of the last token request
	// (golang.org/x/oauth2 returns it as text only).
	tokenErr error

	// sleep waits between retries (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	// retrying, when set, is told about each retry.
	retrying func(method, path string, attempt int, wait time.Duration, why string)
}

func newClient(s *settings) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.tls
	tr.MaxIdleConnsPerHost = s.concurrency * 2
	c := &client{s: s, sleep: connector.Sleep}
	c.hc = &http.Client{Transport: &errTransport{next: tr, c: c}, Timeout: s.timeout,
		// The Directory API does not redirect these calls; never carry a
		// token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.ts = c.newTokenSource()
	return c
}

// errTransport records the transport error of a token request.
type errTransport struct {
	next http.RoundTripper
	c    *client
}

func (t *errTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil && r.URL.String() == t.c.s.tokenURL.String() {
		t.c.tokMu.Lock()
		t.c.tokenErr = err
		t.c.tokMu.Unlock()
	}
	return resp, err
}

// newTokenSource returns a caching token source: the JWT bearer grant
// (RFC 7523) with an RS256 assertion signed by the service account's key,
// sub the impersonated administrator, renewed shortly before expiry. Its
// requests go through c.hc (TLS settings, timeout).
func (c *client) newTokenSource() oauth2.TokenSource {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.hc)
	return c.s.jwt.TokenSource(ctx)
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// accessToken returns a valid access token.
func (c *client) accessToken() (string, error) {
	c.tokMu.Lock()
	ts := c.ts
	c.tokenErr = nil
	c.tokMu.Unlock()
	tok, err := ts.Token()
	if err == nil {
		if tok.AccessToken == "" {
			return "", &TokenError{URL: c.s.tokenURL.Redacted(), Status: http.StatusOK, Desc: "the answer has no access_token"}
		}
		return tok.AccessToken, nil
	}
	te := &TokenError{URL: c.s.tokenURL.Redacted()}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te.Status = re.Response.StatusCode
		var body struct {
			Error       json.RawMessage `json:"error"`
			Description json.RawMessage `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			te.Code, te.Desc = clip(rawStr(body.Error), 64), clip(rawStr(body.Description), 400)
		}
		return "", te
	}
	c.tokMu.Lock()
	te.Err = c.tokenErr
	c.tokMu.Unlock()
	if te.Err == nil {
		// Not a transport failure: an answer that is not JSON, or a key
		// that cannot sign. The text names neither key nor token.
		te.Status, te.Desc = http.StatusOK, clip(err.Error(), 300)
		return "", te
	}
	te.Err = httpretry.StripURL(te.Err)
	return "", te
}

// dropToken makes the next request obtain a new access token (after a
// 401: the token was revoked or expired early).
func (c *client) dropToken() {
	ts := c.newTokenSource()
	c.tokMu.Lock()
	c.ts = ts
	c.tokMu.Unlock()
}

// request is one Directory API call.
type request struct {
	path  string // relative to baseURL, escaped: /groups/0123/members
	query url.Values
	// quick limits the retries to one (TestConnection: say soon what is
	// wrong).
	quick bool
}

// throttled reports the errors[].reason values of Google's rate limits.
func throttled(reason string) bool {
	switch reason {
	case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded":
		return reason != "dailyLimitExceeded" // a daily quota does not recover in minutes
	}
	return false
}

// get sends a GET, retrying throttled (429, 403 rateLimitExceeded or
// userRateLimitExceeded), unavailable (500, 502, 503, 504) and failed
// (network) attempts, up to maxRetries: after the Retry-After the server
// asks for, else after an exponential backoff with jitter capped at
// retryCap. A 401 renews the access token once. It returns the body of a
// 200 answer; an *APIError for any other status; a *netError when the API
// could not be reached; a *TokenError when no access token could be
// obtained.
func (c *client) get(ctx context.Context, req *request) ([]byte, error) {
	maxRetries := c.s.maxRetries
	if req.quick {
		maxRetries = min(maxRetries, 1)
	}
	reauthed := false
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.once(ctx, req)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var wait time.Duration
		why := ""
		switch {
		case err != nil:
			var te *TokenError
			if errors.As(err, &te) {
				if attempt >= maxRetries || !te.transient() {
					return nil, err
				}
			} else if attempt >= maxRetries || httpretry.Permanent(err) {
				return nil, &netError{Method: http.MethodGet, Path: req.path, Err: err, Retries: attempt}
			}
			why = err.Error()
		case status == http.StatusUnauthorized && !reauthed:
			c.dropToken()
			reauthed = true
			attempt--
			continue
		case status == http.StatusOK:
			return body, nil
		default:
			ae := c.apiError(req, status, body, attempt)
			retry := status == http.StatusTooManyRequests || status == http.StatusInternalServerError ||
				status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
				status == http.StatusGatewayTimeout || status == http.StatusForbidden && throttled(ae.Reason)
			if !retry || attempt >= maxRetries {
				return nil, ae
			}
			wait = httpretry.RetryAfter(header.Get("Retry-After"), time.Now(), maxRetryAfter)
			why = strconv.Itoa(status) + " " + ae.Reason
		}
		if wait <= 0 {
			wait = httpretry.Backoff(retryBase, c.s.retryCap, attempt)
		}
		wait = min(wait, maxRetryAfter)
		if c.retrying != nil {
			c.retrying(http.MethodGet, req.path, attempt+1, wait, why)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// once makes one attempt.
func (c *client) once(ctx context.Context, req *request) (int, http.Header, []byte, error) {
	tok, err := c.accessToken()
	if err != nil {
		return 0, nil, nil, err
	}
	u := c.s.base.String() + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	hr.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, nil, nil, httpretry.StripURL(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// apiError converts a non-200 answer.
func (c *client) apiError(req *request, status int, body []byte, retries int) *APIError {
	e := &APIError{Method: http.MethodGet, Path: req.path, Status: status, Retries: retries}
	var b struct {
		Error struct {
			Message json.RawMessage `json:"message"`
			Errors  []struct {
				Reason json.RawMessage `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil {
		e.Message = clip(rawStr(b.Error.Message), 300)
		if len(b.Error.Errors) > 0 {
			e.Reason = clip(rawStr(b.Error.Errors[0].Reason), 64)
		}
	}
	return e
}

// rawStr returns a JSON string value, or "" for anything else.
func rawStr(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// eachPage reads a list page by page, following nextPageToken, and calls
// fn with the items of each page (the list's field, e.g. "users").
func (c *client) eachPage(ctx context.Context, req *request, field string, fn func(items []json.RawMessage) error) error {
	for pages := 0; ; pages++ {
		body, err := c.get(ctx, req)
		if err != nil {
			return err
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return fmt.Errorf("GET %s: page %d is not a Directory API list (%w): run the import again; if it persists, a proxy may be cutting answers",
				req.path, pages+1, err)
		}
		var items []json.RawMessage
		if v := raw[field]; len(v) > 0 && string(v) != "null" {
			if err := json.Unmarshal(v, &items); err != nil {
				return fmt.Errorf("GET %s: page %d: %s is not a list", req.path, pages+1, field)
			}
		}
		if err := fn(items); err != nil {
			return err
		}
		next := rawStr(raw["nextPageToken"])
		if next == "" {
			return nil
		}
		if next == req.query.Get("pageToken") {
			return fmt.Errorf("GET %s: page %d repeats its own nextPageToken; stopping instead of looping", req.path, pages+1)
		}
		q := url.Values{}
		for k, v := range req.query {
			q[k] = v
		}
		q.Set("pageToken", next)
		req = &request{path: req.path, query: q, quick: req.quick}
	}
}
