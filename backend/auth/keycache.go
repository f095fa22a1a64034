package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// negativeTTL is how long a secret that failed verification is remembered as wrong: long enough
// that a client retrying the same wrong key costs no argon2id, short enough not to matter.
const negativeTTL = time.Minute

// KeyVerifier checks API-key secrets against their stored argon2id hashes and remembers the
// keys it verified, so argon2id runs once per key per TTL instead of on every request.
//
// The cache maps (key id, stored hash) to the SHA-256 of the secret that matched. The caller
// still loads the key's row on every request (by primary key, cheap) and checks revocation and
// expiry itself, so a revoked key stops working at once on every replica; a rotated key has a
// new stored hash and misses the cache. Each hit renews the entry, so a key in steady use stays
// verified and keeps working even while someone floods its id with wrong secrets (which the
// guard then refuses without hashing).
//
// Verifications that do need argon2id run under a Guard; secrets that failed are remembered for
// a minute by their SHA-256, so repeating one costs nothing.
type KeyVerifier struct {
	hasher Hasher
	guard  *Guard
	cache  *expirable.LRU[string, [sha256.Size]byte]
	wrong  *expirable.LRU[string, struct{}]
}

// NewKeyVerifier returns a verifier running argon2id under guard and caching up to size keys
// for ttl.
func NewKeyVerifier(h Hasher, guard *Guard, size int, ttl time.Duration) *KeyVerifier {
	return &KeyVerifier{hasher: h, guard: guard,
		cache: expirable.NewLRU[string, [sha256.Size]byte](size, nil, ttl),
		wrong: expirable.NewLRU[string, struct{}](size, nil, negativeTTL)}
}

// Verify reports whether secret matches storedHash (the row of key id, a credential of kind).
// It returns ErrMismatch for a wrong secret, and the guard's ErrBusy or *LimitedError when the
// check was refused before hashing.
func (v *KeyVerifier) Verify(ctx context.Context, kind, id, storedHash, secret string) error {
	cacheKey := id + "\x00" + storedHash
	sum := sha256.Sum256([]byte(secret))
	if known, ok := v.cache.Get(cacheKey); ok {
		if subtle.ConstantTimeCompare(known[:], sum[:]) != 1 {
			return ErrMismatch // one secret matches a hash, and this is not it: no argon2id needed
		}
		v.cache.Add(cacheKey, sum) // renew
		return nil
	}
	wrongKey := cacheKey + "\x00" + string(sum[:])
	if _, ok := v.wrong.Get(wrongKey); ok {
		return ErrMismatch
	}
	err := v.guard.Verify(ctx, kind, kind+":"+id, func() error { return v.hasher.Verify(storedHash, secret) })
	switch {
	case err == nil:
		v.cache.Add(cacheKey, sum)
	case errors.Is(err, ErrMismatch):
		v.wrong.Add(wrongKey, struct{}{})
	}
	return err
}

// Forget drops every cached verification of key id (on revocation, as a courtesy: the caller's
// row check is what enforces it).
func (v *KeyVerifier) Forget(id string) {
	for _, k := range v.cache.Keys() {
		if len(k) > len(id) && k[:len(id)] == id && k[len(id)] == 0 {
			v.cache.Remove(k)
		}
	}
}
