// Package auth holds the primitives of the console's and API's access
// control: password hashing (argon2id, in PHC string form), the password
// policy, API tokens, user names and roles.
//
// A password hash is a PHC string:
//
//	$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH
//
// with m the memory in KiB, t the passes, p the lanes, and SALT and HASH in
// standard base64 without padding. New hashes use the parameters OWASP
// recommends for argon2id (19 MiB, 2 passes, 1 lane), a random 16-byte salt
// and a 32-byte hash; VerifyPassword accepts any parameters within bounds
// (NeedsRehash tells when a hash is weaker than new ones).
//
// An API token is "idsync_" followed by 32 random bytes in unpadded
// base64url; only its SHA-256 (TokenHash, hex) is stored.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// The parameters of new password hashes (OWASP's argon2id recommendation:
// m=19456 KiB, t=2, p=1).
const (
	hashMemory  = 19 * 1024 // KiB
	hashTime    = 2
	hashThreads = 1
	saltLen     = 16
	keyLen      = 32
)

// Bounds of the parameters VerifyPassword accepts: a hash outside them is
// malformed, not merely weak. The memory bound keeps a doctored hash from
// making a sign-in allocate gigabytes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	maxThreads = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// ErrMalformedHash is wrapped by the error of VerifyPassword for a hash it
// cannot read.
var ErrMalformedHash = errors.New("malformed password hash")

// params are the argon2id parameters of a hash.
type params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

var b64 = base64.RawStdEncoding.Strict()

// HashPassword returns the argon2id hash of pw in PHC form, with a new
// random salt.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	p := params{memory: hashMemory, time: hashTime, threads: hashThreads}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, keyLen)
	return formatHash(p, salt, key), nil
}

func formatHash(p params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether pw is the password of hash, comparing in
// constant time. A hash it cannot read (not argon2id in PHC form, or with
// parameters out of bounds) is an error wrapping ErrMalformedHash.
func VerifyPassword(hash, pw string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether hash is malformed or weaker than the hashes
// HashPassword makes now (less memory, fewer passes, a shorter salt or
// hash): a sign-in that verified the password should then store a new
// hash of it.
func NeedsRehash(hash string) bool {
	p, salt, key, err := parseHash(hash)
	return err != nil || p.memory < hashMemory || p.time < hashTime || len(salt) < saltLen || len(key) < keyLen
}

// parseHash reads a PHC argon2id hash: exactly the form formatHash writes,
// with parameters within bounds.
func parseHash(hash string) (p params, salt, key []byte, err error) {
	bad := func(why string) (params, []byte, []byte, error) {
		return params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)")
	}
	if parts[1] != "argon2id" {
		return bad(fmt.Sprintf("algorithm %q, want argon2id", cut(parts[1])))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad(fmt.Sprintf("version %q, want v=%d", cut(parts[2]), argon2.Version))
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("parameters are not m=…,t=…,p=…")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("parameters are not m=…,t=…,p=…")
		}
		n, perr := parseDecimal(v)
		if perr != nil {
			return bad(fmt.Sprintf("parameter %s: %v", name, perr))
		}
		vals[i] = n
	}
	m, t, th := vals[0], vals[1], vals[2]
	switch {
	case th < 1 || th > maxThreads:
		return bad(fmt.Sprintf("p=%d out of 1..%d", th, maxThreads))
	case t < 1 || t > maxTime:
		return bad(fmt.Sprintf("t=%d out of 1..%d", t, maxTime))
	case m < 8*th || m > maxMemory:
		return bad(fmt.Sprintf("m=%d out of %d..%d", m, 8*th, maxMemory))
	}
	p = params{memory: uint32(m), time: uint32(t), threads: uint8(th)}
	if salt, err = decodeB64(parts[4]); err != nil {
		return bad("salt is not unpadded base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return bad(fmt.Sprintf("salt of %d bytes, want %d..%d", len(salt), minSaltLen, maxSaltLen))
	}
	if key, err = decodeB64(parts[5]); err != nil {
		return bad("hash is not unpadded base64")
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return bad(fmt.Sprintf("hash of %d bytes, want %d..%d", len(key), minKeyLen, maxKeyLen))
	}
	return p, salt, key, nil
}

// decodeB64 decodes unpadded standard base64 in its one canonical form
// (the decoder alone skips line breaks).
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err == nil && b64.EncodeToString(b) != s {
		err = errors.New("not canonical base64")
	}
	return b, err
}

