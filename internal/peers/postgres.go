package peers

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Postgres returns the DSN of a new, empty PostgreSQL database for this
// test, dropped in t.Cleanup together with its role.
//
// It uses the machine's existing PostgreSQL cluster (Debian's
// postgresql-common: pg_lsclusters, pg_ctlcluster), starting it when it is
// down; a fresh initdb into a temporary directory does not work on every
// machine (it writes to /dev/null as the postgres user). Every test gets
// its own role (LOGIN, a random password, no other privilege) and its own
// database owned by that role, both named idsync_t_<random>, created over
// the Unix socket as the postgres superuser (runuser -u postgres -- psql;
// the test must run as root or as postgres). The DSN connects over TCP to
// 127.0.0.1 with that password, which Debian's default pg_hba.conf accepts
// (host all all 127.0.0.1/32 scram-sha-256). It disables TLS: the traffic
// stays on loopback, and the cluster's certificate is Debian's self-signed
// snakeoil one, which no client could verify.
//
// When PostgreSQL is not installed the test is skipped, or fails when
// Required.
func Postgres(t testing.TB) string {
	t.Helper()
	Need(t, "pg_lsclusters", "pg_ctlcluster", "psql")
	c, err := postgresCluster()
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL: %v", err)
		if Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dsn, drop, err := c.createDB()
	if err != nil {
		t.Fatalf("PostgreSQL: create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Logf("PostgreSQL: %v", err)
		}
	})
	return dsn
}

// PostgresDB creates a database and its role as Postgres does, for a
// caller whose databases outlive one test (a TestMain lending them to its
// tests in turn); drop drops both. It returns an error, rather than
// skipping, when PostgreSQL is missing or does not start.
func PostgresDB() (dsn string, drop func() error, err error) {
	for _, p := range []string{"pg_lsclusters", "pg_ctlcluster", "psql"} {
		if _, err := LookPath(p); err != nil {
			return "", nil, fmt.Errorf("%s is not installed (scripts/test-all installs it): %w", p, err)
		}
	}
	c, err := postgresCluster()
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	if dsn, drop, err = c.createDB(); err != nil {
		return "", nil, fmt.Errorf("PostgreSQL: create test database: %w", err)
	}
	return dsn, drop, nil
}

// createDB creates a role and a database owned by it, both named
// idsync_t_<random>, and returns the DSN and the function that drops both.
func (c *pgCluster) createDB() (string, func() error, error) {
	name := "idsync_t_" + randomHex(8)
	password := randomHex(16)
	// CREATE DATABASE cannot run in a transaction block: psql runs each
	// line of its input as its own statement.
	if err := c.psql(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n",
		name, password, name, name)); err != nil {
		return "", nil, err
	}
	drop := func() error {
		if err := c.psql(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nDROP ROLE IF EXISTS %s;\n", name, name)); err != nil {
			return fmt.Errorf("drop test database %s: %w", name, err)
		}
		return nil
	}
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", name, password, c.port, name), drop, nil
}

// pgCluster is the running cluster the tests use.
type pgCluster struct {
	version, name string
	port          int
}

var (
	pgOnce    sync.Once
	pgCur     *pgCluster
	pgOnceErr error
)

// postgresCluster finds the machine's first cluster and starts it when it
// is down, once per test binary. The cluster is left running: other test
// binaries may use it at the same time.
func postgresCluster() (*pgCluster, error) {
	pgOnce.Do(func() { pgCur, pgOnceErr = findPostgresCluster() })
	return pgCur, pgOnceErr
}

func findPostgresCluster() (*pgCluster, error) {
	c, online, err := listCluster()
	if err != nil {
		return nil, err
	}
	if !online {
		ctl, err := LookPath("pg_ctlcluster")
		if err != nil {
			return nil, err
		}
		out, startErr := exec.Command(ctl, "--skip-systemctl-redirect", c.version, c.name, "start").CombinedOutput()
		// Another test binary may have started it meanwhile.
		if _, online, err = listCluster(); err != nil {
			return nil, err
		}
		if !online {
			return nil, fmt.Errorf("pg_ctlcluster %s %s start: %w: %s", c.version, c.name, startErr, bytes.TrimSpace(out))
		}
	}
	if err := WaitTCP(fmt.Sprintf("127.0.0.1:%d", c.port), 15*time.Second); err != nil {
		return nil, fmt.Errorf("cluster %s/%s: %w", c.version, c.name, err)
	}
	// The server accepts connections a moment after it listens.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.psql("SELECT 1;\n")
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster %s/%s does not answer: %w", c.version, c.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listCluster reads the first cluster of pg_lsclusters: version, name,
// port and whether it is online.
func listCluster() (*pgCluster, bool, error) {
	ls, err := LookPath("pg_lsclusters")
	if err != nil {
		return nil, false, err
	}
	out, err := exec.Command(ls, "-h").Output()
	if err != nil {
		return nil, false, fmt.Errorf("pg_lsclusters: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// Ver Cluster Port Status Owner Data-directory Log-file
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		c := &pgCluster{version: f[0], name: f[1]}
		if _, err := fmt.Sscan(f[2], &c.port); err != nil {
			return nil, false, fmt.Errorf("pg_lsclusters: port %q: %w", f[2], err)
		}
		return c, strings.HasPrefix(f[3], "online"), nil
	}
	return nil, false, fmt.Errorf("pg_lsclusters lists no cluster (create one with pg_createcluster)")
}

// psql runs SQL as the postgres superuser over the cluster's Unix socket.
func (c *pgCluster) psql(sql string) error {
	psql, err := LookPath("psql")
	if err != nil {
		return err
	}
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "--cluster", c.version + "/" + c.name, "-d", "postgres"}
	var cmd *exec.Cmd
	switch {
	case os.Geteuid() == 0:
		runuser, err := LookPath("runuser")
		if err != nil {
			return err
		}
		cmd = exec.Command(runuser, append([]string{"-u", "postgres", "--", psql}, args...)...)
	case os.Getenv("USER") == "postgres":
		cmd = exec.Command(psql, args...)
	default:
		return fmt.Errorf("creating test databases needs the postgres superuser: run the tests as root or as postgres")
	}
	// The SQL (with the test role's password) goes through stdin, not the
	// command line that other users can read.
	cmd.Stdin = strings.NewReader(sql)
	cmd.Dir = os.TempDir() // postgres may not be able to enter the test's directory
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("psql: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
