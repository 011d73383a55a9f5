// Package graphfake is a hand-written fake of Microsoft Graph v1.0 and of
// the Microsoft identity platform token endpoint, for the tests of the graph
// connector: no Microsoft Graph is runnable here. It is an httptest TLS
// server that replays the request and response shapes Microsoft documents
// in these pages:
//
//   - "Get access token without a user": POST /{tenant}/oauth2/v2.0/token
//     with the client credentials grant (client_id, client_secret, scope
//     ending in /.default) → {token_type, expires_in, ext_expires_in,
//     access_token}; a wrong secret → 401 invalid_client with AADSTS7000215,
//     an unknown client → 400 unauthorized_client with AADSTS700016.
//   - "List users" (and the group and orgContact lists): $select, $top
//     (1-999), $filter with eq on userPrincipalName, onPremisesImmutableId,
//     displayName and mailNickname (anything else is 400
//     Request_UnsupportedQuery), paging with @odata.nextLink and $skiptoken.
//   - "Create user": 201 with the object; accountEnabled, displayName,
//     mailNickname, passwordProfile and userPrincipalName are required;
//     userPrincipalName and onPremisesImmutableId are unique: a duplicate is
//     400 Request_BadRequest "Another object with the same value for property
//     … already exists." with an ObjectConflict detail.
//   - "Update user", "Delete a user": 204; 404 Request_ResourceNotFound for a
//     missing object; read-only properties (proxyAddresses, onPremises*,
//     mail on groups) are 400.
//   - "Create group": displayName, mailEnabled, mailNickname and
//     securityEnabled required; members@odata.bind with at most 20
//     references. mailNickname is not unique (Graph allows duplicates on
//     security groups), so the fake does not enforce it.
//   - "Add members": PATCH /groups/{id} with members@odata.bind, at most 20
//     per request, all or nothing; a reference already a member is 400 "One
//     or more added object references already exist for the following
//     modified properties: 'members'."; a missing object 404.
//   - "Remove member": DELETE /groups/{id}/members/{id}/$ref, 204, 404 when
//     not a member.
//   - "user: delta", "group: delta" (and orgContact: delta): $select kept in
//     the links, $deltatoken=latest returns no objects and a deltaLink,
//     changed objects, "@removed": {"reason": "changed"|"deleted"} entries,
//     members@delta on groups when members is selected, @odata.nextLink
//     pages and a final @odata.deltaLink; an unknown or expired token is 410
//     Gone with code syncStateNotFound.
//   - "Admin consent on the Microsoft identity platform": GET
//     /{organizations|tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state
//     redirects (302) to redirect_uri with admin_consent=True, tenant (the
//     directory ID), scope and state; with ConsentError set, with error,
//     error_description (AADSTS65004 …) and state instead. An unknown
//     client_id, a scope without /.default or a missing redirect_uri is a
//     400 page, as Microsoft shows an error page instead of redirecting.
//   - "Microsoft Graph throttling guidance": SetFault answers 429 (or 503)
//     with a Retry-After header and the documented TooManyRequests body.
//
// The wording of a few validation messages Microsoft does not document is
// modeled on Graph's style; callers should match on status and error code.
// The fake is faithful in shape, small in scope: no devices, no service
// principals, no extension attributes, no $count, no $search.
package graphfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Microsoft Graph tenant.
type Server struct {
	// URL is the Graph base URL, https://127.0.0.1:PORT/v1.0.
	URL string
	// TokenURL is the token endpoint of the tenant.
	TokenURL string
	// TenantID, ClientID and ClientSecret are the credentials the token
	// endpoint accepts.
	TenantID, ClientID, ClientSecret string
	// DirectoryID is the tenant's directory ID, a GUID: the token endpoint
	// answers under it as under TenantID, and the admin-consent endpoint
	// reports it.
	DirectoryID string
	// Authority is the identity platform host (https://127.0.0.1:PORT),
	// the Authority of a graph.Consent.
	Authority string
	// ConsentError, when set, is the error the admin-consent endpoint
	// reports instead of a consent (e.g. "access_denied").
	ConsentError string
	// CAFile is a PEM file holding the server's certificate, for caFile.
	CAFile string
	// DeltaPageSize is the number of entries per page of a delta round.
	DeltaPageSize int
	// TokenLifetime is the expires_in of issued access tokens (1h).
	TokenLifetime time.Duration

	srv        *httptest.Server
	mu         sync.Mutex
	seq        int
	objs       map[string]*object
	log        []change
	deltaToks  map[string]deltaState
	access     map[string]time.Time
	counts     map[string]int
	bindSizes  []int
	tokens     int
	denied     map[string]bool
	fault      func(r *http.Request) (int, string, bool)
	faultAfter func(r *http.Request) (int, bool)
}

type object struct {
	kind    string // users, groups, contacts
	seq     int
	props   map[string]any
	members []string
}

