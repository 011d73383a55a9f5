package peers

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// TestPostgres checks that the DSN reaches a database of its own over
// loopback TCP with its password, that the role cannot create databases,
// and that a wrong password is refused.
func TestPostgres(t *testing.T) {
	dsn := Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" || u.User.Username() == "" || strings.TrimPrefix(u.Path, "/") != u.User.Username() {
		t.Fatalf("unexpected DSN %s", u.Redacted())
	}
	psql := Need(t, "psql")[0]
	query := func(dsn, sql string) (string, error) {
		out, err := exec.Command(psql, "-X", "-At", "-d", dsn, "-c", sql).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	got, err := query(dsn, "SELECT current_user || ' ' || current_database() || ' ' || host(inet_server_addr())")
	if err != nil {
		t.Fatalf("psql over TCP: %v: %s", err, got)
	}
	want := u.User.Username() + " " + u.User.Username() + " 127.0.0.1"
	if got != want {
		t.Fatalf("connected as %q, want %q", got, want)
	}
	if out, err := query(dsn, "CREATE DATABASE idsync_t_other"); err == nil {
		t.Fatalf("the test role created a database: %s", out)
	}
	bad := *u
	bad.User = url.UserPassword(u.User.Username(), "wrong")
	if out, err := query(bad.String(), "SELECT 1"); err == nil || !strings.Contains(out, "password authentication failed") {
		t.Fatalf("a wrong password: %v: %s", err, out)
	}
	// A second database is another one.
	if other := Postgres(t); other == dsn {
		t.Fatal("two tests got the same database")
	}
}

// TestPostgresDB checks that PostgresDB's database answers over its DSN
// and that drop removes it and its role.
func TestPostgresDB(t *testing.T) {
	psql := Need(t, "psql")[0]
	dsn, drop, err := PostgresDB()
	if err != nil {
		if Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	query := func(sql string) (string, error) {
		out, err := exec.Command(psql, "-X", "-At", "-d", dsn, "-c", sql).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if got, err := query("SELECT current_user = current_database()"); err != nil || got != "t" {
		t.Fatalf("psql: %v: %s", err, got)
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	if out, err := query("SELECT 1"); err == nil {
		t.Fatalf("the dropped database still answers: %s", out)
	}
}
