package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/sweeper"
)

func sampleHeartbeat() api.Heartbeat {
	temp := 51.5
	return api.Heartbeat{Status: api.StatusOnline, Version: "0.1.0", UptimeSeconds: 3600,
		System: api.SystemMetrics{CPUPercent: 12.5, Memory: api.Memory{TotalBytes: 4 << 30, UsedBytes: 1 << 30, Percent: 25},
			Disk: api.Memory{TotalBytes: 32 << 30, UsedBytes: 8 << 30, Percent: 25}, Load: api.Load{Load1: 0.5, Load5: 0.4, Load15: 0.3},
			TemperatureC: &temp},
		Processes: []api.ProcessInfo{{Name: "decoder", State: "running", PID: 42, Limited: true}},
		Tracking:  &api.TrackingState{State: "tracking", NoradID: 25544, AzimuthDeg: 120, ElevationDeg: 30}}
}

// TestHeartbeatsAndOffline: heartbeats are stored and keep a satellite online; 2.5 intervals of
// silence make it offline with an event, recorded once even when two sweepers race; the next
// heartbeat brings it back with another event.
func TestHeartbeatsAndOffline(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		s := p.newStation(t, "roof")
		sweepers := []*sweeper.Sweeper{{Store: st, Log: zaptest.NewLogger(t)}, {Store: st, Log: zaptest.NewLogger(t)}}

		r := s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat())
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var hr api.HeartbeatResponse
		r.JSON(t, &hr)
		assert.Equal(t, 30, hr.NextHeartbeatSeconds)
		assert.True(t, hr.ServerTime.Equal(clk.Now()))

		clk.Advance(74 * time.Second) // < 2.5 × 30 s
		assert.Empty(t, sweepers[0].Sweep(t.Context()).Offline)
		clk.Advance(2 * time.Second)
		a, b := sweepers[0].Sweep(t.Context()), sweepers[1].Sweep(t.Context())
		assert.Equal(t, []string{s.SatelliteID}, append(a.Offline, b.Offline...), "one sweeper records the transition")
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, ""), nil)
		assert.Contains(t, string(r.Body), `"status":"offline"`)

		hb := sampleHeartbeat()
		hb.Status = api.StatusDegraded
		require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), hb).Status)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=satellite.offline"), nil)
		assert.Equal(t, 1, strings.Count(string(r.Body), `"type":"satellite.offline"`), string(r.Body))
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=satellite.online"), nil)
		assert.Equal(t, 1, strings.Count(string(r.Body), `"type":"satellite.online"`), string(r.Body))
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, ""), nil)
		assert.Contains(t, string(r.Body), `"status":"degraded"`)

		// Reads by time range, newest first.
		var list struct {
			Heartbeats []struct {
				ReceivedAt time.Time `json:"received_at"`
				Report     api.Heartbeat
			}
		}
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/heartbeats"), nil)
		require.Equal(t, http.StatusOK, r.Status)
		r.JSON(t, &list)
		require.Len(t, list.Heartbeats, 2)
		assert.Equal(t, api.StatusDegraded, list.Heartbeats[0].Report.Status)
		assert.Equal(t, 25544, list.Heartbeats[1].Report.Tracking.NoradID)
		from := clk.Now().Add(-time.Second).Format(time.RFC3339Nano)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/heartbeats?from="+from), nil)
		r.JSON(t, &list)
		assert.Len(t, list.Heartbeats, 1)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/heartbeats?to="+from), nil)
		r.JSON(t, &list)
		assert.Len(t, list.Heartbeats, 1)
		assert.Equal(t, "from", p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/heartbeats?from=yesterday"), nil).Error(t).Field)

		// Retention: old heartbeats and events go.
		clk.Advance(31 * 24 * time.Hour)
		require.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat()).Status)
		res := (&sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t)}).Sweep(t.Context())
		assert.True(t, res.Pruned)
		assert.Equal(t, int64(2), res.Heartbeats)
		assert.Equal(t, int64(2), res.Events)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/heartbeats"), nil)
		r.JSON(t, &list)
		assert.Len(t, list.Heartbeats, 1)
	})
}

