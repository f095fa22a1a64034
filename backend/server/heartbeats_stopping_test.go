package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/sweeper"
)

// TestStoppingHeartbeatMarksOfflineAtOnce: the last heartbeat of a clean stop (status
// "stopping") sets the satellite offline without waiting for the sweep, with one
// satellite.offline event; the sweep adds none, and the next heartbeat brings it back.
func TestStoppingHeartbeatMarksOfflineAtOnce(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		s := p.newStation(t, "roof")
		require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat()).Status)

		hb := sampleHeartbeat()
		hb.Status = api.StatusStopping
		r := s.c.Do(t, http.MethodPost, s.path("/heartbeat"), hb)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, ""), nil)
		assert.Contains(t, string(r.Body), `"status":"offline"`, "offline at once, not after 2.5 intervals")

		// A second stopping heartbeat (a retry) and the sweep record nothing more.
		require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), hb).Status)
		assert.Empty(t, (&sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t)}).Sweep(t.Context()).Offline)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=satellite.offline"), nil)
		assert.Equal(t, 1, strings.Count(string(r.Body), `"type":"satellite.offline"`), string(r.Body))
		assert.Contains(t, string(r.Body), "stopped cleanly")

		require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat()).Status)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, ""), nil)
		assert.Contains(t, string(r.Body), `"status":"online"`)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=satellite.online"), nil)
		assert.Equal(t, 1, strings.Count(string(r.Body), `"type":"satellite.online"`), string(r.Body))
	})
}
