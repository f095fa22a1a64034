package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestSetPasswordEndsAccess: a new password clears must_change_password, ends every session of
// the user but the one kept, and revokes every live token of the user, in one call; other
// users keep theirs; a stored token's scopes round-trip, and one stored without defaults to
// the migration's "admin".
func TestSetPasswordEndsAccess(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		u := &store.User{Email: "ada@example.org", PasswordHash: "old", MustChangePassword: true}
		other := &store.User{Email: "eve@example.org", PasswordHash: "x"}
		require.NoError(t, s.CreateUser(ctx, u))
		require.NoError(t, s.CreateUser(ctx, other))
		sessions := map[string]*store.Session{}
		for _, name := range []string{"kept", "ended", "other"} {
			owner := u.ID
			if name == "other" {
				owner = other.ID
			}
			sessions[name] = &store.Session{UserID: owner, TokenHash: name}
			require.NoError(t, s.CreateSession(ctx, sessions[name], time.Hour))
		}
		require.NoError(t, s.CreateAPIToken(ctx, &store.APIToken{ID: "t1", UserID: u.ID, Name: "a", SecretHash: "x", Scopes: "read operate"}))
		require.NoError(t, s.DB().Exec(`INSERT INTO api_tokens (id, user_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			"t2", u.ID, "old", "x", s.Now()).Error)
		require.NoError(t, s.CreateAPIToken(ctx, &store.APIToken{ID: "t3", UserID: other.ID, Name: "b", SecretHash: "x", Scopes: "read"}))
		t2, err := s.APITokenByID(ctx, "t2")
		require.NoError(t, err)
		assert.Equal(t, "admin", t2.Scopes, "tokens from before scopes keep what they could do")

		revoked, err := s.SetPassword(ctx, u.ID, "new", sessions["kept"].ID)
		require.NoError(t, err)
		assert.Equal(t, int64(2), revoked)
		got, err := s.UserByID(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, "new", got.PasswordHash)
		assert.False(t, got.MustChangePassword)
		for name, alive := range map[string]bool{"kept": true, "ended": false, "other": true} {
			_, _, err := s.SessionByTokenHash(ctx, name)
			assert.Equal(t, alive, err == nil, name)
		}
		for id, usable := range map[string]bool{"t1": false, "t2": false, "t3": true} {
			tok, err := s.APITokenByID(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, usable, tok.Usable(s.Now()), id)
		}
		t1, err := s.APITokenByID(ctx, "t1")
		require.NoError(t, err)
		assert.Equal(t, "read operate", t1.Scopes)
		_, err = s.SetPassword(ctx, "no-such-user", "new", "")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