// TestConfigUpdateAdoptsHeartbeatInterval: once a satellite reports a config.update applied, the
// backend hands out the new heartbeat interval and judges liveness by it.
func TestConfigUpdateAdoptsHeartbeatInterval(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		s := p.newStation(t, "roof")
		id := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": api.CommandConfigUpdate,
			"payload": map[string]any{"heartbeat_seconds": 120}})
		s.poll(t, "")
		result := api.ConfigUpdateResult{HeartbeatSeconds: 120, EventsSeconds: 3, LongPollSeconds: 30, LogLevel: "info"}
		r := s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"), map[string]any{"status": "succeeded", "result": result})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		r = s.c.Do(t, http.MethodPost, s.path("/heartbeat"), sampleHeartbeat())
		var hr api.HeartbeatResponse
		r.JSON(t, &hr)
		assert.Equal(t, 120, hr.NextHeartbeatSeconds)
		clk.Advance(200 * time.Second) // > 2.5 × 30 s, < 2.5 × 120 s
		assert.Empty(t, (&sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t)}).Sweep(t.Context()).Offline)
		clk.Advance(101 * time.Second)
		assert.Len(t, (&sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t)}).Sweep(t.Context()).Offline, 1)
	})
}

func TestHeartbeatValidation(t *testing.T) {
	t.Parallel()
	p := newProtocol(t, storetest.Open(t, store.SQLite))
	s := p.newStation(t, "roof")
	for _, tc := range []struct {
		edit  func(*api.Heartbeat)
		field string
	}{
		{func(h *api.Heartbeat) { h.Status = "offline" }, "status"},
		{func(h *api.Heartbeat) { h.Status = "" }, "status"},
		{func(h *api.Heartbeat) { h.System.CPUPercent = 101 }, "system.cpu_percent"},
		{func(h *api.Heartbeat) { h.System.Disk.Percent = -1 }, "system.disk.percent"},
		{func(h *api.Heartbeat) { h.UptimeSeconds = -1 }, "uptime_seconds"},
		{func(h *api.Heartbeat) { h.OutboxDepth = -1 }, "outbox_depth"},
		{func(h *api.Heartbeat) { h.EventsDropped = -1 }, "events_dropped"},
		{func(h *api.Heartbeat) { h.System.Memory.Percent = 100.5 }, "system.memory.percent"},
		{func(h *api.Heartbeat) { h.System.Load.Load5 = -0.1 }, "system.load.load5"},
		{func(h *api.Heartbeat) { h.Version = "0.1\n" }, "version"},
		{func(h *api.Heartbeat) { h.CgroupLimits = strings.Repeat("v", api.MaxCgroupLimitsLen+1) }, "cgroup_limits"},
		{func(h *api.Heartbeat) { h.Processes[0].PID = -4 }, "processes[0].pid"},
		{func(h *api.Heartbeat) { h.Processes[0].Restarts = -1 }, "processes[0].restarts"},
		{func(h *api.Heartbeat) { h.Processes[0].CPUPercent = -3 }, "processes[0].cpu_percent"},
		{func(h *api.Heartbeat) { h.Processes[0].State = "run\tning" }, "processes[0].state"},
		{func(h *api.Heartbeat) { h.Processes[0].Signal = strings.Repeat("s", 101) }, "processes[0].signal"},
		{func(h *api.Heartbeat) { h.Tracking.NoradID = -25544 }, "tracking.norad_id"},
		{func(h *api.Heartbeat) { h.Tracking.PointingErrorDeg = -1 }, "tracking.pointing_error_deg"},
		{func(h *api.Heartbeat) { h.Tracking.DownlinkHz = -1 }, "tracking.downlink_hz"},
		{func(h *api.Heartbeat) { h.Tracking.ObservationID = "o\x01" }, "tracking.observation_id"},
		{func(h *api.Heartbeat) { h.Tracking.State = "dancing" }, "tracking.state"},
		{func(h *api.Heartbeat) { h.Processes[0].Name = "" }, "processes[0].name"},
		{func(h *api.Heartbeat) { v := 999.0; h.System.TemperatureC = &v }, "system.temperature_c"},
	} {
		hb := sampleHeartbeat()
		tc.edit(&hb)
		r := s.c.Do(t, http.MethodPost, s.path("/heartbeat"), hb)
		assert.Equal(t, http.StatusBadRequest, r.Status, tc.field)
		assert.Equal(t, tc.field, r.Error(t).Field)
	}
	r := s.c.Do(t, http.MethodPost, s.path("/heartbeat"), `{"status":"online","system":{"cpu_percent":"hot"}}`)
	assert.Equal(t, "system.cpu_percent", r.Error(t).Field)
}

func event(typ string) api.Event {
	return api.Event{ID: uuid.NewString(), Type: typ, Severity: api.SeverityInfo,
		Time: time.Date(2026, 6, 26, 11, 59, 0, 0, time.UTC), Message: "hello"}
}

