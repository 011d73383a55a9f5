package peers

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SambaOptions selects the Active Directory domain Samba serves.
type SambaOptions struct {
	Realm  string // DNS realm, default "CONTOSO.TEST"
	Domain string // NetBIOS domain, default the realm's first label ("CONTOSO")
	// Addr is the loopback address Samba listens on (ports 88, 389, 636,
	// 3268, 3269). Empty means 127.0.0.2, or the next address up (127.0.0.3, …)
	// when 127.0.0.2 is already taken by another realm of this test binary
	// or by a Samba of another idsync test binary running at the same time
	// (go test runs packages in parallel).
	Addr string
	// ExchangeSchema extends the schema the way Exchange does, so that Azure
	// AD Connect style rules can be tested: msExchRecipientTypeDetails
	// (Large-Integer), msExchRecipientDisplayType (Integer),
	// msExchMasterAccountSid (SID), mailNickname
	// and extensionAttribute1..15 (Unicode strings), all single-valued, made
	// optional attributes of the mailRecipient auxiliary class, which user,
	// contact and group carry. Only what the schema lacks is added.
	ExchangeSchema bool
	// AzureADSchema extends the schema with what a managed domain of
	// Microsoft Entra Domain Services has and a stock AD lacks:
	// msDS-AzureADMailNickname and msDS-AzureADObjectId (Unicode strings,
	// single-valued), optional attributes of mailRecipient (user, contact,
	// group). Only what the schema lacks is added.
	AzureADSchema bool
}

const (
	sambaPassword = "Passw0rd!Lab"
	sambaHost     = "DC1"
	// sambaStartTimeout bounds provisioning and start-up each; both take a
	// few seconds, but go test runs several packages at once on small CI
	// machines.
	sambaStartTimeout = 3 * time.Minute
)

// sambaServer is one shared Samba AD DC.
type sambaServer struct {
	mu       sync.Mutex // serializes start-up and schema changes
	opts     SambaOptions
	done     bool  // start was attempted
	err      error // why start failed
	skip     bool  // err is a reason to skip, not to fail
	srv      LDAPServer
	proc     *serverProc
	lock     *os.File // flock on the address, held while the server runs
	exchange bool     // the Exchange schema extension is in place
	azureAD  bool     // the AzureADSchema extension is in place
	timings  []string // how long the steps of start took
}

var sambaShared struct {
	sync.Mutex
	servers map[string]*sambaServer // by upper-case realm
	addrs   map[string]string       // loopback address → realm using it
}

