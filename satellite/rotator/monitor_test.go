package rotator

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// recorder is an events.Emitter that keeps what it gets.
type recorder struct {
	mu  sync.Mutex
	evs []api.Event
}

func (r *recorder) Emit(ev api.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, e := range r.evs {
		out = append(out, e.Type)
	}
	return out
}

func (r *recorder) last(t *testing.T) api.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.evs)
	return r.evs[len(r.evs)-1]
}

type monitorRig struct {
	clk *clock.Fake
	sim *SimRotator
	rec *recorder
	mon *Monitor
	reg *prometheus.Registry
}

func newMonitorRig(t *testing.T, cfg MonitorConfig) *monitorRig {
	t.Helper()
	clk := clock.NewFake(epoch)
	sim, err := NewSimRotator(SimRotatorConfig{Limits: Limits{MinAz: 0, MaxAz: 450, MinEl: 0, MaxEl: 90}, Clock: clk})
	require.NoError(t, err)
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	mon, err := NewMonitor(sim, MonitorOptions{Config: cfg, Name: "sim", Emitter: rec, Clock: clk, Registerer: reg})
	require.NoError(t, err)
	return &monitorRig{clk: clk, sim: sim, rec: rec, mon: mon, reg: reg}
}

// poll advances the fake clock by step n times, reading the position back after each step.
func (m *monitorRig) poll(t *testing.T, n int, step time.Duration) {
	t.Helper()
	for range n {
		m.clk.Advance(step)
		_, _, _ = m.mon.Position(context.Background())
	}
}

func TestMonitorStuckWhenJammed(t *testing.T) {
	t.Parallel()
	m := newMonitorRig(t, MonitorConfig{})
	ctx := context.Background()
	m.sim.Jam(true)
	require.NoError(t, m.mon.SetPosition(ctx, 90, 45))

	m.poll(t, 9, time.Second)
	assert.Empty(t, m.rec.types(), "9 s behind is not yet stuck")
	m.poll(t, 1, time.Second)
	assert.Equal(t, []string{api.EventRotatorStuck}, m.rec.types())
	assert.True(t, m.mon.Stuck())
	ev := m.rec.last(t)
	assert.Equal(t, api.SeverityError, ev.Severity)
	var data stuckData
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	assert.InDelta(t, 90, data.DifferenceDeg, 1e-9)
	assert.InDelta(t, 10, data.ForS, 1e-9)
	assert.Equal(t, 90.0, data.CommandedAz)

	m.poll(t, 30, time.Second)
	assert.Len(t, m.rec.types(), 1, "one event per episode")

	// Freed, it catches up and the episode closes; a second jam is a second episode.
	m.sim.Jam(false)
	m.poll(t, 20, time.Second)
	assert.False(t, m.mon.Stuck())
	m.sim.Jam(true)
	require.NoError(t, m.mon.SetPosition(ctx, 300, 10))
	m.poll(t, 11, time.Second)
	assert.Equal(t, []string{api.EventRotatorStuck, api.EventRotatorStuck}, m.rec.types())
	assert.Equal(t, 2.0, counterValue(t, m.reg, "talos_rotator_events_total", api.EventRotatorStuck))
}

func TestMonitorLongSlewIsNotStuck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		progressDeg float64
		want        []string
	}{
		{"moving restarts the window", 0, []string{}},
		{"strict rule without progress tracking", -1, []string{api.EventRotatorStuck}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMonitorRig(t, MonitorConfig{ProgressDeg: tt.progressDeg})
			// 0 → 420° at 6°/s is 70 s of legitimate slewing.
			require.NoError(t, m.mon.SetPosition(context.Background(), 420, 0))
			m.poll(t, 80, time.Second)
			assert.Equal(t, tt.want, m.rec.types())
			assert.False(t, m.mon.Stuck() && tt.progressDeg >= 0)
		})
	}
}

func TestMonitorStopForgetsTheCommand(t *testing.T) {
	t.Parallel()
	m := newMonitorRig(t, MonitorConfig{})
	ctx := context.Background()
	require.NoError(t, m.mon.SetPosition(ctx, 180, 45))
	m.poll(t, 2, time.Second)
	require.NoError(t, m.mon.Stop(ctx))
	m.poll(t, 60, time.Second)
	require.NoError(t, m.mon.Park(ctx))
	m.poll(t, 60, time.Second)
	assert.Empty(t, m.rec.types())
}

