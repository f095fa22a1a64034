package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestBusyPercent(t *testing.T) {
	t.Parallel()
	a := cpu.TimesStat{User: 100, System: 50, Idle: 800, Iowait: 50}
	tests := []struct {
		name string
		b    cpu.TimesStat
		want float64
	}{
		{"quarter busy", cpu.TimesStat{User: 120, System: 55, Idle: 870, Iowait: 55}, 25},
		{"all idle", cpu.TimesStat{User: 100, System: 50, Idle: 900, Iowait: 50}, 0},
		{"all busy", cpu.TimesStat{User: 200, System: 50, Idle: 800, Iowait: 50}, 100},
		{"no time passed", a, 0},
		{"counter went back", cpu.TimesStat{}, 0},
	}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, BusyPercent(a, tc.b), 1e-9, tc.name)
	}
}

func TestSystemSampleIsReal(t *testing.T) {
	t.Parallel()
	s := &System{DiskPath: t.TempDir(), ThermalRoot: t.TempDir()}
	ctx := context.Background()
	m, err := s.Sample(ctx)
	require.NoError(t, err)
	assert.Positive(t, m.CPUPercent, "the first sample reports the average since boot")
	assert.Positive(t, m.Memory.TotalBytes)
	assert.Positive(t, m.Disk.TotalBytes)
	assert.Nil(t, m.TemperatureC, "no thermal zone in an empty root")
	// Burn CPU so the second sample sees busy time.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	m, err = s.Sample(ctx)
	require.NoError(t, err)
	assert.Positive(t, m.CPUPercent)
	assert.LessOrEqual(t, m.CPUPercent, 100.0)
}

func TestTemperaturePrefersCPUZone(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	zone := func(name, typ, temp string) {
		dir := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "type"), []byte(typ+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "temp"), []byte(temp+"\n"), 0o644))
	}
	zone("thermal_zone0", "acpitz", "27800")
	zone("thermal_zone1", "cpu-thermal", "51234")
	zone("thermal_zone2", "broken", "garbage")
	s := &System{ThermalRoot: root}
	got := s.temperature()
	require.NotNil(t, got)
	assert.InDelta(t, 51.234, *got, 1e-9)

	require.NoError(t, os.RemoveAll(filepath.Join(root, "thermal_zone1")))
	got = s.temperature()
	require.NotNil(t, got)
	assert.InDelta(t, 27.8, *got, 1e-9)
}

type procs struct{}

func (procs) Processes() []api.ProcessInfo {
	return []api.ProcessInfo{{Name: "satdump", State: "running", PID: 42}}
}
func (procs) CgroupLimits() string { return "v2" }

type tracking struct{}

func (tracking) Tracking() *api.TrackingState {
	return &api.TrackingState{State: "tracking", NoradID: 25544}
}

type outbox struct{}

func (outbox) Depth() int     { return 12 }
func (outbox) Dropped() int64 { return 3 }

type fixedSampler struct{}

func (fixedSampler) Sample(context.Context) (api.SystemMetrics, error) {
	return api.SystemMetrics{CPUPercent: 12.5}, nil
}

func TestLoopSendsEveryIntervalAndObeysBackend(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.SetIntervals(api.Intervals{HeartbeatSeconds: 15})
	reg := fb.RegisterDirect("gs")
	c, err := client.New(client.Options{BaseURL: fb.URL(), APIKey: reg.APIKey})
	require.NoError(t, err)
	clk := clock.NewFake(t0)
	l := New(Options{Sender: client.Satellite{Client: c, ID: reg.SatelliteID}, Sampler: fixedSampler{}, Outbox: outbox{},
		Processes: []ProcessReporter{procs{}}, Tracking: []TrackingReporter{tracking{}}, Clock: clk,
		Status: func() api.SatelliteStatus { return api.StatusMaintenance }, Backoff: backoff.New(func() float64 { return 1 })})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	require.NoError(t, clk.BlockUntil(ctx, 1)) // first beat sent at start
	assert.Equal(t, 15*time.Second, l.Interval(), "interval from the backend's answer")
	clk.Advance(15 * time.Second)
	require.Eventually(t, func() bool { return len(fb.Heartbeats(reg.SatelliteID)) == 2 }, 10*time.Second, time.Millisecond)

	hb := fb.Heartbeats(reg.SatelliteID)[1]
	assert.Equal(t, api.StatusMaintenance, hb.Status)
	assert.EqualValues(t, 15, hb.UptimeSeconds)
	assert.InDelta(t, 12.5, hb.System.CPUPercent, 1e-9)
	assert.Equal(t, 12, hb.OutboxDepth)
	assert.EqualValues(t, 3, hb.EventsDropped)
	assert.Equal(t, "v2", hb.CgroupLimits)
	require.Len(t, hb.Processes, 1)
	assert.Equal(t, 25544, hb.Tracking.NoradID)

	// A status change is reported at once, without waiting for the interval.
	require.NoError(t, clk.BlockUntil(ctx, 1))
	l.Trigger()
	require.Eventually(t, func() bool { return len(fb.Heartbeats(reg.SatelliteID)) == 3 }, 10*time.Second, time.Millisecond)

	// Backend down: retried after backoff (1 s, 2 s), not only every interval.
	require.NoError(t, clk.BlockUntil(ctx, 1))
	fb.SetDown(true)
	clk.Advance(15 * time.Second)
	require.NoError(t, clk.BlockUntil(ctx, 1))
	assert.Equal(t, 1, l.Stats().Failures)
	clk.Advance(time.Second)
	require.Eventually(t, func() bool { return l.Stats().Failures == 2 }, 10*time.Second, time.Millisecond)

	fb.SetDown(false)
	fb.RevokeKeys()
	require.NoError(t, clk.BlockUntil(ctx, 1))
	clk.Advance(2 * time.Second)
	require.ErrorIs(t, <-done, client.ErrUnauthorized)
	cancel()
}

