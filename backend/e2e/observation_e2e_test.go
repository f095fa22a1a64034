package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/proc/proctest"
	"github.com/talos-gs/talos/satellite/runner"
	satstation "github.com/talos-gs/talos/satellite/station"
)

// CALSPHERE 1 from orbit/testdata/celestrak-active-2026-177.tle: a 1000 km orbit, so SGP4
// stays sound months after the epoch.
const (
	obsTLEName  = "CALSPHERE 1"
	obsTLELine1 = "1 00900U 64063C   26177.97017495  .00000536  00000+0  53696-3 0  9998"
	obsTLELine2 = "2 00900  90.2228  72.0011 0023238 264.9038 113.4186 13.76633355 72774"
)

// TestObservationThroughTheUserAPI schedules an observation through the real backend's user
// API (POST /api/satellites/{id}/commands, type observation.schedule) for a station assembled
// as `talos-satellite run` assembles it (process manager, simulated rotator and radio,
// scheduler and tracker): its 10 s window opens a few seconds later, it runs a decoder
// process, and its observation.* and process.* events are read back through the user events
// API; the heartbeats carry the tracking state and the cgroup mode.
func TestObservationThroughTheUserAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		// Registered before the station starts, so it runs after the station has stopped.
		proctest.RemoveTeamUsers(t, c.team.ID)
		dir, id := register(t, b.URL, c.registrationToken(t), "Observing station")
		// Team users must traverse every parent of <state_dir>-teams/<team>; t.TempDir is 0700.
		for _, p := range []string{filepath.Dir(filepath.Dir(dir)), filepath.Dir(dir)} {
			require.NoError(t, os.Chmod(p, 0o711)) //nolint:gosec // traversable, not listable
		}
		runAssembledStation(t, dir)

		aos := time.Now().Add(5 * time.Second).UTC().Truncate(time.Second)
		obsID := "e2e-" + uuid.NewString()[:8]
		payload := api.ObservationSchedulePayload{
			ObservationID: obsID, NoradID: 900,
			ElementSet:  api.ObservationElementSet{Name: obsTLEName, Line1: obsTLELine1, Line2: obsTLELine2},
			AOS:         aos,
			LOS:         aos.Add(10 * time.Second),
			Transmitter: api.ObservationTransmitter{DownlinkHz: 145_800_000, Mode: "FM"},
			Rotator:     api.RotatorSettings{AfterLOS: "park"},
			Process:     &api.ProcessStartPayload{Name: "dec-" + obsID, TeamID: c.team.ID, Program: "decoder-sim"},
		}
		r := c.operator.Do(t, http.MethodPost, "/api/satellites/"+id+"/commands",
			map[string]any{"type": api.CommandObservationSchedule, "payload": payload})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var cmd commandView
		r.JSON(t, &cmd)

		eventually(t, func() bool { return commandIn(c.history(t, c.operator, id), cmd.ID).Status == api.CommandSucceeded },
			"observation.schedule succeeded")
		var res api.ObservationScheduleResult
		require.NoError(t, json.Unmarshal(commandIn(c.history(t, c.operator, id), cmd.ID).Result, &res))
		assert.Equal(t, obsID, res.ObservationID)

		for _, typ := range []string{api.EventObservationPrepared, api.EventAOS, api.EventLOS, api.EventObservationCompleted} {
			eventually(t, func() bool { return hasObservationEvent(t, c, id, typ, obsID) }, "%s of %s", typ, obsID)
		}
		completed := c.allEvents(t, id, api.EventObservationCompleted)
		require.NotEmpty(t, completed)
		assert.Equal(t, cmd.ID, completed[0].CommandID, "the observation's events carry the scheduling command's id")
		var sum map[string]any
		require.NoError(t, json.Unmarshal(completed[0].Data, &sum))
		assert.Contains(t, sum, "max_pointing_error_deg")
		assert.NotContains(t, sum, "process_error", "the decoder started")
		assert.Empty(t, c.allEvents(t, id, api.EventObservationFailed))

		eventually(t, func() bool { return processEvent(t, c, id, api.EventProcessExited, payload.Process.Name) },
			"the decoder was stopped after LOS")
		eventually(t, func() bool {
			for _, hb := range c.heartbeats(t, id) {
				if hb.Report.Tracking != nil && hb.Report.CgroupLimits != "" {
					return true
				}
			}
			return false
		}, "a heartbeat with tracking state and cgroup_limits")
	})
}

// runAssembledStation runs station.Assemble's station on the registered state directory dir
// until the test ends, with e2ePrograms as its allow-list; adjust changes the configuration.
func runAssembledStation(t *testing.T, dir string, adjust ...func(*config.Config)) *runner.Runner {
	t.Helper()
	cfg := runnerConfig(dir)
	for _, f := range adjust {
		f(&cfg)
	}
	cfg.Proc.Programs = e2ePrograms()
	cfg.Proc.WorkDir = decoderWorkDir(t)
	cfg.Proc.AllowUnisolated = os.Geteuid() != 0 // a developer's run; TestTrustModel needs root
	// proc.New reaps everything below its cgroup parent: one of its own per test.
	cfg.Proc.CgroupParent = fmt.Sprintf("talos-e2e-%d-%s", os.Getpid(), uuid.NewString()[:8])
	cfg.Proc.GracePeriod = 2 * time.Second
	cfg.Proc.SampleInterval = time.Second
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named("runner")
	r, err := satstation.Assemble(context.Background(), cfg, log, runner.Options{Rand: shortJitter})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "the station stopped cleanly")
		case <-time.After(time.Minute):
			t.Error("e2e: the station did not stop within a minute")
		}
	})
	select {
	case <-r.StatusReady():
	case err := <-done:
		t.Fatalf("e2e: station stopped at start: %v", err)
	}
	return r
}

// hasObservationEvent reports whether an event of typ about observation obsID arrived.
func hasObservationEvent(t testing.TB, c *cast, satelliteID, typ, obsID string) bool {
	for _, ev := range c.allEvents(t, satelliteID, typ) {
		var data struct {
			ObservationID string `json:"observation_id"`
		}
		if json.Unmarshal(ev.Data, &data) == nil && data.ObservationID == obsID {
			return true
		}
	}
	return false
}

// processEvent reports whether an event of typ about the process called name arrived.
func processEvent(t testing.TB, c *cast, satelliteID, typ, name string) bool {
	for _, ev := range c.allEvents(t, satelliteID, typ) {
		var data struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(ev.Data, &data) == nil && data.Name == name {
			return true
		}
	}
	return false
}
