package peers

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAPServer describes a running directory server.
type LDAPServer struct {
	URL          string // ldap://127.0.0.1:PORT (Samba: ldap://127.0.0.2:389 etc.)
	LDAPSURL     string // ldaps://… on the same address
	CAFile       string // PEM file of the CA that signed the server certificate
	BindDN       string // slapd: cn=admin,dc=example,dc=test; Samba: CN=Administrator,CN=Users,DC=contoso,DC=test
	Password     string
	BaseDN       string // slapd: dc=example,dc=test; Samba: DC=contoso,DC=test (per realm)
	TargetBaseDN string // slapd only: a second database dc=target,dc=test (empty for Samba)
	Dir          string // the server's temp dir (its log is Dir/slapd.log or Dir/samba.log)
	Realm        string // Samba only
	KDC          string // Samba only: host:port of its Kerberos KDC (the kdc service)
}

// cloudSchema is idsync's cloud directory object model as an OpenLDAP
// schema: the classes cloudUser, cloudGroup and cloudContact.
//
//go:embed cloud-schema.ldif
var cloudSchema []byte

// Slapd's fixed names.
const (
	slapdBaseDN   = "dc=example,dc=test"
	slapdTargetDN = "dc=target,dc=test"
	slapdBindDN   = "cn=admin," + slapdBaseDN
	slapdPassword = "Passw0rd!Slapd"
)

// Slapd starts a fresh OpenLDAP slapd for this test and stops it in
// t.Cleanup. It serves two mdb databases, dc=example,dc=test and
// dc=target,dc=test, each with the syncprov overlay (RFC 4533, with a
// session log so that a refreshOnly search with a cookie reports deletes)
// and the memberof overlay (groupOfNames/member → memberOf), and each holding
// its base entry with ou=people and ou=groups. cn=admin,dc=example,dc=test is
// the root DN of both. It listens on 127.0.0.1 on a free port for ldap:// and
// another for ldaps://, with a certificate for 127.0.0.1 and localhost signed
// by the CA in CAFile; StartTLS works on the ldap:// port too. Size and time
// limits are unlimited. Its log is Dir/slapd.log.
//
// Note for sync tests: memberof maintains memberOf without changing the
// member's entryCSN, so RFC 4533 sync does not report memberOf changes;
// follow the groups' member attribute instead.
func Slapd(t testing.TB) *LDAPServer {
	t.Helper()
	paths := Need(t, "slapd", "slapadd")
	slapd, slapadd := paths[0], paths[1]

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		srv, proc, err := startSlapd(t, slapd, slapadd)
		if err == nil {
			t.Cleanup(func() {
				if err := proc.stop(5 * time.Second); err != nil {
					t.Logf("stopping slapd: %v", err)
				}
			})
			return srv
		}
		lastErr = err
		// A port taken between FreePort and slapd's bind is worth another
		// try; anything else is not.
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("slapd: %v", lastErr)
	return nil
}

var errPortTaken = errors.New("port already in use")

