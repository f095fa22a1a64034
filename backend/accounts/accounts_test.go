package accounts_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

var hasher = auth.Hasher{Params: auth.TestParams}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b, err := accounts.EnsureAdmin(ctx, st, hasher, "Admin@Talos.local", "")
		require.NoError(t, err)
		require.True(t, b.Created)
		assert.Equal(t, "admin@talos.local", b.Email)
		assert.Len(t, b.Password, 20)
		u, err := st.UserByEmail(ctx, b.Email)
		require.NoError(t, err)
		assert.True(t, u.IsAdmin)
		assert.True(t, u.MustChangePassword)
		require.NoError(t, hasher.Verify(u.PasswordHash, b.Password))

		again, err := accounts.EnsureAdmin(ctx, st, hasher, "other@talos.local", "")
		require.NoError(t, err)
		assert.False(t, again.Created, "only on an empty database")
	})
}

func TestEnsureAdminWithGivenPassword(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	b, err := accounts.EnsureAdmin(context.Background(), st, hasher, "a@b.org", "operator chosen password")
	require.NoError(t, err)
	assert.True(t, b.Created)
	assert.Empty(t, b.Password, "a password the operator chose is not echoed")
}

func TestIssueTokenRejectsBadTTL(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	_, _, err := accounts.IssueToken(context.Background(), st, hasher, "u", "n", -time.Second)
	var fe *accounts.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "ttl", fe.Field)
}

func TestSessionSweeper(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	u, err := accounts.CreateUser(ctx, st, hasher, accounts.NewUser{Email: "a@b.org", Password: "long enough password"})
	require.NoError(t, err)
	require.NoError(t, st.CreateSession(ctx, &store.Session{UserID: u.ID, TokenHash: "old"}, -time.Minute))
	require.NoError(t, st.CreateSession(ctx, &store.Session{UserID: u.ID, TokenHash: "live"}, time.Hour))

	done := make(chan error, 1)
	go func() {
		done <- (&accounts.SessionSweeper{Store: st, Log: zaptest.NewLogger(t), Every: time.Hour}).Run(ctx)
	}()
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, st.DB().Model(&store.Session{}).Count(&n).Error)
		return n == 1
	}, 10*time.Second, 10*time.Millisecond, "the sweeper deletes the expired session")
	_, _, err = st.SessionByTokenHash(ctx, "live")
	require.NoError(t, err, "and keeps the live one")
	cancel()
	require.NoError(t, <-done)
}