func TestEventBatches(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		s := p.newStation(t, "roof")
		good := []api.Event{event("observation.aos"), event("observation.los"), event("rotator.fault")}
		good[2].Severity = api.SeverityError
		good[0].Data = []byte(`{"norad_id":25544}`)
		good[1].CommandID = store.NewID()

		bad := []struct {
			edit func(*api.Event)
			code string
		}{
			{func(e *api.Event) { e.ID = "not-a-uuid" }, api.RejectBadID},
			{func(e *api.Event) { e.Type = "" }, api.RejectMissingType},
			{func(e *api.Event) { e.Type = "Observation AOS" }, api.RejectBadType},
			{func(e *api.Event) { e.Severity = "fatal" }, api.RejectBadSeverity},
			{func(e *api.Event) { e.Time = time.Time{} }, api.RejectMissingTime},
			{func(e *api.Event) { e.Message = strings.Repeat("x", api.MaxEventMessageBytes+1) }, api.RejectMessageTooLong},
			{func(e *api.Event) { e.Data = []byte(`{"x":"` + strings.Repeat("x", api.MaxEventDataBytes) + `"}`) }, api.RejectDataTooLarge},
			{func(e *api.Event) { e.Data = []byte(`[1,2]`) }, api.RejectBadData},
			{func(e *api.Event) { e.CommandID = "nope" }, api.RejectBadReference},
		}
		batch := api.EventBatch{Events: append([]api.Event{}, good...)}
		for _, b := range bad {
			e := event("log")
			b.edit(&e)
			batch.Events = append(batch.Events, e)
		}
		batch.Events = append(batch.Events, good[0]) // a duplicate inside the batch

		r := s.c.Do(t, http.MethodPost, s.path("/events"), batch)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var resp api.EventBatchResponse
		r.JSON(t, &resp)
		assert.Equal(t, 3, resp.Accepted)
		assert.Equal(t, 1, resp.Duplicates)
		require.Len(t, resp.Rejected, len(bad))
		for i, b := range bad {
			assert.Equal(t, b.code, resp.Rejected[i].Code)
			assert.Equal(t, len(good)+i, resp.Rejected[i].Index)
		}

		// The retried batch stores nothing twice.
		r = s.c.Do(t, http.MethodPost, s.path("/events"), api.EventBatch{Events: good})
		r.JSON(t, &resp)
		assert.Equal(t, api.EventBatchResponse{Accepted: 0, Duplicates: 3, Rejected: []api.RejectedEvent{}}, resp)

		// Too many events: 413.
		big := api.EventBatch{}
		for range api.MaxEventBatch + 1 {
			big.Events = append(big.Events, event("log"))
		}
		r = s.c.Do(t, http.MethodPost, s.path("/events"), big)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
		assert.Equal(t, api.ErrBodyTooLarge, r.Error(t).Code)
		big.Events = big.Events[:api.MaxEventBatch]
		r = s.c.Do(t, http.MethodPost, s.path("/events"), big)
		r.JSON(t, &resp)
		assert.Equal(t, api.MaxEventBatch, resp.Accepted)

		// Reads: filtered and paged, newest first.
		var list struct {
			Events []struct {
				ID, Type, Severity, Seq string
				Data                    map[string]any
			}
		}
		base := p.teamPath(s.SatelliteID, "/events")
		r = p.owner.Do(t, http.MethodGet, base+"?severity=error", nil)
		r.JSON(t, &list)
		require.Len(t, list.Events, 1)
		assert.Equal(t, "rotator.fault", list.Events[0].Type)
		r = p.owner.Do(t, http.MethodGet, base+"?type=observation.aos", nil)
		r.JSON(t, &list)
		require.Len(t, list.Events, 1)
		assert.Equal(t, 25544.0, list.Events[0].Data["norad_id"])
		seen := map[string]bool{}
		before := ""
		for page := 0; ; page++ {
			r = p.owner.Do(t, http.MethodGet, base+"?limit=200"+before, nil)
			require.Equal(t, http.StatusOK, r.Status)
			r.JSON(t, &list)
			if len(list.Events) == 0 {
				break
			}
			for _, e := range list.Events {
				assert.False(t, seen[e.ID], "an event appears on one page only")
				seen[e.ID] = true
			}
			before = "&before=" + list.Events[len(list.Events)-1].Seq
			require.Less(t, page, 10)
		}
		assert.Len(t, seen, 3+api.MaxEventBatch)
		assert.Equal(t, "severity", p.owner.Do(t, http.MethodGet, base+"?severity=loud", nil).Error(t).Field)
		assert.Equal(t, "limit", p.owner.Do(t, http.MethodGet, base+"?limit=0", nil).Error(t).Field)
	})
}

