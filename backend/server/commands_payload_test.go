package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// observationBody is a valid observation.schedule payload; process, when not nil, is its decoder.
func observationBody(process map[string]any) map[string]any {
	p := map[string]any{
		"observation_id": "obs-1", "norad_id": 25544,
		"element_set": map[string]any{
			"line1": "1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990",
			"line2": "2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225",
		},
		"aos": "2026-06-27T00:00:28Z", "los": "2026-06-27T00:10:23Z",
		"transmitter": map[string]any{"downlink_hz": 145800000},
	}
	if process != nil {
		p["process"] = process
	}
	return map[string]any{"type": "observation.schedule", "payload": p}
}

func processStart(teamID string) map[string]any {
	p := map[string]any{"name": "decoder", "program": "true"}
	if teamID != "" {
		p["team_id"] = teamID
	}
	return map[string]any{"type": "process.start", "payload": p}
}

// deliveredPayload polls s once and returns the payload of the one command it gets.
func deliveredPayload(t *testing.T, s *station, v any) {
	t.Helper()
	out, _ := s.poll(t, "")
	require.Len(t, out.Commands, 1)
	require.NoError(t, json.Unmarshal(out.Commands[0].Payload, v))
}

// TestProcessTeamIsTheSatellitesTeam: a process runs as the system user and in the directory of
// its payload's team_id, so a member of one team must not be able to name another team. The
// team is the satellite's: filled in when left out, refused when different, and a satellite in
// no team runs no team processes.
func TestProcessTeamIsTheSatellitesTeam(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "roof")
		member := p.CreateUser(t, "member@example.org", false)
		p.AddMember(t, p.team, member, store.RoleMember)
		mc := p.Login(t, member)
		other := p.CreateTeam(t, "Other Lab", nil)
		path := "/api/satellites/" + s.SatelliteID + "/commands"

		// Another team's id: refused, for a process.start and for an observation's decoder.
		r := mc.Do(t, http.MethodPost, path, processStart(other.ID))
		assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "payload.team_id", r.Error(t).Field)
		r = mc.Do(t, http.MethodPost, path, observationBody(map[string]any{
			"name": "apt", "team_id": other.ID, "program": "true"}))
		assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "payload.process.team_id", r.Error(t).Field)
		out, _ := s.poll(t, "")
		assert.Empty(t, out.Commands, "nothing refused was queued")

		// Left out: the satellite's team is filled in. Given and equal: kept.
		p.queue(t, mc, s.SatelliteID, processStart(""))
		var start api.ProcessStartPayload
		deliveredPayload(t, s, &start)
		assert.Equal(t, p.team.ID, start.TeamID)
		assert.Equal(t, "true", start.Program)
		assert.Nil(t, start.Command, "the stored payload is the checked one: no raw argv")
		p.queue(t, mc, s.SatelliteID, processStart(p.team.ID))
		deliveredPayload(t, s, &start)
		assert.Equal(t, p.team.ID, start.TeamID)
		p.queue(t, mc, s.SatelliteID, observationBody(map[string]any{"name": "apt", "program": "true"}))
		var obs api.ObservationSchedulePayload
		deliveredPayload(t, s, &obs)
		require.NotNil(t, obs.Process)
		assert.Equal(t, p.team.ID, obs.Process.TeamID)
		assert.Equal(t, 25544, obs.NoradID)
		p.queue(t, mc, s.SatelliteID, observationBody(nil))
		var bare api.ObservationSchedulePayload
		deliveredPayload(t, s, &bare)
		assert.Nil(t, bare.Process, "an observation without a decoder needs no team")

		// A satellite in no team (registered with a global token) runs no team processes, even
		// for a global administrator; once assigned, it runs its new team's.
		tokR := p.admin.Do(t, http.MethodPost, "/api/registration-tokens", map[string]any{})
		require.Equal(t, http.StatusCreated, tokR.Status, string(tokR.Body))
		var tok createdRegToken
		tokR.JSON(t, &tok)
		regR := p.register(t, tok.Token, registerBody("loose"))
		require.Equal(t, http.StatusCreated, regR.Status, string(regR.Body))
		var loose api.RegisterResponse
		regR.JSON(t, &loose)
		loosePath := "/api/satellites/" + loose.SatelliteID + "/commands"
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{processStart(""), "payload.team_id"},
			{processStart(p.team.ID), "payload.team_id"},
			{observationBody(map[string]any{"name": "apt", "program": "x"}), "payload.process.team_id"},
			{map[string]any{"type": "process.restart", "payload": map[string]any{"name": "decoder"}}, "type"},
		} {
			r := p.admin.Do(t, http.MethodPost, loosePath, tc.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", tc.body, r.Body)
			assert.Equal(t, tc.field, r.Error(t).Field, "%v", tc.body)
		}
		assert.Equal(t, http.StatusCreated, p.admin.Do(t, http.MethodPost, loosePath,
			map[string]any{"type": "process.stop", "payload": map[string]any{"name": "decoder"}}).Status,
			"stopping needs no team")
		r = p.admin.Do(t, http.MethodPatch, "/api/satellites/"+loose.SatelliteID, map[string]any{"team_id": other.ID})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r = p.admin.Do(t, http.MethodPost, loosePath, processStart(p.team.ID))
		assert.Equal(t, "payload.team_id", r.Error(t).Field, "its former team's id is refused: %s", r.Body)
		assert.Equal(t, http.StatusCreated, p.admin.Do(t, http.MethodPost, loosePath, processStart(other.ID)).Status)
	})
}

