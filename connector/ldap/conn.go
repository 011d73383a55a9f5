package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
)

// pool holds up to size bound connections. Connections are made lazily, on
// first use: opening a connector never touches the network.
type pool struct {
	s    *settings
	name string // connector name, for messages

	mu     sync.Mutex
	idle   []*ldap.Conn
	open   int
	closed bool
	free   chan struct{} // one token per connection slot
	tlsCfg *tls.Config
}

func newPool(name string, s *settings) *pool {
	p := &pool{s: s, name: name, free: make(chan struct{}, s.Connections)}
	for range s.Connections {
		p.free <- struct{}{}
	}
	return p
}

// tlsConfig builds (once) the TLS configuration: verification on, the
// system roots plus caFile.
func (p *pool) tlsConfig() (*tls.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tlsCfg != nil {
		return p.tlsCfg, nil
	}
	cfg := &tls.Config{ServerName: p.s.u.Hostname(), MinVersion: tls.VersionTLS12}
	if p.s.CAFile != "" {
		pem, err := os.ReadFile(p.s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate", p.s.CAFile)
		}
		cfg.RootCAs = roots
	}
	if p.s.InsecureSkipVerify {
		slog.Warn("TLS certificate verification is OFF for this connector: anyone on the network path can read its password and data; use caFile instead outside a lab",
			"connector", p.name, "url", p.s.URL)
		cfg.InsecureSkipVerify = true
	}
	p.tlsCfg = cfg
	return cfg, nil
}

// dial opens and binds one connection.
func (p *pool) dial(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: min(p.s.Timeout.Duration, 15*time.Second)}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	var tc *tls.Config
	if p.s.u.Scheme == "ldaps" || p.s.StartTLS {
		var err error
		if tc, err = p.tlsConfig(); err != nil {
			return nil, err
		}
		if p.s.u.Scheme == "ldaps" {
			opts = append(opts, ldap.DialWithTLSConfig(tc))
		}
	}
	conn, err := ldap.DialURL(p.s.u.Scheme+"://"+p.s.hostport, opts...)
	if err != nil {
		return nil, p.explain(err)
	}
	conn.SetTimeout(p.s.Timeout.Duration)
	if p.s.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			_ = conn.Close()
			return nil, p.explain(fmt.Errorf("StartTLS: %w", err))
		}
	}
	if p.s.BindDN != "" {
		if _, err := conn.SimpleBind(&ldap.SimpleBindRequest{Username: p.s.BindDN, Password: p.s.Password}); err != nil {
			_ = conn.Close()
			return nil, p.explainBind(err)
		}
	}
	return conn, nil
}

// explain turns a dial error into a message that says what to do.
func (p *pool) explain(err error) error {
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	switch {
	case errors.As(err, &uae):
		return fmt.Errorf("TLS to %s: the server's certificate is signed by an authority this machine does not trust: set caFile to the CA certificate (PEM) that signed it: %w", p.s.hostport, err)
	case errors.As(err, &hne):
		return fmt.Errorf("TLS to %s: the server's certificate is not issued for %q: connect with a name the certificate carries: %w", p.s.hostport, p.s.u.Hostname(), err)
	case errors.As(err, &cie):
		return fmt.Errorf("TLS to %s: the server's certificate is invalid (expired or not for server use): %w", p.s.hostport, err)
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return fmt.Errorf("TLS to %s failed: %w", p.s.hostport, err)
	}
	return fmt.Errorf("cannot reach %s: %w", p.s.hostport, err)
}

func (p *pool) explainBind(err error) error {
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return fmt.Errorf("bind as %q failed: wrong DN or password (or the account is disabled or locked): %w", p.s.BindDN, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired), ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired):
		return fmt.Errorf("bind as %q refused: the server requires an encrypted connection for a simple bind: use an ldaps:// URL or startTLS: true: %w", p.s.BindDN, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateAuthentication):
		return fmt.Errorf("bind as %q refused: this kind of authentication is not allowed for the account: %w", p.s.BindDN, err)
	}
	return fmt.Errorf("bind as %q: %w", p.s.BindDN, p.explain(err))
}

// get returns a bound connection, dialling one when none is idle.
func (p *pool) get(ctx context.Context) (*ldap.Conn, error) {
	select {
	case <-p.free:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.free <- struct{}{}
		return nil, errors.New("connector is closed")
	}
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() {
			p.mu.Unlock()
			return c, nil
		}
		p.open--
	}
	p.mu.Unlock()
	c, err := p.dial(ctx)
	if err != nil {
		p.free <- struct{}{}
		return nil, err
	}
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	return c, nil
}

// put gives a connection back; broken ones are closed.
func (p *pool) put(c *ldap.Conn, broken bool) {
	p.mu.Lock()
	if broken || p.closed || c.IsClosing() {
		p.open--
		p.mu.Unlock()
		_ = c.Close()
	} else {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
	}
	p.free <- struct{}{}
}

func (p *pool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		_ = c.Close()
	}
	p.idle, p.open = nil, 0
	return nil
}

// transient reports whether an error is worth retrying on a fresh connection.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, code := range []uint16{ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultServerDown, ldap.LDAPResultTimeout} {
		if ldap.IsErrorWithCode(err, code) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// do runs f on a pooled connection, retrying transient failures with
// exponential backoff on a new connection. Bind and TLS failures are not
// retried: they do not heal by themselves.
func (p *pool) do(ctx context.Context, f func(*ldap.Conn) error) error {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		c, err := p.get(ctx)
		if err != nil {
			if attempt < p.s.Retries && strings.HasPrefix(err.Error(), "cannot reach") {
				if werr := connector.Sleep(ctx, backoff); werr != nil {
					return err
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			return err
		}
		err = f(c)
		broken := transient(err) || c.IsClosing()
		p.put(c, broken)
		if err == nil || !broken || attempt >= p.s.Retries {
			return err
		}
		slog.Debug("ldap: transient failure, retrying", "connector", p.name, "attempt", attempt+1, "err", err)
		if werr := connector.Sleep(ctx, backoff); werr != nil {
			return err
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
