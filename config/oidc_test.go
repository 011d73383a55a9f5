package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const oidcOK = `console:
  oidc:
    issuer: https://login.example.com/tenant/v2.0
    clientId: idsync-console
    clientSecret: ${IDSYNC_TEST_OIDC_SECRET}
    redirectURL: https://idsync.example.com/login/oidc/callback
    caFile: ca.pem
    roles:
      admin: [idsync-admins]
      browse: [helpdesk, auditors]
`

func TestConsoleOIDC(t *testing.T) {
	t.Setenv("IDSYNC_TEST_OIDC_SECRET", "s3cret-from-env")
	c, err := Parse(filepath.Join("/etc/idsync", "idsync.yaml"), []byte(oidcOK))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Console.OIDC
	if o == nil {
		t.Fatal("console.oidc not loaded")
	}
	if o.ClientSecret != "${IDSYNC_TEST_OIDC_SECRET}" {
		t.Errorf("clientSecret = %q, want the reference as written (read by idsync serve only)", o.ClientSecret)
	}
	ws, err := o.WithSecret()
	if err != nil || ws.ClientSecret != "s3cret-from-env" || o.ClientSecret != "${IDSYNC_TEST_OIDC_SECRET}" {
		t.Errorf("WithSecret: %v, %v; want a copy with the environment variable's value", ws, err)
	}
	for _, tc := range []struct{ value, want string }{
		{"${IDSYNC_TEST_OIDC_UNSET}", "console.oidc.clientSecret: environment variable IDSYNC_TEST_OIDC_UNSET is not set"},
		{"${IDSYNC_TEST_OIDC_EMPTY}", "console.oidc.clientSecret: the environment variable is empty"},
	} {
		t.Setenv("IDSYNC_TEST_OIDC_EMPTY", "")
		if _, err := (&ConsoleOIDC{ClientSecret: tc.value}).WithSecret(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WithSecret of %s: %v, want %q", tc.value, err, tc.want)
		}
	}
	if ws, err := (&ConsoleOIDC{ClientSecret: "written-in-the-file"}).WithSecret(); err != nil || ws.ClientSecret != "written-in-the-file" {
		t.Errorf("WithSecret of a plain value: %v, %v", ws, err)
	}
	if !slices.Equal(o.Scopes, []string{"openid", "profile"}) || o.UsernameClaim != "preferred_username" || o.RolesClaim != "groups" {
		t.Errorf("defaults: scopes %q, usernameClaim %q, rolesClaim %q", o.Scopes, o.UsernameClaim, o.RolesClaim)
	}
	if o.DisplayName != "login.example.com" {
		t.Errorf("displayName = %q, want the issuer's host", o.DisplayName)
	}
	if o.CAFile != "/etc/idsync/ca.pem" {
		t.Errorf("caFile = %q, want it resolved against the configuration's directory", o.CAFile)
	}

	none, err := Parse("c.yaml", nil)
	if err != nil || none.Console.OIDC != nil {
		t.Errorf("no console block: %+v, %v", none.Console, err)
	}
}

func TestConsoleOIDCErrors(t *testing.T) {
	const secret = "Zq9-client-secret-value"
	t.Setenv("IDSYNC_TEST_OIDC_SECRET", secret)
	base := "    issuer: https://login.example.com\n    clientId: c\n    clientSecret: ${IDSYNC_TEST_OIDC_SECRET}\n    redirectURL: https://idsync.example.com/login/oidc/callback\n"
	roles := "    roles: {admin: [a]}\n"
	for _, tc := range []struct{ name, body, want string }{
		{"no issuer", strings.Replace(base, "https://login.example.com", "", 1) + roles, "console.oidc.issuer is required"},
		{"http issuer", strings.Replace(base, "https://login.example.com", "http://login.example.com", 1) + roles, "plain http only on a loopback address"},
		{"issuer with query", strings.Replace(base, "https://login.example.com", "https://login.example.com/?x=1", 1) + roles, "without query or fragment"},
		{"no client", strings.Replace(base, "clientId: c", "clientId: ''", 1) + roles, "console.oidc.clientId is required"},
		{"no secret", strings.Replace(base, "${IDSYNC_TEST_OIDC_SECRET}", "''", 1) + roles, "console.oidc.clientSecret is required"},
		{"redirect path", strings.Replace(base, "/login/oidc/callback", "/callback", 1) + roles, "must end in /login/oidc/callback"},
		{"http redirect", strings.Replace(base, "https://idsync.example.com", "http://idsync.example.com", 1) + roles, "plain http only on a loopback address"},
		{"no redirect", strings.Replace(base, "https://idsync.example.com/login/oidc/callback", "''", 1) + roles, "console.oidc.redirectURL is required"},
		{"no openid scope", base + roles + "    scopes: [profile, groups]\n", "must include openid"},
		{"no roles", base, "map at least one value of the groups claim"},
		{"unknown role", base + "    roles: {superuser: [a], admin: [b]}\n", "console.oidc.roles.superuser: not a role"},
		{"empty value", base + "    roles: {admin: ['']}\n", "console.oidc.roles.admin: an empty value"},
		{"value twice", base + "    roles: {admin: [a], browse: [a]}\n", `"a" is listed under admin and browse`},
		{"unknown key", base + roles + "    groupsClaim: groups\n", "c.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte("console:\n  oidc:\n"+tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the client secret: %v", err)
			}
		})
	}
	// Loopback providers and consoles may speak plain http (tests, a
	// provider on the same host).
	for _, host := range []string{"127.0.0.1:5556", "localhost:5556", "[::1]:5556"} {
		body := strings.NewReplacer("https://login.example.com", "http://"+host, "https://idsync.example.com", "http://"+host).Replace(base) + roles
		if _, err := Parse("c.yaml", []byte("console:\n  oidc:\n"+body)); err != nil {
			t.Errorf("http on %s: %v", host, err)
		}
	}
}
