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

// PutUser inserts or replaces a user by folded name (see store.Store). An
// upsert: deleting the row would delete the user's tokens with it.
func (s *Store) PutUser(ctx context.Context, u *store.User) error {
	if u.Name == "" {
		return errors.New("put user: empty name")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO users (name_key, name, role, tenant, password_hash, disabled, created, modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, role = excluded.role, tenant = excluded.tenant,
			password_hash = excluded.password_hash, disabled = excluded.disabled, created = excluded.created,
			modified = excluded.modified`,
		text(store.UserKey(u.Name)), text(u.Name), text(u.Role), text(u.Tenant), text(u.PasswordHash), u.Disabled,
		u.Created, u.Modified); err != nil {
		return fmt.Errorf("put user %q: %w", u.Name, err)
	}
	return nil
}

const userColumns = `name, role, tenant, password_hash, disabled, created, modified`

func scanUser(sc pgx.Row) (*store.User, error) {
	u := &store.User{}
	if err := sc.Scan(&u.Name, &u.Role, &u.Tenant, &u.PasswordHash, &u.Disabled, &u.Created, &u.Modified); err != nil {
		return nil, err
	}
	u.Created, u.Modified = utc(u.Created), utc(u.Modified)
	return u, nil
}

// GetUser returns a user by name, case-insensitively.
func (s *Store) GetUser(ctx context.Context, name string) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name_key = $1`, text(store.UserKey(name))))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// Users lists the users by folded name.
func (s *Store) Users(ctx context.Context) ([]*store.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// DeleteUser deletes a user; its tokens go with it (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete user %q", name), `DELETE FROM users WHERE name_key = $1`, text(store.UserKey(name)))
}

// deleteOne runs a DELETE of at most one row; store.ErrNotFound when it
// deleted none.
func (s *Store) deleteOne(ctx context.Context, what, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// PutAPIToken inserts or replaces a token by ID (see store.Store).
func (s *Store) PutAPIToken(ctx context.Context, t *store.APIToken) error {
	if t.ID == "" || t.Hash == "" {
		return errors.New("put API token: empty ID or hash")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (id, user_key, name, hash, created, expires, last_used)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET user_key = excluded.user_key, name = excluded.name, hash = excluded.hash,
			created = excluded.created, expires = excluded.expires, last_used = excluded.last_used`,
		text(t.ID), text(store.UserKey(t.User)), text(t.Name), text(t.Hash), t.Created, t.Expires, t.LastUsed)
	switch {
	case isViolation(err, "23503", ""):
		return fmt.Errorf("put API token %s: user %q: %w", t.ID, t.User, store.ErrNotFound)
	case isViolation(err, "23505", "api_tokens_hash"):
		return fmt.Errorf("put API token %s: another token has its hash: %w", t.ID, store.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("put API token %s: %w", t.ID, err)
	}
	return nil
}

// Tokens are read with their user's name as stored.
const tokenSelect = `SELECT t.id, u.name, t.name, t.hash, t.created, t.expires, t.last_used
	FROM api_tokens t JOIN users u ON u.name_key = t.user_key`

func scanToken(sc pgx.Row) (*store.APIToken, error) {
	t := &store.APIToken{}
	if err := sc.Scan(&t.ID, &t.User, &t.Name, &t.Hash, &t.Created, &t.Expires, &t.LastUsed); err != nil {
		return nil, err
	}
	t.Created, t.Expires, t.LastUsed = utc(t.Created), optUTC(t.Expires), optUTC(t.LastUsed)
	return t, nil
}

// APITokenByHash returns the token with the hash.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (*store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, tokenSelect+` WHERE t.hash = $1`, text(hash)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("API token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("API token: %w", err)
	}
	return t, nil
}

// APITokens lists a user's tokens ("" = all).
func (s *Store) APITokens(ctx context.Context, user string) ([]*store.APIToken, error) {
	q, args := tokenSelect, []any{}
	if user != "" {
		q += ` WHERE t.user_key = $1`
		args = append(args, text(store.UserKey(user)))
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY t.user_key, t.created, t.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	defer rows.Close()
	var out []*store.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list API tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken deletes a token by ID.
func (s *Store) DeleteAPIToken(ctx context.Context, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete API token %s", id), `DELETE FROM api_tokens WHERE id = $1`, text(id))
}

// AddAudit appends an audit entry and sets its ID and, when zero, its
// time.
func (s *Store) AddAudit(ctx context.Context, e *store.AuditEntry) error {
	if e.Action == "" {
		return errors.New("add audit entry: empty action")
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO audit (time, username, user_key, role, action, target, detail, remote, outcome)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		e.Time, text(e.User), text(store.UserKey(e.User)), text(e.Role), text(e.Action), text(e.Target), text(e.Detail),
		text(e.Remote), text(e.Outcome)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.Action, err)
	}
	return nil
}

// Audit returns the entries the filter selects, newest first.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprint("$", len(args))
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= "+arg(f.Since))
	}
	if f.User != "" {
		where = append(where, "user_key = "+arg(text(store.UserKey(f.User))))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(text(f.Action)))
	}
	q := `SELECT id, time, username, role, action, target, detail, remote, outcome FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	switch {
	case f.Limit == 0:
		q += fmt.Sprint(" LIMIT ", store.DefaultAuditLimit)
	case f.Limit > 0:
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEntry
	for rows.Next() {
		e := &store.AuditEntry{}
		if err := rows.Scan(&e.ID, &e.Time, &e.User, &e.Role, &e.Action, &e.Target, &e.Detail, &e.Remote, &e.Outcome); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.Time = utc(e.Time)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit WHERE time < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune audit entries before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(tag.RowsAffected()), nil
}