// Samba returns a Samba Active Directory domain controller for the options.
// It is provisioned (samba-tool domain provision --use-rfc2307
// --dns-backend=NONE) and started once per test binary and realm, and shared
// by every test that asks for the same Realm, so tests must isolate
// themselves, e.g. each in its own OU. The server stops in StopShared (call
// it from TestMain after m.Run), and at the latest when the test binary
// exits. Simple binds work on ldap:// (ldap server require strong auth =
// no) and ldaps://, whose certificate carries Addr as an IP SAN and is
// signed by the CA in CAFile. Its log is Dir/samba.log.
//
// The first start of a realm on a machine provisions it (seconds of CPU)
// into a template in the temporary directory; later test binaries copy the
// template (IDSYNC_SAMBA_CACHE=off provisions every time). Use the URLs of
// the result, not a fixed address: with Addr empty, each realm and each
// concurrently running test binary gets its own loopback address.
func Samba(t testing.TB, o SambaOptions) *LDAPServer {
	t.Helper()
	paths := Need(t, "samba", "samba-tool")
	o, err := o.normalize()
	if err != nil {
		t.Fatalf("Samba: %v", err)
	}

	sambaShared.Lock()
	if sambaShared.servers == nil {
		sambaShared.servers = map[string]*sambaServer{}
		sambaShared.addrs = map[string]string{}
	}
	s := sambaShared.servers[o.Realm]
	if s == nil {
		s = &sambaServer{opts: o}
		sambaShared.servers[o.Realm] = s
	}
	sambaShared.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.done = true
		start := time.Now()
		s.err = s.start(paths[0], paths[1])
		var skip *skipError
		s.skip = errors.As(s.err, &skip)
		if s.err == nil {
			t.Logf("Samba %s provisioned and started on %s in %s (%s; dir %s)", o.Realm, s.srv.URL,
				time.Since(start).Round(time.Millisecond), strings.Join(s.timings, ", "), s.srv.Dir)
		}
	}
	if s.err != nil {
		if s.skip && !Required() {
			t.Skipf("Samba %s: %v", o.Realm, s.err)
		}
		t.Fatalf("Samba %s: %v", o.Realm, s.err)
	}
	if o.Domain != s.opts.Domain {
		t.Fatalf("Samba %s already runs with NetBIOS domain %s, not %s", o.Realm, s.opts.Domain, o.Domain)
	}
	if o.Addr != "" && o.Addr != s.opts.Addr {
		t.Fatalf("Samba %s already runs on %s, not %s", o.Realm, s.opts.Addr, o.Addr)
	}
	if s.proc.exited() {
		t.Fatalf("Samba %s has exited: %v\n--- %s:\n%s", o.Realm, s.proc.err, s.logFile(), tail(s.logFile(), 3000))
	}
	if o.ExchangeSchema && !s.exchange {
		start := time.Now()
		if err := extendSchema(&s.srv, exchangeAttrs()); err != nil {
			t.Fatalf("Samba %s: extending the schema: %v\n--- %s:\n%s", o.Realm, err, s.logFile(), tail(s.logFile(), 3000))
		}
		s.exchange = true
		t.Logf("Samba %s: Exchange schema extension in %s", o.Realm, time.Since(start).Round(time.Millisecond))
	}
	if o.AzureADSchema && !s.azureAD {
		start := time.Now()
		if err := extendSchema(&s.srv, azureADAttrs()); err != nil {
			t.Fatalf("Samba %s: extending the schema: %v\n--- %s:\n%s", o.Realm, err, s.logFile(), tail(s.logFile(), 3000))
		}
		s.azureAD = true
		t.Logf("Samba %s: Azure AD schema extension in %s", o.Realm, time.Since(start).Round(time.Millisecond))
	}
	srv := s.srv
	return &srv
}

// StopShared stops the shared Samba servers and removes their directories.
// Packages call it from TestMain after m.Run. A later Samba call starts a
// new server.
func StopShared() {
	sambaShared.Lock()
	servers := sambaShared.servers
	sambaShared.servers = nil
	sambaShared.addrs = nil
	sambaShared.Unlock()
	for _, s := range servers {
		s.mu.Lock()
		s.shutdown()
		s.mu.Unlock()
	}
}

func (s *sambaServer) logFile() string { return filepath.Join(s.srv.Dir, "samba.log") }

func (s *sambaServer) shutdown() {
	if s.proc != nil {
		if err := s.proc.stop(10 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "peers: stopping Samba %s: %v\n", s.opts.Realm, err)
		}
	}
	if s.lock != nil {
		s.lock.Close()
	}
	if s.srv.Dir != "" {
		os.RemoveAll(s.srv.Dir)
	}
}

// skipError is a start-up failure that skips the test unless Required.
type skipError struct{ err error }

func (e *skipError) Error() string { return e.err.Error() }
func (e *skipError) Unwrap() error { return e.err }

func (o SambaOptions) normalize() (SambaOptions, error) {
	if o.Realm == "" {
		o.Realm = "CONTOSO.TEST"
	}
	o.Realm = strings.ToUpper(o.Realm)
	labels := strings.Split(o.Realm, ".")
	if len(labels) < 2 {
		return o, fmt.Errorf("realm %q: want a DNS name such as CONTOSO.TEST", o.Realm)
	}
	for _, l := range labels {
		if l == "" {
			return o, fmt.Errorf("realm %q: empty label", o.Realm)
		}
	}
	if o.Domain == "" {
		o.Domain = labels[0]
		if len(o.Domain) > 15 {
			o.Domain = o.Domain[:15]
		}
	}
	o.Domain = strings.ToUpper(o.Domain)
	if o.Addr != "" {
		ip := net.ParseIP(o.Addr)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return o, fmt.Errorf("address %q is not an IPv4 loopback address (127.x.y.z)", o.Addr)
		}
		o.Addr = ip.String()
	}
	return o, nil
}