func startSlapd(t testing.TB, slapd, slapadd string) (*LDAPServer, *serverProc, error) {
	dir := t.TempDir()
	modules, err := findDir("syncprov.la", "/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap")
	if err != nil {
		return nil, nil, fmt.Errorf("OpenLDAP modules: %w", err)
	}
	schemas, err := findDir("core.ldif", "/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
	if err != nil {
		return nil, nil, fmt.Errorf("OpenLDAP schemas: %w", err)
	}
	certs, err := writeTestCerts(filepath.Join(dir, "tls"), "127.0.0.1", "localhost")
	if err != nil {
		return nil, nil, fmt.Errorf("certificates: %w", err)
	}
	for _, sub := range []string{"slapd.d", "db1", "db2", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, nil, err
		}
	}

	// idsync's cloud directory model, so that slapd can be the cloud
	// directory target of the out-of-box rules.
	if err := os.WriteFile(filepath.Join(dir, "cloud-schema.ldif"), cloudSchema, 0o600); err != nil {
		return nil, nil, err
	}
	var config bytes.Buffer
	if err := slapdConfig.Execute(&config, map[string]any{
		"Dir":      dir,
		"Modules":  modules,
		"Schemas":  schemas,
		"TLS":      certs,
		"BindDN":   slapdBindDN,
		"Password": slapdPassword,
		"DBs": []map[string]string{
			{"N": "1", "Suffix": slapdBaseDN, "Dir": filepath.Join(dir, "db1")},
			{"N": "2", "Suffix": slapdTargetDN, "Dir": filepath.Join(dir, "db2")},
		},
	}); err != nil {
		return nil, nil, err
	}
	configLDIF := filepath.Join(dir, "config.ldif")
	if err := os.WriteFile(configLDIF, config.Bytes(), 0o600); err != nil {
		return nil, nil, err
	}
	out, err := exec.Command(slapadd, "-n0", "-F", filepath.Join(dir, "slapd.d"), "-l", configLDIF).CombinedOutput()
	if err != nil {
		return nil, nil, fmt.Errorf("slapadd -n0 %s: %w\n%s", configLDIF, err, out)
	}

	port, sport := FreePort(t), FreePort(t)
	for sport == port {
		sport = FreePort(t)
	}
	srv := &LDAPServer{
		URL:          fmt.Sprintf("ldap://127.0.0.1:%d", port),
		LDAPSURL:     fmt.Sprintf("ldaps://127.0.0.1:%d", sport),
		CAFile:       certs.CA,
		BindDN:       slapdBindDN,
		Password:     slapdPassword,
		BaseDN:       slapdBaseDN,
		TargetBaseDN: slapdTargetDN,
		Dir:          dir,
	}
	logFile := filepath.Join(dir, "slapd.log")
	// -d 0 keeps slapd in the foreground, as our child, and still prints
	// configuration and startup errors to stderr.
	proc, err := startServerProc(logFile, false, slapd, "-d", "0",
		"-F", filepath.Join(dir, "slapd.d"),
		"-h", srv.URL+"/ "+srv.LDAPSURL+"/")
	if err != nil {
		return nil, nil, err
	}
	if err := waitLDAPBind(srv.URL, nil, srv.BindDN, srv.Password, 15*time.Second, proc); err != nil {
		_ = proc.stop(time.Second)
		log := tail(logFile, 2000)
		if strings.Contains(log, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, nil, fmt.Errorf("%w\n--- %s:\n%s", err, logFile, log)
	}
	if err := addBaseEntries(srv); err != nil {
		_ = proc.stop(time.Second)
		return nil, nil, fmt.Errorf("adding base entries: %w\n--- %s:\n%s", err, logFile, tail(logFile, 2000))
	}
	return srv, proc, nil
}

// slapdConfig is the cn=config LDIF loaded with slapadd -n0.
var slapdConfig = template.Must(template.New("slapd").Parse(`dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {{.Dir}}/run/slapd.pid
olcArgsFile: {{.Dir}}/run/slapd.args
olcSizeLimit: unlimited
olcTimeLimit: unlimited
olcTLSCACertificateFile: {{.TLS.CA}}
olcTLSCertificateFile: {{.TLS.Cert}}
olcTLSCertificateKeyFile: {{.TLS.Key}}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: {{.Modules}}
olcModuleLoad: back_mdb
olcModuleLoad: syncprov
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://{{.Schemas}}/core.ldif

include: file://{{.Schemas}}/cosine.ldif

include: file://{{.Schemas}}/inetorgperson.ldif

include: file://{{.Dir}}/cloud-schema.ldif

include: file://{{.Schemas}}/nis.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited
olcTimeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: {{.BindDN}}
{{range .DBs}}
dn: olcDatabase={{"{"}}{{.N}}{{"}"}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{"{"}}{{.N}}{{"}"}}mdb
olcSuffix: {{.Suffix}}
olcDbDirectory: {{.Dir}}
olcRootDN: {{$.BindDN}}
{{- if eq .N "1"}}
olcRootPW: {{$.Password}}
{{- end}}
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcSizeLimit: unlimited
olcTimeLimit: unlimited
olcLimits: dn.exact="{{$.BindDN}}" size=unlimited time=unlimited
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcDbIndex: entryCSN eq
olcDbIndex: cn,uid,mail eq
olcDbIndex: member,uniqueMember,memberUid eq

dn: olcOverlay={0}memberof,olcDatabase={{"{"}}{{.N}}{{"}"}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay={1}syncprov,olcDatabase={{"{"}}{{.N}}{{"}"}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {1}syncprov
olcSpCheckpoint: 100 5
olcSpSessionLog: 200000
{{end}}`))

// addBaseEntries creates the base entries of both databases, each with
// ou=people and ou=groups.
func addBaseEntries(srv *LDAPServer) error {
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if err := conn.Bind(srv.BindDN, srv.Password); err != nil {
		return err
	}
	for _, base := range []string{srv.BaseDN, srv.TargetBaseDN} {
		dc := strings.TrimPrefix(strings.SplitN(base, ",", 2)[0], "dc=")
		add := ldap.NewAddRequest(base, nil)
		add.Attribute("objectClass", []string{"top", "dcObject", "organization"})
		add.Attribute("dc", []string{dc})
		add.Attribute("o", []string{dc})
		if err := conn.Add(add); err != nil {
			return fmt.Errorf("add %s: %w", base, err)
		}
		for _, ou := range []string{"people", "groups"} {
			add := ldap.NewAddRequest("ou="+ou+","+base, nil)
			add.Attribute("objectClass", []string{"top", "organizationalUnit"})
			add.Attribute("ou", []string{ou})
			if err := conn.Add(add); err != nil {
				return fmt.Errorf("add ou=%s,%s: %w", ou, base, err)
			}
		}
	}
	return nil
}

// findDir returns the first of dirs that holds file.
func findDir(file string, dirs ...string) (string, error) {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, file)); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", file, strings.Join(dirs, ", "))
}

