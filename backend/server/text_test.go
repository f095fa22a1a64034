package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// A NUL character or invalid UTF-8 used to be stored by SQLite and make PostgreSQL fail with a
// 500 (losing the good events of the same batch); both dialects now answer the same way.
func TestTextADatabaseCannotStore(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "nul")

		good := []api.Event{event("log"), event("observation.aos")}
		nulMessage, nulCorrelation, badData := event("log"), event("log"), event("log")
		nulMessage.Message = "a\x00b"
		nulCorrelation.CorrelationID = "c\x00"
		badData.Data = json.RawMessage("{\"k\":\"\xff\"}")
		batch := api.EventBatch{Events: []api.Event{good[0], nulMessage, nulCorrelation, good[1], badData}}
		// json.Marshal would repair the invalid UTF-8, so the body is assembled by hand.
		body, err := json.Marshal(api.EventBatch{Events: batch.Events[:4]})
		require.NoError(t, err)
		raw := string(body[:len(body)-2]) + `,{"id":"` + badData.ID + `","type":"log","severity":"info",` +
			`"time":"2026-06-26T11:59:00Z","data":{"k":"` + "\xff" + `"}}]}`

		r := s.c.Do(t, http.MethodPost, s.path("/events"), raw)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var resp api.EventBatchResponse
		r.JSON(t, &resp)
		assert.Equal(t, api.EventBatchResponse{Accepted: 2, Rejected: []api.RejectedEvent{
			{Index: 1, ID: nulMessage.ID, Code: api.RejectBadText, Message: "message must not contain NUL characters"},
			{Index: 2, ID: nulCorrelation.ID, Code: api.RejectBadText, Message: "correlation_id must not contain NUL characters"},
			{Index: 4, ID: badData.ID, Code: api.RejectBadText, Message: "data must be UTF-8 text"},
		}}, resp)

		var list struct{ Events []struct{ ID string } }
		p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events"), nil).JSON(t, &list)
		var stored []string
		for _, e := range list.Events {
			stored = append(stored, e.ID)
		}
		assert.ElementsMatch(t, []string{good[0].ID, good[1].ID}, stored, "the good events of the batch are stored")

		id := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping"})
		s.poll(t, "")
		checks := []struct {
			name  string
			do    func() (int, api.ErrorDetail)
			field string
		}{
			{"command status error", func() (int, api.ErrorDetail) {
				r := s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"),
					map[string]any{"status": "failed", "error": "boom\x00"})
				return r.Status, errorOf(t, r.Status, r.Body)
			}, "error"},
			{"login email", func() (int, api.ErrorDetail) {
				r := p.Anonymous(t).Do(t, http.MethodPost, "/api/auth/login",
					map[string]string{"email": "owner@example.org\x00", "password": "x"})
				return r.Status, errorOf(t, r.Status, r.Body)
			}, "email"},
			{"query parameter", func() (int, api.ErrorDetail) {
				r := p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=zzz%00"), nil)
				return r.Status, errorOf(t, r.Status, r.Body)
			}, "type"},
			{"query parameter, invalid UTF-8", func() (int, api.ErrorDetail) {
				r := p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=%FF"), nil)
				return r.Status, errorOf(t, r.Status, r.Body)
			}, "type"},
			{"team name", func() (int, api.ErrorDetail) {
				r := p.owner.Do(t, http.MethodPatch, "/api/teams/"+p.team.ID, map[string]any{"name": "x\x00y"})
				return r.Status, errorOf(t, r.Status, r.Body)
			}, "name"},
		}
		for _, tc := range checks {
			status, e := tc.do()
			assert.Equal(t, http.StatusBadRequest, status, tc.name)
			assert.Equal(t, api.ErrInvalidRequest, e.Code, tc.name)
			assert.Equal(t, tc.field, e.Field, tc.name)
		}
		// The command is untouched and can still fail properly.
		r = s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"), map[string]any{"status": "failed", "error": "boom"})
		assert.Equal(t, http.StatusOK, r.Status, string(r.Body))
	})
}

func errorOf(t *testing.T, status int, body []byte) api.ErrorDetail {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("status %d, not an error envelope: %q", status, body)
	}
	return e.Error
}
