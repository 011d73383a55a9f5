// Package googlefake is a hand-written fake of the Google Workspace Admin
// SDK Directory API and of Google's OAuth 2.0 token endpoint, for the
// tests of the google connector: Google's services are not reachable from
// the test machines. It is an httptest TLS server that replays the request
// and response shapes Google documents in these pages:
//
//   - "Using OAuth 2.0 for Server to Server Applications" (service accounts
//     with domain-wide delegation): POST /token with
//     grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an RS256
//     JWT assertion {iss: the service account's client_email, scope:
//     space-separated, aud: the token URL, sub: the user to impersonate,
//     iat, exp ≤ iat+3600}, its header carrying the key's kid. The fake
//     verifies the signature with the service account's public key and
//     every claim, records what it received (Assertions), and answers
//     {access_token, expires_in, token_type: Bearer}; else 400 invalid_grant
//     ("Invalid JWT Signature.", "Invalid JWT: Token must be a short-lived
//     token (60 minutes) and in a reasonable timeframe…", "Invalid email or
//     User ID") or 401 unauthorized_client when a scope was not delegated to
//     the client ID (Google's answer when domain-wide delegation is missing).
//   - Directory API users.list: GET /admin/directory/v1/users with customer
//     (my_customer or the customer ID) or domain, maxResults 1–500 (100 by
//     default), pageToken, projection; {kind: admin#directory#users, etag,
//     users, nextPageToken}, the last page without nextPageToken.
//   - groups.list: GET …/groups, maxResults 1–200 (200), {kind:
//     admin#directory#groups, groups, nextPageToken}.
//   - members.list: GET …/groups/{groupKey}/members, maxResults 1–200
//     (200), {kind: admin#directory#members, members: [{id, email, role,
//     type: USER|GROUP|CUSTOMER|EXTERNAL, status}], nextPageToken}; 404
//     notFound for an unknown group.
//   - Errors in Google's JSON shape {"error": {"code", "message",
//     "errors": [{"message", "domain", "reason"}], "status"}}: 401 authError
//     for a missing or unknown access token, 400 invalid for bad
//     parameters, 403 forbidden when the impersonated user is no
//     administrator, and throttling ("Directory API: Limits and Quotas"):
//     SetFault answers 429 or 403 with reason rateLimitExceeded or
//     userRateLimitExceeded, with a Retry-After header when asked.
//
// MalformPage makes one page of a list answer a truncated JSON body, as a
// dropped proxy connection would. The fake is faithful in shape, small in
// scope: no query, no orderBy, no push channels (watch), no writes.
package googlefake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scopes a test tenant delegates to the service account by default.
const (
	ScopeUserReadonly  = "https://www.googleapis.com/auth/admin.directory.user.readonly"
	ScopeGroupReadonly = "https://www.googleapis.com/auth/admin.directory.group.readonly"
)

// Base is the path of the Directory API under the server's URL.
const Base = "/admin/directory/v1"

// Server is a fake Google Workspace customer.
type Server struct {
	// URL is the Directory API base URL, https://127.0.0.1:PORT/admin/directory/v1.
	URL string
	// TokenURL is the token endpoint (the token_uri of the key file).
	TokenURL string
	// CAFile is a PEM file holding the server's certificate, for caFile.
	CAFile string
	// KeyFile is a service account key file (JSON) whose key the token
	// endpoint accepts; KeyJSON is its content.
	KeyFile string
	KeyJSON []byte
	// ClientEmail and KeyID identify the service account and its key.
	ClientEmail, KeyID string
	// Admin is the administrator the service account may impersonate.
	Admin string
	// CustomerID is the customer's ID (what my_customer stands for).
	CustomerID string

	srv       *httptest.Server
	key       *rsa.PrivateKey
	mu        sync.Mutex
	users     []map[string]any
	groups    []map[string]any
	members   map[string][]map[string]any // group id → members
	delegated []string
	admins    map[string]bool
	access    map[string]time.Time
	counts    map[string]int
	asserts   []Assertion
	fault     func(r *http.Request) (status int, reason, retryAfter string, ok bool)
	malformed map[string]bool // "path?pageToken" answered with a truncated body
}

