package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/store"
)

// PutTenant inserts or replaces a tenant (an upsert: a delete would take
// its domains with it).
func (s *Store) PutTenant(ctx context.Context, t *store.Tenant) error {
	if t.ID == "" {
		return errors.New("put tenant: empty ID")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, name, domain, settings, created, modified)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, domain = excluded.domain, settings = excluded.settings,
			created = excluded.created, modified = excluded.modified`,
		text(t.ID), text(t.Name), text(t.Domain), text(t.Settings), t.Created, t.Modified); err != nil {
		return fmt.Errorf("put tenant %q: %w", t.ID, err)
	}
	return nil
}

const tenantColumns = `id, name, domain, settings, created, modified`

func scanTenant(sc pgx.Row) (*store.Tenant, error) {
	t := &store.Tenant{}
	if err := sc.Scan(&t.ID, &t.Name, &t.Domain, &t.Settings, &t.Created, &t.Modified); err != nil {
		return nil, err
	}
	t.Created, t.Modified = utc(t.Created), utc(t.Modified)
	return t, nil
}

// GetTenant returns a tenant by ID.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, text(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("tenant %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", id, err)
	}
	return t, nil
}

// Tenants lists the tenants by ID.
func (s *Store) Tenants(ctx context.Context) ([]*store.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []*store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// DeleteTenant deletes a tenant; its domains go with it (ON DELETE CASCADE).
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete tenant %q", id), `DELETE FROM tenants WHERE id = $1`, text(id))
}

// PutDomain inserts or replaces a tenant's domain.
func (s *Store) PutDomain(ctx context.Context, d *store.Domain) error {
	name := strings.ToLower(d.Name)
	if d.Tenant == "" || name == "" {
		return errors.New("put domain: empty tenant or name")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tenant_domains
		(tenant, name, token, state, reason, attempts, added, last_check, next_check, deadline, verified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (tenant, name) DO UPDATE SET token = excluded.token, state = excluded.state,
			reason = excluded.reason, attempts = excluded.attempts, added = excluded.added,
			last_check = excluded.last_check, next_check = excluded.next_check,
			deadline = excluded.deadline, verified = excluded.verified`,
		text(d.Tenant), text(name), text(d.Token), string(d.State), text(d.Reason), d.Attempts, d.Added,
		d.LastCheck, d.NextCheck, d.Deadline, d.Verified)
	switch {
	case err == nil:
		return nil
	case isViolation(err, "23503", ""):
		return fmt.Errorf("put domain %s: tenant %q: %w", name, d.Tenant, store.ErrNotFound)
	case isViolation(err, "23505", "tenant_domains_verified"):
		return fmt.Errorf("put domain %s: verified for another tenant: %w", name, store.ErrAlreadyExists)
	default:
		return fmt.Errorf("put domain %s of tenant %q: %w", name, d.Tenant, err)
	}
}

const domainColumns = `tenant, name, token, state, reason, attempts, added, last_check, next_check, deadline, verified`

func scanDomain(sc pgx.Row) (*store.Domain, error) {
	d := &store.Domain{}
	if err := sc.Scan(&d.Tenant, &d.Name, &d.Token, &d.State, &d.Reason, &d.Attempts, &d.Added,
		&d.LastCheck, &d.NextCheck, &d.Deadline, &d.Verified); err != nil {
		return nil, err
	}
	d.Added = utc(d.Added)
	for _, t := range []**time.Time{&d.LastCheck, &d.NextCheck, &d.Deadline, &d.Verified} {
		if *t != nil {
			u := utc(**t)
			*t = &u
		}
	}
	return d, nil
}

// GetDomain returns a tenant's domain.
func (s *Store) GetDomain(ctx context.Context, tenant, name string) (*store.Domain, error) {
	name = strings.ToLower(name)
	d, err := scanDomain(s.pool.QueryRow(ctx, `SELECT `+domainColumns+` FROM tenant_domains WHERE tenant = $1 AND name = $2`,
		text(tenant), text(name)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("domain %s of tenant %q: %w", name, tenant, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("domain %s of tenant %q: %w", name, tenant, err)
	}
	return d, nil
}

func (s *Store) domains(ctx context.Context, what, q string, args ...any) ([]*store.Domain, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+domainColumns+` FROM tenant_domains `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []*store.Domain
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Domains lists a tenant's domains by name.
func (s *Store) Domains(ctx context.Context, tenant string) ([]*store.Domain, error) {
	return s.domains(ctx, fmt.Sprintf("domains of tenant %q", tenant), `WHERE tenant = $1 ORDER BY name`, text(tenant))
}

// DomainsToCheck lists the pending domains due at now, by next check.
func (s *Store) DomainsToCheck(ctx context.Context, now time.Time) ([]*store.Domain, error) {
	return s.domains(ctx, "domains to verify",
		`WHERE state = 'pending' AND next_check IS NOT NULL AND next_check <= $1 ORDER BY next_check, tenant, name`, now)
}

// DomainVerifiedBy returns the tenant that has the domain verified.
func (s *Store) DomainVerifiedBy(ctx context.Context, name string) (string, error) {
	var t string
	err := s.pool.QueryRow(ctx, `SELECT tenant FROM tenant_domains WHERE name = $1 AND state = 'verified'`,
		text(strings.ToLower(name))).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("who verified domain %s: %w", name, err)
	}
	return t, nil
}

// DeleteDomain deletes a tenant's domain.
func (s *Store) DeleteDomain(ctx context.Context, tenant, name string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete domain %s of tenant %q", name, tenant),
		`DELETE FROM tenant_domains WHERE tenant = $1 AND name = $2`, text(tenant), text(strings.ToLower(name)))
}
