package auth

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	testPepper  = bytes.Repeat([]byte("p"), MinPepperLen)
	olderPepper = bytes.Repeat([]byte("o"), MinPepperLen)
)

func testKeyHasher(t testing.TB, previous ...[]byte) *KeyHasher {
	t.Helper()
	h, err := NewKeyHasher(testPepper, previous...)
	require.NoError(t, err)
	return h
}

// TestKeyHasher: the stored form names its scheme, version and pepper; only the right secret
// matches; a hash of a previous pepper verifies and asks to be rehashed; a hash of a pepper the
// server does not have is ErrUnknownPepper, not a mismatch.
func TestKeyHasher(t *testing.T) {
	t.Parallel()
	h := testKeyHasher(t, olderPepper)
	hash := h.Hash("the secret")
	assert.Equal(t, "$hmac-sha256$v=1$p="+PepperID(testPepper)+"$", hash[:len(hash)-43])
	assert.NotEqual(t, hash, h.Hash("the secret!"))
	require.NoError(t, h.Verify(hash, "the secret"))
	assert.False(t, h.NeedsRehash(hash))
	assert.True(t, IsKeyHash(hash))

	old, err := NewKeyHasher(olderPepper)
	require.NoError(t, err)
	oldHash := old.Hash("the secret")
	require.NoError(t, h.Verify(oldHash, "the secret"), "a previous pepper still verifies")
	assert.True(t, h.NeedsRehash(oldHash), "and its hashes move to the current one")
	require.ErrorIs(t, old.Verify(hash, "the secret"), ErrUnknownPepper)

	argon, err := Hasher{Params: TestParams}.Hash("the secret")
	require.NoError(t, err)
	assert.False(t, IsKeyHash(argon))
	assert.True(t, h.NeedsRehash(argon))

	_, err = NewKeyHasher([]byte("short"))
	require.ErrorContains(t, err, "at least 32")
	_, err = NewKeyHasher(testPepper, olderPepper, testPepper)
	require.ErrorContains(t, err, "twice")
}

// TestKeyHasherRefusesWrongSecrets: every secret but the stored one is ErrMismatch, including
// ones differing in the last character only (the comparison is hmac.Equal, constant-time), and
// a malformed stored hash is an error, never a match.
func TestKeyHasherRefusesWrongSecrets(t *testing.T) {
	t.Parallel()
	h := testKeyHasher(t)
	secret := strings.Repeat("s", 43)
	hash := h.Hash(secret)
	for _, wrong := range []string{"", secret[:42], secret[:42] + "t", secret + "s", strings.ToUpper(secret)} {
		require.ErrorIs(t, h.Verify(hash, wrong), ErrMismatch, wrong)
	}
	sum := hash[strings.LastIndexByte(hash, '$')+1:]
	for _, bad := range []string{"", "$hmac-sha256$v=2$p=" + PepperID(testPepper) + "$" + sum,
		"$hmac-sha256$v=1$p=123$" + sum, "$hmac-sha256$v=1$p=" + PepperID(testPepper) + "$" + sum[:20],
		"$hmac-sha256$v=1$" + sum, strings.Replace(hash, "$p=", "$q=", 1)} {
		err := h.Verify(bad, secret)
		require.Error(t, err, bad)
		assert.NotErrorIs(t, err, ErrMismatch, "a malformed hash is not a wrong secret: %s", bad)
	}
}

// TestKeyVerifierMigratesArgon2idHash: a key hashed with argon2id before decision 0092 still
// verifies (under the guard) and is migrated once to a keyed hash, which then verifies without
// argon2id; a wrong secret migrates nothing; a keyed hash of an older pepper migrates too.
func TestKeyVerifierMigratesArgon2idHash(t *testing.T) {
	t.Parallel()
	keys := testKeyHasher(t, olderPepper)
	g := NewGuard(VerifyLimits{}, nil)
	v := NewKeyVerifier(keys, Hasher{Params: TestParams}, g)
	argon, err := Hasher{Params: TestParams}.Hash("the secret")
	require.NoError(t, err)
	var migrated []string
	migrate := func(_ context.Context, h string) { migrated = append(migrated, h) }
	c := Credential{Kind: KindSatelliteKey, ID: "id1", Hash: argon}

	require.ErrorIs(t, v.Verify(t.Context(), c, "wrong secret", migrate), ErrMismatch)
	assert.Empty(t, migrated)
	require.NoError(t, v.Verify(t.Context(), c, "the secret", migrate))
	require.Len(t, migrated, 1)
	assert.True(t, IsKeyHash(migrated[0]))
	assert.InDelta(t, 1, value(t, g.verified.WithLabelValues(KindSatelliteKey, "ok")), 0, "argon2id ran under the guard")

	c.Hash = migrated[0]
	require.NoError(t, v.Verify(t.Context(), c, "the secret", migrate))
	assert.Len(t, migrated, 1, "a current keyed hash is not migrated again")
	assert.InDelta(t, 1, value(t, g.verified.WithLabelValues(KindSatelliteKey, "ok")), 0, "no argon2id for a keyed hash")
	assert.InDelta(t, 1, value(t, v.checks.WithLabelValues(KindSatelliteKey, "keyed", "ok")), 0)

	old, err := NewKeyHasher(olderPepper)
	require.NoError(t, err)
	c.Hash = old.Hash("the secret")
	require.NoError(t, v.Verify(t.Context(), c, "the secret", migrate))
	require.Len(t, migrated, 2)
	assert.Contains(t, migrated[1], "$p="+keys.CurrentPepperID()+"$")
}

