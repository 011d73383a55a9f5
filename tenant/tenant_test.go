package tenant

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

func newStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is a settable time for the verification schedule.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time             { return c.now }
func (c *clock) advance(d time.Duration)    { c.now = c.now.Add(d) }
func txt(tok string) []string               { return []string{"v=spf1 -all", TXTPrefix + tok} }
func recs(kv ...string) map[string][]string { return map[string][]string{kv[0]: kv[1:]} }

// TestDomainVerificationDNS verifies domains against a real DNS server
// (dnsmasq on a loopback port), publishing and changing records by
// restarting it, with the schedule on a test clock.
func TestDomainVerificationDNS(t *testing.T) {
	dns := peers.DNS(t, nil)
	st := newStore(t)
	ctx := t.Context()
	s := New(st, Config{Resolver: dns.Addr, LookupTimeout: 3 * time.Second})
	c := &clock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	s.Now = c.Now
	for _, id := range []string{"contoso", "fabrikam"} {
		if _, err := s.AddTenant(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}

	// Added: looked up at once, not there yet.
	d, err := s.AddDomain(ctx, "contoso", "Contoso.Example.")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "contoso.example" || d.State != store.DomainPending || d.Attempts != 1 ||
		!strings.Contains(d.Reason, "no TXT record at _idsync.contoso.example") {
		t.Fatalf("after AddDomain: %+v", d)
	}
	if want := c.now.Add(30 * time.Second); !d.NextCheck.Equal(want) {
		t.Errorf("next check %v, want %v", d.NextCheck, want)
	}
	rec := s.Record(d)
	if rec.Name != "_idsync.contoso.example" || rec.Value != "idsync-verification="+d.Token || len(d.Token) < 26 {
		t.Errorf("record = %+v", rec)
	}

	// Not due yet: nothing is looked up.
	if n, err := s.CheckDue(ctx); err != nil || n != 0 {
		t.Errorf("CheckDue before the next check = %d, %v", n, err)
	}

	// The wrong token is published (copied from elsewhere): failed at once, and the reason says so.
	dns.SetTXT(recs("_idsync.contoso.example", TXTPrefix+"someothertoken"))
	c.advance(30 * time.Second)
	if n, err := s.CheckDue(ctx); err != nil || n != 1 {
		t.Fatalf("CheckDue = %d, %v", n, err)
	}
	d, _ = st.GetDomain(ctx, "contoso", "contoso.example")
	if d.State != store.DomainFailed || !strings.Contains(d.Reason, "not this domain's token") || d.Attempts != 2 || d.NextCheck != nil {
		t.Errorf("with another token published: %+v", d)
	}

	// The right record appears among others: verifying again succeeds.
	dns.SetTXT(map[string][]string{"_idsync.contoso.example": txt(d.Token)})
	c.advance(time.Minute)
	if d, err = s.Verify(ctx, "contoso", "contoso.example"); err != nil {
		t.Fatal(err)
	}
	if d.State != store.DomainVerified || d.Verified == nil || d.NextCheck != nil || d.Reason != "" {
		t.Fatalf("after publishing: %+v", d)
	}

	// Another tenant cannot claim a verified domain.
	if _, err := s.AddDomain(ctx, "fabrikam", "contoso.example"); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("fabrikam adding contoso's verified domain = %v, want ErrAlreadyExists", err)
	}

	// A domain whose record never appears fails at the deadline, with the reason.
	f, err := s.AddDomain(ctx, "fabrikam", "fabrikam.example")
	if err != nil {
		t.Fatal(err)
	}
	lookups := 1
	for i := 0; i < 100 && f.State == store.DomainPending; i++ {
		c.now = *f.NextCheck
		if _, err := s.CheckDue(ctx); err != nil {
			t.Fatal(err)
		}
		f, _ = st.GetDomain(ctx, "fabrikam", "fabrikam.example")
		lookups++
	}
	if f.State != store.DomainFailed || !strings.Contains(f.Reason, "no TXT record at _idsync.fabrikam.example") ||
		!strings.Contains(f.Reason, "verify again") {
		t.Fatalf("after the deadline: %+v", f)
	}
	// An hour of lookups, backing off to every 5 minutes: about 15, not hundreds.
	if lookups < 10 || lookups > 20 || f.Attempts != lookups {
		t.Errorf("%d lookups (attempts %d) in an hour", lookups, f.Attempts)
	}
	if n, _ := s.CheckDue(ctx); n != 0 {
		t.Errorf("a failed domain is still checked: %d", n)
	}
	// Only a verified domain becomes the tenant's domain.
	if _, err := s.UseDomain(ctx, "fabrikam", "fabrikam.example"); err == nil || !strings.Contains(err.Error(), "not verified") {
		t.Errorf("UseDomain of a failed domain = %v", err)
	}
	// Published late, verified again: a new attempt succeeds at once.
	dns.SetTXT(map[string][]string{"_idsync.contoso.example": txt(d.Token), "_idsync.fabrikam.example": txt(f.Token)})
	f, err = s.Verify(ctx, "fabrikam", "FABRIKAM.example")
	if err != nil || f.State != store.DomainVerified || f.Attempts != 1 {
		t.Fatalf("Verify after publishing = %+v, %v", f, err)
	}
	tn, err := s.UseDomain(ctx, "fabrikam", "fabrikam.example")
	if err != nil || tn.Domain != "fabrikam.example" {
		t.Fatalf("UseDomain = %+v, %v", tn, err)
	}
	if err := s.RemoveDomain(ctx, "fabrikam", "fabrikam.example"); err == nil || !strings.Contains(err.Error(), "make another verified domain") {
		t.Errorf("removing the tenant's domain in use = %v", err)
	}
	// Tenant scoping: contoso's domain is not fabrikam's to verify, use or remove.
	for name, err := range map[string]error{
		"Verify":       func() error { _, err := s.Verify(ctx, "fabrikam", "contoso.example"); return err }(),
		"UseDomain":    func() error { _, err := s.UseDomain(ctx, "fabrikam", "contoso.example"); return err }(),
		"RemoveDomain": s.RemoveDomain(ctx, "fabrikam", "contoso.example"),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of another tenant's domain = %v, want ErrNotFound", name, err)
		}
	}
}

