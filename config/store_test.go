package config

import (
	"strings"
	"testing"
	"time"
)

func TestStorePostgres(t *testing.T) {
	t.Setenv("IDSYNC_TEST_PGPASSWORD", "s3cr:t/pw")
	t.Setenv("IDSYNC_TEST_PGHOST", "db.example.test")
	for _, tc := range []struct {
		name, yaml, dsn, err string
	}{
		{"url with references", "store:\n  type: postgres\n  dsn: postgres://idsync:${IDSYNC_TEST_PGPASSWORD}@${IDSYNC_TEST_PGHOST}:5432/idsync?sslmode=verify-full\n",
			"postgres://idsync:s3cr%3At%2Fpw@db.example.test:5432/idsync?sslmode=verify-full", ""},
		{"key value", "store: {type: postgres, dsn: 'host=/run/postgresql dbname=idsync'}\n", "host=/run/postgresql dbname=idsync", ""},
		{"missing dsn", "store: {type: postgres}\n", "", "store.dsn is required with store.type postgres"},
		{"dsn with sqlite", "store: {dsn: 'host=x'}\n", "", "store.dsn is only for store.type postgres"},
		{"unknown type", "store: {type: mysql}\n", "", `store.type "mysql" is not supported (use sqlite or postgres)`},
		{"unset variable", "store: {type: postgres, dsn: 'postgres://u:${IDSYNC_TEST_UNSET_PW}@h/d'}\n", "", "environment variable IDSYNC_TEST_UNSET_PW is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("/etc/idsync/idsync.yaml", []byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Store.DSN != tc.dsn || c.Store.Path != "/etc/idsync/idsync.db" {
				t.Fatalf("store = %+v, want DSN %q", c.Store, tc.dsn)
			}
			if tc.name == "url with references" && DSNPassword(c.Store.DSN) != "s3cr:t/pw" {
				t.Fatalf("DSNPassword = %q", DSNPassword(c.Store.DSN))
			}
			if strings.Contains(c.Store.String(), "s3cr") {
				t.Fatalf("String() shows the password: %s", c.Store)
			}
		})
	}
}

func TestMaskDSN(t *testing.T) {
	for _, tc := range []struct{ dsn, masked, password string }{
		{"postgres://idsync:pw@db:5432/idsync?sslmode=verify-full", "postgres://idsync:xxxxx@db:5432/idsync?sslmode=verify-full", "pw"},
		{"postgresql://idsync:p%40ss@db/idsync", "postgresql://idsync:xxxxx@db/idsync", "p@ss"},
		{"postgres://idsync@db/idsync", "postgres://idsync@db/idsync", ""},
		{"host=db user=idsync password=pw sslmode=verify-full", "host=db user=idsync password=xxxxx sslmode=verify-full", "pw"},
		{"host=db password = 'p w' user=u", "host=db password = xxxxx user=u", "p w"},
		{"host=db user=u", "host=db user=u", ""},
	} {
		if got := MaskDSN(tc.dsn); got != tc.masked {
			t.Errorf("MaskDSN(%q) = %q, want %q", tc.dsn, got, tc.masked)
		}
		if got := DSNPassword(tc.dsn); got != tc.password {
			t.Errorf("DSNPassword(%q) = %q, want %q", tc.dsn, got, tc.password)
		}
	}
}

func TestHA(t *testing.T) {
	const pg = "store: {type: postgres, dsn: 'host=/run/postgresql dbname=idsync'}\n"
	for _, tc := range []struct {
		name, yaml string
		takeover   time.Duration
		err        string
	}{
		{"default", pg + "ha: {enabled: true}\n", 30 * time.Second, ""},
		{"takeoverAfter", pg + "ha: {enabled: true, takeoverAfter: 10s}\n", 10 * time.Second, ""},
		{"off", "ha: {takeoverAfter: 1m}\n", time.Minute, ""},
		{"sqlite", "ha: {enabled: true}\n", 0, "ha.enabled needs store.type postgres"},
		{"staging", pg + "stagingMode: true\nha: {enabled: true}\n", 0, "a server that never exports cannot take over"},
		{"too short", pg + "ha: {enabled: true, takeoverAfter: 1s}\n", 0, "ha.takeoverAfter must be between 3s and 10m, not 1s"},
		{"too long", pg + "ha: {takeoverAfter: 1h}\n", 0, "ha.takeoverAfter must be between 3s and 10m, not 1h0m0s"},
		{"unknown key", pg + "ha: {enable: true}\n", 0, "enable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("/etc/idsync/idsync.yaml", []byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.HA.TakeoverAfter.Duration != tc.takeover {
				t.Fatalf("takeoverAfter = %s, want %s", c.HA.TakeoverAfter, tc.takeover)
			}
		})
	}
}