// serverProc is a server running in the foreground as a child of the test
// binary. It is started from a goroutine locked to its OS thread, with
// Pdeathsig SIGKILL: Linux delivers the parent-death signal when the
// *thread* that forked the child exits, so the thread is kept until the
// child is reaped, and the child dies with the test binary even when no
// cleanup runs (a panic, a missing TestMain, go test's timeout kill).
type serverProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // nil unless the server was given a stdin pipe
	done  chan struct{}  // closed when the process has exited
	err   error          // Wait's result, valid after done
	once  sync.Once
}

// startServerProc starts path with args, stdout and stderr appended to
// logFile. With stdinPipe set the server's stdin is a pipe that stays open
// until stop (Samba -i exits when its stdin closes).
func startServerProc(logFile string, stdinPipe bool, path string, args ...string) (*serverProc, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &serverProc{done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout = log
	p.cmd.Stderr = log
	p.cmd.Dir = filepath.Dir(logFile)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if stdinPipe {
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			log.Close()
			return nil, err
		}
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the goroutine's thread ends with it, after the
		// child has been reaped.
		defer log.Close()
		if err := p.cmd.Start(); err != nil {
			started <- err
			p.err = err
			close(p.done)
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	return p, nil
}

// exited reports whether the process has ended.
func (p *serverProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: closes its stdin, sends SIGTERM, and SIGKILL if it
// is still running after grace.
func (p *serverProc) stop(grace time.Duration) error {
	var err error
	p.once.Do(func() {
		if p.exited() {
			return
		}
		if p.stdin != nil {
			_ = p.stdin.Close()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			err = fmt.Errorf("pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
		}
	})
	return err
}

// waitLDAPBind waits until a simple bind on url succeeds (not only a TCP
// accept), the process exits, or timeout passes.
func waitLDAPBind(url string, tlsConfig *tls.Config, bindDN, password string, timeout time.Duration, p *serverProc) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if p != nil && p.exited() {
			err := p.err
			if err == nil {
				err = errors.New("exit status 0")
			}
			return fmt.Errorf("server exited before answering on %s: %w", url, err)
		}
		lastErr = tryBind(url, tlsConfig, bindDN, password)
		if lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no successful bind as %s on %s within %s: %w", bindDN, url, timeout, lastErr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tryBind(url string, tlsConfig *tls.Config, bindDN, password string) error {
	opts := []ldap.DialOpt{ldap.DialWithDialer(&ldapDialer)}
	if tlsConfig != nil {
		opts = append(opts, ldap.DialWithTLSConfig(tlsConfig))
	}
	conn, err := ldap.DialURL(url, opts...)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	conn.SetTimeout(5 * time.Second)
	return conn.Bind(bindDN, password)
}

var ldapDialer = net.Dialer{Timeout: 2 * time.Second}

// caPool reads a PEM CA file into a pool for tls.Config.RootCAs.
func caPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return pool, nil
}