// Assertion is a JWT the token endpoint received, decoded.
type Assertion struct {
	Header    map[string]any
	Claims    map[string]any
	Signature bool   // the signature verified with the service account's key
	GrantType string // the form's grant_type
}

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testKey returns one RSA key for the process (generating one per test is
// slow under the race detector).
func testKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

// New starts a fake customer for the test and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		ClientEmail: "idsync-reader@idsync-test.iam.gserviceaccount.com", KeyID: hex.EncodeToString(randBytes(20)),
		Admin: "admin@example.com", CustomerID: "C03az79cb",
		key: testKey(), members: map[string][]map[string]any{}, access: map[string]time.Time{},
		counts: map[string]int{}, malformed: map[string]bool{},
		delegated: []string{ScopeUserReadonly, ScopeGroupReadonly},
	}
	s.admins = map[string]bool{s.Admin: true}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL + Base
	s.TokenURL = s.srv.URL + "/token"
	dir := t.TempDir()
	s.CAFile = filepath.Join(dir, "google-ca.pem")
	if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	s.KeyJSON, err = json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "idsync-test", "private_key_id": s.KeyID,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": s.ClientEmail, "client_id": "108234567890123456789",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": s.TokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	s.KeyFile = filepath.Join(dir, "service-account.json")
	if err := os.WriteFile(s.KeyFile, s.KeyJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// PrivateKeyPEM returns the service account's private key, PEM (to check
// that it never reaches a log).
func (s *Server) PrivateKeyPEM() string {
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	_ = json.Unmarshal(s.KeyJSON, &f)
	return f.PrivateKey
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newID returns a numeric id like the Directory API's (21 digits).
func newID() string {
	b := randBytes(8)
	n := uint64(0)
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return "1" + fmt.Sprintf("%020d", n%10000000000000000000)
}

// ---- seeding and inspection ----

// AddUser adds a user resource (as users.get returns it with
// projection=full) and returns its id; "id" and "kind" are filled in.
func (s *Server) AddUser(u map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u = clone(u)
	if _, ok := u["id"]; !ok {
		u["id"] = newID()
	}
	u["kind"] = "admin#directory#user"
	u["customerId"] = s.CustomerID
	s.users = append(s.users, u)
	id, _ := u["id"].(string)
	return id
}

// AddGroup adds a group resource and returns its id.
func (s *Server) AddGroup(g map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g = clone(g)
	if _, ok := g["id"]; !ok {
		g["id"] = newID()
	}
	g["kind"] = "admin#directory#group"
	s.groups = append(s.groups, g)
	return g["id"].(string)
}

// AddMember adds a member to a group: memberType USER, GROUP, CUSTOMER or
// EXTERNAL; id is "" for an external member without a Google account.
func (s *Server) AddMember(group, memberType, id, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]any{"kind": "admin#directory#member", "etag": `"` + hex.EncodeToString(randBytes(8)) + `"`,
		"role": "MEMBER", "type": memberType, "status": "ACTIVE"}
	if id != "" {
		m["id"] = id
	}
	if email != "" {
		m["email"] = email
	}
	s.members[group] = append(s.members[group], m)
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Delegate sets the scopes the customer's domain-wide delegation grants to
// the service account's client ID.
func (s *Server) Delegate(scopes ...string) {
	s.mu.Lock()
	s.delegated = scopes
	s.mu.Unlock()
}

// SetAdmin makes user an administrator (or not).
func (s *Server) SetAdmin(user string, admin bool) {
	s.mu.Lock()
	s.admins[user] = admin
	s.mu.Unlock()
}

// SetFault makes the server answer a request for which f returns ok with
// status (429, 403, 503 …), the error reason (rateLimitExceeded,
// userRateLimitExceeded, backendError …) and a Retry-After header unless
// retryAfter is "".
func (s *Server) SetFault(f func(r *http.Request) (status int, reason, retryAfter string, ok bool)) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// MalformPage makes the page of path (users, groups, groups/{id}/members)
// with the page token (the first page: "") answer a truncated body.
func (s *Server) MalformPage(path, pageToken string) {
	s.mu.Lock()
	s.malformed[path+"?"+pageToken] = true
	s.mu.Unlock()
}

// RevokeTokens makes every access token issued so far invalid (401).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.access = map[string]time.Time{}
	s.mu.Unlock()
}

// Count returns how many requests matched pattern ("POST /token", "GET
// users", "GET groups", "GET members").
func (s *Server) Count(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[pattern]
}

// Assertions returns the JWTs the token endpoint received.
func (s *Server) Assertions() []Assertion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asserts)
}