func (s *sambaServer) start(sambaBin, sambaTool string) (err error) {
	o := &s.opts
	removeStaleSambaDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("idsync-samba-%d-%s-", os.Getpid(), strings.ToLower(o.Realm)))
	if err != nil {
		return err
	}
	s.srv.Dir = dir
	defer func() {
		if err != nil {
			s.shutdown()
			sambaShared.Lock()
			for addr, realm := range sambaShared.addrs {
				if realm == o.Realm {
					delete(sambaShared.addrs, addr)
				}
			}
			sambaShared.Unlock()
		}
	}()

	if err := s.takeAddr(); err != nil {
		return err
	}

	baseDN := "DC=" + strings.Join(strings.Split(strings.ToLower(o.Realm), "."), ",DC=")
	s.srv = LDAPServer{
		URL:      "ldap://" + net.JoinHostPort(o.Addr, "389"),
		LDAPSURL: "ldaps://" + net.JoinHostPort(o.Addr, "636"),
		BindDN:   "CN=Administrator,CN=Users," + baseDN,
		Password: sambaPassword,
		BaseDN:   baseDN,
		Dir:      dir,
		Realm:    o.Realm,
		KDC:      net.JoinHostPort(o.Addr, "88"),
	}

	step := time.Now()
	if sambaCacheOff() {
		err = provisionSamba(sambaTool, o, dir)
		s.timings = append(s.timings, "provision "+time.Since(step).Round(time.Millisecond).String())
	} else {
		var tmpl string
		var cached bool
		tmpl, cached, err = sambaTemplate(sambaBin, sambaTool, o)
		if err == nil {
			err = copyTree(tmpl, dir)
		}
		what := "provision (then cached in " + tmpl + ")"
		if cached {
			what = "copy of the provisioned template " + tmpl
		}
		s.timings = append(s.timings, what+" "+time.Since(step).Round(time.Millisecond).String())
	}
	if err != nil {
		return err
	}

	realmLower := strings.ToLower(o.Realm)
	certs, err := writeTestCerts(filepath.Join(dir, "tls"), o.Addr,
		strings.ToLower(sambaHost)+"."+realmLower, strings.ToLower(sambaHost), realmLower)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	s.srv.CAFile = certs.CA
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	if err := os.WriteFile(conf, []byte(sambaConfig(o, dir, certs)), 0o644); err != nil {
		return err
	}

	// -i: foreground, log to stdout, and exit when stdin closes (stop
	// closes it; so does the kernel when the test binary dies). -M single:
	// one process for all services.
	logFile := s.logFile()
	step = time.Now()
	s.proc, err = startServerProc(logFile, true, sambaBin, "-i", "-M", "single", "-s", conf, "--debuglevel=1")
	if err != nil {
		return err
	}
	if err := waitLDAPBind(s.srv.URL, nil, s.srv.BindDN, s.srv.Password, sambaStartTimeout, s.proc); err != nil {
		return fmt.Errorf("%w\n--- %s:\n%s", err, logFile, tail(logFile, 3000))
	}
	pool, err := caPool(certs.CA)
	if err != nil {
		return err
	}
	if err := waitLDAPBind(s.srv.LDAPSURL, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, s.srv.BindDN, s.srv.Password, 30*time.Second, s.proc); err != nil {
		return fmt.Errorf("LDAPS: %w\n--- %s:\n%s", err, logFile, tail(logFile, 3000))
	}
	s.timings = append(s.timings, "start "+time.Since(step).Round(time.Millisecond).String())
	if o.ExchangeSchema {
		step = time.Now()
		if err := extendSchema(&s.srv, exchangeAttrs()); err != nil {
			return fmt.Errorf("extending the schema: %w\n--- %s:\n%s", err, logFile, tail(logFile, 3000))
		}
		s.exchange = true
		s.timings = append(s.timings, "schema extension "+time.Since(step).Round(time.Millisecond).String())
	}
	if o.AzureADSchema {
		step = time.Now()
		if err := extendSchema(&s.srv, azureADAttrs()); err != nil {
			return fmt.Errorf("extending the schema: %w\n--- %s:\n%s", err, logFile, tail(logFile, 3000))
		}
		s.azureAD = true
		s.timings = append(s.timings, "Azure AD schema extension "+time.Since(step).Round(time.Millisecond).String())
	}
	return nil
}

