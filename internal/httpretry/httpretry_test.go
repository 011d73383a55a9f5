package httpretry

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {" 7 ", 7 * time.Second}, {"0", 0}, {"-3", 0}, {"999999", time.Minute},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second}, {"soon", 0},
	} {
		if got := RetryAfter(tt.in, now, time.Minute); got != tt.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for attempt, full := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		for range 50 {
			if d := Backoff(time.Second, 8*time.Second, attempt); d < full/2 || d > full {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", attempt, d, full/2, full)
			}
		}
	}
}

func TestPermanentAndNetError(t *testing.T) {
	cert := &url.Error{Op: "Get", URL: "https://x/?secret=1", Err: x509.UnknownAuthorityError{}}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{cert, true},
		{&net.DNSError{Name: "nowhere.test", IsNotFound: true}, true},
		{&net.DNSError{Name: "slow.test", IsTimeout: true}, false},
		{errors.New("connection reset by peer"), false},
	} {
		if got := Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	e := &NetError{Method: "GET", Path: "/Users", Err: StripURL(cert), Retries: 2}
	if got := e.Error(); got != "GET /Users: x509: certificate signed by unknown authority (after 2 retries)" {
		t.Errorf("NetError = %q", got)
	}
	if !errors.As(fmt.Errorf("wrapped: %w", e), new(x509.UnknownAuthorityError)) {
		t.Error("NetError does not unwrap to its cause")
	}
}
