package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/idsync/idsync/store"
)

// PutTenant inserts or replaces a tenant (an upsert: a REPLACE would
// delete the row, and its domains with it).
func (s *Store) PutTenant(ctx context.Context, t *store.Tenant) error {
	if t.ID == "" {
		return errors.New("put tenant: empty ID")
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO tenants (id, name, domain, settings, created, modified)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, domain = excluded.domain, settings = excluded.settings,
			created = excluded.created, modified = excluded.modified`,
		t.ID, t.Name, t.Domain, t.Settings, formatSortableTime(t.Created), formatSortableTime(t.Modified)); err != nil {
		return fmt.Errorf("put tenant %q: %w", t.ID, err)
	}
	s.ck.written()
	return nil
}

const tenantColumns = `id, name, domain, settings, created, modified`

func scanTenant(sc interface{ Scan(...any) error }) (*store.Tenant, error) {
	t := &store.Tenant{}
	var created, modified string
	if err := sc.Scan(&t.ID, &t.Name, &t.Domain, &t.Settings, &created, &modified); err != nil {
		return nil, err
	}
	var err error
	if t.Created, err = parseTime(created); err != nil {
		return nil, err
	}
	if t.Modified, err = parseTime(modified); err != nil {
		return nil, err
	}
	return t, nil
}

// GetTenant returns a tenant by ID.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenant %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", id, err)
	}
	return t, nil
}

// Tenants lists the tenants by ID.
func (s *Store) Tenants(ctx context.Context) ([]*store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
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
	return s.deleteOne(ctx, fmt.Sprintf("delete tenant %q", id), `DELETE FROM tenants WHERE id = ?`, id)
}

// PutDomain inserts or replaces a tenant's domain.
func (s *Store) PutDomain(ctx context.Context, d *store.Domain) error {
	name := strings.ToLower(d.Name)
	if d.Tenant == "" || name == "" {
		return errors.New("put domain: empty tenant or name")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tenant_domains
		(tenant, name, token, state, reason, attempts, added, last_check, next_check, deadline, verified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, name) DO UPDATE SET token = excluded.token, state = excluded.state,
			reason = excluded.reason, attempts = excluded.attempts, added = excluded.added,
			last_check = excluded.last_check, next_check = excluded.next_check,
			deadline = excluded.deadline, verified = excluded.verified`,
		d.Tenant, name, d.Token, string(d.State), d.Reason, d.Attempts, formatSortableTime(d.Added),
		formatOptTime(d.LastCheck), formatOptTime(d.NextCheck), formatOptTime(d.Deadline), formatOptTime(d.Verified))
	switch {
	case err == nil:
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return fmt.Errorf("put domain %s: tenant %q: %w", name, d.Tenant, store.ErrNotFound)
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		return fmt.Errorf("put domain %s: verified for another tenant: %w", name, store.ErrAlreadyExists)
	default:
		return fmt.Errorf("put domain %s of tenant %q: %w", name, d.Tenant, err)
	}
	s.ck.written()
	return nil
}

const domainColumns = `tenant, name, token, state, reason, attempts, added, last_check, next_check, deadline, verified`

func scanDomain(sc interface{ Scan(...any) error }) (*store.Domain, error) {
	d := &store.Domain{}
	var added string
	var last, next, deadline, verified sql.NullString
	if err := sc.Scan(&d.Tenant, &d.Name, &d.Token, &d.State, &d.Reason, &d.Attempts, &added,
		&last, &next, &deadline, &verified); err != nil {
		return nil, err
	}
	var err error
	if d.Added, err = parseTime(added); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&d.LastCheck, last}, {&d.NextCheck, next}, {&d.Deadline, deadline}, {&d.Verified, verified}} {
		if *f.dst, err = parseOptTime(f.src); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// GetDomain returns a tenant's domain.
func (s *Store) GetDomain(ctx context.Context, tenant, name string) (*store.Domain, error) {
	name = strings.ToLower(name)
	d, err := scanDomain(s.r.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM tenant_domains WHERE tenant = ? AND name = ?`,
		tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("domain %s of tenant %q: %w", name, tenant, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("domain %s of tenant %q: %w", name, tenant, err)
	}
	return d, nil
}

func (s *Store) domains(ctx context.Context, what, q string, args ...any) ([]*store.Domain, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+domainColumns+` FROM tenant_domains `+q, args...)
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
	return s.domains(ctx, fmt.Sprintf("domains of tenant %q", tenant), `WHERE tenant = ? ORDER BY name`, tenant)
}

// DomainsToCheck lists the pending domains due at now, by next check.
func (s *Store) DomainsToCheck(ctx context.Context, now time.Time) ([]*store.Domain, error) {
	return s.domains(ctx, "domains to verify",
		`WHERE state = 'pending' AND next_check IS NOT NULL AND next_check <= ? ORDER BY next_check, tenant, name`,
		formatSortableTime(now))
}

// DomainVerifiedBy returns the tenant that has the domain verified.
func (s *Store) DomainVerifiedBy(ctx context.Context, name string) (string, error) {
	var t string
	err := s.r.QueryRowContext(ctx, `SELECT tenant FROM tenant_domains WHERE name = ? AND state = 'verified'`,
		strings.ToLower(name)).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
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
		`DELETE FROM tenant_domains WHERE tenant = ? AND name = ?`, tenant, strings.ToLower(name))
}