// TestBuiltinPayloadValidation: config.update and maintenance payloads are checked when the
// command is created, with the field named, instead of failing at the station.
func TestBuiltinPayloadValidation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "roof")
		path := "/api/satellites/" + s.SatelliteID + "/commands"
		cfg := func(payload any) map[string]any { return map[string]any{"type": "config.update", "payload": payload} }
		mnt := func(payload any) map[string]any {
			return map[string]any{"type": "maintenance.enter", "payload": payload}
		}
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"type": "config.update"}, "payload"},
			{cfg(map[string]any{}), "payload"},
			{cfg(map[string]any{"heartbeat_seconds": 4}), "payload.heartbeat_seconds"},
			{cfg(map[string]any{"heartbeat_seconds": 3601}), "payload.heartbeat_seconds"},
			{cfg(map[string]any{"events_seconds": 0}), "payload.events_seconds"},
			{cfg(map[string]any{"long_poll_seconds": api.MaxLongPollSeconds + 1}), "payload.long_poll_seconds"},
			{cfg(map[string]any{"log_level": "loud"}), "payload.log_level"},
			{cfg(map[string]any{"heartbeat_second": 30}), "payload.heartbeat_second"},
			{cfg(map[string]any{"heartbeat_seconds": "30"}), "payload.heartbeat_seconds"},
			{cfg([]int{30}), "payload"},
			{mnt(map[string]any{"reason": strings.Repeat("x", 501)}), "payload.reason"},
			{mnt(map[string]any{"why": "x"}), "payload.why"},
			{map[string]any{"type": "maintenance.exit", "payload": "now"}, "payload"},
		} {
			r := p.owner.Do(t, http.MethodPost, path, tc.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", tc.body, r.Body)
			assert.Equal(t, tc.field, r.Error(t).Field, "%v: %s", tc.body, r.Body)
		}
		out, _ := s.poll(t, "")
		assert.Empty(t, out.Commands, "nothing refused was queued")

		for _, body := range []map[string]any{
			cfg(map[string]any{"heartbeat_seconds": 5, "events_seconds": 300, "long_poll_seconds": 0, "log_level": "debug"}),
			{"type": "maintenance.enter"},
			mnt(nil),
			mnt(map[string]any{"reason": strings.Repeat("x", 500)}),
			{"type": "maintenance.exit", "payload": map[string]any{}},
		} {
			r := p.owner.Do(t, http.MethodPost, path, body)
			assert.Equal(t, http.StatusCreated, r.Status, "%v: %s", body, r.Body)
		}
		out, _ = s.poll(t, "")
		require.Len(t, out.Commands, 5)
		var got api.ConfigUpdatePayload
		require.NoError(t, json.Unmarshal(out.Commands[0].Payload, &got))
		require.NotNil(t, got.LongPollSeconds)
		assert.Equal(t, 0, *got.LongPollSeconds, "an explicit 0 survives the re-encoding")
		assert.Nil(t, out.Commands[1].Payload, "an absent payload stays absent")
	})
}

// TestMovedSatelliteWithholdsFormerTeamsProcesses: a process queued for a satellite's team is
// not delivered once an administrator has moved the satellite to another team; it fails with
// the reason, and the satellite's other commands are delivered as usual.
func TestMovedSatelliteWithholdsFormerTeamsProcesses(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		s := p.newStation(t, "roof")
		other := p.CreateTeam(t, "Other Lab", nil)
		start := p.queue(t, p.owner, s.SatelliteID, processStart(""))
		obs := p.queue(t, p.owner, s.SatelliteID, observationBody(map[string]any{"name": "apt", "program": "x"}))
		bare := p.queue(t, p.owner, s.SatelliteID, observationBody(nil))
		stop := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "process.stop", "payload": map[string]any{"name": "decoder"}})

		r := p.admin.Do(t, http.MethodPatch, "/api/satellites/"+s.SatelliteID, map[string]any{"team_id": other.ID})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		out, _ := s.poll(t, "")
		var got []string
		for _, c := range out.Commands {
			got = append(got, c.ID)
		}
		assert.Equal(t, []string{bare, stop}, got, "only commands that run no process of the former team")
		for _, id := range []string{start, obs} {
			c, err := st.CommandOf(t.Context(), s.SatelliteID, id)
			require.NoError(t, err)
			assert.Equal(t, api.CommandFailed, c.Status)
			assert.Contains(t, c.Error, "not delivered: the process is for team "+p.team.ID)
		}
		out, _ = s.poll(t, "")
		assert.Empty(t, out.Commands, "a withheld command is never delivered later")
	})
}
