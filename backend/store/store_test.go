package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

func TestMigrateFromEmpty(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := store.Open(ctx, store.Options{URL: storetest.NewURL(t, d)})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			applied, known, err := s.SchemaVersion(ctx)
			require.NoError(t, err)
			assert.Zero(t, applied, "a fresh database has no schema")
			assert.Positive(t, known)

			v, err := s.Migrate(ctx)
			require.NoError(t, err)
			assert.Equal(t, known, v)
			v2, err := s.Migrate(ctx)
			require.NoError(t, err, "migrating twice is a no-op")
			assert.Equal(t, v, v2)
			assert.Equal(t, d, s.Dialect())
		})
	}
}

func TestUsersAndTeams(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := &store.User{Email: " Ada@Example.org ", PasswordHash: "x"}
		require.NoError(t, s.CreateUser(ctx, u))
		assert.Equal(t, "ada@example.org", u.Email)
		dup := &store.User{Email: "ADA@example.org", PasswordHash: "x"}
		require.ErrorIs(t, s.CreateUser(ctx, dup), store.ErrConflict)

		got, err := s.UserByEmail(ctx, "ada@EXAMPLE.org")
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)
		assert.True(t, u.CreatedAt.Equal(got.CreatedAt), "time survives a round trip: %v vs %v", u.CreatedAt, got.CreatedAt)

		t1, err := s.CreateTeam(ctx, "Cube Sat Team!", u.ID)
		require.NoError(t, err)
		assert.Equal(t, "cube-sat-team", t1.Slug)
		t2, err := s.CreateTeam(ctx, "cube sat team", "")
		require.NoError(t, err)
		assert.Equal(t, "cube-sat-team-2", t2.Slug)

		teams, err := s.TeamsOfUser(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, teams, 1)
		assert.Equal(t, store.RoleOwner, teams[0].Role)
		assert.Equal(t, t1.ID, teams[0].ID)

		require.ErrorIs(t, s.SetMemberRole(ctx, t1.ID, u.ID, store.RoleAdmin), store.ErrLastOwner)
		require.ErrorIs(t, s.RemoveMember(ctx, t1.ID, u.ID), store.ErrLastOwner)

		require.NoError(t, s.DeleteTeam(ctx, t1.ID))
		_, err = s.MembershipOf(ctx, t1.ID, u.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "memberships go with their team")
	})
}

func TestSessionsAndTokens(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := &store.User{Email: "grace@example.org", PasswordHash: "x"}
		require.NoError(t, s.CreateUser(ctx, u))
		sess := &store.Session{UserID: u.ID, TokenHash: "h1"}
		require.NoError(t, s.CreateSession(ctx, sess, time.Hour))
		got, gu, err := s.SessionByTokenHash(ctx, "h1")
		require.NoError(t, err)
		assert.Equal(t, sess.ID, got.ID)
		assert.Equal(t, u.ID, gu.ID)

		expired := &store.Session{UserID: u.ID, TokenHash: "h2"}
		require.NoError(t, s.CreateSession(ctx, expired, -time.Minute))
		_, _, err = s.SessionByTokenHash(ctx, "h2")
		require.ErrorIs(t, err, store.ErrNotFound)
		n, err := s.DeleteExpiredSessions(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)

		tok := &store.APIToken{ID: "abc", UserID: u.ID, Name: "ci", SecretHash: "x"}
		require.NoError(t, s.CreateAPIToken(ctx, tok))
		other := &store.User{Email: "eve@example.org", PasswordHash: "x"}
		require.NoError(t, s.CreateUser(ctx, other))
		require.ErrorIs(t, s.RevokeAPIToken(ctx, other.ID, "abc"), store.ErrNotFound)
		require.NoError(t, s.RevokeAPIToken(ctx, u.ID, "abc"))
		gt, err := s.APITokenByID(ctx, "abc")
		require.NoError(t, err)
		assert.False(t, gt.Usable(s.Now()))
	})
}

func TestAuditOrderAndScope(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i := range 5 {
			team := "a"
			if i%2 == 1 {
				team = "b"
			}
			require.NoError(t, s.AddAudit(ctx, &store.AuditEntry{ActorType: "system", Action: fmt.Sprintf("x.%d", i), TeamID: team}))
		}
		all, err := s.ListAudit(ctx, store.AuditQuery{})
		require.NoError(t, err)
		require.Len(t, all, 5)
		assert.Equal(t, "x.4", all[0].Action, "newest first")
		a, err := s.ListAudit(ctx, store.AuditQuery{TeamID: "a", Limit: 2})
		require.NoError(t, err)
		require.Len(t, a, 2)
		assert.Equal(t, []string{"x.4", "x.2"}, []string{a[0].Action, a[1].Action})
		older, err := s.ListAudit(ctx, store.AuditQuery{TeamID: "a", Before: a[1].ID})
		require.NoError(t, err)
		require.Len(t, older, 1)
		assert.Equal(t, "x.0", older[0].Action)
	})
}

// TestConcurrentWrites proves the pool settings: many goroutines writing at once must not fail
// with SQLITE_BUSY (or anything else).
func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const writers, each = 16, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		start := make(chan struct{}) // the writers start together, so their transactions collide
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range each {
					u := &store.User{Email: fmt.Sprintf("w%d-%d@example.org", w, i), PasswordHash: "x"}
					if err := s.CreateUser(ctx, u); err != nil {
						errs <- err
						continue
					}
					if _, err := s.CreateTeam(ctx, "team", u.ID); err != nil {
						errs <- err
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent write failed: %v", err)
		}
		n, err := s.CountUsers(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(writers*each), n)
	})
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", ":memory:", "file:?x"} {
		_, err := store.Open(context.Background(), store.Options{URL: u})
		assert.Error(t, err, "url %q", u)
	}
	assert.False(t, errors.Is(nil, store.ErrNotFound))
}
