package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

type observationAnswer struct {
	ID             string    `json:"id"`
	State          string    `json:"state"`
	SatelliteID    string    `json:"satellite_id"`
	NORAD          int       `json:"norad"`
	AOS            time.Time `json:"aos"`
	LOS            time.Time `json:"los"`
	Verdict        string    `json:"verdict"`
	VerdictReasons []string  `json:"verdict_reasons"`
	OverrideNote   string    `json:"override_note"`
	History        []struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	} `json:"history"`
}

// TestObservationsAPI books, previews, refuses, lists, cancels and judges observations through
// the API with every role: viewers read only, members book and cancel, outsiders and foreign
// stations get 404, read-scoped tokens cannot book; a refusal names its rule, field and the
// conflicting observation.
func TestObservationsAPI(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		clk := newTestClock()
		p := newProtocol(t, st, withClock(clk))
		sta := p.newStation(t, "munich")
		teamPath := "/api/teams/" + p.team.ID
		r := importTLE(t, p.owner, teamPath+"/catalog/import", catTLE("ISS (ZARYA)", "25544"))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		r = p.owner.Do(t, http.MethodGet, teamPath+"/passes?from=2026-06-26T12:30:00Z&hours=24&satellite_id="+sta.SatelliteID, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var passes passesAnswer
		r.JSON(t, &passes)
		require.GreaterOrEqual(t, len(passes.Passes), 2)
		pass := passes.Passes[0]
		r = p.owner.Do(t, http.MethodPost, teamPath+"/spacecraft/"+pass.SpacecraftID+"/transmitters",
			map[string]any{"description": "FM", "downlink_low": 145800000, "mode": "FM"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var tx struct{ ID string }
		r.JSON(t, &tx)

		memberU := p.CreateUser(t, "member@example.org", false)
		p.AddMember(t, p.team, memberU, store.RoleMember)
		member := p.Login(t, memberU)
		viewerU := p.CreateUser(t, "viewer@example.org", false)
		p.AddMember(t, p.team, viewerU, store.RoleViewer)
		viewer := p.Login(t, viewerU)
		outsider := p.Login(t, p.CreateUser(t, "outsider@example.org", false))
		reader := p.ScopedTokenClient(t, memberU, accounts.ScopeRead)
		operator := p.ScopedTokenClient(t, memberU, accounts.ScopeOperate)

		body := map[string]any{"satellite_id": sta.SatelliteID, "norad": 25544, "aos": pass.AOS, "los": pass.LOS,
			"transmitter_id": tx.ID}
		obsPath := teamPath + "/observations"
		assert.Equal(t, http.StatusForbidden, viewer.Do(t, http.MethodPost, obsPath, body).Status)
		assert.Equal(t, http.StatusForbidden, reader.Do(t, http.MethodPost, obsPath, body).Status)
		assert.Equal(t, http.StatusNotFound, outsider.Do(t, http.MethodPost, obsPath, body).Status)

		dry := map[string]any{"dry_run": true}
		for k, v := range body {
			dry[k] = v
		}
		r = member.Do(t, http.MethodPost, obsPath, dry)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var preview struct {
			WouldSchedule bool              `json:"would_schedule"`
			Observation   observationAnswer `json:"observation"`
			Refusals      []struct{ Rule string }
		}
		r.JSON(t, &preview)
		assert.True(t, preview.WouldSchedule)
		assert.Empty(t, preview.Observation.ID)

		r = operator.Do(t, http.MethodPost, obsPath, body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var booked observationAnswer
		r.JSON(t, &booked)
		assert.Equal(t, "scheduled", booked.State)
		assert.Equal(t, sta.SatelliteID, booked.SatelliteID)

		r = member.Do(t, http.MethodPost, obsPath, body)
		require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
		e := r.Error(t)
		assert.Equal(t, "overlap", e.Code)
		assert.Equal(t, booked.ID, e.ConflictID)
		assert.Contains(t, e.Message, booked.ID)

		short := map[string]any{"satellite_id": sta.SatelliteID, "norad": 25544, "aos": passes.Passes[1].AOS,
			"los": passes.Passes[1].AOS.Add(time.Minute)}
		r = member.Do(t, http.MethodPost, obsPath, short)
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
		assert.Equal(t, "min_duration", r.Error(t).Code)
		assert.Equal(t, "los", r.Error(t).Field)
		r = member.Do(t, http.MethodPost, obsPath, map[string]any{"satellite_id": sta.SatelliteID, "norad": 0})
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "norad", r.Error(t).Field)

		other := p.CreateTeam(t, "Other lab", p.ownerUser)
		foreign := map[string]any{"satellite_id": sta.SatelliteID, "norad": 25544, "aos": pass.AOS, "los": pass.LOS}
		r = p.owner.Do(t, http.MethodPost, "/api/teams/"+other.ID+"/observations", foreign)
		assert.Equal(t, http.StatusNotFound, r.Status, "another team's station: %s", r.Body)

		r = viewer.Do(t, http.MethodGet, obsPath+"?state=scheduled&satellite_id="+sta.SatelliteID+"&from=2026-06-26T00:00:00Z", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var list struct{ Observations []observationAnswer }
		r.JSON(t, &list)
		require.Len(t, list.Observations, 1)
		assert.Equal(t, booked.ID, list.Observations[0].ID)
		r = viewer.Do(t, http.MethodGet, obsPath+"?state=done", nil)
		assert.Equal(t, "state", r.Error(t).Field)
		r = viewer.Do(t, http.MethodGet, obsPath+"?state=cancelled", nil)
		r.JSON(t, &list)
		assert.Empty(t, list.Observations)

		r = viewer.Do(t, http.MethodGet, obsPath+"/"+booked.ID, nil)
		require.Equal(t, http.StatusOK, r.Status)
		var one observationAnswer
		r.JSON(t, &one)
		require.NotEmpty(t, one.History)
		assert.Equal(t, "scheduled", one.History[0].To)
		assert.Equal(t, http.StatusNotFound, outsider.Do(t, http.MethodGet, obsPath+"/"+booked.ID, nil).Status)
		assert.Equal(t, http.StatusNotFound, viewer.Do(t, http.MethodGet, obsPath+"/"+uuid.NewString(), nil).Status)

		// The station reports the pass; the verdict follows, and a member overrides it.
		sum := `{"observation_id":"` + booked.ID + `","tracked_ticks":100,"mean_pointing_error_deg":0.5,` +
			`"max_pointing_error_deg":1,"pointing_commands":50,"pointing_accepted":50}`
		r = sta.c.Do(t, http.MethodPost, sta.path("/events"), api.EventBatch{Events: []api.Event{{ID: uuid.NewString(),
			Type: api.EventObservationCompleted, Severity: api.SeverityInfo, Time: clk.Now(), Data: []byte(sum)}}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r = viewer.Do(t, http.MethodGet, obsPath+"/"+booked.ID, nil)
		r.JSON(t, &one)
		assert.Equal(t, "completed", one.State)
		assert.Equal(t, "good", one.Verdict)

		verdictPath := obsPath + "/" + booked.ID + "/verdict"
		assert.Equal(t, http.StatusForbidden, viewer.Do(t, http.MethodPost, verdictPath, map[string]any{"verdict": "failed", "note": "x"}).Status)
		r = member.Do(t, http.MethodPost, verdictPath, map[string]any{"verdict": "failed"})
		assert.Equal(t, "note", r.Error(t).Field)
		r = member.Do(t, http.MethodPost, verdictPath, map[string]any{"verdict": "failed", "note": "nothing decoded"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &one)
		assert.Equal(t, "failed", one.Verdict)
		assert.Equal(t, "nothing decoded", one.OverrideNote)

		r = member.Do(t, http.MethodPost, obsPath+"/"+booked.ID+"/cancel", nil)
		assert.Equal(t, http.StatusConflict, r.Status, "a finished observation cannot be cancelled")
		assert.Equal(t, "state", r.Error(t).Code)

		second := map[string]any{"satellite_id": sta.SatelliteID, "norad": 25544, "aos": passes.Passes[1].AOS,
			"los": passes.Passes[1].LOS, "transmitter_id": tx.ID}
		r = member.Do(t, http.MethodPost, obsPath, second)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var b observationAnswer
		r.JSON(t, &b)
		assert.Equal(t, http.StatusForbidden, viewer.Do(t, http.MethodPost, obsPath+"/"+b.ID+"/cancel", nil).Status)
		r = member.Do(t, http.MethodPost, obsPath+"/"+b.ID+"/cancel", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &b)
		assert.Equal(t, "cancelled", b.State)

		clk.Advance(48 * time.Hour)
		r = viewer.Do(t, http.MethodGet, obsPath+"/stats?days=7", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var stats struct {
			Windows []struct {
				Days     int `json:"days"`
				Stations []struct {
					SatelliteID string  `json:"satellite_id"`
					Total       int     `json:"total"`
					Failed      int     `json:"failed"`
					SuccessRate float64 `json:"success_rate"`
				} `json:"stations"`
			} `json:"windows"`
		}
		r.JSON(t, &stats)
		require.Len(t, stats.Windows, 1)
		require.Len(t, stats.Windows[0].Stations, 1)
		assert.Equal(t, 1, stats.Windows[0].Stations[0].Failed, "the override counts")
		assert.Equal(t, "days", viewer.Do(t, http.MethodGet, obsPath+"/stats?days=0", nil).Error(t).Field)
	})
}
