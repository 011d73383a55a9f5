// Microsoft Graph is faked in these tests, because no Graph is runnable here.
package graph

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/idsync/idsync/connector"
)

// decoder decodes as config.Block.Decode does: strictly, and with the
// message of a YAML error only (no source excerpt).
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

func TestFactoryDefaults(t *testing.T) {
	f, err := connector.Lookup(TypeName)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := f(context.Background(), "aad", decoder(`
tenantID: contoso.onmicrosoft.com
clientID: 11111111-2222-3333-4444-555555555555
clientSecret: s3cret~value
`))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := conn.(*Connector).s
	if s.tokenURL.String() != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" ||
		s.base.String() != DefaultBaseURL || s.scope != DefaultScope || s.timeout != DefaultTimeout ||
		s.concurrency != DefaultConcurrency || s.maxRetries != DefaultMaxRetries || s.retryCap != DefaultRetryCap ||
		s.pageSize != DefaultPageSize || s.tls == nil || s.tls.InsecureSkipVerify {
		t.Errorf("defaults: %+v", s)
	}
}

func TestFactoryAllKeys(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	srvCA, err := os.ReadFile(newFakeCA(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, srvCA, 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := open(context.Background(), "aad", decoder(`
tenantID: 72f988bf-86f1-41af-91ab-2d7cd011db47
clientID: app
clientSecret: s3cret
tokenURL: https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token
baseURL: https://graph.microsoft.us/v1.0/
scope: https://graph.microsoft.us/.default
caFile: `+ca+`
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
	s := conn.(*Connector).s
	if s.base.String() != "https://graph.microsoft.us/v1.0" || s.scope != "https://graph.microsoft.us/.default" ||
		s.timeout != 10*time.Second || s.concurrency != 8 || s.maxRetries != 0 || s.retryCap != 5*time.Second || s.pageSize != 100 {
		t.Errorf("settings: %+v", s)
	}
}

func TestConfigErrors(t *testing.T) {
	base := "tenantID: contoso.onmicrosoft.com\nclientID: app\nclientSecret: s3cret\n"
	for _, tt := range []struct{ src, want string }{
		{base + "bogus: 1", "bogus"},
		{"clientID: app\nclientSecret: s3cret", "tenantID is required"},
		{"tenantID: 'not a tenant'\nclientID: app\nclientSecret: s3cret", `tenantID "not a tenant"`},
		{"tenantID: contoso.com\nclientSecret: s3cret", "clientID is required"},
		{"tenantID: contoso.com\nclientID: app", "clientSecret is required"},
		{base + "baseURL: http://graph.microsoft.com/v1.0", "https://"},
		{base + "tokenURL: http://login/token", "tokenURL"},
		{base + "baseURL: https://user:pw@graph.microsoft.com/v1.0", "credentials"},
		{base + "baseURL: https://graph.microsoft.com/v1.0?x=1", "no query"},
		{base + "scope: User.Read", "/.default"},
		{base + "concurrency: 65", "concurrency 65"},
		{base + "concurrency: -1", "concurrency -1"},
		{base + "pageSize: 1000", "1 to 999"},
		{base + "maxRetries: -1", "maxRetries -1"},
		{base + "retryCap: -1s", "retryCap"},
		{base + "timeout: soon", "invalid duration"},
		{base + "caFile: /nonexistent/ca.pem", "caFile"},
	} {
		_, err := open(context.Background(), "aad", decoder(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error with %q", tt.src, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), `graph connector "aad"`) {
			t.Errorf("%q: the error does not name the connector: %v", tt.src, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the secret: %v", tt.src, err)
		}
	}
	// A caFile without a certificate.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("nothing"), 0o600)
	if _, err := New("aad", Config{TenantID: "contoso.com", ClientID: "a", ClientSecret: "b", CAFile: bad}); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Errorf("bad caFile: %v", err)
	}
}

func TestResolvePaths(t *testing.T) {
	c := Config{CAFile: "ca.pem"}
	c.ResolvePaths("/etc/idsync")
	if c.CAFile != "/etc/idsync/ca.pem" {
		t.Errorf("caFile = %s", c.CAFile)
	}
	c = Config{CAFile: "/abs/ca.pem"}
	c.ResolvePaths("/etc/idsync")
	if c.CAFile != "/abs/ca.pem" {
		t.Errorf("caFile = %s", c.CAFile)
	}
}

func TestSchemaIsStatic(t *testing.T) {
	c, err := New("aad", Config{TenantID: "contoso.com", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Inferred {
		t.Error("the schema is declared, not inferred")
	}
	for _, w := range []struct{ typ, attr, kind string }{
		{"user", "sourceAnchor", "string"}, {"user", "accountEnabled", "boolean"}, {"user", "telephoneNumber", "string*"},
		{"user", "proxyAddresses", "string*"}, {"user", "onPremisesSamAccountName", "string"},
		{"group", "member", "reference*"}, {"group", "mailEnabled", "boolean"}, {"group", "securityEnabled", "boolean"},
		{"group", "sourceAnchor", "string"}, {"contact", "mail", "string"}, {"contact", "proxyAddresses", "string*"},
	} {
		a := s.ObjectType(w.typ).Attribute(w.attr)
		if a == nil {
			t.Errorf("%s has no %s", w.typ, w.attr)
			continue
		}
		k := a.Type.String()
		if a.MultiValued {
			k += "*"
		}
		if k != w.kind {
			t.Errorf("%s.%s is %s, want %s", w.typ, w.attr, k, w.kind)
		}
	}
}