func TestMonitorFaultAndRecovery(t *testing.T) {
	t.Parallel()
	m := newMonitorRig(t, MonitorConfig{})
	ctx := context.Background()
	require.NoError(t, m.mon.SetPosition(ctx, 10, 10))

	m.sim.Disconnect(true)
	require.ErrorIs(t, m.mon.SetPosition(ctx, 20, 20), ErrDisconnected)
	m.poll(t, 5, time.Second)
	assert.Equal(t, []string{api.EventRotatorFault}, m.rec.types(), "one fault per outage")
	assert.True(t, m.mon.Faulted())
	assert.Equal(t, 1.0, gaugeValue(t, m.reg, "talos_rotator_faulted"))

	m.sim.Disconnect(false)
	m.poll(t, 3, time.Second)
	assert.Equal(t, []string{api.EventRotatorFault, api.EventRotatorRecovered}, m.rec.types())
	ev := m.rec.last(t)
	assert.Equal(t, api.SeverityInfo, ev.Severity)
	var data faultData
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	assert.InDelta(t, 6, data.DownForS, 1e-9)
	assert.False(t, m.mon.Faulted())
	assert.Equal(t, 0.0, gaugeValue(t, m.reg, "talos_rotator_faulted"))
	assert.Equal(t, 5.0, counterValue(t, m.reg, "talos_rotator_readbacks_total", "error"))

	// A refused command is the caller's problem, not a fault.
	require.ErrorIs(t, m.mon.SetPosition(ctx, 500, 0), ErrInvalidParameter)
	assert.Len(t, m.rec.types(), 2)
}

func TestMonitorRunPolls(t *testing.T) {
	t.Parallel()
	m := newMonitorRig(t, MonitorConfig{PollInterval: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.mon.Run(ctx) }()

	m.sim.Jam(true)
	require.NoError(t, m.mon.SetPosition(ctx, 90, 45))
	for range 25 { // 12.5 s of polls, driven only by Run
		require.NoError(t, m.clk.BlockUntil(ctx, 1))
		m.clk.Advance(500 * time.Millisecond)
	}
	require.NoError(t, m.clk.BlockUntil(ctx, 1))
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []string{api.EventRotatorStuck}, m.rec.types())
}

func TestMonitorConfigValidation(t *testing.T) {
	t.Parallel()
	sim, err := NewSimRotator(SimRotatorConfig{})
	require.NoError(t, err)
	bad := map[string]MonitorConfig{
		"stuck_threshold_deg": {StuckThresholdDeg: -1},
		"stuck_after":         {StuckAfter: -time.Second},
		"progress_deg":        {ProgressDeg: 200},
		"poll_interval":       {PollInterval: time.Microsecond},
	}
	for field, cfg := range bad {
		_, err := NewMonitor(sim, MonitorOptions{Config: cfg, Emitter: &recorder{}})
		require.Error(t, err, field)
		assert.Contains(t, err.Error(), field)
	}
	_, err = NewMonitor(sim, MonitorOptions{})
	require.Error(t, err, "emitter required")
}

func TestPointingDifference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmdAz, cmdEl, az, el, want float64
	}{
		{10, 10, 10, 10, 0},
		{359, 0, 1, 0, 2},
		{1, 0, 359, 0, 2},
		{-170, 0, 170, 0, 20}, // a -180..180 rotator across its south stop
		{400, 20, 40, 20, 0},  // 0–450 overlap: same direction
		{0, 0, 180, 0, 180},
		{90, 10, 92, 40, 30}, // elevation dominates
		{720, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, PointingDifference(tt.cmdAz, tt.cmdEl, tt.az, tt.el), 1e-9, "%+v", tt)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestMonitorShutdownIsNotAFault cancels Run while a readback waits on a daemon that does not
// answer: the interrupted call must not be reported as rotator.fault.
func TestMonitorShutdownIsNotAFault(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{}, 1)
	f := newFakeDaemon(t, func(w net.Conn, line string) {
		if line == "+\\get_pos" {
			select {
			case inFlight <- struct{}{}:
			default:
			}
			return // never answered
		}
		_, _ = io.WriteString(w, "RPRT -11\n")
	})
	rot := newFakeRotctld(t, f.addr(), time.Minute)
	rec := &recorder{}
	mon, err := NewMonitor(rot, MonitorOptions{Emitter: rec, Config: MonitorConfig{PollInterval: 10 * time.Millisecond}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	<-inFlight
	cancel()
	require.NoError(t, <-done)
	assert.Empty(t, rec.types())
	assert.False(t, mon.Faulted())
}
