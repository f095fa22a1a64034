package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

func newSatellite(t *testing.T, st *store.Store, teamID *string) *store.Satellite {
	t.Helper()
	_, err := st.RegisterSatellite(t.Context(), store.Registration{KeyHolder: "", Name: "roof",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.Error(t, err, "neither a token nor a key: refused")
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: teamID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat
}

// TestConcurrentDeliveryNeverDoubles: many polls of one satellite at once (as from several
// replicas) hand out each command exactly once.
func TestConcurrentDeliveryNeverDoubles(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		sat := newSatellite(t, st, nil)
		const n = 60
		for i := range n {
			c := &store.Command{SatelliteID: sat.ID, Type: "ping", Priority: []api.Priority{api.PriorityImmediate, api.PriorityHigh, api.PriorityNormal, api.PriorityLow}[i%4]}
			require.NoError(t, st.CreateCommand(t.Context(), c))
		}
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
		)
		start := make(chan struct{}) // the pollers start together, as racing replicas do
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					cmds, _, err := st.Deliver(t.Context(), sat.ID, time.Minute)
					if !assert.NoError(t, err) || len(cmds) == 0 {
						return
					}
					for i, c := range cmds {
						if i > 0 {
							assert.LessOrEqual(t, cmds[i-1].PriorityRank, c.PriorityRank, "priority order")
						}
						mu.Lock()
						seen[c.ID]++
						mu.Unlock()
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		assert.Len(t, seen, n)
		for id, k := range seen {
			assert.Equal(t, 1, k, id)
		}
	})
}

func TestRegistrationTokenConsumption(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		tok := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 2}
		require.NoError(t, st.CreateRegistrationToken(ctx, tok))
		for range 2 {
			_, err := st.ConsumeRegistrationToken(ctx, tok.ID)
			require.NoError(t, err)
		}
		_, err := st.ConsumeRegistrationToken(ctx, tok.ID)
		assert.ErrorIs(t, err, store.ErrTokenUsedUp)
		_, err = st.ConsumeRegistrationToken(ctx, store.NewID())
		assert.ErrorIs(t, err, store.ErrTokenUnknown)

		old := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(-time.Second), UsesAllowed: 1}
		require.NoError(t, st.CreateRegistrationToken(ctx, old))
		_, err = st.ConsumeRegistrationToken(ctx, old.ID)
		assert.ErrorIs(t, err, store.ErrTokenExpired)

		rev := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
		require.NoError(t, st.CreateRegistrationToken(ctx, rev))
		require.NoError(t, st.RevokeRegistrationToken(ctx, nil, rev.ID))
		_, err = st.ConsumeRegistrationToken(ctx, rev.ID)
		assert.ErrorIs(t, err, store.ErrTokenUnknown)
	})
}

// TestConcurrentEventBatches: the same batch sent several times at once stores each event once.
// The senders start together (a start barrier) and repeat, so that a dedupe done in application
// code (look, then insert) has its race window hit on every run, not by luck.
func TestConcurrentEventBatches(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		for round := range 5 {
			sat := newSatellite(t, st, nil)
			const senders = 6
			batches := make([][]store.Event, senders)
			for i := range batches {
				for j := range 100 {
					batches[i] = append(batches[i], store.Event{EventID: uuidFor(j), Type: "log", Severity: "info", Time: st.Now()})
				}
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			accepted := make([]int, senders)
			for i := range accepted {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					n, err := st.AddEvents(t.Context(), sat.ID, batches[i])
					assert.NoError(t, err)
					accepted[i] = n
				}()
			}
			close(start)
			wg.Wait()
			total := 0
			for _, n := range accepted {
				total += n
			}
			assert.Equal(t, 100, total, "round %d: accepted over all senders", round)
			evs, err := st.Events(t.Context(), store.EventQuery{SatelliteID: sat.ID, Limit: 1000})
			require.NoError(t, err)
			assert.Len(t, evs, 100, "round %d: stored", round)
		}
	})
}

func uuidFor(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}).String()
}
