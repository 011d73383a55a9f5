package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/store"
)

// principal is who makes a request: a signed-in user (session) or a
// script (API token).
type principal struct {
	User   string
	Role   string
	Tenant string
	// session is set for a browser session (CSRF applies), nil for a token.
	session *session
}

// can reports whether the principal's role allows what needs.
func (p *principal) can(needs string) bool {
	return p != nil && auth.Allows(p.Role, needs)
}

// Sessions: server-side, in memory (a restart signs everyone out), in an
// HttpOnly, SameSite=Strict cookie (Secure over TLS). A session ends after
// SessionIdle without a request or SessionMax after sign-in.
var (
	SessionIdle = 30 * time.Minute
	SessionMax  = 12 * time.Hour
)

const sessionCookie = "idsync_session"

type session struct {
	id      string
	user    string
	role    string
	tenant  string
	csrf    string
	created time.Time
	seen    time.Time
}

type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// start opens a session for a user who just signed in.
func (ss *sessions) start(u *store.User, now time.Time) *session {
	s := &session{id: randomToken(), user: u.Name, role: u.Role, tenant: u.Tenant, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, o := range ss.m { // drop the expired ones as we go
		if o.expired(now) {
			delete(ss.m, id)
		}
	}
	ss.m[s.id] = s
	return s
}

func (s *session) expired(now time.Time) bool {
	return now.Sub(s.seen) > SessionIdle || now.Sub(s.created) > SessionMax
}

// get returns the live session with the ID, and marks it seen unless the
// request is a page's own polling (which must not keep an unattended
// browser signed in).
func (ss *sessions) get(id string, now time.Time, touch bool) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	if s.expired(now) {
		delete(ss.m, id)
		return nil
	}
	if touch {
		s.seen = now
	}
	return s
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// Sign-in rate limiting: LoginFailures failed sign-ins from one address, or
// for one user name, within LoginWindow lock further attempts out until the
// window has passed (a password guesser gets a handful of tries an hour
// quarter, a user who mistyped waits minutes).
var (
	LoginFailures = 5
	LoginWindow   = 15 * time.Minute
)

type limiter struct {
	mu   sync.Mutex
	fail map[string][]time.Time
}

func newLimiter() *limiter { return &limiter{fail: map[string][]time.Time{}} }

func (l *limiter) recent(key string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.fail[key] {
		if now.Sub(t) < LoginWindow {
			keep = append(keep, t)
		}
	}
	if keep == nil {
		delete(l.fail, key)
	} else {
		l.fail[key] = keep
	}
	return keep
}

// blocked reports whether sign-ins for any of keys are locked out, and
// until when.
func (l *limiter) blocked(now time.Time, keys ...string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if r := l.recent(k, now); len(r) >= LoginFailures {
			return true, r[0].Add(LoginWindow)
		}
	}
	return false, time.Time{}
}

func (l *limiter) failed(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.fail[k] = append(l.recent(k, now), now)
	}
}

func (l *limiter) succeeded(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.fail, k)
	}
}

// remote is the client's address (the connection's: idsync does not trust
// forwarded headers).
func remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// identify finds who makes the request: an API token (Authorization:
// Bearer) or a session cookie. nil, nil: anonymous.
func (s *Server) identify(r *http.Request) (*principal, error) {
	now := s.now()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return nil, errors.New("the Authorization header must be: Bearer <API token>")
		}
		t, err := s.o.Store.APITokenByHash(r.Context(), auth.TokenHash(strings.TrimSpace(tok)))
		if err != nil {
			return nil, errors.New("the API token is not valid (revoked, or never issued)")
		}
		if t.Expires != nil && now.After(*t.Expires) {
			return nil, errors.New("the API token has expired: issue a new one with `idsync user token`")
		}
		u, err := s.o.Store.GetUser(r.Context(), t.User)
		if err != nil || u.Disabled {
			return nil, errors.New("the API token's user is deleted or disabled")
		}
		return &principal{User: u.Name, Role: u.Role, Tenant: u.Tenant}, nil
	}
	c, cerr := r.Cookie(sessionCookie)
	if cerr != nil {
		return nil, nil //nolint:nilerr // no cookie: anonymous
	}
	polling := r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Trigger") == "connectors"
	ss := s.sessions.get(c.Value, now, !polling)
	if ss == nil {
		return nil, nil
	}
	return &principal{User: ss.user, Role: ss.role, Tenant: ss.tenant, session: ss}, nil
}

// csrfOK checks the CSRF token of a state-changing request made with a
// session: the form field "csrf" or the header X-CSRF-Token (htmx, scripts
// in the page) must be the session's. Requests with an API token carry no
// ambient credential and need none.
func csrfOK(r *http.Request, p *principal) bool {
	if p == nil || p.session == nil {
		return true
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(p.session.csrf)) == 1
}
