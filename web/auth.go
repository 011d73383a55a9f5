package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
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

// Sessions: server-side, in the store (a restart of idsync serve, or a
// standby taking over on the same database, keeps users signed in), in an
// HttpOnly, SameSite=Strict cookie (Secure over TLS). The cookie holds a
// random token; the store keeps only its SHA-256 (auth.TokenHash), so that
// a copy of the database signs nobody in. A session ends after SessionIdle
// without a request or SessionMax after sign-in, and with its user (deleted,
// disabled, password reset: idsync user commands end a user's sessions). It
// keeps the role and tenant given at sign-in (a local user's, or what an
// OpenID Connect provider's claims mapped to), narrowed at each request to
// the local user's current ones when there is a local user.
var (
	SessionIdle = 30 * time.Minute
	SessionMax  = 12 * time.Hour
	// SessionTouch is how often a session's use is recorded: a request
	// less than SessionTouch after the last recorded one writes nothing,
	// so a session may end up to SessionTouch before SessionIdle after
	// its last request.
	SessionTouch = time.Minute
)

const sessionCookie = "idsync_session"

// session is a live session of the request's user. id is the token (the
// cookie's value), never stored; hash is what the store knows it by.
type session struct {
	id      string
	hash    string
	user    string
	role    string
	tenant  string
	csrf    string
	created time.Time
	seen    time.Time
}

// csrfFor derives a session's CSRF token from its token: an HMAC-SHA256
// keyed with the session token. Nothing needs to be stored for it (the
// store holds only the token's hash, from which it cannot be computed); it
// is the same after a restart, so that forms open in a browser still post;
// and a CSRF token seen in a page reveals nothing of the session token,
// which only the HttpOnly cookie holds.
func csrfFor(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("idsync console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessions are the console's sessions, kept in the store.
type sessions struct {
	st store.Store
}

func newSessions(st store.Store) *sessions { return &sessions{st: st} }

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// start opens a session for a user who just signed in, and deletes the
// expired ones as it goes.
func (ss *sessions) start(ctx context.Context, u *store.User, now time.Time) (*session, error) {
	if _, err := ss.st.PurgeSessions(ctx, now); err != nil {
		return nil, fmt.Errorf("open a session for %q: %w", u.Name, err)
	}
	tok := randomToken()
	rec := &store.Session{Hash: auth.TokenHash(tok), User: u.Name, Role: u.Role, Tenant: u.Tenant, Created: now, Seen: now,
		IdleExpires: now.Add(SessionIdle), Expires: now.Add(SessionMax)}
	if err := ss.st.PutSession(ctx, rec); err != nil {
		return nil, fmt.Errorf("open a session for %q: %w", u.Name, err)
	}
	return &session{id: tok, hash: rec.Hash, user: u.Name, role: u.Role, tenant: u.Tenant, csrf: csrfFor(tok), created: now, seen: now}, nil
}

// get returns the live session with the token (nil when there is none),
// and records its use unless the request is a page's own polling (which
// must not keep an unattended browser signed in), at most every
// SessionTouch.
func (ss *sessions) get(ctx context.Context, token string, now time.Time, touch bool) (*session, error) {
	if token == "" {
		return nil, nil
	}
	hash := auth.TokenHash(token)
	rec, err := ss.st.GetSession(ctx, hash, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the session from the store (sign in again if this persists): %w", err)
	}
	if touch && now.Sub(rec.Seen) >= SessionTouch {
		err := ss.st.TouchSession(ctx, hash, now, now.Add(SessionIdle))
		if errors.Is(err, store.ErrNotFound) { // ended meanwhile
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("record the session's use in the store: %w", err)
		}
		rec.Seen = now
	}
	return &session{id: token, hash: hash, user: rec.User, role: rec.Role, tenant: rec.Tenant, csrf: csrfFor(token),
		created: rec.Created, seen: rec.Seen}, nil
}

// end deletes a session (signing out); an already ended one is no error.
func (ss *sessions) end(ctx context.Context, token string) error {
	if err := ss.st.DeleteSession(ctx, auth.TokenHash(token)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end the session: %w", err)
	}
	return nil
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
	ss, err := s.sessions.get(r.Context(), c.Value, now, !polling)
	if ss == nil || err != nil {
		return nil, err
	}
	p := &principal{User: ss.user, Role: ss.role, Tenant: ss.tenant, session: ss}
	// The local user as now stored, if any (a person signed in through
	// OpenID Connect may have none): disabled, it is signed out; a role
	// lowered since sign-in applies at once (a raised one at the next
	// sign-in), and so does its tenant.
	u, err := s.o.Store.GetUser(r.Context(), ss.user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("read the session's user %q from the store: %w", ss.user, err)
	case u.Disabled:
		return nil, s.sessions.end(r.Context(), ss.id)
	}
	if !auth.Allows(u.Role, p.Role) {
		p.Role = u.Role
	}
	p.Tenant = u.Tenant
	return p, nil
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
