// Package httpretry holds what the HTTP connectors (graph, scim) share
// about retrying a request: which failures are worth another attempt, how
// long to wait, and the error that says a server could not be reached.
// Each protocol keeps its own error answers and request loop.
package httpretry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NetError is a failure to reach the server: the request never got an
// HTTP answer.
type NetError struct {
	Method, Path string // Path relative to the connector's base URL
	Err          error
	Retries      int // retries made before giving up
}

func (e *NetError) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
	if e.Retries > 0 {
		s += fmt.Sprintf(" (after %d retries)", e.Retries)
	}
	return s
}

func (e *NetError) Unwrap() error { return e.Err }

// Permanent reports transport failures that no retry mends: a certificate
// that does not verify, a host name that does not resolve.
func Permanent(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var dns *net.DNSError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &dns) && dns.IsNotFound
}

// Backoff is the wait before retry attempt+1: base doubled attempt times,
// at most limit, with jitter over its upper half.
func Backoff(base, limit time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// RetryAfter reads a Retry-After header: seconds (at most limit) or an HTTP
// date. 0 when absent or unreadable.
func RetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(limit/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// StripURL drops the *url.Error wrapper of a transport error, whose text
// repeats the whole URL (query included).
func StripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
