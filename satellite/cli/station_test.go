package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/internal/stationtest"
	"github.com/talos-gs/talos/satellite/proc/proctest"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/station"
)

// CALSPHERE 1 (orbit/testdata/celestrak-active-2026-177.tle): a 1000 km orbit, so SGP4 stays
// sound months after the epoch.
const (
	testTLEName  = "CALSPHERE 1"
	testTLELine1 = "1 00900U 64063C   26177.97017495  .00000536  00000+0  53696-3 0  9998"
	testTLELine2 = "2 00900  90.2228  72.0011 0023238 264.9038 113.4186 13.76633355 72774"
	testNorad    = 900
)

// stationTestConfig is the default configuration with test-sized timeouts, a free status port,
// a cgroup parent of its own (proc.New reaps everything below its parent), the test programs
// and a team directory outside /tmp (an isolated decoder's /tmp is its team's own).
func stationTestConfig(t *testing.T, dir string) config.Config {
	cfg := config.Default()
	cfg.StateDir = dir
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Outbox.FlushTimeout = 5 * time.Second
	cfg.Executor.DrainTimeout = 5 * time.Second
	cfg.Proc.CgroupParent = fmt.Sprintf("talos-cli-test-%d-%s", os.Getpid(), uuid.NewString()[:8])
	cfg.Proc.GracePeriod = 2 * time.Second
	cfg.Proc.SampleInterval = time.Second
	cfg.Proc.Programs = stationtest.Programs()
	cfg.Proc.WorkDir = stationtest.DecoderWorkDir(t)
	return cfg
}

func registerStation(t *testing.T, fb *fakebackend.Backend) (dir string, id state.Identity) {
	t.Helper()
	fb.AddToken("tok")
	base := t.TempDir()
	// Team users must traverse every parent of their directory (<state_dir>-teams/<team>);
	// t.TempDir makes 0700 directories.
	for _, p := range []string{filepath.Dir(base), base} {
		require.NoError(t, os.Chmod(p, 0o711)) //nolint:gosec // traversable, not listable
	}
	dir = filepath.Join(base, "state")
	_, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", "tok", "--name", "gs-station",
		"--lat", "48.15", "--lon", "11.57", "--alt-m", "520", "--state-dir", dir, "--config", emptyConfig(t))
	require.Equal(t, 0, code, errOut)
	var err error
	id, err = state.ReadIdentity(dir)
	require.NoError(t, err)
	// Registered before the station starts, so it runs after the station has stopped.
	proctest.RemoveTeamUsers(t, id.TeamID)
	return dir, id
}

// TestStationRunsAnObservation runs the assembled station (proc, simulated devices, scheduler)
// against the fake backend: process.list, rotator.park and an observation.schedule whose
// 10 s window opens a few seconds later, with a decoder process.
func TestStationRunsAnObservation(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.SetIntervals(api.Intervals{PollSeconds: 2, HeartbeatSeconds: 5, EventsSeconds: 1, LongPollSeconds: 20})
	dir, ident := registerStation(t, fb)
	id := ident.SatelliteID

	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	r, err := station.Assemble(context.Background(), stationTestConfig(t, dir), log, runner.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(time.Minute):
			t.Error("the station did not stop within a minute")
		}
	})
	<-r.StatusReady()

	// Park before scheduling: the observation's preparation starts at once (AOS is close), and
	// a park is refused while a pass runs, so queueing both together would race.
	list := fb.Queue(id, api.CommandProcessList, api.PriorityNormal, nil)
	park := fb.Queue(id, api.CommandRotatorPark, api.PriorityNormal, nil)
	for _, c := range []string{list, park} {
		st := waitCommand(t, fb, id, c)
		require.Equal(t, api.CommandSucceeded, st.Status, "%s: %+v", st.Type, st.Updates)
	}
	aos := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
	obs := fb.Queue(id, api.CommandObservationSchedule, api.PriorityNormal, observationPayload("obs-cli-1", ident.TeamID, aos, aos.Add(10*time.Second)))
	st := waitCommand(t, fb, id, obs)
	require.Equal(t, api.CommandSucceeded, st.Status, "%s: %+v", st.Type, st.Updates)
	var res api.ProcessListResult
	require.NoError(t, json.Unmarshal(lastResult(fb.Command(id, list)), &res))
	assert.NotEmpty(t, res.CgroupLimits)

	want := []string{api.EventObservationPrepared, api.EventAOS, api.EventLOS, api.EventObservationCompleted,
		api.EventProcessStarted, api.EventProcessExited}
	evs := waitEvents(t, fb, id, want, 60*time.Second)
	completed := evs[api.EventObservationCompleted]
	assert.Equal(t, obs, completed.CommandID, "observation events carry the scheduling command's id")
	var sum map[string]any
	require.NoError(t, json.Unmarshal(completed.Data, &sum))
	assert.Contains(t, sum, "max_pointing_error_deg")
	assert.NotContains(t, sum, "process_error", "the decoder started")

	hb := waitHeartbeat(t, fb, id, func(hb api.Heartbeat) bool { return hb.Tracking != nil && hb.CgroupLimits != "" })
	assert.Equal(t, res.CgroupLimits, hb.CgroupLimits)
	assert.NotEmpty(t, hb.Tracking.State)

	status := getStatus(t, r.StatusAddr())
	assert.NotNil(t, status["tracking"], "GET /api/status shows the tracker")
}