// TestDomainLookupFailure: a resolver that does not answer is a reason on
// the domain, not an error of the run, and the domain stays pending.
func TestDomainLookupFailure(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	s := New(st, Config{Resolver: "127.0.0.1:9", LookupTimeout: 300 * time.Millisecond})
	if _, err := s.AddTenant(ctx, "contoso", "Contoso"); err != nil {
		t.Fatal(err)
	}
	d, err := s.AddDomain(ctx, "contoso", "contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.DomainPending || !strings.Contains(d.Reason, "looking up TXT _idsync.contoso.example at 127.0.0.1:9 failed") {
		t.Errorf("with an unreachable resolver: %+v", d)
	}
}

func TestLookupOutcomes(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	s := New(st, Config{})
	d := &store.Domain{Name: "contoso.example", Token: "abc"}
	for _, tc := range []struct {
		name    string
		txt     []string
		err     error
		found   bool
		contain string
	}{
		{"found", []string{"idsync-verification=abc"}, nil, true, ""},
		{"found with spaces", []string{" idsync-verification=abc "}, nil, true, ""},
		{"other token", []string{"idsync-verification=abd"}, nil, false, "holds idsync-verification=abd"},
		{"unrelated", []string{"v=spf1 -all"}, nil, false, "has no idsync-verification record"},
		{"case of the token matters", []string{"idsync-verification=ABC"}, nil, false, "not this domain's token"},
		{"nxdomain", nil, &netDNSNotFound, false, "no TXT record"},
		{"servfail", nil, errors.New("server misbehaving"), false, "failed: server misbehaving"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.lookupTXT = func(context.Context, string) ([]string, error) { return tc.txt, tc.err }
			found, _, reason := s.lookup(ctx, d)
			if found != tc.found || !strings.Contains(reason, tc.contain) {
				t.Errorf("lookup = %v, %q", found, reason)
			}
		})
	}
}

func TestNormalizeDomain(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"Contoso.COM", "contoso.com", ""},
		{"contoso.com.", "contoso.com", ""},
		{" sub.contoso.co.uk ", "sub.contoso.co.uk", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"contoso", "", "full domain name"},
		{"", "", "1 to 253"},
		{"-bad.example", "", "label \"-bad\""},
		{"bad-.example", "", "label \"bad-\""},
		{"a..example", "", "label \"\""},
		{"under_score.example", "", "label"},
		{"bücher.example", "", "xn--"},
		{strings.Repeat("a", 64) + ".example", "", "label"},
	} {
		got, err := NormalizeDomain(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, error containing %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, ok := range map[string]bool{"contoso": true, "a": true, "c-1": true, "Contoso": false, "-x": false, "x-": false, "": false, "a b": false, "../x": false, strings.Repeat("a", 64): false} {
		if err := ValidID(id); (err == nil) != ok {
			t.Errorf("ValidID(%q) = %v", id, err)
		}
	}
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"contoso.com", "A.B.", "xn--x.y", "-", "..", "a.b.c.d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizeDomain(s)
		if err != nil {
			return
		}
		if d != strings.ToLower(d) || strings.HasSuffix(d, ".") || len(d) > 253 || !strings.Contains(d, ".") {
			t.Fatalf("NormalizeDomain(%q) = %q", s, d)
		}
		if again, err := NormalizeDomain(d); err != nil || again != d {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, d, again, err)
		}
	})
}

var netDNSNotFound = net.DNSError{Err: "no such host", Name: "_idsync.contoso.example", IsNotFound: true}
