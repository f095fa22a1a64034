package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestReplaceKeyHashes: a key's hash is replaced only while the old one is stored, so a
// migration racing a rotation (or another replica's migration) changes nothing; a satellite's
// UpdatedAt stays, since its key did not change.
func TestReplaceKeyHashes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		sat := newSatellite(t, st, nil)
		ok, err := st.ReplaceSatelliteKeyHash(ctx, sat.APIKeyID, "not the stored hash", "new")
		require.NoError(t, err)
		assert.False(t, ok)
		ok, err = st.ReplaceSatelliteKeyHash(ctx, sat.APIKeyID, sat.APIKeyHash, "new")
		require.NoError(t, err)
		assert.True(t, ok)
		got, err := st.SatelliteByKeyID(ctx, sat.APIKeyID)
		require.NoError(t, err)
		assert.Equal(t, "new", got.APIKeyHash)
		assert.True(t, got.UpdatedAt.Equal(sat.UpdatedAt), "updated_at %s, was %s", got.UpdatedAt, sat.UpdatedAt)
		ok, err = st.ReplaceSatelliteKeyHash(ctx, sat.APIKeyID, sat.APIKeyHash, "newer")
		require.NoError(t, err)
		assert.False(t, ok, "the old hash is gone: a second migration changes nothing")

		u := &store.User{Email: "keys@example.org", PasswordHash: "x"}
		require.NoError(t, st.CreateUser(ctx, u))
		tok := &store.APIToken{ID: "abcdefghijklmnop", UserID: u.ID, Name: "t", SecretHash: "old", Scopes: "read"}
		require.NoError(t, st.CreateAPIToken(ctx, tok))
		ok, err = st.ReplaceAPITokenHash(ctx, tok.ID, "other", "new")
		require.NoError(t, err)
		assert.False(t, ok)
		ok, err = st.ReplaceAPITokenHash(ctx, tok.ID, "old", "new")
		require.NoError(t, err)
		assert.True(t, ok)
		gotTok, err := st.APITokenByID(ctx, tok.ID)
		require.NoError(t, err)
		assert.Equal(t, "new", gotTok.SecretHash)
	})
}
