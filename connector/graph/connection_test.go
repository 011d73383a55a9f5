// Microsoft Graph is faked in these tests (internal/graphfake), because no
// Graph is runnable here.
package graph

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/graphfake"
)

func newFakeCA(t *testing.T) string { return graphfake.New(t).CAFile }

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestConnection(t *testing.T) {
	srv := graphfake.New(t)
	for _, tt := range []struct {
		name  string
		mod   func(*Config)
		deny  string
		want  []string
		avoid []string
	}{
		{name: "good"},
		{name: "bad secret", mod: func(c *Config) { c.ClientSecret = "wrong-secret-value" },
			want:  []string{"refused the credentials", "AADSTS7000215", "Invalid client secret", "401 invalid_client", srv.ClientID},
			avoid: []string{"wrong-secret-value", "Trace ID"}},
		{name: "unknown app", mod: func(c *Config) { c.ClientID = "00000000-0000-0000-0000-000000000001" },
			want: []string{"refused the credentials", "AADSTS700016"}},
		{name: "token endpoint unreachable", mod: func(c *Config) { c.TokenURL = "https://" + closedAddr(t) + "/t/oauth2/v2.0/token" },
			want: []string{"cannot reach the token endpoint", "connection refused"}},
		{name: "graph unreachable", mod: func(c *Config) { c.BaseURL = "https://" + closedAddr(t) + "/v1.0" },
			want: []string{"cannot reach Microsoft Graph", "GET /users", "connection refused"}},
		{name: "no permission on users", deny: "users",
			want: []string{"may not read users", "403 Authorization_RequestDenied", "User.ReadWrite.All", "consent"}},
		{name: "no permission on groups", deny: "groups",
			want: []string{"may not read groups", "403", "Group.ReadWrite.All"}},
		{name: "no permission on contacts", deny: "contacts",
			want: []string{"may not read organizational contacts", "OrgContact.Read.All"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := srv
			if tt.deny != "" {
				srv = graphfake.New(t)
				srv.Deny(tt.deny)
			}
			c := newConn(t, srv, tt.mod)
			err := c.TestConnection(context.Background())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `graph connector "aad": `) {
				t.Errorf("the error does not name the connector: %s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			for _, a := range append(tt.avoid, srv.ClientSecret) {
				if strings.Contains(msg, a) {
					t.Errorf("error %q shows %q", msg, a)
				}
			}
			if strings.Contains(c.logs.String(), srv.ClientSecret) {
				t.Error("the log shows the secret")
			}
		})
	}
}

func TestTokenCachedAndRenewedOn401(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	ctx := context.Background()
	for range 3 {
		if err := c.TestConnection(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.TokensIssued(); n != 1 {
		t.Errorf("%d tokens issued for 3 tests, want 1 (cached)", n)
	}
	srv.RevokeTokens()
	if err := c.TestConnection(ctx); err != nil {
		t.Fatalf("after a revocation: %v", err)
	}
	if n := srv.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2 (one renewal after the 401)", n)
	}
}

func TestTLSVerified(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, func(c *Config) { c.CAFile = "" })
	err := c.TestConnection(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server with an unknown CA: %v", err)
	}
}

func TestRedirectedLinkRefused(t *testing.T) {
	srv := graphfake.New(t)
	c := newConn(t, srv, nil)
	_, err := c.cl.eachPage(context.Background(), &request{method: "GET", link: "https://evil.example.com/v1.0/users?$skiptoken=x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "not under baseURL") {
		t.Fatalf("a link to another host: %v", err)
	}
}
