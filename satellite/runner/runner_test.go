package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/statusapi"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type env struct {
	fb  *fakebackend.Backend
	cfg config.Config
	id  string
	key string
	clk *clock.Fake
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("gs-test")
	cfg := config.Default()
	cfg.StateDir = filepath.Join(t.TempDir(), "state")
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Heartbeat.ThermalRoot = t.TempDir()
	require.NoError(t, state.SaveIdentity(cfg.StateDir, state.Identity{SatelliteID: reg.SatelliteID, TeamID: reg.TeamID,
		BackendURL: fb.URL(), Name: "gs-test", Intervals: reg.Intervals, RegisteredAt: t0}, reg.APIKey))
	return &env{fb: fb, cfg: cfg, id: reg.SatelliteID, key: reg.APIKey, clk: clock.NewFake(t0)}
}

type started struct {
	r      *Runner
	cancel context.CancelFunc
	done   chan error
}

func (e *env) start(t *testing.T, extras ...Extras) *started {
	t.Helper()
	lvl := zap.NewAtomicLevel()
	r, err := NewWithOptions(e.cfg, zap.NewNop(), Options{Clock: e.clk, Rand: func() float64 { return 1 }, Level: &lvl})
	require.NoError(t, err)
	for _, x := range extras {
		require.NoError(t, r.Plug(x))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- r.Run(ctx) }()
	<-r.StatusReady()
	t.Cleanup(func() {
		if s.cancel != nil {
			_ = s.stop(t)
		}
	})
	return s
}

// stop shuts the runner down, moving the fake clock so drain and flush timers can fire.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	s.cancel = nil
	return <-s.done
}

// counter is a part serving "test.count" and reporting a process and tracking.
type counter struct {
	mu    sync.Mutex
	runs  map[string]int
	ran   atomic.Bool
	block chan struct{}
}

func newCounter() *counter { return &counter{runs: map[string]int{}, block: make(chan struct{})} }

// extras plugs the counter in every role.
func (c *counter) extras() Extras {
	return Extras{Loops: []Loop{{Name: "counter", Run: c.Run}}, Handlers: c.Handlers(), Processes: c, Tracking: c}
}

func (c *counter) Run(ctx context.Context) error { c.ran.Store(true); <-ctx.Done(); return nil }
func (c *counter) Handlers() command.Handlers {
	return command.Handlers{"test.count": func(_ context.Context, cmd api.Command) (json.RawMessage, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.runs[cmd.ID]++
		return json.RawMessage(`{"counted":true}`), nil
	}}
}
func (c *counter) Processes() []api.ProcessInfo {
	return []api.ProcessInfo{{Name: "decoder", State: "running"}}
}
func (c *counter) CgroupLimits() string { return "v1" }
func (c *counter) Tracking() *api.TrackingState {
	return &api.TrackingState{State: "tracking", NoradID: 25544}
}
func (c *counter) count(id string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.runs[id] }

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 15*time.Second, 2*time.Millisecond, append([]any{msg}, args...)...)
}

func TestRunnerEndToEndWithFakeBackend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	part := newCounter()
	s := e.start(t, part.extras())

	// Heartbeat at start, with the part's reports.
	eventually(t, func() bool { return len(e.fb.Heartbeats(e.id)) >= 1 }, "first heartbeat")
	hb := e.fb.Heartbeats(e.id)[0]
	assert.Equal(t, api.StatusOnline, hb.Status)
	assert.Equal(t, "v1", hb.CgroupLimits)
	assert.Equal(t, 25544, hb.Tracking.NoradID)
	// The part runs in its own goroutine: it may start just after the first heartbeat.
	eventually(t, part.ran.Load, "part started")

	// Commands arrive by long-poll (no clock movement needed) and run once.
	ping := e.fb.Queue(e.id, api.CommandPing, api.PriorityImmediate, nil)
	cnt := e.fb.Queue(e.id, "test.count", api.PriorityHigh, nil)
	eventually(t, func() bool { return e.fb.Command(e.id, ping).Status == api.CommandSucceeded }, "ping")
	eventually(t, func() bool { return e.fb.Command(e.id, cnt).Status == api.CommandSucceeded }, "count")
	assert.Equal(t, 1, part.count(cnt))

	// Events: emitted by a part, flushed at the events interval.
	for i := range 20 {
		s.r.Emitter().Emit(events.New(e.clk.Now(), "test.event", api.SeverityInfo, fmt.Sprint(i), nil))
	}
	e.clk.Advance(3 * time.Second)
	eventually(t, func() bool { return len(e.fb.Events(e.id)) == 21 }, "events (20 + satellite.online)")

	// The status endpoint shows the picture.
	st, err := statusapi.Fetch(context.Background(), s.r.StatusAddr())
	require.NoError(t, err)
	assert.Equal(t, e.id, st.SatelliteID)
	assert.Equal(t, statusapi.StateConnected, st.Backend.State)
	assert.EqualValues(t, 2, st.Commands.Succeeded)
	require.NotNil(t, st.Tracking)

	require.NoError(t, s.stop(t))
	evs := e.fb.Events(e.id)
	assert.Equal(t, api.EventSatelliteOffline, evs[len(evs)-1].Type, "the final flush sends the stop event")
	snap, ok, err := statusapi.LoadSnapshot(e.cfg.StateDir)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, e.id, snap.SatelliteID)
}

func TestBuiltinCommandsThroughTheRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.start(t)
	eventually(t, func() bool { return len(e.fb.Heartbeats(e.id)) >= 1 }, "first heartbeat")

	upd := e.fb.Queue(e.id, api.CommandConfigUpdate, api.PriorityHigh, map[string]any{"heartbeat_seconds": 10, "log_level": "debug"})
	eventually(t, func() bool { return e.fb.Command(e.id, upd).Status == api.CommandSucceeded }, "config.update")
	id, err := state.ReadIdentity(e.cfg.StateDir)
	require.NoError(t, err)
	assert.Equal(t, 10, id.Intervals.HeartbeatSeconds, "persisted")
	assert.Equal(t, "debug", s.r.opts.Level.String())

	enter := e.fb.Queue(e.id, api.CommandMaintenanceEnter, api.PriorityHigh, map[string]string{"reason": "antenna work"})
	eventually(t, func() bool { return e.fb.Command(e.id, enter).Status == api.CommandSucceeded }, "maintenance.enter")
	eventually(t, func() bool {
		hbs := e.fb.Heartbeats(e.id)
		return hbs[len(hbs)-1].Status == api.StatusMaintenance
	}, "a maintenance heartbeat is sent at once")

	diag := e.fb.Queue(e.id, api.CommandDiagnosticsCollect, api.PriorityImmediate, nil)
	var st fakebackend.CommandState
	eventually(t, func() bool { st = e.fb.Command(e.id, diag); return st.Status == api.CommandSucceeded }, "diagnostics")
	result := string(st.Updates[len(st.Updates)-1].Result)
	assert.NotContains(t, result, e.key, "no secret in diagnostics")
	var d api.DiagnosticsResult
	require.NoError(t, json.Unmarshal([]byte(result), &d))
	assert.Equal(t, api.StatusMaintenance, d.Status)
	assert.Equal(t, e.id, d.State["satellite_id"])

	require.NoError(t, s.stop(t))
	// Maintenance survives a restart.
	s = e.start(t)
	assert.Equal(t, api.StatusMaintenance, s.r.Status())
}

func TestRevokedKeyStopsTheRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.start(t)
	eventually(t, func() bool { return len(e.fb.Heartbeats(e.id)) >= 1 }, "first heartbeat")
	e.fb.RevokeKeys()
	e.fb.Queue(e.id, api.CommandPing, api.PriorityImmediate, nil) // wakes the long-poll; the next poll gets 401
	err := <-s.done
	s.cancel = nil
	require.ErrorIs(t, err, client.ErrUnauthorized)
}

func TestStateErrorsAreClear(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, os.WriteFile(filepath.Join(e.cfg.StateDir, state.OutboxFile), []byte("garbage, not a database....."), 0o600))
	_, err := New(e.cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(e.cfg.StateDir, state.OutboxFile))

	e2 := newEnv(t)
	require.NoError(t, os.WriteFile(filepath.Join(e2.cfg.StateDir, state.IdentityFile), []byte("{"), 0o600))
	_, err = New(e2.cfg, nil)
	require.ErrorContains(t, err, "identity.json is corrupt")

	cfg := config.Default()
	cfg.StateDir = t.TempDir()
	_, err = New(cfg, nil)
	require.ErrorIs(t, err, state.ErrNotRegistered)
}

func TestPlainHTTPToRemoteHostIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.Backend.URL = "http://talos.example.org"
	_, err := New(e.cfg, nil)
	require.ErrorContains(t, err, "--insecure")
	e.cfg.Backend.Insecure = true
	r, err := New(e.cfg, nil)
	require.NoError(t, err)
	r.closeStores()
}

func TestPlugRefusesWiringErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, err := New(e.cfg, nil)
	require.NoError(t, err)
	t.Cleanup(r.closeStores)
	require.ErrorContains(t, r.Plug(Extras{Loops: []Loop{{Name: "nameless run"}}}), "needs a name and a Run")
	require.ErrorContains(t, r.Plug(Extras{Handlers: dupPing{}.Handlers()}), "registered twice")
}

type dupPing struct{}

func (dupPing) Handlers() command.Handlers { return command.Handlers{api.CommandPing: nil} }