// ---- HTTP ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var statusText = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}

// apiErr writes a Google API error.
func apiErr(w http.ResponseWriter, status int, domain, reason, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": msg, "status": statusText[status],
		"errors": []map[string]any{{"message": msg, "domain": domain, "reason": reason}},
	}})
}

func pattern(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, Base+"/")
	switch {
	case r.URL.Path == "/token":
		return r.Method + " /token"
	case strings.HasPrefix(p, "groups/") && strings.HasSuffix(p, "/members"):
		return r.Method + " members"
	}
	return r.Method + " " + p
}

// ServeHTTP answers token and Directory API requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts[pattern(r)]++
	fault := s.fault
	s.mu.Unlock()
	if fault != nil {
		if status, reason, ra, ok := fault(r); ok {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			msg := "Rate Limit Exceeded"
			if reason == "userRateLimitExceeded" {
				msg = "User Rate Limit Exceeded"
			} else if status >= 500 {
				msg = "Backend Error"
			}
			apiErr(w, status, "usageLimits", reason, msg)
			return
		}
	}
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	s.directory(w, r)
}

// token implements the JWT bearer grant of a service account.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "Invalid request.")
		return
	}
	a := Assertion{GrantType: r.PostForm.Get("grant_type")}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) == 3 {
		a.Header, a.Claims = decodePart(parts[0]), decodePart(parts[1])
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		a.Signature = err == nil && rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, h[:], sig) == nil
	}
	s.mu.Lock()
	s.asserts = append(s.asserts, a)
	delegated, admins := slices.Clone(s.delegated), s.admins[str(a.Claims["sub"])]
	_, known := s.admins[str(a.Claims["sub"])]
	s.mu.Unlock()
	now := time.Now().Unix()
	iat, exp := num(a.Claims["iat"]), num(a.Claims["exp"])
	switch {
	case a.GrantType != "urn:ietf:params:oauth:grant-type:jwt-bearer":
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+a.GrantType)
		return
	case a.Claims == nil || a.Header == nil:
		oauthErr(http.StatusBadRequest, "invalid_request", "Invalid JWT: could not be decoded.")
		return
	case str(a.Header["alg"]) != "RS256" || str(a.Header["kid"]) != s.KeyID || !a.Signature:
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	case str(a.Claims["iss"]) != s.ClientEmail:
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	case str(a.Claims["aud"]) != s.TokenURL:
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check.")
		return
	case iat == 0 || exp == 0 || exp-iat > 3600 || exp <= now || iat > now+300:
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	case !known:
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid email or User ID")
		return
	}
	for _, sc := range strings.Fields(str(a.Claims["scope"])) {
		if !slices.Contains(delegated, sc) {
			oauthErr(http.StatusUnauthorized, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
			return
		}
	}
	if str(a.Claims["scope"]) == "" {
		oauthErr(http.StatusBadRequest, "invalid_scope", "Empty or missing scope not allowed.")
		return
	}
	tok := "ya29.c." + base64.RawURLEncoding.EncodeToString(randBytes(48))
	s.mu.Lock()
	if admins {
		s.access[tok] = time.Now().Add(time.Hour)
	} else {
		s.access[tok] = time.Time{} // valid, but the user is no administrator
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func decodePart(p string) map[string]any {
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func (s *Server) directory(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, ok := s.access[tok]
	s.mu.Unlock()
	if !ok || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		apiErr(w, http.StatusUnauthorized, "global", "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if exp.IsZero() {
		apiErr(w, http.StatusForbidden, "global", "forbidden", "Not Authorized to access this resource/api")
		return
	}
	if r.Method != http.MethodGet {
		apiErr(w, http.StatusMethodNotAllowed, "global", "httpMethodNotAllowed", "Method not allowed.")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, Base+"/")
	q := r.URL.Query()
	switch {
	case p == "users":
		if !s.customerOK(w, q) {
			return
		}
		if pr := q.Get("projection"); pr != "" && pr != "basic" && pr != "full" && pr != "custom" {
			apiErr(w, http.StatusBadRequest, "global", "invalid", "Invalid Input: projection")
			return
		}
		s.mu.Lock()
		items := slices.Clone(s.users)
		s.mu.Unlock()
		s.list(w, r, p, "admin#directory#users", "users", items, 500, 100)
	case p == "groups":
		if !s.customerOK(w, q) {
			return
		}
		s.mu.Lock()
		items := slices.Clone(s.groups)
		s.mu.Unlock()
		s.list(w, r, p, "admin#directory#groups", "groups", items, 200, 200)
	case strings.HasPrefix(p, "groups/") && strings.HasSuffix(p, "/members"):
		key := strings.TrimSuffix(strings.TrimPrefix(p, "groups/"), "/members")
		s.mu.Lock()
		found := false
		for _, g := range s.groups {
			if g["id"] == key || g["email"] == key {
				key, found = g["id"].(string), true
			}
		}
		items := slices.Clone(s.members[key])
		s.mu.Unlock()
		if !found {
			apiErr(w, http.StatusNotFound, "global", "notFound", "Resource Not Found: groupKey")
			return
		}
		s.list(w, r, p, "admin#directory#members", "members", items, 200, 200)
	default:
		apiErr(w, http.StatusNotFound, "global", "notFound", "Not Found")
	}
}

func (s *Server) customerOK(w http.ResponseWriter, q map[string][]string) bool {
	c, d := first(q["customer"]), first(q["domain"])
	switch {
	case c == "" && d == "":
		apiErr(w, http.StatusBadRequest, "global", "badRequest", "Bad Request")
		return false
	case c != "" && c != "my_customer" && c != s.CustomerID:
		apiErr(w, http.StatusBadRequest, "global", "badRequest", "Bad Request")
		return false
	}
	return true
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// list answers one page of a list: pageToken is the offset, base64.
func (s *Server) list(w http.ResponseWriter, r *http.Request, path, kind, field string, items []map[string]any, most, dflt int) {
	q := r.URL.Query()
	n := dflt
	if v := q.Get("maxResults"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > most {
			apiErr(w, http.StatusBadRequest, "global", "invalid", "Invalid Input: maxResults")
			return
		}
	}
	off := 0
	if pt := q.Get("pageToken"); pt != "" {
		b, err := base64.RawURLEncoding.DecodeString(pt)
		if err == nil {
			off, err = strconv.Atoi(strings.TrimPrefix(string(b), path+":"))
		}
		if err != nil || !strings.HasPrefix(string(b), path+":") || off < 0 || off > len(items) {
			apiErr(w, http.StatusBadRequest, "global", "invalid", "Invalid Input: pageToken")
			return
		}
	}
	s.mu.Lock()
	bad := s.malformed[path+"?"+q.Get("pageToken")]
	s.mu.Unlock()
	end := min(off+n, len(items))
	resp := map[string]any{"kind": kind, "etag": `"` + hex.EncodeToString(randBytes(12)) + `"`}
	if end > off {
		resp[field] = items[off:end]
	}
	if end < len(items) {
		resp["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte(path + ":" + strconv.Itoa(end)))
	}
	b, _ := json.Marshal(resp)
	if bad {
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}