// sambaTemplateVersion changes when the way templates are provisioned
// changes, so that older cached templates are not reused.
const sambaTemplateVersion = "1"

// sambaCacheOff reports whether IDSYNC_SAMBA_CACHE=off asks to provision
// every server afresh instead of copying a cached template.
func sambaCacheOff() bool { return os.Getenv("IDSYNC_SAMBA_CACHE") == "off" }

// sambaTemplate returns a directory holding a provisioned (never started)
// domain for o's realm and NetBIOS domain, provisioning it first unless an
// earlier test binary did. Provisioning takes seconds of CPU, copying its
// result (about 35 MB) a fraction of one, and a copy is as good as a fresh
// domain: no file of it names its directory or address. Templates live in
// the temporary directory, keyed by the Samba version and the options, and
// a lock keeps test binaries running at once from provisioning the same
// template twice.
func sambaTemplate(sambaBin, sambaTool string, o *SambaOptions) (dir string, cached bool, err error) {
	version, err := exec.Command(sambaBin, "-V").Output()
	if err != nil {
		return "", false, fmt.Errorf("%s -V: %w", sambaBin, err)
	}
	key := sha256.Sum256([]byte(strings.Join([]string{sambaTemplateVersion, strings.TrimSpace(string(version)),
		o.Realm, o.Domain, sambaHost, sambaPassword}, "\n")))
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("idsync-samba-template-%s-%x", strings.ToLower(o.Realm), key[:6]))
	complete := func() bool {
		_, err := os.Stat(filepath.Join(dir, "complete"))
		return err == nil
	}
	if complete() {
		return dir, true, nil
	}
	lock, err := flockFile(dir+".lock", sambaStartTimeout)
	if err != nil {
		return "", false, fmt.Errorf("waiting for another test binary to provision %s: %w", dir, err)
	}
	defer lock.Close()
	if complete() {
		return dir, true, nil
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", false, err
	}
	if err := provisionSamba(sambaTool, o, tmp); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", false, err
	}
	return dir, false, nil
}

// provisionSamba provisions o's domain into dir.
func provisionSamba(sambaTool string, o *SambaOptions, dir string) error {
	// Provision with an empty configuration, so that nothing of the
	// machine's /etc/samba/smb.conf leaks in. The address does not end up
	// in the databases, only in smb.conf, which start rewrites.
	empty := filepath.Join(dir, "provision.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return err
	}
	provisionLog := filepath.Join(dir, "provision.log")
	ctx, cancel := context.WithTimeout(context.Background(), sambaStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sambaTool, "domain", "provision",
		"--configfile="+empty,
		"--targetdir="+dir,
		"--realm="+o.Realm,
		"--domain="+o.Domain,
		"--host-name="+sambaHost,
		"--server-role=dc",
		"--dns-backend=NONE",
		"--use-rfc2307",
		"--adminpass="+sambaPassword,
		"--option=interfaces = 127.0.0.1",
		"--option=bind interfaces only = yes",
	)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(provisionLog, out, 0o644)
	if err != nil {
		return fmt.Errorf("samba-tool domain provision: %w\n--- %s:\n%s", err, provisionLog, tailString(string(out), 3000))
	}
	return nil
}

