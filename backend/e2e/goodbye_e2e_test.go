package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// TestCleanStopMarksOfflineAtOnce stops a real runner gracefully: its last heartbeat (status
// stopping) makes the backend mark the station offline before Run returns, with a
// satellite.offline event, instead of 2.5 heartbeat intervals later. A restarted runner
// brings it back online.
func TestCleanStopMarksOfflineAtOnce(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station")
		eventually(t, func() bool { return c.satellite(t, s.id).Status == "online" }, "online at the first heartbeat")

		s.stop(t)
		// No waiting: the runner's Run returned after the backend answered the final heartbeat.
		require.Equal(t, "offline", c.satellite(t, s.id).Status, "offline as soon as the runner has stopped")
		assert.True(t, hasEvent(t, c, s.id, api.EventSatelliteOffline, "stopped cleanly (final heartbeat): marked offline"))
		assert.True(t, hasEvent(t, c, s.id, api.EventSatelliteOffline, "runner stopping"), "the runner's own goodbye was flushed")
		hbs := c.heartbeats(t, s.id)
		require.NotEmpty(t, hbs)
		assert.Equal(t, api.StatusStopping, hbs[0].Report.Status, "the newest heartbeat is the final one")

		runStation(t, s.stateDir, s.id)
		eventually(t, func() bool { return c.satellite(t, s.id).Status == "online" }, "back online after a restart")
	})
}
