package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestEventsAheadOfTheClockAreKept: a station whose clock runs fast still delivers its events.
// They are stored with the time the station reported, beside the backend's received_at, and
// counted, so an operator can see and fix the clock; refusing them would lose them for good.
func TestEventsAheadOfTheClockAreKept(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "fast-clock")
		ev := event("observation.aos")
		ev.Time = time.Now().Add(time.Hour).UTC().Truncate(time.Second)

		r := s.c.Do(t, http.MethodPost, s.path("/events"), api.EventBatch{Events: []api.Event{ev, event("log")}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var resp api.EventBatchResponse
		r.JSON(t, &resp)
		assert.Equal(t, api.EventBatchResponse{Accepted: 2, Rejected: []api.RejectedEvent{}}, resp)

		var list struct {
			Events []struct {
				ID         string
				Time       time.Time
				ReceivedAt time.Time `json:"received_at"`
			}
		}
		p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=observation.aos"), nil).JSON(t, &list)
		require.Len(t, list.Events, 1)
		assert.Equal(t, ev.ID, list.Events[0].ID)
		assert.True(t, ev.Time.Equal(list.Events[0].Time), "the station's time is kept: %s", list.Events[0].Time)
		assert.True(t, list.Events[0].ReceivedAt.Before(ev.Time), "received_at is the backend's clock")

		metrics := string(p.Anonymous(t).Do(t, http.MethodGet, "/metrics", nil).Body)
		assert.True(t, strings.Contains(metrics, "talos_satellite_events_clock_ahead_total 1\n"),
			"one event counted as ahead of the clock")
	})
}
