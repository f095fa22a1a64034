package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestDeliverPicksByPriorityInSQL: an immediate command queued behind more than one poll's
// worth of older low ones is in the first poll's answer. Sorting in Go after the query cannot
// achieve that; only the priority in the query's ORDER BY can (issue 12).
func TestDeliverPicksByPriorityInSQL(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		sat := newSatellite(t, st, nil)
		for range api.MaxCommandsPerPoll + 1 {
			require.NoError(t, st.CreateCommand(t.Context(), &store.Command{SatelliteID: sat.ID, Type: "ping", Priority: api.PriorityLow}))
		}
		urgent := &store.Command{SatelliteID: sat.ID, Type: "ping", Priority: api.PriorityImmediate}
		require.NoError(t, st.CreateCommand(t.Context(), urgent))

		cmds, waiting, err := st.Deliver(t.Context(), sat.ID, time.Minute)
		require.NoError(t, err)
		require.Len(t, cmds, api.MaxCommandsPerPoll, "one poll carries at most api.MaxCommandsPerPoll")
		assert.Equal(t, urgent.ID, cmds[0].ID, "the immediate command comes first, in the first poll")
		assert.Equal(t, api.PriorityLow.Rank(), waiting, "two low ones are left")

		cmds, waiting, err = st.Deliver(t.Context(), sat.ID, time.Minute)
		require.NoError(t, err)
		assert.Len(t, cmds, 2)
		assert.Equal(t, -1, waiting)
	})
}

// TestCreateCommandDerivesTheRank: the rank stored for the ORDER BY always follows the
// priority, and a priority the protocol does not know is refused rather than stored as rank 0
// (which would jump the queue as "immediate").
func TestCreateCommandDerivesTheRank(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		sat := newSatellite(t, st, nil)
		c := &store.Command{SatelliteID: sat.ID, Type: "ping", Priority: api.PriorityLow, PriorityRank: 0}
		require.NoError(t, st.CreateCommand(t.Context(), c))
		got, err := st.CommandOf(t.Context(), sat.ID, c.ID)
		require.NoError(t, err)
		assert.Equal(t, api.PriorityLow.Rank(), got.PriorityRank)
		assert.Equal(t, api.CommandPending, got.Status)

		for _, p := range []api.Priority{"", "urgent"} {
			err := st.CreateCommand(t.Context(), &store.Command{SatelliteID: sat.ID, Type: "ping", Priority: p})
			assert.ErrorIs(t, err, store.ErrUnknownPriority, "priority %q", p)
		}
	})
}
