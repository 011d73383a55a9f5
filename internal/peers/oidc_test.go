package peers

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestOIDCProvider: the provider publishes its discovery document for its
// issuer (code flow, S256 PKCE, RFC 9207 iss), and its token endpoint
// refuses a client with the wrong secret.
func TestOIDCProvider(t *testing.T) {
	p := OIDC(t, OIDCOptions{RedirectURIs: []string{"http://127.0.0.1:1/login/oidc/callback"},
		Accounts: map[string]OIDCAccount{"alice": {Password: "pw", Claims: map[string]any{"groups": []string{"g"}}}}})
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") || p.ClientID == "" || len(p.ClientSecret) < 32 {
		t.Fatalf("unexpected provider %+v", p)
	}
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer        string   `json:"issuer"`
		Token         string   `json:"token_endpoint"`
		Challenges    []string `json:"code_challenge_methods_supported"`
		ResponseTypes []string `json:"response_types_supported"`
		Iss           bool     `json:"authorization_response_iss_parameter_supported"`
		Claims        []string `json:"claims_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != p.Issuer || !slices.Contains(doc.Challenges, "S256") || !slices.Contains(doc.ResponseTypes, "code") || !doc.Iss || !slices.Contains(doc.Claims, "groups") {
		t.Errorf("discovery document: %+v", doc)
	}
	req, _ := http.NewRequest(http.MethodPost, doc.Token, strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
		"redirect_uri": {"http://127.0.0.1:1/login/oidc/callback"}, "code_verifier": {strings.Repeat("v", 43)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID, "wrong")
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tr.Body.Close()
	if tr.StatusCode != http.StatusUnauthorized {
		t.Errorf("token endpoint with a wrong client secret: %s, want 401", tr.Status)
	}

	// Its sign-in form checks the password; Authorize gets to the
	// redirect with a code.
	const redirect = "http://127.0.0.1:1/login/oidc/callback"
	auth := p.Issuer + "/auth?" + url.Values{"client_id": {p.ClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {redirect}, "state": {"st-1"}, "code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}}.Encode()
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	if _, err := p.Authorize(browser(), auth, "alice", "wrong", redirect); err == nil || !strings.Contains(err.Error(), "sign-in form again") {
		t.Errorf("Authorize with a wrong password: %v, want the sign-in form shown again", err)
	}
	cb, err := p.Authorize(browser(), auth, "alice", "pw", redirect)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cb)
	if err != nil || u.Query().Get("code") == "" || u.Query().Get("state") != "st-1" || u.Query().Get("iss") != p.Issuer {
		t.Errorf("callback %q: want a code, the state and iss", cb)
	}
}

func TestNodeMajor(t *testing.T) {
	for v, want := range map[string]int{"v20.20.2\n": 20, "v18.19.0": 18, "v22.1.0": 22, "": 0, "node": 0, "vX.1": 0} {
		if got := nodeMajor(v); got != want {
			t.Errorf("nodeMajor(%q) = %d, want %d", v, got, want)
		}
	}
}
