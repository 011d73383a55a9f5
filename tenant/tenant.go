package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/idsync/idsync/store"
)

// Config is how domains are verified.
type Config struct {
	// Resolver is the DNS server (host:port) TXT records are looked up
	// at; "" uses the system's resolver.
	Resolver string
	// RecordName is the label under the domain that holds the TXT record
	// (default "_idsync": _idsync.contoso.example).
	RecordName string
	// VerifyFor is how long a new attempt keeps looking before the domain
	// fails (default one hour).
	VerifyFor time.Duration
	// LookupTimeout bounds one lookup (default 10 s).
	LookupTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultRecordName    = "_idsync"
	DefaultVerifyFor     = time.Hour
	DefaultLookupTimeout = 10 * time.Second
	// TXTPrefix starts the value of the verification record.
	TXTPrefix = "idsync-verification="
)

// Service manages tenants and verifies their domains.
type Service struct {
	st  store.Store
	cfg Config
	// Now returns the current time (tests set it).
	Now func() time.Time
	// lookupTXT looks up the TXT records of a name.
	lookupTXT func(ctx context.Context, name string) ([]string, error)
}

// New returns a service over st.
func New(st store.Store, cfg Config) *Service {
	if cfg.RecordName == "" {
		cfg.RecordName = DefaultRecordName
	}
	if cfg.VerifyFor <= 0 {
		cfg.VerifyFor = DefaultVerifyFor
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	r := net.DefaultResolver
	if cfg.Resolver != "" {
		addr := cfg.Resolver
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	}
	return &Service{st: st, cfg: cfg, Now: time.Now, lookupTXT: r.LookupTXT}
}

var (
	idRE    = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	labelRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
)

// ValidID checks a tenant ID: 1–63 lower-case letters, digits and inner
// hyphens (it names the tenant in URLs and paths).
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("tenant ID %q: use 1 to 63 lower-case letters, digits and hyphens (not first or last)", id)
	}
	return nil
}

// NormalizeDomain returns a domain name lower-cased and without a trailing
// dot, or an error saying what is wrong with it. Internationalized names
// are given in their ASCII (xn--) form.
func NormalizeDomain(name string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if len(d) == 0 || len(d) > 253 {
		return "", fmt.Errorf("domain %q: a domain name has 1 to 253 characters", name)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("domain %q: give the full domain name, e.g. contoso.com", name)
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return "", fmt.Errorf("domain %q: label %q: use letters, digits and inner hyphens (internationalized names in their xn-- form)", name, l)
		}
	}
	return d, nil
}

