package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	s, err := NewSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"", "Secret123!", "\x00\xff binary \xfe", strings.Repeat("x", 1<<16)} {
		a, err := s.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Seal(plain)
		if a == b {
			t.Errorf("two seals of the same value are equal (nonce reused?)")
		}
		if !IsSealed(a) || !strings.HasPrefix(a, "idsync-secret:v1:"+s.KeyID()+":") {
			t.Errorf("sealed value %.40q lacks the versioned prefix and key id", a)
		}
		if len(plain) >= 4 && strings.Contains(a, plain) {
			t.Errorf("sealed value contains the clear value")
		}
		got, err := s.Open(a)
		if err != nil || got != plain {
			t.Errorf("Open = %.20q, %v; want %.20q", got, err, plain)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	s, _ := NewSealer(testKey(1))
	other, _ := NewSealer(testKey(2))
	v, _ := s.Seal("Secret123!")
	if _, err := other.Open(v); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("open with another key: %v, want ErrUnknownKey", err)
	}
	// Flip one byte of the ciphertext: authentication fails.
	i := len(v) - 3
	c := byte('A')
	if v[i] == 'A' {
		c = 'B'
	}
	if _, err := s.Open(v[:i] + string(c) + v[i+1:]); err == nil {
		t.Error("an altered value opened")
	}
	// The header is authenticated: another key id is refused.
	rot, _ := NewSealer(testKey(2), testKey(1))
	moved := strings.Replace(v, s.KeyID(), rot.KeyID(), 1)
	if _, err := rot.Open(moved); err == nil {
		t.Error("a value moved to another key id opened")
	}
	for _, bad := range []string{"idsync-secret:v1:", "idsync-secret:v1:" + s.KeyID() + ":@@", "idsync-secret:v9:x:y", "idsync-secret:v1:" + s.KeyID() + ":AAAA"} {
		if _, err := s.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestRotation(t *testing.T) {
	old, _ := NewSealer(testKey(1))
	v, _ := old.Seal("pw-1234")
	cur, err := NewSealer(testKey(2), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cur.Open(v); err != nil || got != "pw-1234" {
		t.Fatalf("open an old value after rotation: %q, %v", got, err)
	}
	w, _ := cur.Seal("pw-1234")
	if !strings.Contains(w, cur.KeyID()) || cur.KeyID() == old.KeyID() {
		t.Errorf("new values must be sealed with the new key")
	}
}

func TestParseKey(t *testing.T) {
	k := testKey(7)
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(k) + "\n",
		base64.RawURLEncoding.EncodeToString(k),
		hex.EncodeToString(k),
	} {
		got, err := ParseKey(text)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v", text, got, err)
		}
	}
	for _, bad := range []string{"", "  ", "not a key!", base64.StdEncoding.EncodeToString(k[:16])} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
	g, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ParseKey(g); err != nil || len(b) != KeySize {
		t.Errorf("generated key does not parse: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	p := NewPolicy("employeeSecret", " ")
	for name, want := range map[string]bool{
		"userPassword": true, "userpassword": true, "UNICODEPWD": true, "password": true,
		"passwordProfile.password": true, "employeeSecret": true, "EmployeeSecret": true,
		"mail": false, "passwordLastSet": false, "pwdLastSet": false, "": false,
	} {
		if got := p.IsSecret(name); got != want {
			t.Errorf("IsSecret(%q) = %v, want %v", name, got, want)
		}
	}
	var zero *Policy
	if !zero.IsSecret("unicodePwd") || zero.IsSecret("employeeSecret") {
		t.Error("the nil policy holds the defaults only")
	}
}

func TestMasker(t *testing.T) {
	m := NewMasker()
	m.Add("Secret123!", "Secret123!-longer", "abc", "Zq9x")
	for in, want := range map[string]string{
		"value Secret123! rejected":           "value [secret] rejected",
		"Secret123!-longer and Secret123!":    "[secret] and [secret]",
		"abc is too short to be masked":       "abc is too short to be masked",
		"Zq9xZq9x":                            "[secret][secret]",
		"nothing here":                        "nothing here",
		"":                                    "",
		"unicode é Secret123! ü at the end":   "unicode é [secret] ü at the end",
		`quoted "Secret123!" in an LDAP diag`: `quoted "[secret]" in an LDAP diag`,
	} {
		if got := m.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	var nilM *Masker
	nilM.Add("x")
	if nilM.Mask("Secret123!") != "Secret123!" {
		t.Error("the nil Masker masks nothing")
	}
}

func TestLogHandler(t *testing.T) {
	m := NewMasker()
	m.Add("Secret123!")
	var buf bytes.Buffer
	l := slog.New(LogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), m))
	l = l.With("ctx", "with Secret123!")
	l.Debug("export Secret123!", "err", errors.New("bad value Secret123!"), "v", []string{"Secret123!"},
		"s", "Secret123!", slog.Group("g", "x", "Secret123!"), "m", map[string]string{"a": "Secret123!"})
	if strings.Contains(buf.String(), "Secret123!") {
		t.Errorf("log leaks the secret: %s", buf.String())
	}
	if !strings.Contains(buf.String(), Redacted) {
		t.Errorf("log lacks %s: %s", Redacted, buf.String())
	}
}
