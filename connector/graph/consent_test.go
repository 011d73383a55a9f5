// The Microsoft identity platform is faked in these tests
// (internal/graphfake), because it is not reachable here: the fake replays
// the admin-consent redirect and the token endpoint as Microsoft documents
// them.
package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/graphfake"
)

// fakeBrowser follows a consent URL to the fake and returns the query of
// the redirect to the callback.
func fakeBrowser(t *testing.T, srv *graphfake.Server, consentURL string) url.Values {
	t.Helper()
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(consentURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent URL %s: %d, want a redirect", consentURL, resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Scheme+"://"+loc.Host+loc.Path != "https://console.example.net/consent/callback" {
		t.Fatalf("redirected to %s", loc)
	}
	return loc.Query()
}

// TestConsentFlow runs the whole flow against the fake: the consent URL,
// the redirect back with the directory ID, then client-credentials tokens
// for that directory through a connector configured from the result.
func TestConsentFlow(t *testing.T) {
	srv := graphfake.New(t)
	srv.AddUser(map[string]any{"userPrincipalName": "ada@fabrikam.com", "displayName": "Ada", "accountEnabled": true, "mailNickname": "ada"})
	cs := &Consent{ClientID: srv.ClientID, Authority: srv.Authority, Store: &MemoryConsentStore{}}
	ctx := context.Background()
	u, state, err := cs.URL(ctx, ConsentRequest{Tenant: "tenant-a", RedirectURI: "https://console.example.net/consent/callback"})
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	if pu.Path != "/organizations/v2.0/adminconsent" || q.Get("client_id") != srv.ClientID || q.Get("scope") != DefaultScope ||
		q.Get("redirect_uri") != "https://console.example.net/consent/callback" || q.Get("state") != state || len(state) != 43 {
		t.Errorf("consent URL %s", u)
	}
	res, err := cs.Callback(ctx, "tenant-a", fakeBrowser(t, srv, u))
	if err != nil {
		t.Fatal(err)
	}
	if res.Tenant != "tenant-a" || res.DirectoryID != srv.DirectoryID || res.Scope != DefaultScope {
		t.Errorf("result %+v, want directory %s", res, srv.DirectoryID)
	}

	// The provider's app configuration names the authority once; the
	// customer's directory comes from the consent.
	app := fakeConfig(srv)
	app.TenantID = ""
	app.TokenURL = srv.Authority + "/{tenantID}/oauth2/v2.0/token"
	c, err := New("customer", res.GraphConfig(app))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.s.tokenURL.String(); got != srv.Authority+"/"+srv.DirectoryID+"/oauth2/v2.0/token" {
		t.Errorf("token URL %s", got)
	}
	if err := c.TestConnection(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.TokensIssued() != 1 {
		t.Errorf("%d tokens issued", srv.TokensIssued())
	}

	// Declined: Microsoft's error reaches the caller, the state is spent.
	srv.ConsentError = "access_denied"
	u, _, err = cs.URL(ctx, ConsentRequest{Tenant: "tenant-a", RedirectURI: "https://console.example.net/consent/callback", Directory: srv.DirectoryID})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "/"+srv.DirectoryID+"/v2.0/adminconsent?") {
		t.Errorf("consent URL for a known directory: %s", u)
	}
	back := fakeBrowser(t, srv, u)
	_, err = cs.Callback(ctx, "tenant-a", back)
	var ce *ConsentError
	if !errors.Is(err, ErrConsentDenied) || !errors.As(err, &ce) || ce.Code != "access_denied" ||
		!strings.HasPrefix(ce.Description, "AADSTS65004") || strings.Contains(ce.Description, "Trace ID") {
		t.Errorf("declined: %v", err)
	}
	if _, err := cs.Callback(ctx, "tenant-a", back); !errors.Is(err, ErrConsentState) {
		t.Errorf("declined callback replayed: %v", err)
	}
}

