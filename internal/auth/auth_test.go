package auth

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashAndVerifyPassword(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !phc.MatchString(h1) {
		t.Fatalf("hash %q is not an argon2id PHC string with the OWASP parameters", h1)
	}
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if strings.Contains(h1, pw) {
		t.Fatal("the hash holds the password")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{pw, true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
		{pw + "\x00", false},
	} {
		for _, h := range []string{h1, h2} {
			ok, err := VerifyPassword(h, tc.pw)
			if err != nil || ok != tc.want {
				t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
			}
		}
	}
	if NeedsRehash(h1) {
		t.Errorf("NeedsRehash of a new hash")
	}
}

// TestVerifyReferenceHashes checks hashes made by the reference C
// implementation (libargon2 20171227, argon2id_hash_encoded), so that
// hashes move between idsync and other argon2id implementations.
func TestVerifyReferenceHashes(t *testing.T) {
	for _, tc := range []struct {
		hash, pw string
		rehash   bool
	}{
		{"$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0", "correct horse battery staple", false},
		{"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$yawQz16Di7jMZUgwM/g2RSF6Yt/P5GfgRMeENanneGk", "pässwörd ✓", false},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$pMlwOs/gn+zdvoB/AGiRNA", "password", true},
	} {
		ok, err := VerifyPassword(tc.hash, tc.pw)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(%q, %q) = %v, %v; want true", tc.hash, tc.pw, ok, err)
		}
		if ok, err := VerifyPassword(tc.hash, tc.pw+"x"); err != nil || ok {
			t.Errorf("VerifyPassword(%q) of another password = %v, %v; want false", tc.hash, ok, err)
		}
		if got := NeedsRehash(tc.hash); got != tc.rehash {
			t.Errorf("NeedsRehash(%q) = %v, want %v", tc.hash, got, tc.rehash)
		}
	}
	// This package writes the same form: the first hash again, from its
	// salt.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("correct horse battery staple"), salt, hashTime, hashMemory, hashThreads, keyLen)
	if got := formatHash(params{hashMemory, hashTime, hashThreads}, salt, key); got != "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0" {
		t.Errorf("formatHash = %q, want the reference implementation's", got)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, err := HashPassword("twelve chars!")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, h := range []string{
		"",
		"password",
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,x=1$" + salt + "$" + key,
		"$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=7,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "==",
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, key[:1], "-"),
		"$argon2id$v=19$m=19456,t=2,p=1$$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$",
		"$argon2id$v=19$m=19456,t=2,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("short")) + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString([]byte("short hash")),
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$",
		"x$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		good + "\n",
	} {
		ok, err := VerifyPassword(h, "twelve chars!")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error wrapping ErrMalformedHash", h, ok, err)
		}
		if !NeedsRehash(h) {
			t.Errorf("NeedsRehash(%q) = false for a malformed hash", h)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := make([]byte, keyLen)
	for _, tc := range []struct {
		p          params
		salt, key  []byte
		wantRehash bool
	}{
		{params{19456, 2, 1}, salt, key, false},
		{params{65536, 3, 4}, salt, key, false},
		{params{19455, 2, 1}, salt, key, true},
		{params{19456, 1, 1}, salt, key, true},
		{params{19456, 2, 1}, salt[:8], key, true},
		{params{19456, 2, 1}, salt, key[:16], true},
	} {
		if got := NeedsRehash(formatHash(tc.p, tc.salt, tc.key)); got != tc.wantRehash {
			t.Errorf("NeedsRehash(%+v, salt %d, hash %d) = %v, want %v", tc.p, len(tc.salt), len(tc.key), got, tc.wantRehash)
		}
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw, wantErr string
	}{
		{"", "too short: 0 characters, at least 12"},
		{"elevenchars", "too short: 11 characters"},
		{"twelve chars", ""},
		{"ééééééééééé", "too short: 11 characters"}, // characters, not bytes
		{"éééééééééééé", ""},
		{strings.Repeat("x", MaxPasswordLen), ""},
		{strings.Repeat("x", MaxPasswordLen+1), "too long"},
		{"twelve chars\xff", "not valid UTF-8"},
	} {
		err := CheckPasswordPolicy(tc.pw)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckPasswordPolicy(%q) = %v, want nil", tc.pw, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckPasswordPolicy(%q) = %v, want an error with %q", tc.pw, err, tc.wantErr)
		}
	}
}

func TestNewToken(t *testing.T) {
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^idsync_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Fatalf("token %q: want idsync_ and 32 bytes of unpadded base64url", tok)
	}
	if hash != TokenHash(tok) || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
		t.Fatalf("hash %q: want the hex SHA-256 of the token", hash)
	}
	if got := TokenHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("TokenHash(abc) = %s, want SHA-256's test vector", got)
	}
	tok2, hash2, err := NewToken()
	if err != nil || tok2 == tok || hash2 == hash {
		t.Fatalf("two tokens are equal: %q %q (%v)", tok, tok2, err)
	}
	id, err := NewTokenID()
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("NewTokenID = %q, %v", id, err)
	}
}