func observationPayload(obsID, team string, aos, los time.Time) api.ObservationSchedulePayload {
	return api.ObservationSchedulePayload{
		ObservationID: obsID, NoradID: testNorad,
		ElementSet: api.ObservationElementSet{Name: testTLEName, Line1: testTLELine1, Line2: testTLELine2},
		AOS:        aos, LOS: los,
		Transmitter: api.ObservationTransmitter{DownlinkHz: 145_800_000, Mode: "FM"},
		Rotator:     api.RotatorSettings{AfterLOS: "park"},
		Process:     &api.ProcessStartPayload{Name: "dec-" + obsID, TeamID: team, Program: "decoder-sim"},
	}
}

func waitCommand(t *testing.T, fb *fakebackend.Backend, sat, cmd string) fakebackend.CommandState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := fb.Command(sat, cmd)
		if st.Status == api.CommandSucceeded || st.Status == api.CommandFailed {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.FailNow(t, "command not finished", "%s: %+v", cmd, fb.Command(sat, cmd))
	return fakebackend.CommandState{}
}

func lastResult(st fakebackend.CommandState) json.RawMessage {
	for i := len(st.Updates) - 1; i >= 0; i-- {
		if st.Updates[i].Result != nil {
			return st.Updates[i].Result
		}
	}
	return nil
}