// TestSatelliteReadsAndUpdates covers the user side: list, get, rename, maintenance, delete,
// and team scope (another team's satellites are 404 on every path).
func TestSatelliteReadsAndUpdates(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "roof")
		p.newStation(t, "attic")
		base := "/api/teams/" + p.team.ID + "/satellites"

		var list struct {
			Satellites []struct{ ID, Name, Status string }
		}
		r := p.owner.Do(t, http.MethodGet, base, nil)
		require.Equal(t, http.StatusOK, r.Status)
		r.JSON(t, &list)
		require.Len(t, list.Satellites, 2)
		assert.Equal(t, "attic", list.Satellites[0].Name)
		assert.NotContains(t, string(r.Body), "hash")

		r = p.owner.Do(t, http.MethodPatch, base+"/"+s.SatelliteID, map[string]any{"name": "Roof East"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"name":"Roof East"`)
		assert.Equal(t, "name", p.owner.Do(t, http.MethodPatch, base+"/"+s.SatelliteID, map[string]any{"name": ""}).Error(t).Field)
		assert.Equal(t, http.StatusBadRequest, p.owner.Do(t, http.MethodPatch, base+"/"+s.SatelliteID, map[string]any{}).Status)

		// Another team sees none of it.
		eve := p.CreateUser(t, "eve@example.org", false)
		teamB := p.CreateTeam(t, "B", eve)
		eveC := p.Login(t, eve)
		for _, path := range []string{"/api/teams/" + teamB.ID + "/satellites/" + s.SatelliteID,
			"/api/teams/" + teamB.ID + "/satellites/" + s.SatelliteID + "/events",
			"/api/satellites/" + s.SatelliteID + "/commands/history"} {
			assert.Equal(t, http.StatusNotFound, eveC.Do(t, http.MethodGet, path, nil).Status, path)
		}
		r = eveC.Do(t, http.MethodGet, "/api/teams/"+teamB.ID+"/satellites", nil)
		assert.NotContains(t, string(r.Body), s.SatelliteID)
		assert.Equal(t, http.StatusForbidden, eveC.Do(t, http.MethodGet, "/api/satellites", nil).Status)
		r = p.admin.Do(t, http.MethodGet, "/api/satellites", nil)
		assert.Contains(t, string(r.Body), s.SatelliteID)

		// A member may not delete; the owner may, and the key dies with the satellite.
		member := p.CreateUser(t, "m@example.org", false)
		p.AddMember(t, p.team, member, store.RoleMember)
		assert.Equal(t, http.StatusForbidden, p.Login(t, member).Do(t, http.MethodDelete, base+"/"+s.SatelliteID, nil).Status)
		require.Equal(t, http.StatusNoContent, p.owner.Do(t, http.MethodDelete, base+"/"+s.SatelliteID, nil).Status)
		assert.Equal(t, http.StatusUnauthorized, s.c.Do(t, http.MethodGet, s.path("/commands"), nil).Status)
		assert.Equal(t, http.StatusNotFound, p.owner.Do(t, http.MethodGet, base+"/"+s.SatelliteID, nil).Status)
	})
}

// TestGlobalTokenSatelliteJoinsATeam: a satellite registered with a global token belongs to no
// team; only global administrators see it, until one assigns it to a team.
func TestGlobalTokenSatelliteJoinsATeam(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		r := p.admin.Do(t, http.MethodPost, "/api/registration-tokens", map[string]any{})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var tok createdRegToken
		r.JSON(t, &tok)
		r = p.register(t, tok.Token, registerBody("orphan"))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var reg api.RegisterResponse
		r.JSON(t, &reg)
		assert.Empty(t, reg.TeamID)
		path := "/api/satellites/" + reg.SatelliteID

		assert.Equal(t, http.StatusNotFound, p.owner.Do(t, http.MethodGet, path, nil).Status)
		assert.Equal(t, http.StatusOK, p.admin.Do(t, http.MethodGet, path, nil).Status)
		assert.Equal(t, http.StatusCreated, p.admin.Do(t, http.MethodPost, path+"/commands", map[string]any{"type": "ping"}).Status)
		assert.Equal(t, "team_id", p.admin.Do(t, http.MethodPatch, path, map[string]any{"team_id": store.NewID()}).Error(t).Field)
		assert.Equal(t, "team_id", p.admin.Do(t, http.MethodPatch, path, map[string]any{}).Error(t).Field)

		r = p.admin.Do(t, http.MethodPatch, path, map[string]any{"team_id": p.team.ID})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"team_id":"`+p.team.ID+`"`)
		assert.Equal(t, http.StatusOK, p.owner.Do(t, http.MethodGet, p.teamPath(reg.SatelliteID, ""), nil).Status)
		assert.Equal(t, http.StatusForbidden, p.owner.Do(t, http.MethodPatch, path, map[string]any{"team_id": p.team.ID}).Status,
			"moving satellites between teams is for global administrators")
		r = p.owner.Do(t, http.MethodGet, p.teamPath(reg.SatelliteID, "/commands/history"), nil)
		assert.Contains(t, string(r.Body), `"type":"ping"`, "its commands moved with it")
	})
}
