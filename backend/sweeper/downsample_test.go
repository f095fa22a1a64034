package sweeper_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/sweeper"
)

// clockedStore opens a migrated store of dialect d on a clock the test moves.
func clockedStore(t *testing.T, d store.Dialect, start time.Time) (*store.Store, func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := store.Open(t.Context(), store.Options{URL: storetest.NewURL(t, d), Now: clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(t.Context())
	require.NoError(t, err)
	return st, func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
}

// insertHeartbeats stores one heartbeat of satID every 30 s in [from, to).
func insertHeartbeats(t *testing.T, st *store.Store, satID string, from, to time.Time) {
	t.Helper()
	var rows []store.Heartbeat
	for at := from; at.Before(to); at = at.Add(30 * time.Second) {
		rows = append(rows, store.Heartbeat{ID: store.NewID(), SatelliteID: satID, ReceivedAt: at,
			Status: "online", Report: "{}"})
	}
	require.NoError(t, st.DB().WithContext(t.Context()).CreateInBatches(rows, 500).Error)
}

func countHeartbeats(t *testing.T, st *store.Store, from, to time.Time) int64 {
	t.Helper()
	var n int64
	require.NoError(t, st.DB().WithContext(t.Context()).Model(&store.Heartbeat{}).
		Where("received_at >= ? AND received_at < ?", from, to).Count(&n).Error)
	return n
}

// TestSweepDownsamplesInSlices: a backlog of 30 h of heartbeats is thinned one hourly slice per
// sweep until the 24 h cutoff, after which each new whole bucket is thinned once it passes the
// age; newer heartbeats are never touched.
func TestSweepDownsamplesInSlices(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
			st, advance := clockedStore(t, d, now)
			sat := satellite(t, st)
			start := now.Add(-30 * time.Hour)
			insertHeartbeats(t, st, sat, start, now)
			cutoff := now.Add(-24 * time.Hour)

			sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t), Retention: 48 * time.Hour,
				DownsampleAfter: 24 * time.Hour, DownsampleBucket: 10 * time.Minute, DownsampleSlice: time.Hour}
			// 48 h of retention before the 24 h cutoff: 24 hourly slices, the first 18 empty.
			var deleted []int64
			for range 24 {
				deleted = append(deleted, sw.Sweep(t.Context()).Downsampled)
			}
			want := make([]int64, 24)
			for i := 18; i < 24; i++ {
				want[i] = 6 * 19 // six buckets an hour, 20 heartbeats each, one kept
			}
			assert.Equal(t, want, deleted)
			assert.Equal(t, int64(6*6), countHeartbeats(t, st, start, cutoff), "one per old bucket")
			assert.Equal(t, int64(24*120), countHeartbeats(t, st, cutoff, now), "newer untouched")
			assert.Zero(t, sw.Sweep(t.Context()).Downsampled, "caught up: nothing until a bucket ages")

			advance(9 * time.Minute)
			assert.Zero(t, sw.Sweep(t.Context()).Downsampled, "the next bucket has not wholly aged")
			advance(time.Minute)
			assert.Equal(t, int64(19), sw.Sweep(t.Context()).Downsampled, "the next bucket, once")
			assert.Zero(t, sw.Sweep(t.Context()).Downsampled)
			assert.Equal(t, int64(24*120-19), countHeartbeats(t, st, cutoff, now))
		})
	}
}

// TestRunDownsamples: the Run loop downsamples (two sweepers at once, as two replicas would).
func TestRunDownsamples(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
	st, _ := clockedStore(t, store.SQLite, now)
	sat := satellite(t, st)
	start := now.Add(-26 * time.Hour)
	insertHeartbeats(t, st, sat, start, now)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t), Every: time.Millisecond, Retention: 27 * time.Hour}
		wg.Go(func() { assert.NoError(t, sw.Run(ctx)) })
	}
	cutoff := now.Add(-sweeper.DefaultDownsampleAfter)
	assert.Eventually(t, func() bool {
		var n int64
		err := st.DB().Model(&store.Heartbeat{}).Where("received_at >= ? AND received_at < ?", start, cutoff).Count(&n).Error
		return err == nil && n == 2*6
	},
		time.Minute, 10*time.Millisecond, "two hours of old heartbeats thinned to one per 10 minutes")
	cancel()
	wg.Wait()
	assert.Equal(t, int64(24*120), countHeartbeats(t, st, cutoff, now))
}