// copyTree copies the directories and regular files under src into dst,
// keeping their modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil // sockets and the like
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sambaConfig is the whole smb.conf: only what an AD DC serving LDAP needs,
// with every path inside dir.
func sambaConfig(o *SambaOptions, dir string, certs tlsFiles) string {
	lines := []string{
		"[global]",
		"netbios name = " + sambaHost,
		"realm = " + o.Realm,
		"workgroup = " + o.Domain,
		"server role = active directory domain controller",
		// kdc: applications of a managed domain sign in with Kerberos;
		// tests check passwords idsync sets with kinit (Kinit).
		"server services = ldap, cldap, kdc",
		"interfaces = " + o.Addr,
		"bind interfaces only = yes",
		"private dir = " + filepath.Join(dir, "private"),
		"lock directory = " + dir,
		"state directory = " + filepath.Join(dir, "state"),
		"cache directory = " + filepath.Join(dir, "cache"),
		"binddns dir = " + filepath.Join(dir, "bind-dns"),
		"pid directory = " + filepath.Join(dir, "run"),
		"ncalrpc dir = " + filepath.Join(dir, "run", "ncalrpc"),
		"winbindd socket directory = " + filepath.Join(dir, "run", "winbindd"),
		"ntp signd socket directory = " + filepath.Join(dir, "run", "ntp_signd"),
		"log file = " + filepath.Join(dir, "samba.log"),
		"idmap_ldb:use rfc2307 = yes",
		"ldap server require strong auth = no",
		// A replaced password stops working at once (AD and Samba accept
		// it for NTLM and simple binds for 60 minutes by default), so
		// that tests can check that a password change took effect.
		"old password allowed period = 0",
		"tls enabled = yes",
		"tls keyfile = " + certs.Key,
		"tls certfile = " + certs.Cert,
		"tls cafile = " + certs.CA,
		"dsdb:schema update allowed = yes",
	}
	return strings.Join(lines, "\n\t") + "\n"
}

// takeAddr chooses the loopback address, locks it against other idsync test
// binaries, assigns it to lo when needed, and checks that no other process
// listens on Samba's ports there.
func (s *sambaServer) takeAddr() error {
	o := &s.opts
	lockDir := filepath.Join(os.TempDir(), "idsync-peers-locks")
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		return err
	}
	candidates := []string{o.Addr}
	if o.Addr == "" {
		candidates = nil
		for i := 2; i <= 20; i++ {
			candidates = append(candidates, fmt.Sprintf("127.0.0.%d", i))
		}
	}
	var busy []string
	for _, addr := range candidates {
		sambaShared.Lock()
		if r, ok := sambaShared.addrs[addr]; ok && r != o.Realm {
			sambaShared.Unlock()
			if o.Addr != "" {
				return fmt.Errorf("%s is already used by Samba %s of this test binary; give each realm its own Addr", addr, r)
			}
			continue
		}
		sambaShared.addrs[addr] = o.Realm
		sambaShared.Unlock()
		release := func() {
			sambaShared.Lock()
			delete(sambaShared.addrs, addr)
			sambaShared.Unlock()
		}

		lockWait := time.Duration(0)
		if o.Addr != "" {
			lockWait = sambaStartTimeout
		}
		lock, err := flockFile(filepath.Join(lockDir, "samba-"+addr+".lock"), lockWait)
		if err != nil {
			release()
			if o.Addr != "" {
				return fmt.Errorf("%s: another idsync test binary runs Samba there: %w", addr, err)
			}
			busy = append(busy, addr)
			continue
		}
		s.lock = lock
		o.Addr = addr
		if err := ensureLoopback(addr); err != nil {
			return &skipError{err}
		}
		for _, port := range []string{"88", "389", "636", "3268", "3269"} {
			l, err := net.Listen("tcp", net.JoinHostPort(addr, port))
			if err != nil {
				return fmt.Errorf("%s:%s is already in use by another process, so Samba cannot listen there "+
					"(a system slapd or samba service listening on all addresses? stop it, e.g. "+
					"`service slapd stop; service samba-ad-dc stop`): %w", addr, port, err)
			}
			_ = l.Close()
		}
		return nil
	}
	return fmt.Errorf("no free loopback address for Samba: %s are used by other idsync test binaries", strings.Join(busy, ", "))
}

