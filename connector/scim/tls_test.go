package scim

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/peers"
)

// TestSCIMTLS fronts the server with HTTPS: the certificate is verified
// unless insecureSkipVerify is set; caFile adds a trusted CA.
func TestSCIMTLS(t *testing.T) {
	backend := peers.SCIM(t)
	u, _ := url.Parse(backend.URL)
	u.Path = ""
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(u))
	front.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	front.StartTLS()
	defer front.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := &peers.SCIMServer{URL: front.URL + "/scim/v2", Token: backend.Token}
	for _, tt := range []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"verified by default", nil, "certificate"},
		{"caFile", func(c *Config) { c.CAFile = ca }, ""},
		{"insecureSkipVerify", func(c *Config) { c.InsecureSkipVerify = true }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(t, srv, tt.mod)
			ct := count(c)
			err := c.TestConnection(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "caFile") {
				t.Fatalf("got %v", err)
			}
			if n := ct.get("GET /ServiceProviderConfig"); n != 1 {
				t.Errorf("a certificate error was retried: %d attempts", n)
			}
		})
	}
}
