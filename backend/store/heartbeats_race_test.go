package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestHeartbeatRacingOfflineSweep runs the offline sweep exactly between RecordHeartbeat's
// read of the satellite's status and its write. The heartbeat must win cleanly: the satellite
// ends online, and the event log does not end with a satellite.offline that no
// satellite.online follows. On PostgreSQL the sweep must wait for the heartbeat's row lock;
// without it, it commits in the gap and the online event is lost.
func TestHeartbeatRacingOfflineSweep(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			clk := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
			st := openClocked(t, storetest.NewURL(t, d), now)
			sat := registerSatellite(t, st)

			// 100 s later the 30 s satellite is past its liveness window (75 s): the sweep may
			// mark it offline, unless the heartbeat arriving now has already moved it forward.
			mu.Lock()
			clk = clk.Add(100 * time.Second)
			mu.Unlock()

			swept := make(chan error, 1)
			var once sync.Once
			remove := store.SetHeartbeatReadHook(func(tx *store.Store, id string) {
				if id != sat.ID {
					return // another test's heartbeat
				}
				once.Do(func() {
					go func() {
						_, err := st.MarkOffline(context.WithoutCancel(t.Context()))
						swept <- err
					}()
					waitSweepDoneOrBlocked(t, tx, st, swept)
				})
			})
			defer remove()

			res, err := st.RecordHeartbeat(t.Context(), &store.Heartbeat{SatelliteID: sat.ID, Status: "online", Report: "{}"})
			require.NoError(t, err)
			select {
			case err := <-swept:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("the sweep did not finish")
			}

			got, err := st.SatelliteByID(t.Context(), sat.ID)
			require.NoError(t, err)
			evs, err := st.Events(t.Context(), store.EventQuery{SatelliteID: sat.ID, Limit: 10})
			require.NoError(t, err)
			var types []string
			for _, e := range evs { // newest first
				types = append(types, e.Type)
			}
			assert.Equal(t, "online", got.Status)
			if len(types) > 0 {
				assert.Equal(t, "satellite.online", types[0], "the log must not end offline while the satellite is online: %v", types)
				assert.True(t, res.CameBack, "an offline event before the heartbeat means it came back")
			}
		})
	}
}

// waitSweepDoneOrBlocked returns once the sweep has finished or, on PostgreSQL, waits for a
// lock held by the heartbeat's transaction tx. SQLite's write transactions are serialised, so
// there a short grace lets the sweep get as far as it can.
func waitSweepDoneOrBlocked(t *testing.T, tx, st *store.Store, swept chan error) {
	t.Helper()
	finished := func() bool {
		select {
		case err := <-swept:
			swept <- err // leave it for the test
			return true
		default:
			return false
		}
	}
	if st.Dialect() != store.Postgres {
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline) && !finished(); {
			time.Sleep(5 * time.Millisecond)
		}
		return
	}
	var pid int
	require.NoError(t, tx.DB().Raw("SELECT pg_backend_pid()").Scan(&pid).Error)
	deadline := time.Now().Add(20 * time.Second)
	for !finished() {
		var blocked int
		err := st.SQL().QueryRowContext(t.Context(),
			`SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&blocked)
		require.NoError(t, err)
		if blocked > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep neither finished nor waited for the heartbeat's lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openClocked(t *testing.T, u string, now func() time.Time) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: u, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	return st
}

// registerSatellite registers a satellite of no team with a 30 s heartbeat.
func registerSatellite(t *testing.T, st *store.Store) *store.Satellite {
	t.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat
}
