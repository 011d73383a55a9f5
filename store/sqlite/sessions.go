package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/idsync/idsync/store"
)

// PutSession inserts a console session (see store.Store).
func (s *Store) PutSession(ctx context.Context, ss *store.Session) error {
	if ss.Hash == "" || ss.User == "" {
		return errors.New("put session: empty hash or user")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (hash, user_key, username, role, tenant, created, seen, idle_expires, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.Hash, store.UserKey(ss.User), ss.User, ss.Role, ss.Tenant, formatSortableTime(ss.Created), formatSortableTime(ss.Seen),
		formatSortableTime(ss.IdleExpires), formatSortableTime(ss.Expires))
	switch {
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY), isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		return fmt.Errorf("put session of %q: another session has its hash: %w", ss.User, store.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("put session of %q: %w", ss.User, err)
	}
	s.ck.written()
	return nil
}

// GetSession returns a live session by hash.
func (s *Store) GetSession(ctx context.Context, hash string, now time.Time) (*store.Session, error) {
	ss := &store.Session{Hash: hash}
	var created, seen, idle, expires string
	err := s.r.QueryRowContext(ctx, `SELECT username, role, tenant, created, seen, idle_expires, expires
		FROM sessions WHERE hash = ? AND idle_expires > ? AND expires > ?`,
		hash, formatSortableTime(now), formatSortableTime(now)).Scan(&ss.User, &ss.Role, &ss.Tenant, &created, &seen, &idle, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	for _, f := range []struct {
		dst *time.Time
		src string
	}{{&ss.Created, created}, {&ss.Seen, seen}, {&ss.IdleExpires, idle}, {&ss.Expires, expires}} {
		if *f.dst, err = parseTime(f.src); err != nil {
			return nil, fmt.Errorf("session of %q: %w", ss.User, err)
		}
	}
	return ss, nil
}

// TouchSession moves a session's Seen and IdleExpires forward.
func (s *Store) TouchSession(ctx context.Context, hash string, seen, idleExpires time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET seen = max(seen, ?), idle_expires = max(idle_expires, ?) WHERE hash = ?`,
		formatSortableTime(seen), formatSortableTime(idleExpires), hash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = store.ErrNotFound
		}
		return fmt.Errorf("touch session: %w", err)
	}
	s.ck.written()
	return nil
}

// DeleteSession deletes a session by hash.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.deleteOne(ctx, "delete session", `DELETE FROM sessions WHERE hash = ?`, hash)
}

// DeleteUserSessions deletes the sessions of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.deleteMany(ctx, fmt.Sprintf("delete the sessions of %q", user), `DELETE FROM sessions WHERE user_key = ?`, store.UserKey(user))
}

// PurgeSessions deletes the sessions expired at now.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	t := formatSortableTime(now)
	return s.deleteMany(ctx, "purge expired sessions", `DELETE FROM sessions WHERE idle_expires <= ? OR expires <= ?`, t, t)
}

// deleteMany runs a DELETE and returns how many rows it deleted.
func (s *Store) deleteMany(ctx context.Context, what, q string, args ...any) (int, error) {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if n > 0 {
		s.ck.written()
	}
	return int(n), nil
}