// change is one entry of the change log behind delta queries.
type change struct {
	seq     int
	kind    string
	id      string
	removed string // "", "changed" (soft-deleted) or "deleted"
	addMem  string // group member added
	delMem  string // group member removed
}

type deltaState struct {
	seq int
	sel string
}

// property kinds.
const (
	kString = iota
	kBool
	kStrings
)

type prop struct {
	kind     int
	readOnly bool
	dflt     bool // returned without $select
}

var schemas = map[string]map[string]prop{
	"users": {
		"id": {kString, true, true}, "userPrincipalName": {kString, false, true}, "displayName": {kString, false, true},
		"givenName": {kString, false, true}, "surname": {kString, false, true}, "mail": {kString, false, true},
		"mailNickname": {kString, false, false}, "accountEnabled": {kBool, false, false},
		"department": {kString, false, false}, "jobTitle": {kString, false, true},
		"businessPhones": {kStrings, false, true}, "mobilePhone": {kString, false, true},
		"streetAddress": {kString, false, false}, "city": {kString, false, false}, "state": {kString, false, false},
		"postalCode": {kString, false, false}, "country": {kString, false, false},
		"usageLocation": {kString, false, false}, "employeeId": {kString, false, false},
		"companyName": {kString, false, false}, "proxyAddresses": {kStrings, true, false},
		"onPremisesImmutableId": {kString, false, false}, "onPremisesSamAccountName": {kString, true, false},
		"onPremisesDistinguishedName": {kString, true, false}, "onPremisesDomainName": {kString, true, false},
		"onPremisesSecurityIdentifier": {kString, true, false}, "onPremisesUserPrincipalName": {kString, true, false},
		"officeLocation": {kString, false, true}, "preferredLanguage": {kString, false, true},
		"passwordPolicies": {kString, false, false}, "faxNumber": {kString, false, false},
	},
	"groups": {
		"id": {kString, true, true}, "displayName": {kString, false, true}, "description": {kString, false, true},
		"mail": {kString, true, true}, "mailEnabled": {kBool, false, true}, "mailNickname": {kString, false, true},
		"securityEnabled": {kBool, false, true}, "groupTypes": {kStrings, false, true},
		"proxyAddresses": {kStrings, true, true},
	},
	"contacts": {
		"id": {kString, true, true}, "displayName": {kString, true, true}, "givenName": {kString, true, true},
		"surname": {kString, true, true}, "mail": {kString, true, true}, "mailNickname": {kString, true, true},
		"proxyAddresses": {kStrings, true, true}, "companyName": {kString, true, true},
		"department": {kString, true, true}, "jobTitle": {kString, true, true},
	},
}

var required = map[string][]string{
	"users":  {"accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"},
	"groups": {"displayName", "mailEnabled", "mailNickname", "securityEnabled"},
}

var odataType = map[string]string{"users": "#microsoft.graph.user", "groups": "#microsoft.graph.group", "contacts": "#microsoft.graph.orgContact"}

// MaxBind is the most references one request may bind (Graph's limit).
const MaxBind = 20

