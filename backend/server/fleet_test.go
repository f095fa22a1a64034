package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// fanoutView is the answer of the fan-out routes.
type fanoutView struct {
	ID       string
	Target   string
	Type     string
	Summary  map[string]int
	Commands []struct {
		ID          string
		SatelliteID string `json:"satellite_id"`
		Status      api.CommandStatus
	}
	Skipped []struct {
		SatelliteID string `json:"satellite_id"`
		Reason      string
	}
}

// satelliteView is the part of a satellite's JSON these tests read.
type satelliteView struct {
	ID             string
	Tags           map[string]string
	Status         string
	ReportedStatus string `json:"reported_status"`
	Paused         *struct {
		Note    string
		Until   *time.Time
		By      string
		Running string
	}
}

// taggedStation registers a station of p.team with tags.
func (p *protocol) taggedStation(t *testing.T, name string, tags map[string]string) *station {
	t.Helper()
	body := registerBody(name)
	body.Tags = tags
	r := p.register(t, p.teamToken(t, nil).Token, body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	s := &station{c: p.Anonymous(t)}
	r.JSON(t, &s.RegisterResponse)
	s.c.Bearer = s.APIKey
	return s
}

func (p *protocol) satellite(t *testing.T, id string) satelliteView {
	t.Helper()
	r := p.owner.Do(t, http.MethodGet, p.teamPath(id, ""), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out satelliteView
	r.JSON(t, &out)
	return out
}

// TestStationTags: tags come with registration and heartbeats, are checked naming the tag, and
// show in the satellites API.
func TestStationTags(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		bad := registerBody("bad")
		bad.Tags = map[string]string{"band": "u hf"}
		r := p.register(t, p.teamToken(t, nil).Token, bad)
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "tags.band", r.Error(t).Field)

		a := p.taggedStation(t, "a", map[string]string{"band": "uhf", "rotator": "az-el"})
		assert.Equal(t, map[string]string{"band": "uhf", "rotator": "az-el"}, p.satellite(t, a.SatelliteID).Tags)

		hb := sampleHeartbeat()
		hb.Tags = map[string]string{"band": "uhf", "rotator": "az-el", "site": "campus-a"}
		require.Equal(t, http.StatusOK, a.c.Do(t, http.MethodPost, a.path("/heartbeat"), hb).Status)
		assert.Equal(t, hb.Tags, p.satellite(t, a.SatelliteID).Tags, "a heartbeat's changed tags are stored")
		hb.Tags = nil
		require.Equal(t, http.StatusOK, a.c.Do(t, http.MethodPost, a.path("/heartbeat"), hb).Status)
		assert.Len(t, p.satellite(t, a.SatelliteID).Tags, 3, "a heartbeat without tags keeps them")
		hb.Tags = map[string]string{"Site": "x"}
		r = a.c.Do(t, http.MethodPost, a.path("/heartbeat"), hb)
		require.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "tags", r.Error(t).Field)
	})
}

// TestFanOutAPI: POST /api/teams/{team}/commands fans a command out to the stations a tag query
// selects; GET reports each child and a summary; cancel cancels the unfinished children.
// Viewers may read but not send; other teams see nothing.
func TestFanOutAPI(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		a := p.taggedStation(t, "a", map[string]string{"band": "uhf", "rotator": "az-el"})
		b := p.taggedStation(t, "b", map[string]string{"band": "uhf"})
		p.taggedStation(t, "c", map[string]string{"band": "vhf"})
		viewerU := p.CreateUser(t, "viewer@example.org", false)
		p.AddMember(t, p.team, viewerU, store.RoleViewer)
		viewer := p.Login(t, viewerU)
		outsider := p.Login(t, p.CreateUser(t, "outsider@example.org", false))
		base := "/api/teams/" + p.team.ID + "/commands"

		body := map[string]any{"target": "band=uhf", "type": "ping", "priority": "high"}
		r := viewer.Do(t, http.MethodPost, base, body)
		assert.Equal(t, http.StatusForbidden, r.Status, "a viewer cannot send")
		r = p.owner.Do(t, http.MethodPost, base, map[string]any{"target": "band=shf", "type": "ping"})
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
		assert.Equal(t, "no_match", r.Error(t).Code)
		assert.Contains(t, r.Error(t).Message, `"band=shf"`)
		r = p.owner.Do(t, http.MethodPost, base, map[string]any{"target": "band=uhf OR", "type": "ping"})
		require.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "target", r.Error(t).Field)
		assert.Contains(t, r.Error(t).Message, "position 11")
		r = p.owner.Do(t, http.MethodPost, base, map[string]any{"target": "band=uhf", "type": "observation.cancel"})
		require.Equal(t, http.StatusBadRequest, r.Status, "the payload is checked as for one command")
		assert.Equal(t, "payload", r.Error(t).Field)

		r = p.owner.Do(t, http.MethodPost, base, body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var f fanoutView
		r.JSON(t, &f)
		require.Len(t, f.Commands, 2)
		assert.Equal(t, map[string]int{"total": 2, "queued": 2, "delivered": 0, "succeeded": 0, "failed": 0, "cancelled": 0, "expired": 0}, f.Summary)

		got, _ := a.poll(t, "")
		require.Len(t, got.Commands, 1)
		assert.Equal(t, api.PollingHigh, got.PollingMode)
		rs := a.c.Do(t, http.MethodPost, a.path("/commands/"+got.Commands[0].ID+"/status"), api.CommandStatusUpdate{Status: api.CommandSucceeded})
		require.Equal(t, http.StatusOK, rs.Status, string(rs.Body))

		r = viewer.Do(t, http.MethodGet, base+"/"+f.ID, nil)
		require.Equal(t, http.StatusOK, r.Status, "viewers may read")
		r.JSON(t, &f)
		assert.Equal(t, 1, f.Summary["succeeded"])
		assert.Equal(t, 1, f.Summary["queued"])
		assert.Equal(t, http.StatusNotFound, outsider.Do(t, http.MethodGet, base+"/"+f.ID, nil).Status)
		assert.Equal(t, http.StatusNotFound, p.owner.Do(t, http.MethodGet, base+"/not-an-id", nil).Status)

		assert.Equal(t, http.StatusForbidden, viewer.Do(t, http.MethodPost, base+"/"+f.ID+"/cancel", nil).Status)
		r = p.owner.Do(t, http.MethodPost, base+"/"+f.ID+"/cancel", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &f)
		assert.Equal(t, 1, f.Summary["cancelled"])
		assert.Equal(t, 1, f.Summary["succeeded"])
		got, _ = b.poll(t, "")
		assert.Empty(t, got.Commands, "b's child was cancelled")

		entries, err := st.ListAudit(t.Context(), store.AuditQuery{TeamID: p.team.ID})
		require.NoError(t, err)
		actions := map[string]bool{}
		for _, e := range entries {
			actions[e.Action] = true
		}
		assert.True(t, actions["command.fanout"] && actions["command.fanout_cancel"], "%v", actions)
	})
}