// TestKeyVerifierKeyedHashesNeedNoGuard: with every argon2id slot taken and a key id flooded
// with wrong secrets past the failure limit, a keyed hash still verifies its right secret: no
// slot, no failure count, so nobody who knows a key id can lock its holder out.
func TestKeyVerifierKeyedHashesNeedNoGuard(t *testing.T) {
	t.Parallel()
	keys := testKeyHasher(t)
	g := NewGuard(VerifyLimits{Concurrent: 1, Queue: -1, MaxFailures: 2}, nil)
	v := NewKeyVerifier(keys, Hasher{Params: TestParams}, g)
	release := holdSlot(t, g)
	c := Credential{Kind: KindPersonalToken, ID: "id1", Hash: keys.Hash("the secret")}
	for i := range 10 {
		require.ErrorIs(t, v.Verify(t.Context(), c, "guess "+string(rune('a'+i)), nil), ErrMismatch)
	}
	require.NoError(t, v.Verify(t.Context(), c, "the secret", nil))
	argon, err := Hasher{Params: TestParams}.Hash("the secret")
	require.NoError(t, err)
	c.Hash = argon
	require.ErrorIs(t, v.Verify(t.Context(), c, "the secret", nil), ErrBusy, "an argon2id hash still needs a slot")
	release()
	assert.InDelta(t, 10, value(t, v.checks.WithLabelValues(KindPersonalToken, "keyed", "mismatch")), 0)
	assert.InDelta(t, 1, value(t, v.checks.WithLabelValues(KindPersonalToken, "argon2id", "refused")), 0)
}

// TestKeyVerifierSingleFlight: n requests with one key started together run one check (and one
// migration); all get its answer. The first check is held until every other request has joined it.
func TestKeyVerifierSingleFlight(t *testing.T) {
	t.Parallel()
	const n = 16
	keys := testKeyHasher(t)
	v := NewKeyVerifier(keys, Hasher{Params: TestParams}, NewGuard(VerifyLimits{}, nil))
	argon, err := Hasher{Params: TestParams}.Hash("the secret")
	require.NoError(t, err)
	c := Credential{Kind: KindSatelliteKey, ID: "id1", Hash: argon}

	var checks, migrations atomic.Int64
	release := make(chan struct{})
	v.onCheck = func() { checks.Add(1); <-release }
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- v.Verify(t.Context(), c, "the secret", func(context.Context, string) { migrations.Add(1) })
		}()
	}
	close(start)
	require.Eventually(t, func() bool { return value(t, v.joined.WithLabelValues(KindSatelliteKey)) == n-1 },
		5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), checks.Load())
	assert.Equal(t, int64(1), migrations.Load())

	// A different secret for the same key is its own check, never an answer shared with the right one.
	v.onCheck = func() { checks.Add(1) }
	require.ErrorIs(t, v.Verify(t.Context(), c, "another secret", nil), ErrMismatch)
	assert.Equal(t, int64(2), checks.Load())
}

func FuzzVerifyKeyHash(f *testing.F) {
	h, err := NewKeyHasher(testPepper)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(h.Hash("x"), "x")
	f.Add("$hmac-sha256$v=1$p=00000000$", "")
	f.Fuzz(func(t *testing.T, stored, secret string) {
		if h.Verify(stored, secret) == nil && stored != h.Hash(secret) {
			t.Fatalf("%q verified %q", stored, secret)
		}
	})
}