// New starts a fake tenant for the test and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		TenantID: "contoso.onmicrosoft.com", ClientID: newID(), ClientSecret: "fake~" + hex.EncodeToString(randBytes(16)),
		DeltaPageSize: 100, TokenLifetime: time.Hour,
		objs: map[string]*object{}, deltaToks: map[string]deltaState{}, access: map[string]time.Time{},
		counts: map[string]int{}, denied: map[string]bool{},
	}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshakes tests make fail on purpose
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	s.DirectoryID = newID()
	s.Authority = s.srv.URL
	s.URL = s.srv.URL + "/v1.0"
	s.TokenURL = s.srv.URL + "/" + s.TenantID + "/oauth2/v2.0/token"
	s.CAFile = filepath.Join(t.TempDir(), "graph-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func newID() string {
	b := randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ---- seeding and inspection ----

// AddUser adds a user directly (no validation) and returns its id.
func (s *Server) AddUser(props map[string]any) string { return s.add("users", props, nil) }

// AddGroup adds a group with members directly and returns its id.
func (s *Server) AddGroup(props map[string]any, members ...string) string {
	return s.add("groups", props, members)
}

// AddContact adds an organizational contact and returns its id.
func (s *Server) AddContact(props map[string]any) string { return s.add("contacts", props, nil) }

func (s *Server) add(kind string, props map[string]any, members []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := props["id"].(string)
	if id == "" {
		id = newID()
	}
	o := &object{kind: kind, props: map[string]any{}, members: slices.Clone(members)}
	for k, v := range props {
		o.props[k] = v
	}
	o.props["id"] = id
	s.insert(o)
	return id
}

func (s *Server) insert(o *object) {
	s.seq++
	o.seq = s.seq
	id := o.props["id"].(string)
	s.objs[id] = o
	s.logChange(change{kind: o.kind, id: id})
	for _, m := range o.members {
		s.logChange(change{kind: o.kind, id: id, addMem: m})
	}
}

func (s *Server) logChange(c change) {
	s.seq++
	c.seq = s.seq
	s.log = append(s.log, c)
}

// Update sets properties of an object directly (nil removes one).
func (s *Server) Update(id string, props map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objs[id]; o != nil {
		setProps(o, props)
		s.logChange(change{kind: o.kind, id: id})
	}
}

// Delete removes an object directly: soft (reason "changed", as a user
// moved to deleted items) or permanently (reason "deleted").
func (s *Server) Delete(id string, permanently bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(id, map[bool]string{false: "changed", true: "deleted"}[permanently])
}

func (s *Server) remove(id, reason string) bool {
	o := s.objs[id]
	if o == nil {
		return false
	}
	delete(s.objs, id)
	s.logChange(change{kind: o.kind, id: id, removed: reason})
	for gid, g := range s.objs {
		if i := slices.Index(g.members, id); i >= 0 {
			g.members = slices.Delete(g.members, i, i+1)
			s.logChange(change{kind: g.kind, id: gid, delMem: id})
		}
	}
	return true
}

// AddMember adds a member to a group directly.
func (s *Server) AddMember(group, member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.objs[group]; g != nil && !slices.Contains(g.members, member) {
		g.members = append(g.members, member)
		s.logChange(change{kind: g.kind, id: group, addMem: member})
	}
}

// RemoveMember removes a member from a group directly.
func (s *Server) RemoveMember(group, member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.objs[group]; g != nil {
		if i := slices.Index(g.members, member); i >= 0 {
			g.members = slices.Delete(g.members, i, i+1)
			s.logChange(change{kind: g.kind, id: group, delMem: member})
		}
	}
}

// Users returns copies of the users, in creation order.
func (s *Server) Users() []map[string]any { return s.list("users") }

// Groups returns copies of the groups, in creation order; "members" holds
// the member ids.
func (s *Server) Groups() []map[string]any { return s.list("groups") }

// Contacts returns copies of the organizational contacts.
func (s *Server) Contacts() []map[string]any { return s.list("contacts") }

// Object returns a copy of one object (groups with "members"), or nil.
func (s *Server) Object(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objs[id]; o != nil {
		return o.copy()
	}
	return nil
}

func (o *object) copy() map[string]any {
	m := make(map[string]any, len(o.props)+1)
	for k, v := range o.props {
		m[k] = v
	}
	if o.kind == "groups" {
		m["members"] = slices.Clone(o.members)
	}
	return m
}

func (s *Server) list(kind string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, o := range s.sorted(kind) {
		out = append(out, o.copy())
	}
	return out
}

func (s *Server) sorted(kind string) []*object {
	var list []*object
	for _, o := range s.objs {
		if o.kind == kind {
			list = append(list, o)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	return list
}

// SetFault installs a fault: for each request f is called first, and when it
// returns ok the request is answered with status (and a Retry-After header
// when retryAfter is not empty) without being processed. nil removes it.
func (s *Server) SetFault(f func(r *http.Request) (status int, retryAfter string, ok bool)) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// SetFaultAfter installs a fault applied after the request was processed:
// the change is made, but the client gets status instead of the answer (a
// gateway timeout after the write). nil removes it.
func (s *Server) SetFaultAfter(f func(r *http.Request) (status int, ok bool)) {
	s.mu.Lock()
	s.faultAfter = f
	s.mu.Unlock()
}

// Deny makes every request on a collection (users, groups, contacts) fail
// with 403 Authorization_RequestDenied, as when the application lacks the
// permission.
func (s *Server) Deny(collection string) {
	s.mu.Lock()
	s.denied[collection] = true
	s.mu.Unlock()
}

// ExpireDeltaTokens forgets every issued delta token (the next use is 410).
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	s.deltaToks = map[string]deltaState{}
	s.mu.Unlock()
}

// RevokeTokens invalidates every issued access token.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.access = map[string]time.Time{}
	s.mu.Unlock()
}

// Count returns the number of requests received for a pattern such as
// "PATCH /groups/{id}", "POST /users" or "POST token"; ids are written {id}.
func (s *Server) Count(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[pattern]
}

// Counts returns a copy of all request counters.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m
}

// BindSizes returns the number of members@odata.bind references of every
// accepted POST or PATCH that carried some, in order.
func (s *Server) BindSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bindSizes)
}

// TokensIssued is the number of access tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// ---- HTTP ----

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func pattern(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if strings.HasSuffix(p, "/oauth2/v2.0/token") {
		return r.Method + " token"
	}
	segs := strings.Split(p, "/")
	for i, sg := range segs {
		if guidRE.MatchString(sg) {
			segs[i] = "{id}"
		}
	}
	return r.Method + " " + strings.Join(segs, "/")
}

