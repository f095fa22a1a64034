package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// MinPepperLen is the shortest pepper accepted, in bytes (a generated one is 64 hex characters).
const MinPepperLen = 32

// keyHashScheme names the keyed hash in stored strings: $hmac-sha256$v=1$p=<pepper id>$<mac>.
// A stored hash names its algorithm, its version and the pepper it was made with, so a server
// can tell an argon2id hash (made before decision 0092) from a keyed one, and a keyed hash made
// with an older pepper from a current one, and migrate either on the key's next check.
const (
	keyHashScheme  = "hmac-sha256"
	keyHashVersion = "v=1"
)

// ErrUnknownPepper means a stored keyed hash was made with a pepper this server does not have:
// a configuration error (replicas with different peppers, a pepper dropped too early), not a
// wrong key, so it must not be answered like one.
var ErrUnknownPepper = errors.New("stored key hash names a pepper this server does not have")

// KeyHasher hashes and verifies high-entropy secrets (satellite API keys and personal tokens,
// 256 random bits each) with HMAC-SHA-256 under a server-side pepper. No salt and no work
// factor are needed: nobody can guess a 256-bit secret, so the hash only has to make a leaked
// table useless, which a keyed hash does even for someone who also learns the pepper. It costs
// about a microsecond and no memory, where argon2id costs 19 MiB and tens of milliseconds.
//
// It holds the current pepper, which makes every new hash, and any previous ones, which still
// verify hashes made with them (so a pepper can be rotated without re-issuing keys: NeedsRehash
// says which hashes to replace on their next successful check).
type KeyHasher struct {
	current string             // id of the current pepper
	keys    map[string]*macKey // pepper id → MAC key derived from that pepper
}

// macKey hands out HMAC states keyed with one derived key: Reset restores the keyed state, so a
// check allocates no new HMAC (it is on every authenticated request).
type macKey struct {
	pool sync.Pool
}

func newMacKey(key []byte) *macKey {
	return &macKey{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// sum writes the MAC of secret into out.
func (k *macKey) sum(secret string, out *[sha256.Size]byte) {
	m, _ := k.pool.Get().(hash.Hash) // the pool holds nothing else
	m.Reset()
	m.Write([]byte(secret))
	m.Sum(out[:0])
	k.pool.Put(m)
}

// NewKeyHasher returns a hasher making hashes with current and verifying hashes made with
// current or any of previous. Every pepper must have at least MinPepperLen bytes.
func NewKeyHasher(current []byte, previous ...[]byte) (*KeyHasher, error) {
	h := &KeyHasher{keys: map[string]*macKey{}}
	for i, p := range append([][]byte{current}, previous...) {
		if len(p) < MinPepperLen {
			return nil, fmt.Errorf("key pepper %d is %d bytes; at least %d are needed", i+1, len(p), MinPepperLen)
		}
		id := PepperID(p)
		if _, dup := h.keys[id]; dup {
			return nil, fmt.Errorf("key pepper %d is listed twice (id %s)", i+1, id)
		}
		h.keys[id] = newMacKey(deriveMacKey(p))
		if i == 0 {
			h.current = id
		}
	}
	return h, nil
}

// PepperID is the public name of a pepper in the hashes made with it: 8 hex characters of a
// one-way function of the pepper, so it tells peppers apart without revealing them.
func PepperID(pepper []byte) string {
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte("talos key pepper id"))
	return hex.EncodeToString(mac.Sum(nil)[:4])
}

// deriveMacKey derives the key that hashes secrets from a pepper, so the pepper could key other
// things too without any two uses sharing a key.
func deriveMacKey(pepper []byte) []byte {
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte("talos key hash v1"))
	return mac.Sum(nil)
}

// CurrentPepperID is the id of the pepper new hashes are made with.
func (h *KeyHasher) CurrentPepperID() string { return h.current }

// Hash returns the stored form of secret: $hmac-sha256$v=1$p=<pepper id>$<mac, unpadded base64>.
func (h *KeyHasher) Hash(secret string) string {
	return h.format(h.current, secret)
}

func (h *KeyHasher) format(id, secret string) string {
	var sum [sha256.Size]byte
	h.keys[id].sum(secret, &sum)
	return "$" + keyHashScheme + "$" + keyHashVersion + "$p=" + id + "$" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Verify checks secret against a keyed hash in constant time. It returns ErrMismatch for a
// wrong secret, ErrUnknownPepper for a hash made with a pepper it does not have, and another
// error for a malformed hash.
func (h *KeyHasher) Verify(stored, secret string) error {
	var want, got [sha256.Size]byte
	id, err := parseKeyHash(stored, &want)
	if err != nil {
		return err
	}
	key, ok := h.keys[id]
	if !ok {
		return fmt.Errorf("%w (pepper id %s)", ErrUnknownPepper, id)
	}
	key.sum(secret, &got)
	if !hmac.Equal(got[:], want[:]) {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether stored should be replaced by Hash of its secret after a
// successful check: it is not a keyed hash (an argon2id one), or it was made with a pepper other
// than the current one.
func (h *KeyHasher) NeedsRehash(stored string) bool {
	var sum [sha256.Size]byte
	id, err := parseKeyHash(stored, &sum)
	return err != nil || id != h.current
}

// IsKeyHash reports whether stored is a keyed hash (of any pepper), as opposed to an argon2id
// PHC string or anything else.
func IsKeyHash(stored string) bool {
	return strings.HasPrefix(stored, "$"+keyHashScheme+"$")
}

// parseKeyHash reads a keyed hash into its pepper id and MAC (into sum). Only the canonical
// encoding is accepted: one stored string per MAC.
func parseKeyHash(stored string, sum *[sha256.Size]byte) (pepperID string, err error) {
	rest, ok := strings.CutPrefix(stored, "$"+keyHashScheme+"$")
	if !ok {
		return "", errors.New("malformed keyed hash")
	}
	version, rest, _ := strings.Cut(rest, "$")
	if version != keyHashVersion {
		return "", fmt.Errorf("unsupported keyed hash version %q", version)
	}
	param, value, _ := strings.Cut(rest, "$")
	id, ok := strings.CutPrefix(param, "p=")
	if !ok || len(id) != 8 {
		return "", errors.New("malformed keyed hash pepper id")
	}
	enc := base64.RawStdEncoding.Strict()
	if len(value) != enc.EncodedLen(sha256.Size) || strings.ContainsAny(value, "\r\n") {
		return "", errors.New("malformed keyed hash value")
	}
	if n, err := enc.Decode(sum[:], []byte(value)); err != nil || n != sha256.Size {
		return "", errors.New("malformed keyed hash value")
	}
	return id, nil
}
