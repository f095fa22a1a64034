// Package auth holds Talos's credential primitives: argon2id hashing of passwords and API-key
// secrets, the format of API keys (public key id + secret), a cache of verified keys, and the
// session and CSRF tokens of browser logins. It knows nothing about HTTP or the database.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	// MemoryKiB is the memory cost in KiB.
	MemoryKiB uint32
	// Iterations is the time cost (passes over memory).
	Iterations uint32
	// Parallelism is the number of lanes.
	Parallelism uint8
}

// DefaultParams follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): tens of
// milliseconds per hash (BenchmarkHashPassword in backend/server), so a login costs little but an
// offline guess costs as much.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

// TestParams are cheap parameters for tests only; hashes record their parameters, so a store
// written with them still verifies with any Hasher.
var TestParams = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
	// maxVerifyMemoryKiB bounds the memory a stored hash may ask for, so a corrupted or hostile
	// row cannot make verification allocate gigabytes (256 MiB, 13 times the default).
	maxVerifyMemoryKiB = 256 * 1024
)

// ErrMismatch means a password or secret does not match its hash.
var ErrMismatch = errors.New("credentials do not match")

// Hasher hashes and verifies secrets with argon2id.
type Hasher struct {
	Params Params
}

// Hash returns the PHC string of secret: $argon2id$v=19$m=..,t=..,p=..$salt$key (unpadded
// base64).
func (h Hasher) Hash(secret string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	p := h.Params
	key := argon2.IDKey([]byte(secret), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks secret against a PHC hash in constant time. It returns ErrMismatch for a wrong
// secret and another error for a malformed hash.
func (Hasher) Verify(hash, secret string) error {
	p, salt, want, err := parsePHC(hash)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(secret), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether hash was made with other parameters than h's, so a login can
// upgrade it.
func (h Hasher) NeedsRehash(hash string) bool {
	p, _, _, err := parsePHC(hash)
	return err != nil || p != h.Params
}

func parsePHC(hash string) (Params, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errors.New("malformed argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, errors.New("unsupported argon2id version")
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, fmt.Errorf("malformed argon2id parameters: %w", err)
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > maxVerifyMemoryKiB || p.Iterations == 0 || p.Iterations > 64 || p.Parallelism == 0 {
		return Params{}, nil, nil, errors.New("argon2id parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, errors.New("malformed argon2id salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errors.New("malformed argon2id key")
	}
	return p, salt, key, nil
}

// RandomString returns n random bytes encoded as unpadded URL-safe base64.
func RandomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
