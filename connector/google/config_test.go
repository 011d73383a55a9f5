// Google Workspace is faked in these tests (internal/googlefake), because
// Google's services are not reachable here.
package google

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/googlefake"
)

// decoder decodes as config.Block.Decode does: strictly.
func decoder(src string) func(any) error {
	return func(v any) error {
		err := yaml.UnmarshalWithOptions([]byte(src), v, yaml.Strict())
		var ye yaml.Error
		if errors.As(err, &ye) {
			return errors.New(ye.GetMessage())
		}
		return err
	}
}

func TestFactory(t *testing.T) {
	srv := googlefake.New(t)
	f, err := connector.Lookup(TypeName)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := f(context.Background(), "gws", decoder("credentialsFile: "+srv.KeyFile+"\nsubject: admin@example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := conn.(*Connector).s
	if s.tokenURL.String() != srv.TokenURL || s.base.String() != DefaultBaseURL || s.customer != DefaultCustomer || s.domain != "" ||
		s.timeout != DefaultTimeout || s.concurrency != DefaultConcurrency || s.maxRetries != DefaultMaxRetries ||
		s.retryCap != DefaultRetryCap || s.pageSize != DefaultPageSize || s.tls == nil || s.tls.InsecureSkipVerify ||
		strings.Join(s.jwt.Scopes, " ") != strings.Join(DefaultScopes, " ") || s.jwt.Subject != "admin@example.com" || s.email != srv.ClientEmail {
		t.Errorf("defaults: %+v", s)
	}

	// Every key, the key inline (as ${GOOGLE_CREDENTIALS} gives it).
	inline, _ := json.Marshal(string(srv.KeyJSON))
	conn, err = open(context.Background(), "gws", decoder(`
credentials: `+string(inline)+`
subject: it-admin@example.com
domain: example.com
scopes: [https://www.googleapis.com/auth/admin.directory.user.readonly]
tokenURL: https://oauth2.example.test/token
baseURL: https://directory.example.test/admin/directory/v1/
caFile: `+srv.CAFile+`
timeout: 10s
concurrency: 8
maxRetries: 0
retryCap: 5s
pageSize: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s = conn.(*Connector).s
	if s.tokenURL.String() != "https://oauth2.example.test/token" || s.jwt.TokenURL != s.tokenURL.String() ||
		s.base.String() != "https://directory.example.test/admin/directory/v1" || s.customer != "" || s.domain != "example.com" ||
		s.concurrency != 8 || s.maxRetries != 0 || s.pageSize != 100 || len(s.jwt.Scopes) != 1 || s.jwt.Subject != "it-admin@example.com" {
		t.Errorf("all keys: %+v", s)
	}

	var cfg Config
	cfg.CredentialsFile, cfg.CAFile = "sa.json", "/abs/ca.pem"
	cfg.ResolvePaths("/etc/idsync")
	if cfg.CredentialsFile != "/etc/idsync/sa.json" || cfg.CAFile != "/abs/ca.pem" {
		t.Errorf("ResolvePaths: %+v", cfg)
	}
	if b, _ := json.Marshal(Config{Credentials: string(srv.KeyJSON)}); strings.Contains(string(b), "PRIVATE") {
		t.Errorf("the JSON form of the configuration shows the key: %s", b)
	}
}

func TestConfigErrors(t *testing.T) {
	srv := googlefake.New(t)
	dir := t.TempDir()
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var key map[string]string
	if err := json.Unmarshal(srv.KeyJSON, &key); err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range key {
			m[a] = b
		}
		m[k] = v
		return m
	}
	pkcs1Key := func() string {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no credentials", func(c *Config) { c.CredentialsFile = "" }, "credentialsFile (or credentials) is required"},
		{"both", func(c *Config) { c.Credentials = "{}" }, "give one of them, not both"},
		{"missing file", func(c *Config) { c.CredentialsFile = filepath.Join(dir, "none.json") }, "credentialsFile: open"},
		{"not JSON", func(c *Config) { c.CredentialsFile = ""; c.Credentials = "example-secret" }, "credentials: not JSON (a syntax error at byte 1)"},
		{"user credentials", func(c *Config) { c.CredentialsFile = write("user.json", with("type", "authorized_user")) }, `type is "authorized_user", want "service_account"`},
		{"no email", func(c *Config) { c.CredentialsFile = write("noemail.json", with("client_email", "")) }, "client_email is missing"},
		{"bad key", func(c *Config) { c.CredentialsFile = write("badkey.json", with("private_key", "MIIE")) }, "private_key is not a PEM private key"},
		{"PKCS#1 key is fine", func(c *Config) { c.CredentialsFile = write("pkcs1.json", with("private_key", pkcs1Key)) }, ""},
		{"no subject", func(c *Config) { c.Subject = "" }, "subject is required"},
		{"subject not an address", func(c *Config) { c.Subject = "Admin <admin@example.com>" }, "want the e-mail address"},
		{"customer and domain", func(c *Config) { c.Customer = "my_customer"; c.Domain = "example.com" }, "give one of them"},
		{"bad customer", func(c *Config) { c.Customer = "acme corp" }, `customer "acme corp"`},
		{"customer ID", func(c *Config) { c.Customer = "C03az79cb" }, ""},
		{"bad domain", func(c *Config) { c.Domain = "example" }, `domain "example"`},
		{"bad scope", func(c *Config) { c.Scopes = []string{"admin.directory.user.readonly"} }, "not an OAuth scope URL"},
		{"http token URL", func(c *Config) { c.TokenURL = "http://oauth2.example.test/token" }, "tokenURL \"http://oauth2.example.test/token\": want an https:// URL"},
		{"http base URL", func(c *Config) { c.BaseURL = "http://admin.example.test" }, "baseURL"},
		{"base URL with query", func(c *Config) { c.BaseURL = "https://admin.example.test/?x=1" }, "has no query"},
		{"page too big", func(c *Config) { c.PageSize = 501 }, "pageSize 501"},
		{"concurrency", func(c *Config) { c.Concurrency = 65 }, "concurrency 65"},
		{"maxRetries", func(c *Config) { n := 21; c.MaxRetries = &n }, "maxRetries 21"},
		{"timeout", func(c *Config) { c.Timeout.Duration = -1 }, "timeout must be positive"},
		{"caFile", func(c *Config) { c.CAFile = srv.KeyFile }, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fakeConfig(srv)
			tc.mod(&cfg)
			c, err := New("gws", cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "MII") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}

// TestConnection checks that each failure says what to do.
func TestConnection(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(srv *googlefake.Server, cfg *Config)
		want  []string
	}{
		{"works", nil, nil},
		{"scopes not delegated", func(srv *googlefake.Server, _ *Config) { srv.Delegate(googlefake.ScopeUserReadonly) },
			[]string{"401 unauthorized_client", "Manage domain-wide delegation", "admin.directory.group.readonly"}},
		{"unknown subject", func(_ *googlefake.Server, cfg *Config) { cfg.Subject = "nobody@example.com" },
			[]string{"400 invalid_grant: Invalid email or User ID", "subject nobody@example.com is an existing user"}},
		{"wrong key", func(srv *googlefake.Server, cfg *Config) {
			var m map[string]string
			_ = json.Unmarshal(srv.KeyJSON, &m)
			der, _ := x509.MarshalPKCS8PrivateKey(other)
			m["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
			b, _ := json.Marshal(m)
			cfg.CredentialsFile, cfg.Credentials = "", string(b)
		}, []string{"invalid_grant: Invalid JWT Signature.", "the key (id "}},
		{"subject not an administrator", func(srv *googlefake.Server, cfg *Config) {
			srv.SetAdmin("ada@example.com", false)
			cfg.Subject = "ada@example.com"
		}, []string{"may not read users", "GET /users: 403 forbidden: Not Authorized to access this resource/api", "must be an administrator"}},
		{"wrong customer", func(_ *googlefake.Server, cfg *Config) { cfg.Customer = "C0123456" },
			[]string{"GET /users: 400 badRequest", "Check customer"}},
		{"untrusted certificate", func(_ *googlefake.Server, cfg *Config) { cfg.CAFile = "" },
			[]string{"cannot reach the token endpoint", "certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := googlefake.New(t)
			c := newConn(t, srv, func(cfg *Config) {
				if tc.setup != nil {
					tc.setup(srv, cfg)
				}
			})
			err := c.TestConnection(context.Background())
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "ya29.") {
				t.Errorf("error shows a secret: %v", err)
			}
			if len(c.Waits()) > 1 {
				t.Errorf("TestConnection retried %d times", len(c.Waits()))
			}
		})
	}
}
