package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// KeyVerifier checks API-key secrets against their stored argon2id hashes and remembers the
// keys it verified, so argon2id runs once per key per TTL instead of on every request.
//
// The cache maps (key id, stored hash) to the SHA-256 of the secret that matched. The caller
// still loads the key's row on every request (by primary key, cheap) and checks revocation and
// expiry itself, so a revoked key stops working at once on every replica; a rotated key has a
// new stored hash and misses the cache.
type KeyVerifier struct {
	hasher Hasher
	cache  *expirable.LRU[string, [sha256.Size]byte]
}

// NewKeyVerifier returns a verifier caching up to size keys for ttl.
func NewKeyVerifier(h Hasher, size int, ttl time.Duration) *KeyVerifier {
	return &KeyVerifier{hasher: h, cache: expirable.NewLRU[string, [sha256.Size]byte](size, nil, ttl)}
}

// Verify reports whether secret matches storedHash (the row of key id). It returns ErrMismatch
// for a wrong secret.
func (v *KeyVerifier) Verify(id, storedHash, secret string) error {
	cacheKey := id + "\x00" + storedHash
	sum := sha256.Sum256([]byte(secret))
	if known, ok := v.cache.Get(cacheKey); ok {
		if subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
			return nil
		}
		return ErrMismatch
	}
	if err := v.hasher.Verify(storedHash, secret); err != nil {
		return err
	}
	v.cache.Add(cacheKey, sum)
	return nil
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