// ServeHTTP answers token and Graph requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts[pattern(r)]++
	fault, after := s.fault, s.faultAfter
	s.mu.Unlock()
	if fault != nil {
		if status, ra, ok := fault(r); ok {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			code, msg := "serviceNotAvailable", "Service unavailable."
			if status == http.StatusTooManyRequests {
				code, msg = "TooManyRequests", "Please retry again later."
			}
			writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
				"innerError": map[string]any{"code": strconv.Itoa(status), "message": "Please retry after", "date": now(), "request-id": newID()}}})
			return
		}
	}
	rec := httptest.NewRecorder()
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		s.token(rec, r)
	} else if strings.HasSuffix(r.URL.Path, "/v2.0/adminconsent") {
		s.adminConsent(rec, r)
	} else {
		s.graph(rec, r)
	}
	if after != nil {
		if status, ok := after(r); ok {
			gerr(w, status, "UnknownError", "The operation timed out.")
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// gerr writes a Graph error response.
func gerr(w http.ResponseWriter, status int, code, msg string, details ...map[string]any) {
	e := map[string]any{"code": code, "message": msg, "innerError": map[string]any{"date": now(), "request-id": newID(), "client-request-id": newID()}}
	if len(details) > 0 {
		e["details"] = details
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/"+s.TenantID+"/") && !strings.HasPrefix(r.URL.Path, "/"+s.DirectoryID+"/") {
		aadErr(w, http.StatusBadRequest, "invalid_request", 90002, "Tenant not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
		return
	}
	if err := r.ParseForm(); err != nil {
		aadErr(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		aadErr(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case r.PostForm.Get("client_id") != s.ClientID:
		aadErr(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", r.PostForm.Get("client_id"), s.TenantID))
	case r.PostForm.Get("client_secret") != s.ClientSecret:
		aadErr(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+s.ClientID+"'.")
	case !strings.HasSuffix(r.PostForm.Get("scope"), "/.default"):
		aadErr(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope "+r.PostForm.Get("scope")+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
	default:
		tok := base64.RawURLEncoding.EncodeToString(randBytes(32))
		s.mu.Lock()
		s.access[tok] = time.Now().Add(s.TokenLifetime)
		s.tokens++
		s.mu.Unlock()
		secs := int(s.TokenLifetime / time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	}
}

// adminConsent answers the admin-consent URL as Microsoft does once the
// administrator has signed in and accepted (or declined).
func (s *Server) adminConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dir := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/v2.0/adminconsent")
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case r.Method != http.MethodGet:
		methodNotAllowed(w)
		return
	case dir != "organizations" && dir != "common" && dir != s.TenantID && dir != s.DirectoryID:
		aadErr(w, http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '"+dir+"' not found.")
		return
	case q.Get("client_id") != s.ClientID:
		aadErr(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", q.Get("client_id"), s.TenantID))
		return
	case !strings.HasSuffix(q.Get("scope"), "/.default"):
		aadErr(w, http.StatusBadRequest, "invalid_request", 70011, "The provided request must include a 'scope' input parameter.")
		return
	case q.Get("redirect_uri") == "" || err != nil || !redirect.IsAbs():
		aadErr(w, http.StatusBadRequest, "invalid_request", 50011, "The redirect URI specified in the request does not match the redirect URIs configured for the application.")
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if s.ConsentError != "" {
		back.Set("error", s.ConsentError)
		back.Set("error_description", "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: "+newID())
	} else {
		back.Set("admin_consent", "True")
		back.Set("tenant", s.DirectoryID)
		back.Set("scope", q.Get("scope"))
	}
	redirect.RawQuery = back.Encode()
	w.Header().Set("Location", redirect.String())
	w.WriteHeader(http.StatusFound)
}

func aadErr(w http.ResponseWriter, status int, code string, n int, desc string) {
	writeJSON(w, status, map[string]any{
		"error": code, "error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", n, desc, newID(), newID(), now()),
		"error_codes": []int{n}, "timestamp": now(), "trace_id": newID(), "correlation_id": newID(),
		"error_uri": "https://login.microsoftonline.com/error?code=" + strconv.Itoa(n),
	})
}

func (s *Server) graph(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	exp, ok := s.access[strings.TrimPrefix(auth, "Bearer ")]
	s.mu.Unlock()
	switch {
	case !strings.HasPrefix(auth, "Bearer "):
		gerr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	case !ok || time.Now().After(exp):
		gerr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v1.0/") {
		gerr(w, http.StatusBadRequest, "BadRequest", "Invalid version.")
		return
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1.0/"), "/")
	kind := segs[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denied[kind] {
		gerr(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	if kind == "directoryObjects" && len(segs) == 2 && r.Method == http.MethodGet {
		o := s.objs[segs[1]]
		if o == nil {
			notFound(w, segs[1])
			return
		}
		writeJSON(w, http.StatusOK, withType(o, s.project(o, r.URL.Query().Get("$select"))))
		return
	}
	if _, known := schemas[kind]; !known {
		gerr(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", kind))
		return
	}
	q := r.URL.Query()
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		s.listObjects(w, r, kind, q)
	case len(segs) == 1 && r.Method == http.MethodPost && kind != "contacts":
		s.create(w, r, kind)
	case len(segs) == 2 && segs[1] == "delta" && r.Method == http.MethodGet:
		s.delta(w, kind, q)
	case len(segs) == 2:
		o := s.objs[segs[1]]
		if o == nil || o.kind != kind {
			notFound(w, segs[1])
			return
		}
		switch r.Method {
		case http.MethodGet:
			if err := s.checkSelect(kind, q.Get("$select")); err != "" {
				gerr(w, http.StatusBadRequest, "BadRequest", err)
				return
			}
			writeJSON(w, http.StatusOK, s.project(o, q.Get("$select")))
		case http.MethodPatch:
			if kind == "contacts" {
				methodNotAllowed(w)
				return
			}
			s.patch(w, r, o)
		case http.MethodDelete:
			if kind == "contacts" {
				methodNotAllowed(w)
				return
			}
			s.remove(segs[1], "changed")
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed(w)
		}
	case kind == "groups" && len(segs) >= 3 && segs[2] == "members":
		s.members(w, r, segs, q)
	default:
		methodNotAllowed(w)
	}
}

func methodNotAllowed(w http.ResponseWriter) {
	gerr(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The HTTP method is not supported for this resource.")
}

func notFound(w http.ResponseWriter, id string) {
	gerr(w, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

func withType(o *object, m map[string]any) map[string]any {
	m["@odata.type"] = odataType[o.kind]
	return m
}

func (s *Server) checkSelect(kind, sel string) string {
	if sel == "" {
		return ""
	}
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		if _, ok := schemas[kind][p]; !ok && (kind != "groups" || p != "members") {
			return fmt.Sprintf("Parsing OData Select and Expand failed: Could not find a property named '%s' on type '%s'.", p, strings.TrimPrefix(odataType[kind], "#"))
		}
	}
	return ""
}

// project returns the object's selected properties (the default set without
// $select); null for selected properties without a value, as Graph does.
func (s *Server) project(o *object, sel string) map[string]any {
	m := map[string]any{"id": o.props["id"]}
	var names []string
	if sel == "" {
		for p, d := range schemas[o.kind] {
			if d.dflt {
				names = append(names, p)
			}
		}
	} else {
		for _, p := range strings.Split(sel, ",") {
			names = append(names, strings.TrimSpace(p))
		}
	}
	for _, p := range names {
		if p == "members" {
			continue
		}
		v, ok := o.props[p]
		switch {
		case ok:
			m[p] = v
		case schemas[o.kind][p].kind == kStrings:
			m[p] = []string{}
		default:
			m[p] = nil
		}
	}
	return m
}

// filterRE is the one $filter form the fake understands: prop eq 'value'.
var filterRE = regexp.MustCompile(`^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$`)

func matcher(f string) (func(*object) bool, string) {
	if f == "" {
		return func(*object) bool { return true }, ""
	}
	m := filterRE.FindStringSubmatch(f)
	if m == nil {
		return nil, "Unsupported Query."
	}
	switch m[1] {
	case "userPrincipalName", "onPremisesImmutableId", "displayName", "mailNickname":
	default:
		return nil, "Unsupported Query."
	}
	want := strings.ReplaceAll(m[2], "''", "'")
	return func(o *object) bool {
		v, _ := o.props[m[1]].(string)
		return strings.EqualFold(v, want)
	}, ""
}

// page state carried in $skiptoken.
type pageState struct {
	Offset int    `json:"o"`
	Top    int    `json:"t"`
	Select string `json:"s,omitempty"`
	Filter string `json:"f,omitempty"`
	Since  int    `json:"since,omitempty"`
	Upto   int    `json:"upto,omitempty"`
	Group  string `json:"g,omitempty"`
}

func encState(p pageState) string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decState(s string) (pageState, bool) {
	var p pageState
	b, err := base64.RawURLEncoding.DecodeString(s)
	return p, err == nil && json.Unmarshal(b, &p) == nil
}

func top(q url.Values, def int) (int, string) {
	t := q.Get("$top")
	if t == "" {
		return def, ""
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 999 {
		return 0, fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", t)
	}
	return n, ""
}

// pageStateOf reads where a page request is: its $skiptoken, or a first
// page's $top, $select (and $filter with filter). On a bad request it
// answers Graph's error and returns false.
func pageStateOf(w http.ResponseWriter, q url.Values, filter bool) (pageState, bool) {
	if sk := q.Get("$skiptoken"); sk != "" {
		st, ok := decState(sk)
		if !ok {
			gerr(w, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
		}
		return st, ok
	}
	n, msg := top(q, 100)
	if msg != "" {
		gerr(w, http.StatusBadRequest, "Request_BadRequest", msg)
		return pageState{}, false
	}
	st := pageState{Top: n, Select: q.Get("$select")}
	if filter {
		st.Filter = q.Get("$filter")
	}
	return st, true
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, kind string, q url.Values) {
	st, ok := pageStateOf(w, q, true)
	if !ok {
		return
	}
	if msg := s.checkSelect(kind, st.Select); msg != "" {
		gerr(w, http.StatusBadRequest, "BadRequest", msg)
		return
	}
	match, msg := matcher(st.Filter)
	if msg != "" {
		gerr(w, http.StatusBadRequest, "Request_UnsupportedQuery", msg)
		return
	}
	var all []*object
	for _, o := range s.sorted(kind) {
		if match(o) {
			all = append(all, o)
		}
	}
	resp := map[string]any{"@odata.context": s.URL + "/$metadata#" + kind}
	vals := []map[string]any{}
	end := min(st.Offset+st.Top, len(all))
	for _, o := range all[min(st.Offset, len(all)):end] {
		vals = append(vals, s.project(o, st.Select))
	}
	if end < len(all) {
		st.Offset = end
		resp["@odata.nextLink"] = s.URL + "/" + kind + "?$skiptoken=" + encState(st)
	}
	resp["value"] = vals
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, segs []string, q url.Values) {
	g := s.objs[segs[1]]
	if g == nil || g.kind != "groups" {
		notFound(w, segs[1])
		return
	}
	switch {
	case len(segs) == 3 && r.Method == http.MethodGet:
		st, ok := pageStateOf(w, q, false)
		if !ok {
			return
		}
		resp := map[string]any{"@odata.context": s.URL + "/$metadata#directoryObjects"}
		vals := []map[string]any{}
		end := min(st.Offset+st.Top, len(g.members))
		for _, id := range g.members[min(st.Offset, len(g.members)):end] {
			m := map[string]any{"id": id}
			if o := s.objs[id]; o != nil {
				m["@odata.type"] = odataType[o.kind]
			}
			vals = append(vals, m)
		}
		if end < len(g.members) {
			st.Offset = end
			resp["@odata.nextLink"] = s.URL + "/groups/" + segs[1] + "/members?$skiptoken=" + encState(st)
		}
		resp["value"] = vals
		writeJSON(w, http.StatusOK, resp)
	case len(segs) == 4 && segs[3] == "$ref" && r.Method == http.MethodPost:
		var body map[string]any
		if json.NewDecoder(r.Body).Decode(&body) != nil {
			gerr(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.")
			return
		}
		ids, ok := s.checkRefs(w, g, []any{body["@odata.id"]})
		if ok {
			s.addMembers(g, ids)
			w.WriteHeader(http.StatusNoContent)
		}
	case len(segs) == 5 && segs[4] == "$ref" && r.Method == http.MethodDelete:
		i := slices.Index(g.members, segs[3])
		if i < 0 {
			notFound(w, segs[3])
			return
		}
		g.members = slices.Delete(g.members, i, i+1)
		s.logChange(change{kind: "groups", id: segs[1], delMem: segs[3]})
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w)
	}
}

// refID extracts the object id of an @odata.bind or @odata.id reference.
func refID(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	p := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
	if len(p) < 2 {
		return ""
	}
	switch p[len(p)-2] {
	case "directoryObjects", "users", "groups", "contacts":
		return p[len(p)-1]
	}
	return ""
}

// checkRefs checks member references for a group, all or nothing, and
// returns their ids; it writes Graph's error when one is refused.
func (s *Server) checkRefs(w http.ResponseWriter, g *object, refs []any) ([]string, bool) {
	if len(refs) > MaxBind {
		gerr(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("The request contains %d references for 'members'; at most %d can be added in one request.", len(refs), MaxBind))
		return nil, false
	}
	var ids []string
	for _, r := range refs {
		ref, _ := r.(string)
		id := refID(ref)
		if id == "" {
			gerr(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid object identifier '%s'.", ref))
			return nil, false
		}
		if s.objs[id] == nil {
			notFound(w, id)
			return nil, false
		}
		if slices.Contains(g.members, id) || slices.Contains(ids, id) {
			gerr(w, http.StatusBadRequest, "Request_BadRequest", "One or more added object references already exist for the following modified properties: 'members'.")
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// addMembers adds checked member ids to a stored group.
func (s *Server) addMembers(g *object, ids []string) {
	if len(ids) > 0 {
		s.bindSizes = append(s.bindSizes, len(ids))
	}
	gid := g.props["id"].(string)
	for _, id := range ids {
		g.members = append(g.members, id)
		s.logChange(change{kind: "groups", id: gid, addMem: id})
	}
}

// validate checks a POST or PATCH body; it returns the properties to set and
// writes an error when the body is refused.
func (s *Server) validate(w http.ResponseWriter, kind string, body map[string]any, self string, create bool) (map[string]any, bool) {
	res := strings.TrimPrefix(odataType[kind], "#microsoft.graph.")
	res = strings.ToUpper(res[:1]) + res[1:]
	set := map[string]any{}
	for k, v := range body {
		if k == "@odata.type" || k == "members@odata.bind" || k == "owners@odata.bind" {
			continue
		}
		if k == "passwordProfile" && kind == "users" {
			pp, _ := v.(map[string]any)
			pw, _ := pp["password"].(string)
			if !complexEnough(pw) {
				gerr(w, http.StatusBadRequest, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password.")
				return nil, false
			}
			continue
		}
		d, known := schemas[kind][k]
		switch {
		case !known:
			gerr(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
			return nil, false
		case d.readOnly:
			gerr(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
			return nil, false
		}
		good := false
		switch x := v.(type) {
		case nil:
			good = !slices.Contains(required[kind], k) && d.kind != kStrings
		case string:
			good = d.kind == kString
		case bool:
			good = d.kind == kBool
		case []any:
			good = d.kind == kStrings
			var ss []string
			for _, e := range x {
				str, isStr := e.(string)
				good = good && isStr
				ss = append(ss, str)
			}
			v = ss
		}
		if !good {
			gerr(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid value specified for property '%s' of resource '%s'.", k, res))
			return nil, false
		}
		set[k] = v
	}
	if create {
		for _, k := range required[kind] {
			if _, ok := body[k]; !ok {
				gerr(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is required when creating the resource.", k))
				return nil, false
			}
		}
	}
	if kind == "users" {
		if upn, ok := set["userPrincipalName"].(string); ok && !strings.Contains(upn, "@") {
			gerr(w, http.StatusBadRequest, "Request_BadRequest", "Property userPrincipalName is invalid.",
				map[string]any{"code": "InvalidValue", "message": "Property userPrincipalName is invalid.", "target": "userPrincipalName"})
			return nil, false
		}
		for _, p := range []string{"userPrincipalName", "onPremisesImmutableId"} {
			v, _ := set[p].(string)
			if v == "" {
				continue
			}
			for id, o := range s.objs {
				if o.kind == "users" && id != self && strings.EqualFold(fmt.Sprint(o.props[p]), v) {
					msg := "Another object with the same value for property " + p + " already exists."
					gerr(w, http.StatusBadRequest, "Request_BadRequest", msg, map[string]any{"code": "ObjectConflict", "message": msg, "target": p})
					return nil, false
				}
			}
		}
	}
	return set, true
}

// complexEnough applies the Entra ID password policy: 8 to 256 characters,
// three of lower case, upper case, digits and symbols.
func complexEnough(pw string) bool {
	if len(pw) < 8 || len(pw) > 256 {
		return false
	}
	var l, u, d, o int
	for _, c := range pw {
		switch {
		case c >= 'a' && c <= 'z':
			l = 1
		case c >= 'A' && c <= 'Z':
			u = 1
		case c >= '0' && c <= '9':
			d = 1
		default:
			o = 1
		}
	}
	return l+u+d+o >= 3
}

func setProps(o *object, set map[string]any) {
	for k, v := range set {
		if v == nil {
			delete(o.props, k)
		} else {
			o.props[k] = v
		}
	}
}

func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	d := json.NewDecoder(r.Body)
	if err := d.Decode(&body); err != nil || body == nil {
		gerr(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return nil, false
	}
	return body, true
}

func bindRefs(body map[string]any) ([]any, bool) {
	v, ok := body["members@odata.bind"]
	if !ok {
		return nil, true
	}
	refs, isList := v.([]any)
	return refs, isList
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, kind string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	set, ok := s.validate(w, kind, body, "", true)
	if !ok {
		return
	}
	refs, ok := bindRefs(body)
	if !ok {
		gerr(w, http.StatusBadRequest, "BadRequest", "members@odata.bind must be a collection of references.")
		return
	}
	id := newID()
	set["id"] = id
	o := &object{kind: kind, props: map[string]any{}}
	setProps(o, set)
	if kind == "groups" && len(refs) > 0 {
		ids, ok := s.checkRefs(w, o, refs)
		if !ok {
			return
		}
		o.members = ids
		s.bindSizes = append(s.bindSizes, len(ids))
	}
	s.insert(o)
	w.Header().Set("Location", s.URL+"/directoryObjects/"+id+"/"+strings.TrimPrefix(odataType[kind], "#"))
	resp := s.project(o, "")
	resp["@odata.context"] = s.URL + "/$metadata#" + kind + "/$entity"
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, o *object) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	set, ok := s.validate(w, o.kind, body, o.props["id"].(string), false)
	if !ok {
		return
	}
	refs, ok := bindRefs(body)
	if !ok || len(refs) > 0 && o.kind != "groups" {
		gerr(w, http.StatusBadRequest, "BadRequest", "members@odata.bind must be a collection of references on a group.")
		return
	}
	ids, ok := s.checkRefs(w, o, refs)
	if !ok {
		return
	}
	if len(set) > 0 {
		setProps(o, set)
		s.logChange(change{kind: o.kind, id: o.props["id"].(string)})
	}
	s.addMembers(o, ids)
	w.WriteHeader(http.StatusNoContent)
}

// ---- delta ----

func (s *Server) delta(w http.ResponseWriter, kind string, q url.Values) {
	var st pageState
	switch {
	case q.Get("$skiptoken") != "":
		var ok bool
		if st, ok = decState(q.Get("$skiptoken")); !ok {
			s.expired(w)
			return
		}
	case q.Get("$deltatoken") == "latest":
		if msg := s.checkSelect(kind, q.Get("$select")); msg != "" {
			gerr(w, http.StatusBadRequest, "BadRequest", msg)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + "/$metadata#" + kind,
			"@odata.deltaLink": s.deltaLink(kind, q.Get("$select")), "value": []any{}})
		return
	case q.Get("$deltatoken") != "":
		ds, ok := s.deltaToks[q.Get("$deltatoken")]
		if !ok {
			s.expired(w)
			return
		}
		st = pageState{Since: ds.seq, Upto: s.seq, Select: ds.sel, Top: s.DeltaPageSize}
	default:
		if msg := s.checkSelect(kind, q.Get("$select")); msg != "" {
			gerr(w, http.StatusBadRequest, "BadRequest", msg)
			return
		}
		st = pageState{Since: 0, Upto: s.seq, Select: q.Get("$select"), Top: s.DeltaPageSize}
	}
	entries := s.deltaEntries(kind, st)
	resp := map[string]any{"@odata.context": s.URL + "/$metadata#" + kind}
	end := min(st.Offset+st.Top, len(entries))
	page := entries[min(st.Offset, len(entries)):end]
	if end < len(entries) {
		st.Offset = end
		resp["@odata.nextLink"] = s.URL + "/" + kind + "/delta?$skiptoken=" + encState(st)
	} else {
		resp["@odata.deltaLink"] = s.deltaLinkAt(kind, st.Select, st.Upto)
	}
	if page == nil {
		page = []map[string]any{}
	}
	resp["value"] = page
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) expired(w http.ResponseWriter) {
	gerr(w, http.StatusGone, "syncStateNotFound", "The sync state generation is not found. The delta token is expired or invalid; start a new synchronization.")
}

func (s *Server) deltaLink(kind, sel string) string { return s.deltaLinkAt(kind, sel, s.seq) }

func (s *Server) deltaLinkAt(kind, sel string, seq int) string {
	tok := base64.RawURLEncoding.EncodeToString(randBytes(24))
	s.deltaToks[tok] = deltaState{seq: seq, sel: sel}
	return s.URL + "/" + kind + "/delta?$deltatoken=" + tok
}

// deltaEntries returns the delta of kind between st.Since and st.Upto: one
// entry per object, in the order of its first change.
func (s *Server) deltaEntries(kind string, st pageState) []map[string]any {
	var order []string
	type acc struct {
		removed string
		adds    []string
		dels    []string
	}
	seen := map[string]*acc{}
	for _, c := range s.log {
		if c.seq <= st.Since || c.seq > st.Upto || c.kind != kind {
			continue
		}
		a := seen[c.id]
		if a == nil {
			a = &acc{}
			seen[c.id] = a
			order = append(order, c.id)
		}
		switch {
		case c.removed != "":
			a.removed = c.removed
		case c.addMem != "":
			a.dels = slices.DeleteFunc(a.dels, func(x string) bool { return x == c.addMem })
			if !slices.Contains(a.adds, c.addMem) {
				a.adds = append(a.adds, c.addMem)
			}
		case c.delMem != "":
			a.adds = slices.DeleteFunc(a.adds, func(x string) bool { return x == c.delMem })
			if !slices.Contains(a.dels, c.delMem) {
				a.dels = append(a.dels, c.delMem)
			}
		default:
			a.removed = "" // created or restored
		}
	}
	withMembers := slices.Contains(strings.Split(st.Select, ","), "members")
	var out []map[string]any
	for _, id := range order {
		a := seen[id]
		o := s.objs[id]
		if o == nil {
			if st.Since == 0 {
				continue // an initial round lists what exists
			}
			reason := a.removed
			if reason == "" {
				reason = "deleted"
			}
			out = append(out, map[string]any{"id": id, "@removed": map[string]any{"reason": reason}})
			continue
		}
		m := s.project(o, strings.Join(slices.DeleteFunc(strings.Split(st.Select, ","), func(x string) bool { return x == "members" }), ","))
		if withMembers && (len(a.adds) > 0 || len(a.dels) > 0) {
			var md []map[string]any
			for _, x := range a.adds {
				md = append(md, map[string]any{"@odata.type": "#microsoft.graph.directoryObject", "id": x})
			}
			for _, x := range a.dels {
				md = append(md, map[string]any{"@odata.type": "#microsoft.graph.directoryObject", "id": x, "@removed": map[string]any{"reason": "deleted"}})
			}
			m["members@delta"] = md
		}
		out = append(out, m)
	}
	return out
}

// DebugDump returns the tenant as indented JSON, for test failure messages.
func (s *Server) DebugDump() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"users": s.Users(), "groups": s.Groups(), "contacts": s.Contacts()})
	return b.String()
}
