package peers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresPair is a PostgreSQL primary and its streaming-replication
// standby, two clusters of their own on loopback, for testing what a
// database failover does: the standby replicates synchronously, so that a
// commit the primary acknowledged is on the standby too (a failover loses
// no acknowledged transaction); KillPrimary ends the primary as the loss of
// its machine would, and Promote makes the standby the new primary.
type PostgresPair struct {
	// Dir holds the clusters' data directories (primary, standby), their
	// logs (primary.log, standby.log) and their Unix sockets.
	Dir string
	// PrimaryPort and StandbyPort are the clusters' TCP ports on 127.0.0.1.
	PrimaryPort, StandbyPort int
	// User, Password and Database: a role with LOGIN and its password, and
	// a database it owns (created on the primary, replicated).
	User, Password, Database string

	bin    string // the directory of initdb, pg_ctl, pg_basebackup, postgres
	killed bool
}

// StartPostgresPair initializes a primary (initdb, as the postgres user when
// the test runs as root), starts it on a free loopback port with
// synchronous replication required (synchronous_standby_names = '*',
// synchronous_commit = on), creates a role and a database, copies the
// primary with pg_basebackup -R into the standby's directory, and starts
// the standby on a second port. It returns once the primary reports the
// standby as its synchronous one. Both are stopped, and their files
// removed, in t.Cleanup.
//
// It uses the binaries of Debian's postgresql package
// (/usr/lib/postgresql/<version>/bin, the newest version installed) or
// initdb on PATH. When they are missing the test is skipped, or fails when
// Required.
func StartPostgresPair(t testing.TB) *PostgresPair {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL pair: %v (scripts/test-all installs the postgresql package)", err)
		if Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() == 0 {
		Need(t, "runuser")
	}
	dir, err := os.MkdirTemp("", "idsync-pgpair-")
	if err != nil {
		t.Fatal(err)
	}
	p := &PostgresPair{Dir: dir, bin: bin, PrimaryPort: FreePort(t), StandbyPort: FreePort(t),
		User: "idsync_t_" + randomHex(6), Password: randomHex(16)}
	p.Database = p.User
	for p.StandbyPort == p.PrimaryPort {
		p.StandbyPort = FreePort(t)
	}
	t.Cleanup(func() {
		p.stop(p.standbyDir())
		if !p.killed {
			p.stop(p.primaryDir())
		}
		if t.Failed() {
			for _, name := range []string{"primary.log", "standby.log"} {
				t.Logf("PostgreSQL pair %s (last lines):\n%s", name, tail(filepath.Join(dir, name), 3000))
			}
		}
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		// The server refuses to run as root: the directory is postgres's.
		if err := chownToPostgres(dir); err != nil {
			t.Fatalf("PostgreSQL pair: %v", err)
		}
	}
	if err := p.start(); err != nil {
		t.Fatalf("PostgreSQL pair: %v", err)
	}
	return p
}

// DSN is the URL idsync connects with: both servers, the primary first,
// with target_session_attrs=read-write so that a connection reaches
// whichever one is the primary now. TLS is off: the servers are on
// loopback.
func (p *PostgresPair) DSN() string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write",
		p.User, p.Password, p.PrimaryPort, p.StandbyPort, p.Database)
}

// ServerDSN is the URL of one server of the pair (its port), whatever its
// role.
func (p *PostgresPair) ServerDSN(port int) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Password, port, p.Database)
}

func (p *PostgresPair) primaryDir() string { return filepath.Join(p.Dir, "primary") }
func (p *PostgresPair) standbyDir() string { return filepath.Join(p.Dir, "standby") }

// serverConf is the configuration both servers start from (the standby's
// copy is the primary's, with its own port and no synchronous standby of
// its own). fsync is off: the failures tested are a server's processes
// killed, after which the operating system still writes what they wrote.
const serverConf = `
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
port = %d
max_connections = 60
shared_buffers = 32MB
fsync = off
full_page_writes = off
wal_level = replica
max_wal_senders = 4
wal_keep_size = 64MB
hot_standby = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 500ms
synchronous_commit = on
synchronous_standby_names = '%s'
log_min_messages = warning
log_connections = off
`

const pairHBA = `local all all trust
local replication all trust
host all all 127.0.0.1/32 scram-sha-256
`