// waitEvents waits until an event of every type in want has arrived, and returns the first of
// each.
func waitEvents(t *testing.T, fb *fakebackend.Backend, sat string, want []string, within time.Duration) map[string]api.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := map[string]api.Event{}
		for _, ev := range fb.Events(sat) {
			if _, ok := got[ev.Type]; !ok {
				got[ev.Type] = ev
			}
		}
		missing := []string{}
		for _, w := range want {
			if _, ok := got[w]; !ok {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "events missing", "%v; got %v", missing, keys(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func keys(m map[string]api.Event) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func waitHeartbeat(t *testing.T, fb *fakebackend.Backend, sat string, ok func(api.Heartbeat) bool) api.Heartbeat {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		hbs := fb.Heartbeats(sat)
		for i := len(hbs) - 1; i >= 0; i-- {
			if ok(hbs[i]) {
				return hbs[i]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.FailNow(t, "no heartbeat with tracking state and cgroup limits", "%d heartbeats", len(fb.Heartbeats(sat)))
	return api.Heartbeat{}
}

func getStatus(t *testing.T, addr string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/status") //nolint:noctx // a test against loopback
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// startTestStation registers a station on fb, assembles it with cfg adjusted by change, and runs
// it. stop cancels it and returns Run's error.
func startTestStation(t *testing.T, fb *fakebackend.Backend, change func(*config.Config)) (ident state.Identity, stop func() error) {
	t.Helper()
	fb.SetIntervals(api.Intervals{PollSeconds: 2, HeartbeatSeconds: 5, EventsSeconds: 1, LongPollSeconds: 20})
	dir, ident := registerStation(t, fb)
	cfg := stationTestConfig(t, dir)
	change(&cfg)
	r, err := station.Assemble(context.Background(), cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), runner.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			return fmt.Errorf("the station did not stop within a minute")
		}
	}
	t.Cleanup(func() { assert.NoError(t, stop()) })
	<-r.StatusReady()
	return ident, stop
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestStationStartsWithItsRotatorDown: rotctld unreachable at start-up is logged, not fatal;
// the station polls, runs commands and sends heartbeats. With station.require_devices it is
// fatal, naming the daemon.
func TestStationStartsWithItsRotatorDown(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	rot := deadAddr(t)
	ident, _ := startTestStation(t, fb, func(c *config.Config) {
		c.Devices.Rotctld, c.Devices.DialTimeout, c.Devices.CallTimeout = rot, 200*time.Millisecond, 200*time.Millisecond
	})
	list := fb.Queue(ident.SatelliteID, api.CommandProcessList, api.PriorityNormal, nil)
	assert.Equal(t, api.CommandSucceeded, waitCommand(t, fb, ident.SatelliteID, list).Status)
	waitHeartbeat(t, fb, ident.SatelliteID, func(hb api.Heartbeat) bool { return hb.CgroupLimits != "" && hb.Tracking != nil })

	fb2 := fakebackend.New()
	t.Cleanup(fb2.Close)
	dir, _ := registerStation(t, fb2)
	cfg := stationTestConfig(t, dir)
	cfg.Devices.Rotctld, cfg.Devices.DialTimeout, cfg.Station.RequireDevices = rot, 200*time.Millisecond, true
	_, err := station.Assemble(context.Background(), cfg, zaptest.NewLogger(t), runner.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), rot)
	assert.Contains(t, err.Error(), "station.require_devices")
}

// TestStationShutdownMidPass stops a station during a pass: Run returns after the observation's
// decoder and a process ignoring SIGTERM are gone, and their exit events were flushed to the
// backend; the observation is neither completed nor failed (it stays stored, to resume).
func TestStationShutdownMidPass(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	ident, stop := startTestStation(t, fb, func(*config.Config) {})
	sat := ident.SatelliteID

	stubborn := fb.Queue(sat, api.CommandProcessStart, api.PriorityNormal, api.ProcessStartPayload{Name: "stubborn",
		TeamID: ident.TeamID, Program: "stubborn"})
	require.Equal(t, api.CommandSucceeded, waitCommand(t, fb, sat, stubborn).Status)
	aos := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	obs := fb.Queue(sat, api.CommandObservationSchedule, api.PriorityNormal, observationPayload("obs-stop", ident.TeamID, aos, aos.Add(time.Minute)))
	require.Equal(t, api.CommandSucceeded, waitCommand(t, fb, sat, obs).Status)
	waitEvents(t, fb, sat, []string{api.EventAOS}, 30*time.Second)
	pids := startedPIDs(fb.Events(sat))
	require.Len(t, pids, 2, "the stubborn process and the decoder")

	require.NoError(t, stop())
	for name, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "%s (pid %d) is gone", name, pid)
	}
	exited := map[string]bool{}
	for _, ev := range fb.Events(sat) {
		var d struct{ Name string }
		if ev.Type == api.EventProcessExited && json.Unmarshal(ev.Data, &d) == nil {
			exited[d.Name] = true
		}
		assert.NotContains(t, []string{api.EventObservationCompleted, api.EventObservationFailed}, ev.Type,
			"a pass stopped by shutdown stays stored to resume")
	}
	assert.True(t, exited["stubborn"] && exited["dec-obs-stop"], "exit events flushed before Run returned: %v", exited)
}

func startedPIDs(evs []api.Event) map[string]int {
	out := map[string]int{}
	for _, ev := range evs {
		var d struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		}
		if ev.Type == api.EventProcessStarted && json.Unmarshal(ev.Data, &d) == nil && d.PID > 0 {
			out[d.Name] = d.PID
		}
	}
	return out
}
