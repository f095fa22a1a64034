package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestClaimRolloutIsExclusive: a claimed rollout cannot be claimed again until the claim is
// released or lapses, so of several replicas ticking at once one advances it.
func TestClaimRolloutIsExclusive(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := st.Now()
		rel := &store.Release{ID: store.NewID(), Version: "1.0.0", OS: "linux", Arch: "arm64", Size: 1,
			SHA256: "00", Signature: "x", CreatedAt: now}
		require.NoError(t, st.CreateRelease(ctx, rel))
		r := &store.Rollout{ID: store.NewID(), ReleaseID: rel.ID, Stages: []int{100}, State: store.RolloutRunning,
			CreatedAt: now, UpdatedAt: now}
		require.NoError(t, st.CreateRollout(ctx, r, nil))

		ok, err := st.ClaimRollout(ctx, r.ID, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = st.ClaimRollout(ctx, r.ID, time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "claimed already")
		require.NoError(t, st.ReleaseRollout(ctx, r.ID))
		ok, err = st.ClaimRollout(ctx, r.ID, -time.Second) // a claim that has already lapsed
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = st.ClaimRollout(ctx, r.ID, time.Minute)
		require.NoError(t, err)
		assert.True(t, ok, "a lapsed claim is taken over")

		require.NoError(t, st.StopRollout(ctx, r.ID, "enough"))
		require.NoError(t, st.ReleaseRollout(ctx, r.ID))
		ok, err = st.ClaimRollout(ctx, r.ID, time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "a stopped rollout is not advanced")
	})
}
