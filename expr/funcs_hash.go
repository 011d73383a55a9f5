package expr

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// shortHashMax is the longest ShortHash: the 52 characters of a SHA-256
// digest in unpadded base32.
const shortHashMax = 52

// ShortHash(source, length) returns the first length characters (1–52) of
// the SHA-256 digest of source (its UTF-8 bytes) in lower-case base32
// (a–z, 2–7): a short, deterministic suffix for generated names such as a
// managed domain's sAMAccountName. NULL gives NULL. It is a function of
// both dialects.
func fnShortHash(_ *ctx, a []value) (value, error) {
	if a[0].isNull() {
		return null, nil
	}
	s, err := argStr(a, 0)
	if err != nil {
		return null, err
	}
	n, err := argNum(a, 1)
	if err != nil {
		return null, err
	}
	if n < 1 || n > shortHashMax {
		return null, fmt.Errorf("argument 2: the length must be between 1 and %d, not %d", shortHashMax, n)
	}
	sum := sha256.Sum256([]byte(s))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])
	return str(strings.ToLower(enc[:n])), nil
}

func init() {
	register(fixed("ShortHash", 2, 2, true, fnShortHash))
}