// TestPauseAPI: members pause a station with a note and an optional end; it then takes only
// the allowed commands, shows paused in the satellites API, the heartbeats view and the
// metrics, and the audit log says who paused it and why; the pause ends by itself at its end.
func TestPauseAPI(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		a := p.taggedStation(t, "a", map[string]string{"band": "uhf"})
		require.Equal(t, http.StatusOK, a.c.Do(t, http.MethodPost, a.path("/heartbeat"), sampleHeartbeat()).Status)
		viewerU := p.CreateUser(t, "viewer@example.org", false)
		p.AddMember(t, p.team, viewerU, store.RoleViewer)
		viewer := p.Login(t, viewerU)

		until := clk.Now().Add(2 * time.Hour)
		body := map[string]any{"note": "replacing the LNA", "until": until, "running": "finish"}
		assert.Equal(t, http.StatusForbidden, viewer.Do(t, http.MethodPost, p.teamPath(a.SatelliteID, "/pause"), body).Status)
		r := p.owner.Do(t, http.MethodPost, p.teamPath(a.SatelliteID, "/pause"), map[string]any{"note": "x", "running": "later"})
		require.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "running", r.Error(t).Field)
		r = p.owner.Do(t, http.MethodPost, "/api/satellites/"+a.SatelliteID+"/pause", body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		sat := p.satellite(t, a.SatelliteID)
		assert.Equal(t, "paused", sat.Status)
		assert.Equal(t, "online", sat.ReportedStatus)
		require.NotNil(t, sat.Paused)
		assert.Equal(t, "replacing the LNA", sat.Paused.Note)
		assert.Equal(t, p.ownerUser.ID, sat.Paused.By)
		assert.True(t, until.Equal(*sat.Paused.Until))

		r = p.owner.Do(t, http.MethodPost, p.teamPath(a.SatelliteID, "/commands"), map[string]any{"type": "maintenance.enter"})
		require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
		assert.Contains(t, r.Error(t).Message, "replacing the LNA")
		p.queue(t, p.owner, a.SatelliteID, map[string]any{"type": "rotator.park"})

		r = p.owner.Do(t, http.MethodGet, p.teamPath(a.SatelliteID, "/heartbeats"), nil)
		require.Equal(t, http.StatusOK, r.Status)
		var hbs struct {
			Status string
			Paused *struct{ Note string }
		}
		r.JSON(t, &hbs)
		assert.Equal(t, "paused", hbs.Status)
		require.NotNil(t, hbs.Paused)
		assert.Equal(t, "replacing the LNA", hbs.Paused.Note)
		assert.Contains(t, metricsText(t, p), `talos_stations{status="paused",version="0.1.0"} 1`)

		entries, err := st.ListAudit(t.Context(), store.AuditQuery{TeamID: p.team.ID})
		require.NoError(t, err)
		var pause *store.AuditEntry
		for i := range entries {
			if entries[i].Action == "satellite.pause" {
				pause = &entries[i]
			}
		}
		require.NotNil(t, pause, "the pause is audited")
		assert.Equal(t, p.ownerUser.ID, pause.ActorID)
		assert.Contains(t, pause.Detail, "replacing the LNA")

		clk.Advance(2 * time.Hour) // the pause's end
		sat = p.satellite(t, a.SatelliteID)
		assert.Equal(t, "online", sat.Status, "the pause ended by itself")
		assert.Nil(t, sat.Paused)
		assert.Contains(t, metricsText(t, p), `talos_stations{status="online",version="0.1.0"} 1`)
		p.queue(t, p.owner, a.SatelliteID, map[string]any{"type": "maintenance.enter"})

		r = p.owner.Do(t, http.MethodPost, p.teamPath(a.SatelliteID, "/pause"), map[string]any{"note": "storm", "running": "cancel"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, "paused", p.satellite(t, a.SatelliteID).Status)
		assert.Equal(t, http.StatusForbidden, viewer.Do(t, http.MethodPost, p.teamPath(a.SatelliteID, "/resume"), nil).Status)
		r = p.owner.Do(t, http.MethodPost, p.teamPath(a.SatelliteID, "/resume"), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var resumed satelliteView
		r.JSON(t, &resumed)
		assert.Equal(t, "online", resumed.Status)
	})
}

func metricsText(t *testing.T, p *protocol) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.URL+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}