func TestRoles(t *testing.T) {
	for _, r := range Roles() {
		if !ValidRole(r) {
			t.Errorf("ValidRole(%q) = false", r)
		}
	}
	for _, r := range []string{"", "Admin", "root", "browser"} {
		if ValidRole(r) {
			t.Errorf("ValidRole(%q) = true", r)
		}
	}
	for _, tc := range []struct {
		role, needed string
		want         bool
	}{
		{RoleAdmin, RoleAdmin, true},
		{RoleAdmin, RoleOperator, true},
		{RoleAdmin, RoleBrowse, true},
		{RoleOperator, RoleAdmin, false},
		{RoleOperator, RoleOperator, true},
		{RoleOperator, RoleBrowse, true},
		{RoleBrowse, RoleAdmin, false},
		{RoleBrowse, RoleOperator, false},
		{RoleBrowse, RoleBrowse, true},
		{"", RoleBrowse, false},
		{"root", RoleBrowse, false},
		{RoleAdmin, "", false},
		{RoleAdmin, "root", false},
	} {
		if got := Allows(tc.role, tc.needed); got != tc.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tc.role, tc.needed, got, tc.want)
		}
	}
}

func TestCheckUserName(t *testing.T) {
	for _, tc := range []struct {
		name, wantErr string
	}{
		{"ann", ""},
		{"ann.example@contoso.test", ""},
		{"Émile_2-x+y", ""},
		{strings.Repeat("a", MaxUserNameLen), ""},
		{"", "empty"},
		{strings.Repeat("a", MaxUserNameLen+1), "too long"},
		{"cli", "reserved"},
		{"CLI", "reserved"},
		{"ann example", "character ' '"},
		{"ann:x", "character ':'"},
		{"ann/x", "character '/'"},
		{"ann\n", `character '\n'`},
		{"ann\xff", "not valid UTF-8"},
	} {
		err := CheckUserName(tc.name)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckUserName(%q) = %v, want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckUserName(%q) = %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true},
		{"1d", day, true},
		{"12h", 12 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"3660d", 3660 * day, true},
		{"3661d", 0, false},
		{"0d", 0, false},
		{"0s", 0, false},
		{"-1h", 0, false},
		{"-1d", 0, false},
		{"+1d", 0, false},
		{"01d", 0, false},
		{"d", 0, false},
		{"", 0, false},
		{"90", 0, false},
		{"1.5d", 0, false},
		{"99999999999999999999d", 0, false},
		{"100000h", 0, false},
		{"never", 0, false},
	} {
		got, err := ParseLifetime(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseHash checks that the PHC parser of VerifyPassword never panics,
// accepts only what it bounds, and that a hash it accepts is exactly the
// canonical form of what it read.
func FuzzParseHash(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$AAAA",
		"$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$AAAA",
		"$$$$$", "", "$argon2id$v=19$m=,t=,p=$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		p, salt, key, err := parseHash(h)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parseHash(%q): %v does not wrap ErrMalformedHash", h, err)
			}
			if ok, verr := VerifyPassword(h, "pw"); ok || verr == nil {
				t.Fatalf("VerifyPassword accepted a hash parseHash refuses: %q", h)
			}
			return
		}
		if p.memory > maxMemory || p.time < 1 || p.time > maxTime || p.threads < 1 || p.threads > maxThreads ||
			p.memory < 8*uint32(p.threads) || len(salt) < minSaltLen || len(salt) > maxSaltLen ||
			len(key) < minKeyLen || len(key) > maxKeyLen {
			t.Fatalf("parseHash(%q) accepted out-of-bounds parameters %+v, salt %d, hash %d", h, p, len(salt), len(key))
		}
		if got := formatHash(p, salt, key); got != h {
			t.Fatalf("parseHash(%q) accepted a non-canonical form of %q", h, got)
		}
		// Verifying is cheap for small parameters only.
		if uint64(p.memory)*uint64(p.time) <= 1024 {
			want := formatHash(p, salt, argon2.IDKey([]byte("pw"), salt, p.time, p.memory, p.threads, uint32(len(key)))) == h
			if ok, err := VerifyPassword(h, "pw"); err != nil || ok != want {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want %v", h, ok, err, want)
			}
		}
	})
}

// FuzzParseLifetime checks that ParseLifetime never panics and accepts only
// lifetimes within bounds.
func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"90d", "12h", "1h30m", "0d", "-1d", "99999999999999999999d", "d", "", "never", "1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLifetime(s)
		if err == nil && (d <= 0 || d > MaxLifetime) {
			t.Fatalf("ParseLifetime(%q) = %v: out of bounds", s, d)
		}
		if err != nil && d != 0 {
			t.Fatalf("ParseLifetime(%q) = %v with error %v", s, d, err)
		}
	})
}
