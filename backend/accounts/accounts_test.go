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

var (
	hasher       = auth.Hasher{Params: auth.TestParams}
	keyHasher, _ = auth.NewKeyHasher([]byte("accounts-test-pepper-0123456789abcdef"))
)

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
	read := accounts.Scopes{accounts.ScopeRead}
	for _, n := range []accounts.NewToken{
		{UserID: "u", Name: "n", Scopes: read, TTL: -time.Second},
		{UserID: "u", Name: "n", Scopes: read, TTL: accounts.DefaultMaxTokenTTL + time.Hour},
		{UserID: "u", Name: "n", Scopes: read, TTL: 2 * time.Hour, MaxTTL: time.Hour},
	} {
		_, _, err := accounts.IssueToken(context.Background(), st, keyHasher, n)
		var fe *accounts.FieldError
		require.ErrorAs(t, err, &fe, n.TTL)
		assert.Equal(t, "ttl", fe.Field)
	}
}

// TestIssueTokenAlwaysExpires: a token made without a ttl expires after the longest allowed
// lifetime (a year by default), and never after the token that minted it: one with a second
// left can only make tokens with at most that second (issue 11 item 7).
func TestIssueTokenAlwaysExpires(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	u, err := accounts.CreateUser(t.Context(), st, hasher, accounts.NewUser{Email: "a@b.org", Password: "long enough password"})
	require.NoError(t, err)
	read := accounts.Scopes{accounts.ScopeRead}
	_, tok, err := accounts.IssueToken(t.Context(), st, keyHasher, accounts.NewToken{UserID: u.ID, Name: "n", Scopes: read})
	require.NoError(t, err)
	require.NotNil(t, tok.ExpiresAt)
	assert.Equal(t, tok.CreatedAt.Add(accounts.DefaultMaxTokenTTL), *tok.ExpiresAt)

	parentExpiry := st.Now().Add(time.Second)
	_, child, err := accounts.IssueToken(t.Context(), st, keyHasher,
		accounts.NewToken{UserID: u.ID, Name: "child", Scopes: read, NotAfter: &parentExpiry})
	require.NoError(t, err)
	assert.Equal(t, parentExpiry, *child.ExpiresAt, "no ttl: as long as the parent, no longer")
	_, _, err = accounts.IssueToken(t.Context(), st, keyHasher,
		accounts.NewToken{UserID: u.ID, Name: "child", Scopes: read, TTL: time.Hour, NotAfter: &parentExpiry})
	var fe *accounts.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "ttl", fe.Field)
	_, _, err = accounts.IssueToken(t.Context(), st, keyHasher, accounts.NewToken{UserID: u.ID, Name: "none"})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "scopes", fe.Field)
}

// TestScopes: scopes are ranked, parsed strictly from input and leniently from the store.
func TestScopes(t *testing.T) {
	t.Parallel()
	sc, err := accounts.ParseScopes("scopes", []string{"operate", "read", "operate"})
	require.NoError(t, err)
	assert.Equal(t, "read operate", sc.String())
	assert.True(t, sc.Allows(accounts.ScopeRead))
	assert.True(t, sc.Allows(accounts.ScopeOperate))
	assert.False(t, sc.Allows(accounts.ScopeAdmin))
	assert.True(t, accounts.Scopes{accounts.ScopeAdmin}.Covers(sc))
	assert.False(t, sc.Covers(accounts.Scopes{accounts.ScopeAdmin}))
	for _, bad := range [][]string{nil, {}, {"write"}, {"read", "Admin"}} {
		_, err := accounts.ParseScopes("scopes", bad)
		var fe *accounts.FieldError
		require.ErrorAs(t, err, &fe, bad)
		assert.Equal(t, "scopes", fe.Field)
	}
	assert.Equal(t, "read admin", accounts.ScopesFromStore("admin  bogus read").String())
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
