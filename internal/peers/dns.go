package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DNSServer is a dnsmasq serving TXT records on a loopback port: the DNS
// that tenant domain verification looks records up in. SetTXT restarts it
// with other records on the same port (as publishing, changing or removing
// a record at the tenant's DNS host would).
type DNSServer struct {
	// Addr is host:port of the server (UDP and TCP).
	Addr string

	t    testing.TB
	bin  string
	dir  string
	port int
	mu   sync.Mutex
	proc *serverProc
}

// DNS starts dnsmasq with the TXT records given (name → values); it is
// stopped when the test ends.
func DNS(t testing.TB, txt map[string][]string) *DNSServer {
	t.Helper()
	bin := Need(t, "dnsmasq")[0]
	s := &DNSServer{t: t, bin: bin, dir: t.TempDir()}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		s.port = FreePort(t)
		s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
		if err = s.start(txt); err == nil {
			t.Cleanup(s.stop)
			return s
		}
	}
	t.Fatalf("dnsmasq: %v", err)
	return nil
}

// SetTXT replaces the server's TXT records (a restart on the same port).
func (s *DNSServer) SetTXT(txt map[string][]string) {
	s.t.Helper()
	s.stop()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(txt); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("restarting dnsmasq: %v", err)
}

func (s *DNSServer) start(txt map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{"--no-daemon", "--conf-file=/dev/null", "--port=" + strconv.Itoa(s.port),
		"--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
		// Authoritative for every name: a name without records is
		// NXDOMAIN, as at a real DNS host, not REFUSED.
		"--local=/#/", "--log-queries",
		"--pid-file=" + filepath.Join(s.dir, "dnsmasq.pid")}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	names := make([]string, 0, len(txt))
	for n := range txt {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range txt[n] {
			if strings.ContainsAny(v, "\",") {
				return fmt.Errorf("TXT value %q: quotes and commas are not supported by this test server", v)
			}
			args = append(args, fmt.Sprintf("--txt-record=%s,%s", n, v))
		}
	}
	logFile := filepath.Join(s.dir, "dnsmasq.log")
	p, err := startServerProc(logFile, false, s.bin, args...)
	if err != nil {
		return err
	}
	if err := WaitTCP(s.Addr, 5*time.Second); err != nil {
		_ = p.stop(2 * time.Second)
		return fmt.Errorf("%w; log: %s", err, tail(logFile, 2000))
	}
	s.proc = p
	return nil
}

func (s *DNSServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if err := s.proc.stop(5 * time.Second); err != nil {
			s.t.Logf("stopping dnsmasq: %v", err)
		}
		s.proc = nil
	}
}
