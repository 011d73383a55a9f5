package examples_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idsync/idsync/web"
)

// TestConsoleOIDC: examples/console-oidc synchronizes its HR file, and its
// console.oidc is what the console takes: the sign-in page offers the
// provider (whose CA file loads); the provider itself is not contacted
// (the sign-in is tested against a real one in web, TestOIDCSignIn).
func TestConsoleOIDC(t *testing.T) {
	t.Setenv("IDSYNC_OIDC_CLIENT_SECRET", "example-client-secret")
	s := openSite(t, "console-oidc")
	if n := s.cycle(); n.Adds != 2 {
		t.Errorf("the cycle exported %d adds, want the 2 HR workers", n.Adds)
	}
	if s.cfg.Console.OIDC == nil {
		t.Fatal("no console.oidc")
	}
	o, err := s.cfg.Console.OIDC.WithSecret()
	if err != nil || o.ClientSecret != "example-client-secret" || o.DisplayName != "Example SSO" {
		t.Fatalf("console.oidc: %+v, %v", o, err)
	}
	srv, err := web.New(t.Context(), web.Options{Store: s.st, Engine: s.e, Rules: s.e.Rules, OIDC: o})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Sign in with Example SSO") {
		t.Errorf("the sign-in page does not offer the provider:\n%s", body)
	}
}