func (p *PostgresPair) start() error {
	prim, stby := p.primaryDir(), p.standbyDir()
	pwfile := filepath.Join(p.Dir, "initdb.pw")
	if err := p.writeFile(pwfile, randomHex(16)+"\n"); err != nil {
		return err
	}
	if out, err := p.run("initdb", "-D", prim, "-U", "postgres", "--pwfile", pwfile, "-A", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		hint := ""
		if strings.Contains(out, "/dev/null") {
			// Seen on some machines: initdb's post-bootstrap step redirects
			// to /dev/null as the server's user.
			hint = " (initdb writes to /dev/null as the postgres user: it must be writable by every user, mode crw-rw-rw-)"
		}
		return fmt.Errorf("initdb: %w: %s%s", err, lastLines(out, 10), hint)
	}
	_ = os.Remove(pwfile)
	// '*': any standby is the synchronous one; a commit waits until it has
	// the transaction's WAL on disk (synchronous_commit = on).
	if err := p.appendFile(filepath.Join(prim, "postgresql.conf"), fmt.Sprintf(serverConf, p.Dir, p.PrimaryPort, "*")); err != nil {
		return err
	}
	if err := p.writeFile(filepath.Join(prim, "pg_hba.conf"), pairHBA); err != nil {
		return err
	}
	if err := p.pgctl("start", prim, "primary.log"); err != nil {
		return err
	}
	// Without a standby, a commit on the primary waits: these statements
	// do not commit a transaction that writes WAL (roles and databases
	// do), so they run with synchronous_commit off.
	if out, err := p.psql(p.PrimaryPort, "SET synchronous_commit = off;\n"+
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s';\n", p.User, p.Password)+
		fmt.Sprintf("CREATE DATABASE %s OWNER %s;\n", p.Database, p.User)); err != nil {
		return fmt.Errorf("create the role and database: %w: %s", err, out)
	}
	// -R writes standby.signal and primary_conninfo (over the Unix socket).
	if out, err := p.run("pg_basebackup", "-h", p.Dir, "-p", strconv.Itoa(p.PrimaryPort), "-U", "postgres",
		"-D", stby, "-R", "-X", "stream", "-c", "fast", "--no-sync"); err != nil {
		return fmt.Errorf("pg_basebackup: %w: %s", err, lastLines(out, 10))
	}
	// The standby's own port; no synchronous standby once promoted (a
	// primary left alone would otherwise wait for one at every commit: a
	// DBA's failover tool lifts the requirement when no replica is left).
	if err := p.appendFile(filepath.Join(stby, "postgresql.conf"), fmt.Sprintf(serverConf, p.Dir, p.StandbyPort, "")); err != nil {
		return err
	}
	if err := p.pgctl("start", stby, "standby.log"); err != nil {
		return err
	}
	// Synchronous from now on: the primary names the standby "sync".
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := p.psql(p.PrimaryPort, "SELECT sync_state FROM pg_stat_replication;\n")
		if err == nil && strings.TrimSpace(out) == "sync" {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("no error")
			}
			return fmt.Errorf("the standby does not replicate synchronously after 30s (pg_stat_replication: %q, psql: %w): see %s",
				strings.TrimSpace(out), err, filepath.Join(p.Dir, "standby.log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// KillPrimary ends the primary as the loss of its machine would: SIGKILL to
// the postmaster and to every process of the cluster (its backends, WAL
// sender, checkpointer …), so that every connection to it breaks at once
// and nothing of it runs on (a fenced primary). It returns when they are
// gone.
func (p *PostgresPair) KillPrimary(t testing.TB) {
	t.Helper()
	pid, err := postmasterPID(p.primaryDir())
	if err != nil {
		t.Fatalf("PostgreSQL pair: kill the primary: %v", err)
	}
	procs := append([]int{pid}, childProcesses(pid)...)
	for _, q := range procs {
		_ = syscall.Kill(q, syscall.SIGKILL)
	}
	p.killed = true
	deadline := time.Now().Add(10 * time.Second)
	for _, q := range procs {
		for alive(q) {
			if time.Now().After(deadline) {
				t.Fatalf("PostgreSQL pair: process %d of the primary still runs 10s after SIGKILL", q)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Promote makes the standby a primary (pg_ctl promote, waiting until it
// accepts writes).
func (p *PostgresPair) Promote(t testing.TB) {
	t.Helper()
	if out, err := p.run("pg_ctl", "promote", "-w", "-t", "30", "-D", p.standbyDir()); err != nil {
		t.Fatalf("PostgreSQL pair: pg_ctl promote: %v: %s", err, lastLines(out, 10))
	}
}

// pgctl starts a cluster and waits until it accepts connections.
func (p *PostgresPair) pgctl(action, dataDir, logName string) error {
	if out, err := p.run("pg_ctl", action, "-w", "-t", "30", "-D", dataDir, "-l", filepath.Join(p.Dir, logName)); err != nil {
		return fmt.Errorf("pg_ctl %s %s: %w: %s; log: %s", action, filepath.Base(dataDir), err, lastLines(out, 5),
			tail(filepath.Join(p.Dir, logName), 2000))
	}
	return nil
}

// stop stops a cluster at once (its data is thrown away), and kills its
// processes when pg_ctl could not.
func (p *PostgresPair) stop(dataDir string) {
	pid, err := postmasterPID(dataDir)
	if err != nil {
		return // not running
	}
	if _, err := p.run("pg_ctl", "stop", "-m", "immediate", "-w", "-t", "10", "-D", dataDir); err != nil {
		for _, q := range append([]int{pid}, childProcesses(pid)...) {
			_ = syscall.Kill(q, syscall.SIGKILL)
		}
	}
}

// psql runs SQL as the postgres superuser over the pair's Unix socket and
// returns its unaligned output.
func (p *PostgresPair) psql(port int, sql string) (string, error) {
	psql, err := LookPath("psql")
	if err != nil {
		psql = filepath.Join(p.bin, "psql")
	}
	cmd := p.command(psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", p.Dir, "-p", strconv.Itoa(port), "-U", "postgres", "-d", "postgres")
	cmd.Stdin = strings.NewReader(sql) // the role's password stays off the command line
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run runs one of the server's programs (as postgres when root).
func (p *PostgresPair) run(program string, args ...string) (string, error) {
	out, err := p.command(filepath.Join(p.bin, program), args...).CombinedOutput()
	return string(out), err
}

func (p *PostgresPair) command(path string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		runuser, _ := LookPath("runuser")
		cmd = exec.Command(runuser, append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = p.Dir
	// pg_ctl's server must not be killed with the test's process group,
	// nor read the test's stdin.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func (p *PostgresPair) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		return chownToPostgres(path)
	}
	return nil
}

func (p *PostgresPair) appendFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// postgresBinDir finds the directory of PostgreSQL's server programs:
// initdb's on PATH (a link followed), or Debian's newest
// /usr/lib/postgresql/<version>/bin.
func postgresBinDir() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real // /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(debian, func(i, j int) bool { return pgVersion(debian[i]) > pgVersion(debian[j]) })
	dirs = append(dirs, debian...)
	for _, d := range dirs {
		ok := true
		for _, prog := range []string{"initdb", "pg_ctl", "pg_basebackup", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, prog)); err != nil {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", errors.New("initdb, pg_ctl, pg_basebackup and postgres are not installed (not on PATH, not in /usr/lib/postgresql/*/bin)")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// chownToPostgres gives path to the postgres user.
func chownToPostgres(path string) error {
	out, err := exec.Command("id", "-u", "postgres").Output()
	if err != nil {
		return fmt.Errorf("no postgres user (the postgresql package creates it): %w", err)
	}
	uid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("id -u postgres: %q", out)
	}
	out, err = exec.Command("id", "-g", "postgres").Output()
	if err != nil {
		return fmt.Errorf("id -g postgres: %w", err)
	}
	gid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("id -g postgres: %q", out)
	}
	return os.Chown(path, uid, gid)
}

// postmasterPID reads the postmaster's PID from its data directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("postmaster.pid of %s: %q", dataDir, line)
	}
	return pid, nil
}

// childProcesses lists the processes whose parent is pid (Linux /proc).
func childProcesses(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == pid {
			if q, err := strconv.Atoi(filepath.Base(filepath.Dir(s))); err == nil {
				out = append(out, q)
			}
		}
	}
	return out
}

// alive reports whether process pid runs (exists and is not a zombie
// waiting for its parent).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: ask the kernel
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// lastLines returns the last n lines of a program's output.
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
