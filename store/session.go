package store

import (
	"time"
)

// Session is a signed-in browser session of the console. The browser holds
// a random token in a cookie; the store keeps only its hash, so that a copy
// of the database (a backup, a standby's) signs nobody in.
type Session struct {
	// Hash is the hex SHA-256 of the session token (auth.TokenHash).
	Hash string `json:"-"`
	// User is who signed in: a local user (store.User), or a person
	// signed in through the console's OpenID Connect provider, who may
	// have no local record. DeleteUser and DeleteUserSessions end the
	// sessions of the name (compared as UserKey folds it).
	User string `json:"user"`
	// Role and Tenant are the user's as of sign-in (a local user's, or
	// what the provider's claims gave); the console narrows them to the
	// local user's current ones at each request.
	Role    string    `json:"role"`
	Tenant  string    `json:"tenant,omitempty"`
	Created time.Time `json:"created"`
	// Seen is when the session was last used, as last recorded: callers
	// record it at most every so often (TouchSession), so it may lag a
	// little behind the last request.
	Seen time.Time `json:"seen"`
	// IdleExpires is when the session ends if not used before:
	// TouchSession moves it on.
	IdleExpires time.Time `json:"idleExpires"`
	// Expires is when the session ends however much it is used.
	Expires time.Time `json:"expires"`
}

// Expired reports whether the session has ended at now (idle or absolute
// expiry).
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.IdleExpires) || !now.Before(s.Expires)
}
