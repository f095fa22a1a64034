package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
)

// TestFleetMetrics: /metrics counts the stations by status and version, and the offline ones
// (not in maintenance) unheard of for longer than each threshold; a reading serves scrapes for
// 15 s, and a fresh one follows the fleet.
func TestFleetMetrics(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		a, b, c := p.newStation(t, "a"), p.newStation(t, "b"), p.newStation(t, "c")
		fleet := func() []string { // the fleet's lines of one scrape
			body := string(p.Anonymous(t).Do(t, http.MethodGet, "/metrics", nil).Body)
			var out []string
			for _, l := range strings.Split(body, "\n") {
				if strings.HasPrefix(l, "talos_stations") || strings.HasPrefix(l, "talos_fleet_") {
					out = append(out, l)
				}
			}
			return out
		}
		heartbeat := func(s *station) {
			r := s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat())
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		}
		assert.Subset(t, fleet(), []string{`talos_stations{status="online",version="0.1.0"} 3`,
			`talos_stations_silent{over="5m"} 0`, `talos_fleet_metrics_errors_total 0`})

		// b goes into maintenance; a and b fall silent for 20 minutes; c keeps talking.
		r := p.owner.Do(t, http.MethodPatch, "/api/teams/"+p.team.ID+"/satellites/"+b.SatelliteID, map[string]any{"maintenance": true})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		clk.Advance(20 * time.Minute)
		heartbeat(c)
		marked, err := st.MarkOffline(t.Context())
		require.NoError(t, err)
		require.ElementsMatch(t, []string{a.SatelliteID, b.SatelliteID}, marked)
		silent := []string{`talos_stations{status="offline",version="0.1.0"} 2`, `talos_stations{status="online",version="0.1.0"} 1`,
			`talos_stations_silent{over="5m"} 1`, `talos_stations_silent{over="15m"} 1`, `talos_stations_silent{over="1h"} 0`}
		assert.Subset(t, fleet(), silent, "the station in maintenance is not counted as silent")

		// a comes back: the reading of the last scrape serves for 15 s, then a fresh one shows it.
		clk.Advance(5 * time.Second)
		heartbeat(a)
		assert.Subset(t, fleet(), silent, "a reading serves scrapes for 15 s")
		clk.Advance(10 * time.Second)
		assert.Subset(t, fleet(), []string{`talos_stations{status="offline",version="0.1.0"} 1`,
			`talos_stations{status="online",version="0.1.0"} 2`, `talos_stations_silent{over="5m"} 0`})
	})
}