// AddTenant creates a tenant (store.ErrAlreadyExists when the ID is taken).
func (s *Service) AddTenant(ctx context.Context, id, name string) (*store.Tenant, error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	if _, err := s.st.GetTenant(ctx, id); err == nil {
		return nil, fmt.Errorf("add tenant %q: %w", id, store.ErrAlreadyExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if name == "" {
		name = id
	}
	now := s.Now()
	t := &store.Tenant{ID: id, Name: name, Created: now, Modified: now}
	if err := s.st.PutTenant(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Record is the TXT record that proves a domain's ownership.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Record returns the record to publish for d.
func (s *Service) Record(d *store.Domain) Record {
	return Record{Name: s.cfg.RecordName + "." + d.Name, Type: "TXT", Value: TXTPrefix + d.Token}
}

// String is the record in zone-file form.
func (r Record) String() string { return fmt.Sprintf("%s. 3600 IN TXT %q", r.Name, r.Value) }

// newToken returns a random verification token (128 bits, base32).
func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// AddDomain adds a domain to a tenant, pending verification, and looks for
// its record at once (it is usually not there yet: the returned domain
// says when the next lookup is). A domain another tenant has verified is
// refused.
func (s *Service) AddDomain(ctx context.Context, tenant, name string) (*store.Domain, error) {
	d, err := NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	if _, err := s.st.GetTenant(ctx, tenant); err != nil {
		return nil, err
	}
	if _, err := s.st.GetDomain(ctx, tenant, d); err == nil {
		return nil, fmt.Errorf("domain %s is already a domain of tenant %q: verify it again instead: %w", d, tenant, store.ErrAlreadyExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if who, err := s.st.DomainVerifiedBy(ctx, d); err != nil {
		return nil, err
	} else if who != "" {
		return nil, fmt.Errorf("domain %s is verified for another tenant: %w", d, store.ErrAlreadyExists)
	}
	tok, err := newToken()
	if err != nil {
		return nil, fmt.Errorf("add domain %s: %w", d, err)
	}
	now := s.Now()
	dom := &store.Domain{Tenant: tenant, Name: d, Token: tok, Added: now}
	s.restart(dom, now)
	if err := s.st.PutDomain(ctx, dom); err != nil {
		return nil, err
	}
	return s.Check(ctx, dom)
}

// restart starts a new verification attempt of d at now.
func (s *Service) restart(d *store.Domain, now time.Time) {
	deadline := now.Add(s.cfg.VerifyFor)
	next := now
	d.State, d.Reason, d.Attempts = store.DomainPending, "", 0
	d.NextCheck, d.Deadline, d.Verified = &next, &deadline, nil
}

// Verify starts a new attempt for a tenant's domain that is pending or
// failed, and looks its record up at once. A verified domain is left as
// it is.
func (s *Service) Verify(ctx context.Context, tenant, name string) (*store.Domain, error) {
	d, err := s.domain(ctx, tenant, name)
	if err != nil {
		return nil, err
	}
	if d.State == store.DomainVerified {
		return d, nil
	}
	s.restart(d, s.Now())
	return s.Check(ctx, d)
}

func (s *Service) domain(ctx context.Context, tenant, name string) (*store.Domain, error) {
	n, err := NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	return s.st.GetDomain(ctx, tenant, n)
}

// backoff is the wait before the next lookup after attempts failed ones:
// 30 s, 1 min, 2 min, then every 5 min.
func backoff(attempts int) time.Duration {
	switch {
	case attempts <= 1:
		return 30 * time.Second
	case attempts == 2:
		return time.Minute
	case attempts == 3:
		return 2 * time.Minute
	default:
		return 5 * time.Minute
	}
}

// Check looks a pending domain's record up once and records the outcome:
// verified; still pending with the next lookup scheduled; or failed when
// its deadline has passed (Reason says what the last lookup found).
func (s *Service) Check(ctx context.Context, d *store.Domain) (*store.Domain, error) {
	if d.State != store.DomainPending {
		return d, nil
	}
	now := s.Now()
	found, wrong, reason := s.lookup(ctx, d)
	d.Attempts++
	d.LastCheck = &now
	switch {
	case found:
		d.State, d.Reason, d.NextCheck, d.Verified = store.DomainVerified, "", nil, &now
		err := s.st.PutDomain(ctx, d)
		if !errors.Is(err, store.ErrAlreadyExists) {
			return d, err
		}
		d.State, d.Verified = store.DomainFailed, nil
		d.Reason = "the record is published, but another tenant verified this domain first"
	case wrong:
		// Another token is published: not propagation, a mistake (a
		// record copied from another tenant): say so now.
		d.State, d.NextCheck = store.DomainFailed, nil
		d.Reason = reason + ": publish this domain's record and verify again"
	case d.Deadline != nil && !now.Before(*d.Deadline):
		d.State, d.NextCheck = store.DomainFailed, nil
		d.Reason = fmt.Sprintf("%s (%d lookups until %s): publish the record and verify again",
			reason, d.Attempts, d.Deadline.UTC().Format(time.RFC3339))
	default:
		next := now.Add(backoff(d.Attempts))
		if d.Deadline != nil && next.After(*d.Deadline) {
			next = *d.Deadline
		}
		d.Reason, d.NextCheck = reason, &next
	}
	return d, s.st.PutDomain(ctx, d)
}

// lookup looks the record of d up: whether it holds d's token, whether it
// holds another idsync token instead (wrong), and if not found what was.
func (s *Service) lookup(ctx context.Context, d *store.Domain) (found, wrong bool, reason string) {
	name := s.cfg.RecordName + "." + d.Name
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	txts, err := s.lookupTXT(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			if de.IsNotFound {
				return false, false, fmt.Sprintf("no TXT record at %s", name)
			}
			// The Go resolver names the system's server in its message,
			// not the one dialled: say which was asked.
			err = errors.New(de.Err)
		}
		at := "the system resolver"
		if s.cfg.Resolver != "" {
			at = s.cfg.Resolver
		}
		return false, false, fmt.Sprintf("looking up TXT %s at %s failed: %v", name, at, err)
	}
	want := TXTPrefix + d.Token
	var other []string
	for _, t := range txts {
		if strings.TrimSpace(t) == want {
			return true, false, ""
		}
		if strings.HasPrefix(t, TXTPrefix) {
			other = append(other, t)
		}
	}
	if len(other) > 0 {
		return false, true, fmt.Sprintf("TXT %s holds %s, not this domain's token (was the record copied from another tenant?)", name, strings.Join(other, ", "))
	}
	return false, false, fmt.Sprintf("TXT %s has no %s record", name, strings.TrimSuffix(TXTPrefix, "="))
}

// CheckDue looks up every pending domain whose next lookup is due, and
// returns how many it looked up. Errors of single domains are returned
// joined; the others are still checked.
func (s *Service) CheckDue(ctx context.Context) (int, error) {
	due, err := s.st.DomainsToCheck(ctx, s.Now())
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, d := range due {
		if _, err := s.Check(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("verify %s of tenant %q: %w", d.Name, d.Tenant, err))
		}
	}
	return len(due), errors.Join(errs...)
}

// Run checks due domains every interval until ctx ends (idsync serve).
func (s *Service) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.CheckDue(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// UseDomain makes a verified domain the tenant's domain.
func (s *Service) UseDomain(ctx context.Context, tenant, name string) (*store.Tenant, error) {
	d, err := s.domain(ctx, tenant, name)
	if err != nil {
		return nil, err
	}
	if d.State != store.DomainVerified {
		return nil, fmt.Errorf("domain %s of tenant %q is %s, not verified: publish its TXT record and verify it first", d.Name, tenant, d.State)
	}
	t, err := s.st.GetTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	t.Domain, t.Modified = d.Name, s.Now()
	return t, s.st.PutTenant(ctx, t)
}

// RemoveDomain removes a tenant's domain; the tenant's domain in use is
// refused (switch to another first).
func (s *Service) RemoveDomain(ctx context.Context, tenant, name string) error {
	d, err := s.domain(ctx, tenant, name)
	if err != nil {
		return err
	}
	t, err := s.st.GetTenant(ctx, tenant)
	if err != nil {
		return err
	}
	if t.Domain == d.Name {
		return fmt.Errorf("domain %s is tenant %q's domain: make another verified domain the tenant's domain first", d.Name, tenant)
	}
	return s.st.DeleteDomain(ctx, tenant, d.Name)
}
