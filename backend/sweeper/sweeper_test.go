package sweeper_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/sweeper"
)

// TestRunStopsWithItsContext: Run sweeps at once, keeps ticking, and returns nil when ctx ends.
func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t), Every: time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sw.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestPruneSchedule: the retention prune runs on the first sweep, then only once PruneEvery has
// passed on the store's clock.
func TestPruneSchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: storetest.NewURL(t, store.SQLite), Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)

	arts := &artifactSweeps{deleted: 3}
	sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t), PruneEvery: time.Hour, Artifacts: arts, Uploads: arts}
	r := sw.Sweep(ctx)
	assert.True(t, r.Pruned)
	assert.Equal(t, int64(3), r.Artifacts, "artifact retention runs with the prune")
	now = now.Add(30 * time.Minute)
	assert.False(t, sw.Sweep(ctx).Pruned)
	assert.Equal(t, 1, arts.sweeps, "and only with it")
	now = now.Add(31 * time.Minute)
	assert.True(t, sw.Sweep(ctx).Pruned)
	assert.Equal(t, 2, arts.sweeps)
	assert.Equal(t, 2, arts.prunes, "stale staged uploads are pruned with it")
}

// artifactSweeps counts the sweeper's calls of artifact retention and upload pruning (their
// own work is tested in backend/artifacts and backend/server).
type artifactSweeps struct {
	deleted        int64
	sweeps, prunes int
}

func (a *artifactSweeps) Sweep(context.Context) (int64, error) { a.sweeps++; return a.deleted, nil }

func (a *artifactSweeps) PruneUploads(context.Context) (int, error) { a.prunes++; return 0, nil }
