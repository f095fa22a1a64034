package sweeper_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/sweeper"
)

// recorder is a Notifier that records whom it was asked to wake, optionally failing.
type recorder struct {
	*notify.Local
	mu    sync.Mutex
	woken []string
	fail  bool
}

func (r *recorder) Notify(ctx context.Context, id string) error {
	r.mu.Lock()
	r.woken = append(r.woken, id)
	fail := r.fail
	r.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	return r.Local.Notify(ctx, id)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.woken
	r.woken = nil
	return out
}

// TestReleasedLeasesWakeTheirSatellites: releasing lapsed leases wakes the long-polls of the
// satellites concerned, once each, and no others; a failed wake-up is logged, not fatal.
func TestReleasedLeasesWakeTheirSatellites(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			ctx := t.Context()
			st, err := store.Open(ctx, store.Options{URL: storetest.NewURL(t, d), Now: clock})
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			_, err = st.Migrate(ctx)
			require.NoError(t, err)

			leased, idle := satellite(t, st), satellite(t, st)
			for range 2 {
				require.NoError(t, st.CreateCommand(ctx, &store.Command{SatelliteID: leased, Type: "ping", Priority: api.PriorityNormal}))
			}
			require.NoError(t, st.CreateCommand(ctx, &store.Command{SatelliteID: idle, Type: "ping", Priority: api.PriorityNormal}))
			cmds, _, err := st.Deliver(ctx, leased, 20*time.Second)
			require.NoError(t, err)
			require.Len(t, cmds, 2)

			rec := &recorder{Local: notify.NewLocal()}
			sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t), Notifier: rec}
			assert.Zero(t, sw.Sweep(ctx).Released, "the lease still holds")
			assert.Empty(t, rec.take())

			mu.Lock()
			now = now.Add(21 * time.Second)
			mu.Unlock()
			woken, cancel := rec.Subscribe(leased)
			defer cancel()
			res := sw.Sweep(ctx)
			assert.Equal(t, int64(2), res.Released)
			assert.Equal(t, []string{leased}, rec.take(), "one wake-up for the satellite whose commands came back")
			select {
			case <-woken:
			default:
				t.Error("the subscriber was not woken")
			}

			// Delivered and lapsed again, with a notifier that fails: the release still happens.
			_, _, err = st.Deliver(ctx, leased, 20*time.Second)
			require.NoError(t, err)
			mu.Lock()
			now = now.Add(21 * time.Second)
			mu.Unlock()
			rec.fail = true
			assert.Equal(t, int64(2), sw.Sweep(ctx).Released)
			assert.Equal(t, []string{leased}, rec.take())
		})
	}
}

func satellite(t *testing.T, st *store.Store) string {
	t.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat.ID
}