// flockFile opens path and takes an exclusive flock on it, retrying for up
// to wait. The lock lasts until the file is closed or the process ends.
func flockFile(path string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("%s is locked (by pid %s): %w", path, strings.TrimSpace(string(holder)), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// ensureLoopback assigns addr to lo unless an interface has it already:
// Samba binds only to addresses of its interfaces.
func ensureLoopback(addr string) error {
	if hasAddr(addr) {
		return nil
	}
	ipBin, err := LookPath("ip")
	if err != nil {
		return fmt.Errorf("%s is not assigned to lo and cannot be added: %w (run `ip addr add %s/8 dev lo` as root)", addr, err, addr)
	}
	out, err := exec.Command(ipBin, "addr", "add", addr+"/8", "dev", "lo").CombinedOutput()
	if err != nil && !hasAddr(addr) {
		return fmt.Errorf("`ip addr add %s/8 dev lo`: %w: %s (run it as root before the tests)", addr, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func hasAddr(addr string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == addr {
			return true
		}
	}
	return false
}

// removeStaleSambaDirs removes the directories of Samba servers whose test
// binary has died without StopShared.
func removeStaleSambaDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "idsync-samba-*"))
	for _, d := range dirs {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(d), "idsync-samba-"), "-", 2)
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid == os.Getpid() || pid <= 0 {
			continue
		}
		if !processAlive(pid) {
			os.RemoveAll(d)
		}
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state …
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func tailString(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// exchangeAttr is an attribute of a schema extension (Exchange's, Azure
// AD's).
type exchangeAttr struct {
	name, cn, oid, syntax, omSyntax string
	rangeUpper                      string
}

func exchangeAttrs() []exchangeAttr {
	attrs := []exchangeAttr{
		{"msExchRecipientTypeDetails", "ms-Exch-Recipient-Type-Details", "1.2.840.113556.1.4.7000.102.50855", "2.5.5.16", "65", ""},
		{"msExchRecipientDisplayType", "ms-Exch-Recipient-Display-Type", "1.2.840.113556.1.4.7000.102.50730", "2.5.5.9", "2", ""},
		{"mailNickname", "ms-Exch-Mail-Nickname", "1.2.840.113556.1.2.447", "2.5.5.12", "64", "64"},
		// The account-forest SID of a linked mailbox (a SID, binary).
		{"msExchMasterAccountSid", "ms-Exch-Master-Account-Sid", "1.2.840.113556.1.4.7000.102.80", "2.5.5.17", "4", ""},
	}
	for i := 1; i <= 15; i++ {
		// Exchange's OIDs: 1.2.840.113556.1.2.423–432 for 1–10, .599–603 for 11–15.
		oid := 422 + i
		if i > 10 {
			oid = 588 + i
		}
		attrs = append(attrs, exchangeAttr{
			fmt.Sprintf("extensionAttribute%d", i), fmt.Sprintf("ms-Exch-Extension-Attribute-%d", i),
			fmt.Sprintf("1.2.840.113556.1.2.%d", oid), "2.5.5.12", "64", "1024",
		})
	}
	return attrs
}

// azureADAttrs are the attributes of a Microsoft Entra Domain Services
// managed domain that a stock AD schema lacks (R4.6, R4.7). Microsoft does
// not publish their attributeIDs; these are under the arc Microsoft's
// schema documentation tells organisations to derive their own OIDs from
// (1.2.840.113556.1.8000.2554), which is what an operator extending a
// domain's schema for idsync would do. Clients use the lDAPDisplayName.
func azureADAttrs() []exchangeAttr {
	const arc = "1.2.840.113556.1.8000.2554.51371.28716.4123.18207.40961.9873531.10387942."
	return []exchangeAttr{
		{"msDS-AzureADMailNickname", "ms-DS-Azure-AD-Mail-Nickname", arc + "1", "2.5.5.12", "64", "256"},
		{"msDS-AzureADObjectId", "ms-DS-Azure-AD-Object-Id", arc + "2", "2.5.5.12", "64", "256"},
	}
}

// extendSchema adds the attributes the schema lacks and makes them
// optional attributes of mailRecipient (an auxiliary class of user,
// contact and group).
func extendSchema(srv *LDAPServer, attrs []exchangeAttr) error {
	conn, err := ldap.DialURL(srv.URL, ldap.DialWithDialer(&ldapDialer))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	conn.SetTimeout(30 * time.Second)
	if err := conn.Bind(srv.BindDN, srv.Password); err != nil {
		return err
	}
	schemaDN := "CN=Schema,CN=Configuration," + srv.BaseDN

	filter := "(|"
	for _, a := range attrs {
		filter += "(lDAPDisplayName=" + a.name + ")"
	}
	filter += ")"
	res, err := conn.Search(ldap.NewSearchRequest(schemaDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
		0, 0, false, filter, []string{"lDAPDisplayName"}, nil))
	if err != nil {
		return fmt.Errorf("searching the schema: %w", err)
	}
	have := map[string]bool{}
	for _, e := range res.Entries {
		have[strings.ToLower(e.GetAttributeValue("lDAPDisplayName"))] = true
	}
	updateNow := func() error {
		mod := ldap.NewModifyRequest("", nil)
		mod.Replace("schemaUpdateNow", []string{"1"})
		if err := conn.Modify(mod); err != nil {
			return fmt.Errorf("schemaUpdateNow: %w", err)
		}
		return nil
	}
	added := false
	for _, a := range attrs {
		if have[strings.ToLower(a.name)] {
			continue
		}
		req := ldap.NewAddRequest("CN="+a.cn+","+schemaDN, nil)
		req.Attribute("objectClass", []string{"top", "attributeSchema"})
		req.Attribute("cn", []string{a.cn})
		req.Attribute("lDAPDisplayName", []string{a.name})
		req.Attribute("adminDisplayName", []string{a.cn})
		req.Attribute("attributeID", []string{a.oid})
		req.Attribute("attributeSyntax", []string{a.syntax})
		req.Attribute("oMSyntax", []string{a.omSyntax})
		req.Attribute("isSingleValued", []string{"TRUE"})
		req.Attribute("searchFlags", []string{"1"}) // indexed
		if a.rangeUpper != "" {
			req.Attribute("rangeLower", []string{"1"})
			req.Attribute("rangeUpper", []string{a.rangeUpper})
		}
		if err := conn.Add(req); err != nil {
			return fmt.Errorf("adding attribute %s: %w", a.name, err)
		}
		added = true
	}

	classDN := "CN=Mail-Recipient," + schemaDN
	res, err = conn.Search(ldap.NewSearchRequest(classDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=classSchema)", []string{"mayContain", "systemMayContain"}, nil))
	if err != nil {
		return fmt.Errorf("reading %s: %w", classDN, err)
	}
	if len(res.Entries) != 1 {
		return fmt.Errorf("reading %s: %d entries", classDN, len(res.Entries))
	}
	may := map[string]bool{}
	for _, v := range append(res.Entries[0].GetAttributeValues("mayContain"), res.Entries[0].GetAttributeValues("systemMayContain")...) {
		may[strings.ToLower(v)] = true
	}
	var missing []string
	for _, a := range attrs {
		if !may[strings.ToLower(a.name)] {
			missing = append(missing, a.name)
		}
	}
	if len(missing) > 0 {
		// Samba reloads its schema by itself after each change; the new
		// attributes can be referenced at once.
		mod := ldap.NewModifyRequest(classDN, nil)
		mod.Add("mayContain", missing)
		if err := conn.Modify(mod); err != nil {
			return fmt.Errorf("adding %v to mailRecipient's mayContain: %w", missing, err)
		}
	}
	if added || len(missing) > 0 {
		return updateNow()
	}
	return nil
}
