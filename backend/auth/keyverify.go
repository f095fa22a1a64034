package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// migrateTimeout bounds the write that stores a migrated hash; when it fails, the next
// successful check migrates again.
const migrateTimeout = 5 * time.Second

// Credential is a stored API key (a satellite key or a personal token) to check a secret
// against.
type Credential struct {
	// Kind is KindSatelliteKey or KindPersonalToken, the label of the metrics and the guard.
	Kind string
	// ID is the key's public id.
	ID string
	// Hash is the stored hash: keyed (KeyHasher) or, for keys made before decision 0092,
	// argon2id (Hasher).
	Hash string
}

// Migrate stores newHash in place of the credential's old hash after a successful check. It
// must replace only that old hash (a conditional update), so a key rotated meanwhile is not
// overwritten. Its failure is the caller's to log: the check itself succeeded.
type Migrate func(ctx context.Context, newHash string)

// KeyVerifier checks API-key secrets against their stored hashes (decision 0092): keyed hashes
// with the KeyHasher, in a microsecond and without the guard (nobody can guess a 256-bit secret,
// so failures need no limit and a flood on a key id cannot lock its holder out); argon2id hashes
// left from before with the Hasher under the Guard, after which the key is migrated to a keyed
// hash (as is a keyed hash of an older pepper). Nothing is cached: the caller reads the key's row
// on every request, so revocation, expiry and rotation take effect at once on every replica.
//
// Concurrent checks of one secret against one stored hash share a single check (decision 0093):
// a station whose first poll and heartbeat arrive together after a restart costs one
// verification, and one migration.
type KeyVerifier struct {
	keys   *KeyHasher
	legacy Hasher
	guard  *Guard

	mu      sync.Mutex
	flights map[flightKey]*flight

	checks *prometheus.CounterVec
	joined *prometheus.CounterVec

	// onCheck, when set (tests only), runs as each shared check starts.
	onCheck func()
}

// flightKey names one check: the stored credential and the SHA-256 of the secret presented.
type flightKey struct {
	kind, id, hash string
	secret         [sha256.Size]byte
}

// flight is one check under way, shared by every request for the same secret and stored hash.
type flight struct {
	done chan struct{} // closed when err is set
	err  error
}

// NewKeyVerifier returns a verifier of keyed hashes made by keys and of argon2id hashes checked
// by legacy under guard.
func NewKeyVerifier(keys *KeyHasher, legacy Hasher, guard *Guard) *KeyVerifier {
	return &KeyVerifier{keys: keys, legacy: legacy, guard: guard, flights: map[flightKey]*flight{},
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_auth_key_checks_total",
			Help: "API-key and personal-token checks run (concurrent requests with one key share one), by kind, stored hash (keyed, argon2id) and result (ok, mismatch, refused, error).",
		}, []string{"kind", "hash", "result"}),
		joined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_auth_key_checks_joined_total",
			Help: "Requests that waited for a check of the same key and secret already under way instead of running their own, by kind.",
		}, []string{"kind"})}
}

// Collectors are the verifier's metrics, for the server's registry.
func (v *KeyVerifier) Collectors() []prometheus.Collector {
	return []prometheus.Collector{v.checks, v.joined}
}

// Verify reports whether secret matches c's stored hash. It returns ErrMismatch for a wrong
// secret; for an argon2id hash also the guard's ErrBusy or *LimitedError when the check was
// refused before hashing; ErrUnknownPepper for a keyed hash of a pepper this server lacks. After
// a successful check of a hash in an older form, migrate (if not nil) is called once with the
// new hash, by whichever request ran the check.
func (v *KeyVerifier) Verify(ctx context.Context, c Credential, secret string, migrate Migrate) error {
	id := flightKey{kind: c.Kind, id: c.ID, hash: c.Hash, secret: sha256.Sum256([]byte(secret))}
	v.mu.Lock()
	if f, ok := v.flights[id]; ok {
		v.mu.Unlock()
		v.joined.WithLabelValues(c.Kind).Inc()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	v.flights[id] = f
	v.mu.Unlock()

	// The check outlives a caller that gives up, for the others waiting on it; the guard bounds
	// how long it may wait for a slot.
	f.err = v.check(context.WithoutCancel(ctx), c, secret, migrate)
	v.mu.Lock()
	delete(v.flights, id)
	v.mu.Unlock()
	close(f.done)
	return f.err
}

// check runs one verification and, on success, the migration of an outdated hash.
func (v *KeyVerifier) check(ctx context.Context, c Credential, secret string, migrate Migrate) error {
	if v.onCheck != nil {
		v.onCheck()
	}
	hash, err := "keyed", error(nil)
	if IsKeyHash(c.Hash) {
		err = v.keys.Verify(c.Hash, secret)
	} else {
		hash = "argon2id"
		err = v.guard.Verify(ctx, c.Kind, c.Kind+":"+c.ID, func() error { return v.legacy.Verify(c.Hash, secret) })
	}
	v.checks.WithLabelValues(c.Kind, hash, checkResult(err)).Inc()
	if err == nil && migrate != nil && v.keys.NeedsRehash(c.Hash) {
		// The shared check's context cannot be cancelled, so bound the migration's write here.
		mctx, cancel := context.WithTimeout(ctx, migrateTimeout)
		migrate(mctx, v.keys.Hash(secret))
		cancel()
	}
	return err
}

func checkResult(err error) string {
	var limited *LimitedError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	case errors.Is(err, ErrBusy), errors.As(err, &limited):
		return "refused"
	}
	return "error"
}