func TestIntervalClamp(t *testing.T) {
	t.Parallel()
	l := New(Options{})
	assert.Equal(t, DefaultInterval, l.Interval())
	l.SetInterval(time.Second)
	assert.Equal(t, MinInterval, l.Interval())
	l.SetInterval(48 * time.Hour)
	assert.Equal(t, MaxInterval, l.Interval())
	l.SetInterval(0)
	assert.Equal(t, MaxInterval, l.Interval())
}

type panicky struct{}

func (panicky) Processes() []api.ProcessInfo { panic("boom") }
func (panicky) CgroupLimits() string         { return "" }
func (panicky) Tracking() *api.TrackingState { panic("boom") }

func TestPanickingPartDoesNotStopTheHeartbeat(t *testing.T) {
	t.Parallel()
	l := New(Options{Processes: []ProcessReporter{panicky{}, procs{}}, Tracking: []TrackingReporter{panicky{}}})
	hb := l.Build(context.Background())
	assert.Len(t, hb.Processes, 1)
	assert.Nil(t, hb.Tracking)
}

// refusingSender answers 400 as the backend does for a heartbeat over its limits, and records
// what it was sent.
type refusingSender struct {
	mu   sync.Mutex
	sent []api.Heartbeat
}

func (s *refusingSender) Heartbeat(_ context.Context, hb api.Heartbeat) (api.HeartbeatResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, hb)
	return api.HeartbeatResponse{}, &client.APIError{Status: http.StatusBadRequest, Code: "invalid_request",
		Field: "version", Message: "version must be 0 to 100 characters"}
}

func (s *refusingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// A heartbeat the backend refuses (400) is logged with the backend's reason and not resent
// at backoff speed: the loop waits the whole interval and sends a new report.
func TestRefusedHeartbeatIsLoggedAndNotResent(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	clk := clock.NewFake(t0)
	snd := &refusingSender{}
	l := New(Options{Sender: snd, Clock: clk, Logger: zap.New(core), Interval: 30 * time.Second,
		Backoff: backoff.New(func() float64 { return 1 })})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	require.NoError(t, clk.BlockUntil(ctx, 1))
	require.Equal(t, 1, snd.count())
	refusals := logs.FilterMessageSnippet("refused the heartbeat").All()
	require.Len(t, refusals, 1)
	fields := refusals[0].ContextMap()
	assert.Equal(t, "version must be 0 to 100 characters", fields["reason"])
	assert.Equal(t, "version", fields["field"])
	assert.EqualValues(t, http.StatusBadRequest, fields["status"])
	assert.Contains(t, l.Stats().LastRefusal, "version must be")

	clk.Advance(29 * time.Second) // a transient failure would have been retried after 1 s
	require.NoError(t, clk.BlockUntil(ctx, 1))
	assert.Equal(t, 1, snd.count(), "not resent before the interval")
	clk.Advance(time.Second)
	require.Eventually(t, func() bool { return snd.count() == 2 }, 10*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

type manyProcs struct{}

func (manyProcs) Processes() []api.ProcessInfo {
	out := make([]api.ProcessInfo, 300)
	for i := range out {
		out[i] = api.ProcessInfo{Name: fmt.Sprintf("p%d", i), State: "exited"}
	}
	return out
}
func (manyProcs) CgroupLimits() string {
	return "off: " + errors.Join(errors.New("cgroup v2: permission denied"), errors.New(strings.Repeat("x", 300))).Error()
}

// Build keeps a heartbeat within the backend's limits whatever the parts report.
func TestBuildFitsTheBackendLimits(t *testing.T) {
	t.Parallel()
	l := New(Options{Processes: []ProcessReporter{procs{}, manyProcs{}}})
	hb := l.Build(context.Background())
	require.Len(t, hb.Processes, api.MaxHeartbeatProcesses)
	assert.Equal(t, "satdump", hb.Processes[0].Name, "the first part's processes are kept")
	assert.Equal(t, "p0", hb.Processes[1].Name, "then the next part's first ones")
	assert.LessOrEqual(t, utf8.RuneCountInString(hb.CgroupLimits), api.MaxCgroupLimitsLen)
	assert.False(t, strings.ContainsFunc(hb.CgroupLimits, unicode.IsControl), "%q", hb.CgroupLimits)
	assert.True(t, strings.HasPrefix(hb.CgroupLimits, "off: cgroup v2: permission denied; xxx"), hb.CgroupLimits)
}

// TestBuildCarriesTheTags: every heartbeat carries the configured tags, and an empty object when
// there are none (so the backend drops tags removed from the configuration).
func TestBuildCarriesTheTags(t *testing.T) {
	t.Parallel()
	l := New(Options{Status: func() api.SatelliteStatus { return api.StatusOnline }, Tags: map[string]string{"band": "uhf"}})
	assert.Equal(t, map[string]string{"band": "uhf"}, l.Build(context.Background()).Tags)
	raw, err := json.Marshal(New(Options{Status: func() api.SatelliteStatus { return api.StatusOnline }}).Build(context.Background()))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"tags":{}`)
}
