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

// formatSortableTime formats t in UTC as RFC 3339 with exactly nine
// fractional digits: of the same width for every time of years 0-9999, so
// that the text sorts and compares in time order. parseTime reads it.
func formatSortableTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
}

func formatOptTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatSortableTime(*t)
}

func parseOptTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// PutUser inserts or replaces a user by folded name (see store.Store). An
// upsert, not a REPLACE: a REPLACE deletes the row, and with it the user's
// tokens.
func (s *Store) PutUser(ctx context.Context, u *store.User) error {
	if u.Name == "" {
		return errors.New("put user: empty name")
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO users (name_key, name, role, tenant, password_hash, disabled, created, modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, role = excluded.role, tenant = excluded.tenant,
			password_hash = excluded.password_hash, disabled = excluded.disabled, created = excluded.created,
			modified = excluded.modified`,
		store.UserKey(u.Name), u.Name, u.Role, u.Tenant, u.PasswordHash, u.Disabled,
		formatSortableTime(u.Created), formatSortableTime(u.Modified)); err != nil {
		return fmt.Errorf("put user %q: %w", u.Name, err)
	}
	s.ck.written()
	return nil
}

const userColumns = `name, role, tenant, password_hash, disabled, created, modified`

func scanUser(sc interface{ Scan(...any) error }) (*store.User, error) {
	u := &store.User{}
	var created, modified string
	if err := sc.Scan(&u.Name, &u.Role, &u.Tenant, &u.PasswordHash, &u.Disabled, &created, &modified); err != nil {
		return nil, err
	}
	var err error
	if u.Created, err = parseTime(created); err != nil {
		return nil, err
	}
	if u.Modified, err = parseTime(modified); err != nil {
		return nil, err
	}
	return u, nil
}

// GetUser returns a user by name, case-insensitively.
func (s *Store) GetUser(ctx context.Context, name string) (*store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name_key = ?`, store.UserKey(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// Users lists the users by folded name.
func (s *Store) Users(ctx context.Context) ([]*store.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name_key`)
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
	return s.deleteOne(ctx, fmt.Sprintf("delete user %q", name), `DELETE FROM users WHERE name_key = ?`, store.UserKey(name))
}

// deleteOne runs a DELETE of at most one row; store.ErrNotFound when it
// deleted none.
func (s *Store) deleteOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	s.ck.written()
	return nil
}

// PutAPIToken inserts or replaces a token by ID (see store.Store).
func (s *Store) PutAPIToken(ctx context.Context, t *store.APIToken) error {
	if t.ID == "" || t.Hash == "" {
		return errors.New("put API token: empty ID or hash")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_tokens (id, user_key, name, hash, created, expires, last_used)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_key = excluded.user_key, name = excluded.name, hash = excluded.hash,
			created = excluded.created, expires = excluded.expires, last_used = excluded.last_used`,
		t.ID, store.UserKey(t.User), t.Name, t.Hash, formatSortableTime(t.Created), formatOptTime(t.Expires), formatOptTime(t.LastUsed))
	switch {
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return fmt.Errorf("put API token %s: user %q: %w", t.ID, t.User, store.ErrNotFound)
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		return fmt.Errorf("put API token %s: another token has its hash: %w", t.ID, store.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("put API token %s: %w", t.ID, err)
	}
	s.ck.written()
	return nil
}

// Tokens are read with their user's name as stored.
const tokenSelect = `SELECT t.id, u.name, t.name, t.hash, t.created, t.expires, t.last_used
	FROM api_tokens t JOIN users u ON u.name_key = t.user_key`

func scanToken(sc interface{ Scan(...any) error }) (*store.APIToken, error) {
	t := &store.APIToken{}
	var created string
	var expires, lastUsed sql.NullString
	if err := sc.Scan(&t.ID, &t.User, &t.Name, &t.Hash, &created, &expires, &lastUsed); err != nil {
		return nil, err
	}
	var err error
	if t.Created, err = parseTime(created); err != nil {
		return nil, err
	}
	if t.Expires, err = parseOptTime(expires); err != nil {
		return nil, err
	}
	if t.LastUsed, err = parseOptTime(lastUsed); err != nil {
		return nil, err
	}
	return t, nil
}

// APITokenByHash returns the token with the hash.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (*store.APIToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, tokenSelect+` WHERE t.hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
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
		q += ` WHERE t.user_key = ?`
		args = append(args, store.UserKey(user))
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY t.user_key, t.created, t.id`, args...)
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
	return s.deleteOne(ctx, fmt.Sprintf("delete API token %s", id), `DELETE FROM api_tokens WHERE id = ?`, id)
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
	res, err := s.w.ExecContext(ctx, `INSERT INTO audit (time, username, user_key, role, action, target, detail, remote, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		formatSortableTime(e.Time), e.User, store.UserKey(e.User), e.Role, e.Action, e.Target, e.Detail, e.Remote, e.Outcome)
	if err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.Action, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.Action, err)
	}
	e.ID = id
	s.ck.written()
	return nil
}

// Audit returns the entries the filter selects, newest first.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, formatSortableTime(f.Since))
	}
	if f.User != "" {
		where = append(where, "user_key = ?")
		args = append(args, store.UserKey(f.User))
	}
	if f.Action != "" {
		where = append(where, "action = ?")
		args = append(args, f.Action)
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
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEntry
	for rows.Next() {
		e := &store.AuditEntry{}
		var t string
		if err := rows.Scan(&e.ID, &t, &e.User, &e.Role, &e.Action, &e.Target, &e.Detail, &e.Remote, &e.Outcome); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("read audit log: entry %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM audit WHERE time < ?`, formatSortableTime(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit entries before %s: %w", formatTime(before), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune audit entries before %s: %w", formatTime(before), err)
	}
	if n > 0 {
		s.ck.written()
	}
	return int(n), nil
}