// TestConsentCallback checks the callback's cases, each with a fresh
// request made at 12:00 with a 15-minute state.
func TestConsentCallback(t *testing.T) {
	const dir = "9188040d-6c67-4c5b-b112-36a304b66dad"
	const other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		directory string                          // ConsentRequest.Directory
		tenant    string                          // the tenant of the callback's session ("a" if empty)
		at        time.Duration                   // callback time after the request
		query     func(state string) url.Values   // the callback's query
		before    func(cs *Consent, q url.Values) // runs before the callback
		want      error
		wantText  string
		wantDir   string
	}{
		{name: "granted", query: granted(dir), wantDir: dir},
		{name: "granted, upper-case id and True", query: func(s string) url.Values {
			return url.Values{"admin_consent": {"TRUE"}, "tenant": {strings.ToUpper(dir)}, "state": {s}}
		}, wantDir: dir},
		{name: "granted by the directory asked", directory: dir, query: granted(dir), wantDir: dir},
		{name: "granted by a domain asked", directory: "fabrikam.onmicrosoft.com", query: granted(dir), wantDir: dir},
		{name: "just before expiry", at: 15*time.Minute - time.Second, query: granted(dir), wantDir: dir},
		{name: "missing state", query: func(string) url.Values { return granted(dir)("") }, want: ErrConsentState, wantText: "has none"},
		{name: "forged state", query: func(string) url.Values { return granted(dir)("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") },
			want: ErrConsentState, wantText: "unknown or already used"},
		{name: "replayed state", query: granted(dir), before: func(cs *Consent, q url.Values) {
			if _, err := cs.Callback(context.Background(), "a", q); err != nil {
				panic(err)
			}
		}, want: ErrConsentState, wantText: "already used"},
		{name: "expired", at: 15 * time.Minute, query: granted(dir), want: ErrConsentState, wantText: "expired at 2026-12-01T12:15:00Z"},
		{name: "another idsync tenant", tenant: "b", query: granted(dir), want: ErrConsentState, wantText: "another idsync tenant"},
		{name: "declined", query: func(s string) url.Values {
			return url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent.\r\nTrace ID: x"}, "state": {s}}
		}, want: ErrConsentDenied, wantText: "Microsoft reported access_denied: AADSTS65004: User declined to consent."},
		{name: "consent required", query: func(s string) url.Values {
			return url.Values{"error": {"consent_required"}, "error_description": {"AADSTS90094: An administrator of Contoso has not consented."}, "state": {s}}
		}, want: ErrConsentDenied, wantText: "AADSTS90094"},
		{name: "another directory than asked", directory: other, query: granted(dir), want: ErrConsentResponse,
			wantText: "asked of directory " + other + " but granted by directory " + dir},
		{name: "admin_consent missing", query: func(s string) url.Values { return url.Values{"tenant": {dir}, "state": {s}} },
			want: ErrConsentResponse, wantText: "admin_consent"},
		{name: "admin_consent False", query: func(s string) url.Values {
			return url.Values{"admin_consent": {"False"}, "tenant": {dir}, "state": {s}}
		}, want: ErrConsentResponse},
		{name: "tenant not a GUID", query: granted("contoso.com"), want: ErrConsentResponse, wantText: "not a directory (tenant) ID"},
		{name: "tenant missing", query: granted(""), want: ErrConsentResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			cs := &Consent{ClientID: "app", Store: &MemoryConsentStore{}, Now: func() time.Time { return now }}
			_, state, err := cs.URL(context.Background(), ConsentRequest{Tenant: "a", RedirectURI: "https://console.example.net/cb", Directory: tc.directory})
			if err != nil {
				t.Fatal(err)
			}
			q := tc.query(state)
			if tc.before != nil {
				tc.before(cs, q)
			}
			now = t0.Add(tc.at)
			tenant := tc.tenant
			if tenant == "" {
				tenant = "a"
			}
			res, err := cs.Callback(context.Background(), tenant, q)
			if tc.want == nil {
				if err != nil || res.DirectoryID != tc.wantDir || res.Tenant != "a" {
					t.Fatalf("got %+v, %v; want directory %s", res, err, tc.wantDir)
				}
				if _, err := cs.Callback(context.Background(), tenant, q); !errors.Is(err, ErrConsentState) {
					t.Errorf("second use of the state: %v, want ErrConsentState", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("got %+v, %v; want %v containing %q", res, err, tc.want, tc.wantText)
			}
			if state != "" && strings.Contains(err.Error(), state) {
				t.Errorf("the error repeats the state: %v", err)
			}
		})
	}
}

