package config

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Security configures the protection of secret attributes (passwords):
// their values are sealed (AES-256-GCM) in the store with a key that is
// never stored there (internal/secret, store/sealed).
type Security struct {
	// SecretKey is the key, 32 random bytes in base64 (or 64 hex digits).
	// Write it ${NAME} to read it from the environment variable NAME.
	SecretKey string `yaml:"secretKey"`
	// SecretKeyFile is a file holding the key instead (relative to the
	// configuration file); it must not be readable by group or others.
	SecretKeyFile string `yaml:"secretKeyFile"`
	// PreviousSecretKeys are older keys, still used to open values sealed
	// with them (key rotation); ${NAME} references are read from the
	// environment.
	PreviousSecretKeys []string `yaml:"previousSecretKeys"`
	// SecretAttributes are attributes to treat as secret besides the
	// built-in ones (unicodePwd, userPassword, password, passwordProfile,
	// initialPassword), in every connector space and the metaverse.
	SecretAttributes []string `yaml:"secretAttributes"`
}

// SecretKeyEnv is read for the key when the configuration sets neither
// security.secretKey nor security.secretKeyFile.
const SecretKeyEnv = "IDSYNC_SECRET_KEY"

func (s Security) validate() []error {
	var errs []error
	if s.SecretKey != "" && s.SecretKeyFile != "" {
		errs = append(errs, errors.New("security: set secretKey or secretKeyFile, not both"))
	}
	for i, a := range s.SecretAttributes {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("security.secretAttributes[%d] is empty", i))
		}
	}
	return errs
}

// SecretKeys returns the text of the key that seals secret values ("" when
// none is configured), of the previous keys, and where the key came from
// (for messages). A ${NAME} whose variable is unset is an error, as is a
// key file that others may read.
func (c *Config) SecretKeys() (key string, previous []string, from string, err error) {
	s := c.Security
	switch {
	case s.SecretKey != "":
		from = "security.secretKey"
		if key, err = lookupRef(s.SecretKey, from); err != nil {
			return "", nil, from, err
		}
	case s.SecretKeyFile != "":
		from = "security.secretKeyFile " + s.SecretKeyFile
		fi, err := os.Stat(s.SecretKeyFile)
		if err != nil {
			return "", nil, from, fmt.Errorf("%s: %w", from, err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 && runtime.GOOS != "windows" {
			return "", nil, from, fmt.Errorf("%s: the key file may be read by others (mode %04o): run chmod 600 %s", from, m, s.SecretKeyFile)
		}
		b, err := os.ReadFile(s.SecretKeyFile)
		if err != nil {
			return "", nil, from, fmt.Errorf("%s: %w", from, err)
		}
		key = string(b)
	default:
		from = "the environment variable " + SecretKeyEnv
		key = os.Getenv(SecretKeyEnv)
	}
	for i, p := range s.PreviousSecretKeys {
		v, err := lookupRef(p, fmt.Sprintf("security.previousSecretKeys[%d]", i))
		if err != nil {
			return "", nil, from, err
		}
		previous = append(previous, v)
	}
	return key, previous, from, nil
}
