package graph

import (
	"bytes"
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

// APIError is an error answer of Microsoft Graph:
// {"error": {"code": …, "message": …, "details": [{"target": …}]}}.
type APIError struct {
	Method  string
	Path    string // relative to baseURL, without the query: /users/{id}
	Status  int
	Code    string // Graph's error.code, e.g. Request_BadRequest
	Message string // Graph's error.message
	Target  string // the property of the first error detail, when given
	Retries int    // retries made before giving up
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
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

// tokenError is a failure to obtain an access token.
type tokenError struct {
	url    string // the token endpoint (no secret in it)
	status int    // 0: the endpoint was not reached
	code   string // OAuth error, e.g. invalid_client
	desc   string // the first line of error_description (AADSTS…)
	err    error  // transport error
}

func (e *tokenError) Error() string {
	if e.status == 0 {
		return fmt.Sprintf("cannot reach the token endpoint %s: %v", e.url, e.err)
	}
	s := fmt.Sprintf("token request to %s: %d", e.url, e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.desc != "" {
		s += ": " + e.desc
	}
	return s
}

func (e *tokenError) Unwrap() error { return e.err }

// transient reports token failures worth retrying.
func (e *tokenError) transient() bool {
	return e.status == 0 && !httpretry.Permanent(e.err) || e.status == http.StatusTooManyRequests || e.status >= 500
}

// rejected reports whether the token endpoint refused the credentials.
func (e *tokenError) rejected() bool { return e.status >= 400 && e.status < 500 }

// request is one Graph call.
type request struct {
	method string
	path   string // relative to baseURL, escaped: /users/0d1c…
	query  [][2]string
	link   string // an absolute @odata.nextLink or deltaLink, instead of path and query
	body   any
	// quick limits the retries to one (TestConnection: say soon what is
	// wrong).
	quick bool
	// recover, when set, is called before a POST is sent again after a
	// failure that may have reached Graph (a dropped connection, a 5xx).
	// It returns the response to use instead when the first attempt did
	// succeed.
	recover func(ctx context.Context) (*response, bool, error)
}

// display is the request's path for messages: relative to baseURL, no query.
func (r *request) display(base *url.URL) string {
	if r.link == "" {
		return r.path
	}
	u, err := url.Parse(r.link)
	if err != nil {
		return "(link)"
	}
	return strings.TrimPrefix(u.Path, base.Path)
}

// response is a Graph answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// client talks HTTP to Graph, with the access token and retries.
type client struct {
	s  *settings
	hc *http.Client

	tokMu    sync.Mutex
	token    string
	tokenExp time.Time

	// sleep waits between retries (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	// retrying, when set, is told about each retry.
	retrying func(method, path string, attempt int, wait time.Duration, why string)
}

func newClient(s *settings) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.tls
	tr.MaxIdleConnsPerHost = s.concurrency * 2
	hc := &http.Client{Transport: tr, Timeout: s.timeout,
		// Graph does not redirect these calls; never carry a token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{s: s, hc: hc, sleep: connector.Sleep}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// redact removes the client secret from a text the server sent, in case an
// endpoint echoes it, and control characters; it clips the text to n bytes.
func (c *client) redact(s string, n int) string {
	if c.s.clientSecret != "" {
		s = strings.ReplaceAll(s, c.s.clientSecret, "[redacted]")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// do sends req, retrying throttled (429), unavailable (500, 502, 503, 504)
// and failed (network) attempts, up to maxRetries: after the Retry-After
// the server asks for, else after an exponential backoff with jitter capped
// at retryCap. A 401 renews the access token once. It returns the response
// of a 2xx answer; an *APIError for any other status; a *netError when
// Graph could not be reached; a *tokenError when no access token could be
// obtained.
func (c *client) do(ctx context.Context, req *request) (*response, error) {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("%s %s: encode the request: %w", req.method, req.display(c.s.base), err)
		}
	}
	if req.link != "" {
		if err := c.checkLink(req.link); err != nil {
			return nil, err
		}
	}
	maxRetries := c.s.maxRetries
	if req.quick {
		maxRetries = min(maxRetries, 1)
	}
	reauthed := false
	for attempt := 0; ; attempt++ {
		resp, tok, err := c.once(ctx, req, body)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var wait time.Duration
		ambiguous := false
		switch {
		case err != nil:
			var te *tokenError
			if errors.As(err, &te) {
				if attempt >= maxRetries || !te.transient() {
					return nil, err
				}
				break
			}
			if attempt >= maxRetries || httpretry.Permanent(err) {
				return nil, &netError{Method: req.method, Path: req.display(c.s.base), Err: err, Retries: attempt}
			}
			ambiguous = true
		case resp.status == http.StatusUnauthorized && !reauthed:
			// The token may have been revoked or have expired early.
			c.dropToken(tok)
			reauthed = true
			attempt--
			continue
		case resp.status >= 200 && resp.status < 300:
			return resp, nil
		case resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable ||
			resp.status == http.StatusGatewayTimeout || resp.status == http.StatusInternalServerError ||
			resp.status == http.StatusBadGateway:
			if attempt >= maxRetries {
				return nil, c.apiError(req, resp, attempt)
			}
			wait = retryAfter(resp.header.Get("Retry-After"), time.Now())
			ambiguous = resp.status != http.StatusTooManyRequests
		default:
			return nil, c.apiError(req, resp, attempt)
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		wait = min(wait, maxRetryAfter)
		if c.retrying != nil {
			why := ""
			if err != nil {
				why = err.Error()
			} else {
				why = strconv.Itoa(resp.status) + " " + http.StatusText(resp.status)
			}
			c.retrying(req.method, req.display(c.s.base), attempt+1, wait, why)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
		if ambiguous && req.recover != nil {
			if r, done, err := req.recover(ctx); err != nil || done {
				return r, err
			}
		}
	}
}

// netError is a failure to reach Graph.
type netError = httpretry.NetError

// backoff is the wait before retry attempt+1: 1 s doubling, capped at
// retryCap, with jitter (between half and all of it).
func (c *client) backoff(attempt int) time.Duration {
	return httpretry.Backoff(retryBase, c.s.retryCap, attempt)
}

// retryAfter parses a Retry-After header: seconds (at most maxRetryAfter)
// or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	return httpretry.RetryAfter(v, now, maxRetryAfter)
}

// encodeQuery writes OData query options: $ kept literal, spaces as %20.
func encodeQuery(q [][2]string) string {
	var b strings.Builder
	for i, kv := range q {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(kv[1]), "+", "%20"))
	}
	return b.String()
}

// once makes one attempt; it returns the token it used.
func (c *client) once(ctx context.Context, req *request, body []byte) (*response, string, error) {
	u := req.link
	if u == "" {
		u = c.s.base.String() + req.path
		if len(req.query) > 0 {
			u += "?" + encodeQuery(req.query)
		}
	}
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, "", err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, rd)
	if err != nil {
		return nil, tok, err
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, tok, httpretry.StripURL(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, tok, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, tok, nil
}

// checkLink refuses a next or delta link that leaves baseURL: the access
// token goes only to the configured Graph.
func (c *client) checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != c.s.base.Scheme || !strings.EqualFold(u.Host, c.s.base.Host) ||
		!strings.HasPrefix(u.Path, c.s.base.Path+"/") || u.User != nil {
		return fmt.Errorf("refusing to follow the link %q: it is not under baseURL %s", c.redact(link, 200), c.s.base)
	}
	return nil
}

// rawStr returns a JSON string value, or "" for anything else.
func rawStr(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// apiError converts a non-2xx answer.
func (c *client) apiError(req *request, resp *response, retries int) *APIError {
	e := &APIError{Method: req.method, Path: req.display(c.s.base), Status: resp.status, Retries: retries}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(resp.body, &body) == nil && len(body.Error) > 0 {
		var ge struct {
			Code    json.RawMessage   `json:"code"`
			Message json.RawMessage   `json:"message"`
			Details []json.RawMessage `json:"details"`
		}
		if json.Unmarshal(body.Error, &ge) == nil {
			e.Code = c.redact(rawStr(ge.Code), 80)
			e.Message = c.redact(rawStr(ge.Message), 500)
			if len(ge.Details) > 0 {
				var d struct {
					Target json.RawMessage `json:"target"`
				}
				if json.Unmarshal(ge.Details[0], &d) == nil {
					e.Target = c.redact(rawStr(d.Target), 80)
				}
			}
		}
	}
	return e
}

// accessToken returns the cached access token, or obtains one with the
// OAuth 2.0 client credentials grant ("Get access token without a user").
// A token is renewed a minute before it expires.
func (c *client) accessToken(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token != "" && time.Now().Before(c.tokenExp) {
		return c.token, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.s.clientID},
		"client_secret": {c.s.clientSecret},
		"scope":         {c.s.scope},
	}
	te := &tokenError{url: c.s.tokenURL.Redacted()}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.tokenURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		te.err = err
		return "", te
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(hr)
	if err != nil {
		te.err = httpretry.StripURL(err)
		return "", te
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tr struct {
		AccessToken json.RawMessage `json:"access_token"`
		TokenType   json.RawMessage `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       json.RawMessage `json:"error"`
		Description json.RawMessage `json:"error_description"`
	}
	jerr := json.Unmarshal(b, &tr)
	tok := rawStr(tr.AccessToken)
	if resp.StatusCode != http.StatusOK || jerr != nil || tok == "" {
		te.status = resp.StatusCode
		te.code = c.redact(rawStr(tr.Error), 64)
		desc := rawStr(tr.Description)
		if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
			desc = desc[:i] // drop the Trace ID, Correlation ID and Timestamp lines
		}
		te.desc = c.redact(desc, 400)
		if te.desc == "" && resp.StatusCode == http.StatusOK {
			te.desc = "the answer has no access_token"
		}
		return "", te
	}
	if tt := rawStr(tr.TokenType); tt != "" && !strings.EqualFold(tt, "bearer") {
		te.status, te.desc = resp.StatusCode, fmt.Sprintf("token_type %q is not Bearer", c.redact(tt, 32))
		return "", te
	}
	exp := time.Hour
	var n json.Number
	if json.Unmarshal(tr.ExpiresIn, &n) == nil {
		if secs, err := n.Int64(); err == nil && secs > 0 {
			exp = time.Duration(secs) * time.Second
		}
	} else if secs, err := strconv.Atoi(rawStr(tr.ExpiresIn)); err == nil && secs > 0 {
		exp = time.Duration(secs) * time.Second // some endpoints quote it
	}
	if exp > 2*time.Minute {
		exp -= time.Minute
	} else {
		exp /= 2
	}
	c.token, c.tokenExp = tok, time.Now().Add(exp)
	return tok, nil
}

// dropToken forgets the access token tok, when it is still the cached one.
func (c *client) dropToken(tok string) {
	c.tokMu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.tokMu.Unlock()
}

// page is one page of a Graph collection.
type page struct {
	values    []json.RawMessage
	nextLink  string
	deltaLink string
}

// getPage reads one page of a collection.
func (c *client) getPage(ctx context.Context, req *request) (*page, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Value json.RawMessage `json:"value"`
		Next  json.RawMessage `json:"@odata.nextLink"`
		Delta json.RawMessage `json:"@odata.deltaLink"`
	}
	bad := func(why string) error {
		return fmt.Errorf("%s %s: the answer is not a Graph collection (%s)", req.method, req.display(c.s.base), why)
	}
	if err := json.Unmarshal(resp.body, &raw); err != nil {
		return nil, bad(err.Error())
	}
	p := &page{nextLink: rawStr(raw.Next), deltaLink: rawStr(raw.Delta)}
	if len(raw.Value) > 0 && string(raw.Value) != "null" {
		if err := json.Unmarshal(raw.Value, &p.values); err != nil {
			return nil, bad("value is not a list")
		}
	}
	return p, nil
}

// eachPage reads a collection page by page, following @odata.nextLink, and
// calls fn with each page. It returns the @odata.deltaLink of the last page
// (delta queries).
func (c *client) eachPage(ctx context.Context, req *request, fn func(values []json.RawMessage) error) (string, error) {
	for {
		p, err := c.getPage(ctx, req)
		if err != nil {
			return "", err
		}
		if fn != nil {
			if err := fn(p.values); err != nil {
				return "", err
			}
		}
		if p.nextLink == "" {
			return p.deltaLink, nil
		}
		req = &request{method: http.MethodGet, link: p.nextLink, quick: req.quick}
	}
}
