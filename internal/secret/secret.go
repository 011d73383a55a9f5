// Package secret protects the values of secret attributes (passwords):
// it seals them with AES-256-GCM for storage, says which attributes are
// secret, and hides known secret values in text (error messages, logs).
//
// A sealed value is text, so any store backend can keep it where it keeps
// other values (a SQLite blob, a PostgreSQL text or jsonb column):
//
//	idsync-secret:v1:KEYID:BASE64
//
// where KEYID names the key (8 hex digits derived from the key, so a value
// says which key opens it without revealing anything about the key) and
// BASE64 (standard alphabet, no padding) is the 12-byte random nonce followed
// by the AES-GCM ciphertext and tag. The header "idsync-secret:v1:KEYID" is
// the additional authenticated data: a value cannot be moved to another
// key id or format version without failing to open.
//
// The key never leaves the process: it comes from the configuration or the
// environment (see docs/configuration.md, security) and is not written to the
// store.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every sealed value; v1 is the format version.
const (
	Prefix   = "idsync-secret:"
	prefixV1 = Prefix + "v1:"
)

// Redacted is what idsync shows instead of a secret value.
const Redacted = "[secret]"

// KeySize is the size of a key: AES-256.
const KeySize = 32

// ErrNoKey is returned when a secret value must be sealed or opened and no
// key is configured.
var ErrNoKey = errors.New("no secret key is configured: idsync does not keep secret attributes (passwords) in clear; " +
	"set security.secretKey (e.g. secretKey: ${IDSYNC_SECRET_KEY}), security.secretKeyFile, or the environment variable IDSYNC_SECRET_KEY " +
	"to a random 32-byte key in base64 (make one with `idsync gen secret-key`)")

// ErrUnknownKey is returned when a value was sealed with a key that is not
// configured.
var ErrUnknownKey = errors.New("sealed with a key that is not configured")

// IsSealed reports whether s is a sealed value (of any format version).
func IsSealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// ParseKey decodes a key written as base64 (standard or URL alphabet, padded
// or not) or as 64 hex digits. Surrounding white space (a key file's final
// newline) is ignored.
func ParseKey(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, errors.New("the secret key is empty")
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("the secret key is %d bytes long, not %d (make one with `idsync gen secret-key`)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("the secret key is neither base64 nor 64 hex digits (make one with `idsync gen secret-key`)")
}

// GenerateKey returns a new random key, base64-encoded.
func GenerateKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a secret key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// KeyID returns the identifier of a key: 8 hex digits of an HMAC of a fixed
// label under the key (a one-way function: it reveals nothing of the key).
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("idsync secret key id"))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// Sealer seals values with one key and opens values sealed with it or with
// older keys (for key rotation). It is safe for concurrent use.
type Sealer struct {
	id    string
	aeads map[string]cipher.AEAD
}

// NewSealer returns a sealer that seals with key and also opens values
// sealed with any of previous.
func NewSealer(key []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{key}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secret key #%d is %d bytes long, not %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		a, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		if i == 0 {
			s.id = id
		}
		if _, dup := s.aeads[id]; !dup {
			s.aeads[id] = a
		}
	}
	return s, nil
}

// KeyID returns the identifier of the key values are sealed with.
func (s *Sealer) KeyID() string { return s.id }

// Seal encrypts plain with a new random nonce.
func (s *Sealer) Seal(plain string) (string, error) {
	a := s.aeads[s.id]
	header := prefixV1 + s.id
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal a secret value: %w", err)
	}
	ct := a.Seal(nonce, nonce, []byte(plain), []byte(header))
	return header + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value written by Seal.
func (s *Sealer) Open(sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, prefixV1)
	if !ok {
		return "", errors.New("not a sealed value of a known format version")
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("malformed sealed value")
	}
	a := s.aeads[id]
	if a == nil {
		return "", fmt.Errorf("%w (key id %s; configured: %s)", ErrUnknownKey, id, s.ids())
	}
	ct, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(ct) < a.NonceSize()+a.Overhead() {
		return "", errors.New("malformed sealed value")
	}
	plain, err := a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], []byte(prefixV1+id))
	if err != nil {
		return "", fmt.Errorf("sealed value does not open with key %s (altered or corrupt)", id)
	}
	return string(plain), nil
}

func (s *Sealer) ids() string {
	ids := make([]string, 0, len(s.aeads))
	ids = append(ids, s.id)
	for id := range s.aeads {
		if id != s.id {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ", ")
}
