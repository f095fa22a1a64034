package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/rollouts"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

type rolloutResp struct {
	ID       string `json:"id"`
	Stage    int    `json:"stage"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Stations []struct {
		SatelliteID string  `json:"satellite_id"`
		Stage       int     `json:"stage"`
		State       string  `json:"state"`
		CommandID   *string `json:"command_id"`
		Detail      string  `json:"detail"`
	} `json:"stations"`
}

func (p *protocol) rollout(t *testing.T, id string) rolloutResp {
	t.Helper()
	r := p.admin.Do(t, http.MethodGet, "/api/rollouts/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out rolloutResp
	r.JSON(t, &out)
	return out
}

func (r rolloutResp) stateOf(satelliteID string) (string, string) {
	for _, s := range r.Stations {
		if s.SatelliteID == satelliteID {
			id := ""
			if s.CommandID != nil {
				id = *s.CommandID
			}
			return s.State, id
		}
	}
	return "", ""
}

// finish takes the station's runner.update command to its end as a runner would.
func (s *station) finish(t *testing.T, cmdID string, final api.CommandStatusUpdate) {
	t.Helper()
	out, _ := s.poll(t, "")
	require.Len(t, out.Commands, 1)
	require.Equal(t, cmdID, out.Commands[0].ID)
	require.Equal(t, api.CommandRunnerUpdate, out.Commands[0].Type)
	for _, upd := range []api.CommandStatusUpdate{{Status: api.CommandAcknowledged}, {Status: api.CommandRunning}, final} {
		r := s.c.Do(t, http.MethodPost, s.path("/commands/"+cmdID+"/status"), upd)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
}

func (s *station) beat(t *testing.T, version string) {
	t.Helper()
	hb := sampleHeartbeat()
	hb.Version = version
	r := s.c.Do(t, http.MethodPost, s.path("/heartbeat"), hb)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

func (s *station) report(t *testing.T, typ string, data any) {
	t.Helper()
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	ev := api.Event{ID: uuid.NewString(), Type: typ, Severity: api.SeverityError, Time: time.Now().UTC(), Message: typ, Data: raw}
	r := s.c.Do(t, http.MethodPost, s.path("/events"), api.EventBatch{Events: []api.Event{ev}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

// TestRolloutStagesSkipsManualAndStopsAtRollback: three stations, stages 1/10/100 % (one
// station each); the first updates and stays healthy, so the second stage starts; the second
// updates by hand and is skipped; the third rolls back, and the rollout stops and says why.
func TestRolloutStagesSkipsManualAndStopsAtRollback(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := newProtocol(t, st, withReleases(t.TempDir()))
		relID := p.uploadRelease(t, "2.0.0", []byte("the new runner"))
		stations := map[string]*station{}
		var ids []string
		for _, name := range []string{"a", "b", "c"} {
			s := p.newStation(t, name)
			stations[s.SatelliteID] = s
			ids = append(ids, s.SatelliteID)
		}
		require.Equal(t, http.StatusForbidden, p.owner.Do(t, http.MethodPost, "/api/rollouts",
			map[string]any{"release_id": relID, "team_id": p.team.ID}).Status)
		r := p.admin.Do(t, http.MethodPost, "/api/rollouts", map[string]any{"release_id": relID, "satellite_ids": []string{ids[0]}, "team_id": p.team.ID})
		require.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "satellite_ids", r.Error(t).Field)
		r = p.admin.Do(t, http.MethodPost, "/api/rollouts", map[string]any{"release_id": relID, "team_id": p.team.ID, "stages": []int{50, 20, 100}})
		require.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "stages", r.Error(t).Field)

		r = p.admin.Do(t, http.MethodPost, "/api/rollouts", map[string]any{"release_id": relID, "team_id": p.team.ID, "soak_seconds": 0})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var ro rolloutResp
		r.JSON(t, &ro)
		require.Len(t, ro.Stations, 3)
		order := make([]string, 3) // the stations by stage
		for _, s := range ro.Stations {
			order[s.Stage] = s.SatelliteID
			assert.Equal(t, store.RolloutStationWaiting, s.State)
		}

		require.NoError(t, p.Server.RolloutTick(ctx))
		ro = p.rollout(t, ro.ID)
		first, cmd := ro.stateOf(order[0])
		require.Equal(t, store.RolloutStationQueued, first)
		second, _ := ro.stateOf(order[1])
		require.Equal(t, store.RolloutStationWaiting, second, "the next stage waits")

		a := stations[order[0]]
		a.finish(t, cmd, api.CommandStatusUpdate{Status: api.CommandSucceeded, Result: json.RawMessage(`{"status":"restarting"}`)})
		require.NoError(t, p.Server.RolloutTick(ctx))
		state, _ := p.rollout(t, ro.ID).stateOf(order[0])
		require.Equal(t, store.RolloutStationQueued, state, "not updated until it reports the new version")
		a.beat(t, "2.0.0")
		require.NoError(t, p.Server.RolloutTick(ctx))
		ro = p.rollout(t, ro.ID)
		state, _ = ro.stateOf(order[0])
		require.Equal(t, store.RolloutStationUpdated, state)
		require.Equal(t, 1, ro.Stage)
		state, cmd = ro.stateOf(order[1])
		require.Equal(t, store.RolloutStationQueued, state)

		stations[order[1]].finish(t, cmd, api.CommandStatusUpdate{Status: api.CommandFailed, Error: "update refused: " + api.UpdateManualReason})
		require.NoError(t, p.Server.RolloutTick(ctx))
		ro = p.rollout(t, ro.ID)
		state, _ = ro.stateOf(order[1])
		require.Equal(t, store.RolloutStationSkipped, state)
		state, cmd = ro.stateOf(order[2])
		require.Equal(t, store.RolloutStationQueued, state)
		require.Equal(t, 2, ro.Stage)

		c := stations[order[2]]
		c.finish(t, cmd, api.CommandStatusUpdate{Status: api.CommandSucceeded})
		c.report(t, api.EventRunnerRolledBack, api.RunnerUpdateEventData{From: "2.0.0", To: "0.1.0", Reason: "no poll within 2m0s"})
		c.beat(t, "0.1.0")
		require.NoError(t, p.Server.RolloutTick(ctx))
		ro = p.rollout(t, ro.ID)
		state, _ = ro.stateOf(order[2])
		require.Equal(t, store.RolloutStationRolledBack, state)
		assert.Equal(t, store.RolloutFailed, ro.State)
		assert.Contains(t, ro.Reason, "no poll within 2m0s")
	})
}

// TestRolloutOneReplicaAdvancesIt: replicas ticking at once queue each station's command
// once; a stopped rollout queues nothing more.
func TestRolloutOneReplicaAdvancesIt(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := newProtocol(t, st, withReleases(t.TempDir()))
		relID := p.uploadRelease(t, "3.0.0", []byte("runner 3"))
		var ids []string
		for _, name := range []string{"a", "b"} {
			ids = append(ids, p.newStation(t, name).SatelliteID)
		}
		r := p.admin.Do(t, http.MethodPost, "/api/rollouts", map[string]any{"release_id": relID, "satellite_ids": ids, "stages": []int{100}})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var ro rolloutResp
		r.JSON(t, &ro)

		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				assert.NoError(t, p.Server.RolloutTick(ctx))
			}()
		}
		close(start)
		wg.Wait()
		for _, id := range ids {
			hist, err := st.CommandHistory(ctx, store.CommandQuery{SatelliteID: id})
			require.NoError(t, err)
			assert.Len(t, hist, 1, "one runner.update per station")
		}

		require.Equal(t, http.StatusNoContent, p.admin.Do(t, http.MethodPost, "/api/rollouts/"+ro.ID+"/stop", map[string]any{"reason": "bad build"}).Status)
		ro = p.rollout(t, ro.ID)
		assert.Equal(t, store.RolloutStopped, ro.State)
		assert.Equal(t, "bad build", ro.Reason)
		assert.Equal(t, http.StatusNotFound, p.admin.Do(t, http.MethodPost, "/api/rollouts/"+ro.ID+"/stop", nil).Status)
	})
}

func TestStageOfPutsAtLeastOneStationInEachStage(t *testing.T) {
	t.Parallel()
	count := func(n int) []int {
		out := make([]int, 3)
		for i := range n {
			out[rollouts.StageOf(i, n, rollouts.DefaultStages)]++
		}
		return out
	}
	assert.Equal(t, []int{1, 1, 1}, count(3))
	assert.Equal(t, []int{1, 0, 0}, count(1))
	assert.Equal(t, []int{2, 18, 180}, count(200))
	assert.Equal(t, []int{1, 1, 8}, count(10))
}
