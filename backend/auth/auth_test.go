package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	h := Hasher{Params: TestParams}
	hash, err := h.Hash("hunter2 hunter2")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$"))
	require.NoError(t, h.Verify(hash, "hunter2 hunter2"))
	require.ErrorIs(t, h.Verify(hash, "hunter3 hunter3"), ErrMismatch)

	other, err := h.Hash("hunter2 hunter2")
	require.NoError(t, err)
	assert.NotEqual(t, hash, other, "salted")

	assert.False(t, h.NeedsRehash(hash))
	assert.True(t, Hasher{Params: DefaultParams}.NeedsRehash(hash))
	require.NoError(t, Hasher{Params: DefaultParams}.Verify(hash, "hunter2 hunter2"), "parameters travel with the hash")
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$short",
	} {
		err := Hasher{}.Verify(bad, "x")
		require.Error(t, err, bad)
		assert.NotErrorIs(t, err, ErrMismatch, bad)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k, err := NewKey(PrefixPersonal)
	require.NoError(t, err)
	parsed, err := ParseKey(k.String())
	require.NoError(t, err)
	assert.Equal(t, k, parsed)
	k2, err := NewKey(PrefixPersonal)
	require.NoError(t, err)
	assert.NotEqual(t, k.ID, k2.ID)

	for _, bad := range []string{"", "tpat", "tpat_", "tpat_abc_def", "_" + k.ID + "_" + k.Secret,
		"tpat_" + k.ID, "tpat_" + strings.ToUpper(k.ID) + "_" + k.Secret, "tpat_" + k.ID + "_short"} {
		_, err := ParseKey(bad)
		assert.ErrorIs(t, err, ErrMalformedKey, bad)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	c := NewCSRF([]byte("0123456789abcdef0123456789abcdef"))
	tok := c.Token("session-1")
	assert.True(t, c.Valid("session-1", tok))
	assert.False(t, c.Valid("session-2", tok))
	assert.False(t, c.Valid("session-1", ""))
	assert.False(t, NewCSRF([]byte("another key another key another k")).Valid("session-1", tok))
}

func TestSessionToken(t *testing.T) {
	t.Parallel()
	a, err := NewSessionToken()
	require.NoError(t, err)
	b, err := NewSessionToken()
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.Len(t, HashSessionToken(a), 64)
}

func FuzzParseKey(f *testing.F) {
	k, _ := NewKey(PrefixPersonal)
	for _, s := range []string{k.String(), "", "a_b_c", "tpat__", "x_aaaaaaaaaaaaaaaa_" + strings.Repeat("s", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if k.String() != s {
			t.Fatalf("round trip: %q became %q", s, k.String())
		}
	})
}

func FuzzVerifyHash(f *testing.F) {
	h, _ := Hasher{Params: TestParams}.Hash("x")
	f.Add(h, "x")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, hash, secret string) {
		_ = Hasher{}.Verify(hash, secret) // must not panic or allocate without bound
	})
}