func granted(dir string) func(string) url.Values {
	return func(s string) url.Values {
		q := url.Values{"admin_consent": {"True"}, "tenant": {dir}}
		if s != "" {
			q.Set("state", s)
		}
		return q
	}
}

// TestConsentURL checks the URL's checks and that each state is new and
// stored only as its hash.
func TestConsentURL(t *testing.T) {
	st := &MemoryConsentStore{}
	cs := &Consent{ClientID: "app-id", Authority: "https://login.microsoftonline.us/", Store: st}
	ctx := context.Background()
	seen := map[string]bool{}
	for range 20 {
		u, state, err := cs.URL(ctx, ConsentRequest{Tenant: "t1", RedirectURI: "http://localhost:8080/cb"})
		if err != nil {
			t.Fatal(err)
		}
		if seen[state] {
			t.Fatal("a state repeated")
		}
		seen[state] = true
		if !strings.HasPrefix(u, "https://login.microsoftonline.us/organizations/v2.0/adminconsent?") {
			t.Errorf("URL %s", u)
		}
	}
	st.mu.Lock()
	for k, v := range st.m {
		if seen[k] || v.Key != k || v.Tenant != "t1" || v.Directory != ConsentOrganizations || v.RedirectURI != "http://localhost:8080/cb" {
			t.Errorf("stored %+v", v)
		}
	}
	if len(st.m) != 20 {
		t.Errorf("%d stored states", len(st.m))
	}
	st.mu.Unlock()

	for _, tc := range []struct {
		name string
		cs   Consent
		req  ConsentRequest
		want string
	}{
		{"no client", Consent{Store: st}, ConsentRequest{Tenant: "t", RedirectURI: "https://x.test/cb"}, "ClientID is required"},
		{"no store", Consent{ClientID: "a"}, ConsentRequest{Tenant: "t", RedirectURI: "https://x.test/cb"}, "Store is required"},
		{"http authority", Consent{ClientID: "a", Store: st, Authority: "http://login.test"}, ConsentRequest{Tenant: "t", RedirectURI: "https://x.test/cb"}, "want an https:// URL"},
		{"authority with a path", Consent{ClientID: "a", Store: st, Authority: "https://login.test/common"}, ConsentRequest{Tenant: "t", RedirectURI: "https://x.test/cb"}, "host only"},
		{"no tenant", Consent{ClientID: "a", Store: st}, ConsentRequest{RedirectURI: "https://x.test/cb"}, "idsync tenant is required"},
		{"no redirect", Consent{ClientID: "a", Store: st}, ConsentRequest{Tenant: "t"}, "redirect URI is required"},
		{"http redirect", Consent{ClientID: "a", Store: st}, ConsentRequest{Tenant: "t", RedirectURI: "http://console.test/cb"}, "want https"},
		{"relative redirect", Consent{ClientID: "a", Store: st}, ConsentRequest{Tenant: "t", RedirectURI: "/cb"}, "absolute URL"},
		{"bad directory", Consent{ClientID: "a", Store: st}, ConsentRequest{Tenant: "t", RedirectURI: "https://x.test/cb", Directory: "a/b"}, "directory \"a/b\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := tc.cs.URL(ctx, tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