// parseDecimal reads a canonical decimal number (no sign, no leading zero)
// of at most 10 digits.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a number")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// cut shortens a part of a malformed hash quoted in an error.
func cut(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Password policy.
const (
	MinPasswordLen = 12   // characters
	MaxPasswordLen = 1024 // bytes
)

// CheckPasswordPolicy returns an error saying what is wrong with pw, nil
// when it may be a password: at least MinPasswordLen characters, at most
// MaxPasswordLen bytes, valid UTF-8.
func CheckPasswordPolicy(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8 text")
	case n < MinPasswordLen:
		return fmt.Errorf("the password is too short: %d characters, at least %d are needed (a passphrase of a few words is fine)", n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password is too long: %d bytes, at most %d", len(pw), MaxPasswordLen)
	}
	return nil
}

// TokenPrefix starts every API token.
const TokenPrefix = "idsync_"

// NewToken returns a new API token, to show its user once, and its hash,
// to store (TokenHash).
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new API token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, TokenHash(token), nil
}

// TokenHash is the hex SHA-256 of a token: what the store keeps and finds
// the token by.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewTokenID returns a new identifier of an API token: 16 random hex
// digits, to list and revoke the token by (it reveals nothing of the
// token).
func NewTokenID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new API token ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Roles: what a user may do. Each role allows what the roles below it do.
const (
	// RoleAdmin may also manage users and change the configuration.
	RoleAdmin = "admin"
	// RoleOperator may also run profiles and cycles, enable and disable
	// the scheduler.
	RoleOperator = "operator"
	// RoleBrowse may look: status, runs, objects, previews.
	RoleBrowse = "browse"
)

// roleRank orders the roles: a role allows those of lower or equal rank.
var roleRank = map[string]int{RoleBrowse: 1, RoleOperator: 2, RoleAdmin: 3}

// Roles returns the roles, from the most to the least powerful.
func Roles() []string { return []string{RoleAdmin, RoleOperator, RoleBrowse} }

// ValidRole reports whether role is one of the roles.
func ValidRole(role string) bool { return roleRank[role] > 0 }

// Allows reports whether a user of role may do what needs the role
// needed: admin allows everything, operator what operator and browse need,
// browse only what browse needs. An unknown role allows nothing and is
// allowed by none.
func Allows(role, needed string) bool {
	r, n := roleRank[role], roleRank[needed]
	return r > 0 && n > 0 && r >= n
}

// MaxUserNameLen is the longest user name, in characters.
const MaxUserNameLen = 64

// ReservedUserName is the user of the audit entries of the command line;
// no account may have it.
const ReservedUserName = "cli"

// CheckUserName returns an error saying what is wrong with a new user's
// name, nil when it may be one: 1 to MaxUserNameLen letters, digits and
// the characters . _ - @ + (so an e-mail address is a name; no spaces, no
// ':' that HTTP basic authentication splits at), and not "cli".
func CheckUserName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return errors.New("the user name is not valid UTF-8 text")
	case n == 0:
		return errors.New("the user name is empty")
	case n > MaxUserNameLen:
		return fmt.Errorf("the user name is too long: %d characters, at most %d", n, MaxUserNameLen)
	case strings.EqualFold(name, ReservedUserName):
		return fmt.Errorf("the user name %q is reserved for the command line's entries in the audit log", ReservedUserName)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@+", r) {
			return fmt.Errorf("the user name %q has the character %q: use letters, digits and . _ - @ +", name, r)
		}
	}
	return nil
}

// MaxLifetime is the longest lifetime ParseLifetime accepts.
const MaxLifetime = 10 * 366 * 24 * time.Hour

// ParseLifetime reads a token lifetime: a number of days ("90d") or a Go
// duration ("12h", "1h30m"), positive and at most MaxLifetime.
func ParseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := parseDecimal(days)
		if err != nil || n > uint64(MaxLifetime/(24*time.Hour)) {
			return 0, fmt.Errorf("lifetime %q: want a number of days (90d) or a duration (12h) of at most %dd", s, MaxLifetime/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("lifetime %q: want a number of days (90d) or a duration (12h)", s)
		}
	}
	if d <= 0 || d > MaxLifetime {
		return 0, fmt.Errorf("lifetime %q: want more than 0 and at most %dd", s, MaxLifetime/(24*time.Hour))
	}
	return d, nil
}
