package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/store"
)

// PutSession inserts a console session (see store.Store).
func (s *Store) PutSession(ctx context.Context, ss *store.Session) error {
	if ss.Hash == "" || ss.User == "" {
		return errors.New("put session: empty hash or user")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_key, username, role, tenant, created, seen, idle_expires, expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		text(ss.Hash), text(store.UserKey(ss.User)), text(ss.User), text(ss.Role), text(ss.Tenant), ss.Created, ss.Seen, ss.IdleExpires, ss.Expires)
	switch {
	case isViolation(err, "23505", ""):
		return fmt.Errorf("put session of %q: another session has its hash: %w", ss.User, store.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("put session of %q: %w", ss.User, err)
	}
	return nil
}

// GetSession returns a live session by hash.
func (s *Store) GetSession(ctx context.Context, hash string, now time.Time) (*store.Session, error) {
	ss := &store.Session{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT username, role, tenant, created, seen, idle_expires, expires
		FROM sessions WHERE hash = $1 AND idle_expires > $2 AND expires > $2`,
		text(hash), now).Scan(&ss.User, &ss.Role, &ss.Tenant, &ss.Created, &ss.Seen, &ss.IdleExpires, &ss.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	ss.Created, ss.Seen, ss.IdleExpires, ss.Expires = utc(ss.Created), utc(ss.Seen), utc(ss.IdleExpires), utc(ss.Expires)
	return ss, nil
}

// TouchSession moves a session's Seen and IdleExpires forward.
func (s *Store) TouchSession(ctx context.Context, hash string, seen, idleExpires time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET seen = GREATEST(seen, $2), idle_expires = GREATEST(idle_expires, $3)
		WHERE hash = $1`, text(hash), seen, idleExpires)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch session: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteSession deletes a session by hash.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.deleteOne(ctx, "delete session", `DELETE FROM sessions WHERE hash = $1`, text(hash))
}

// DeleteUserSessions deletes the sessions of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_key = $1`, text(store.UserKey(user)))
	if err != nil {
		return 0, fmt.Errorf("delete the sessions of %q: %w", user, err)
	}
	return int(tag.RowsAffected()), nil
}

// PurgeSessions deletes the sessions expired at now.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE idle_expires <= $1 OR expires <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
