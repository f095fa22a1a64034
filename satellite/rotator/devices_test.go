package rotator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

func TestOpenDevicesSimulated(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	d, err := OpenDevices(DevicesConfig{Uplink: true, Limits: Limits{MinAz: -180, MaxAz: 180, MinEl: 0, MaxEl: 90},
		AzSlewRateDegS: 3}, DevicesOptions{Emitter: &recorder{}, Clock: clk, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	defer func() { _ = d.Close() }()
	ctx := context.Background()
	require.NoError(t, d.Prepare(ctx))
	assert.Equal(t, Limits{MinAz: -180, MaxAz: 180, MinEl: 0, MaxEl: 90}, d.Rotator.Limits())
	assert.Equal(t, SlewRate{AzDegS: 3, ElDegS: 6}, d.Rotator.SlewRate(), "the simulator turns at the configured rate")

	require.NoError(t, d.Rotator.SetPosition(ctx, -90, 0))
	clk.Advance(10 * time.Second)
	az, _, err := d.Rotator.Position(ctx)
	require.NoError(t, err)
	assert.InDelta(t, -30, az, 1e-9, "3°/s for 10 s")

	require.NotNil(t, d.Uplink)
	require.NoError(t, d.Uplink.SetFrequency(ctx, 145_990_000))
	require.NoError(t, d.Radio.SetFrequency(ctx, 435_100_000))
	up, _ := d.Uplink.Frequency(ctx)
	down, _ := d.Radio.Frequency(ctx)
	assert.Equal(t, []float64{145_990_000, 435_100_000}, []float64{up, down})
}

func TestOpenDevicesDaemons(t *testing.T) {
	t.Parallel()
	rot := startDaemon(t, "rotctld", "-C", "min_az=0,max_az=360")
	rig := startDaemon(t, "rigctld")
	d, err := OpenDevices(DevicesConfig{Rotctld: rot.addr(), Rigctld: rig.addr(), Uplink: true, TxVFO: "VFOB"},
		DevicesOptions{Emitter: &recorder{}, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	defer func() { _ = d.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	require.NoError(t, d.Prepare(ctx))
	assert.Equal(t, Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 90}, d.Rotator.Limits())
	require.NoError(t, d.Uplink.SetFrequency(ctx, 145_990_000))
	hz, err := d.Uplink.Frequency(ctx)
	require.NoError(t, err)
	assert.InDelta(t, 145_990_000, hz, 0.5)
	require.ErrorIs(t, d.Rotator.SetPosition(ctx, 400, 0), ErrInvalidParameter)
}

// TestOpenDevicesRotctldSlewRate: rotctld cannot report a slew rate; the configured one is
// the rotator's.
func TestOpenDevicesRotctldSlewRate(t *testing.T) {
	t.Parallel()
	d, err := OpenDevices(DevicesConfig{Rotctld: "127.0.0.1:1", AzSlewRateDegS: 2, ElSlewRateDegS: 1.5},
		DevicesOptions{Emitter: &recorder{}})
	require.NoError(t, err)
	defer func() { _ = d.Close() }()
	assert.Equal(t, SlewRate{AzDegS: 2, ElDegS: 1.5}, d.Rotator.SlewRate())
}

func TestOpenDevicesRefusesBadConfig(t *testing.T) {
	t.Parallel()
	bad := map[string]DevicesConfig{
		"addr":               {Rotctld: "localhost"},
		"min_az":             {Limits: Limits{MinAz: 10, MaxAz: 0, MaxEl: 90}},
		"stuck_after":        {Monitor: MonitorConfig{StuckAfter: -1}},
		"rigctld":            {Rigctld: "nope"},
		"az_slew_rate_deg_s": {AzSlewRateDegS: -3},
		"el_slew_rate_deg_s": {Rotctld: "127.0.0.1:4533", ElSlewRateDegS: 500},
	}
	for want, cfg := range bad {
		_, err := OpenDevices(cfg, DevicesOptions{Emitter: &recorder{}})
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
	}
	_, err := OpenDevices(DevicesConfig{}, DevicesOptions{})
	require.ErrorContains(t, err, "emitter")
}

// TestDevicesConfigYAML decodes the example of docs/rotator.md.
func TestDevicesConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
rotctld: 127.0.0.1:4533
rigctld: 127.0.0.1:4532
uplink: true
tx_vfo: VFOB
limits: {min_az: 0, max_az: 450, min_el: 0, max_el: 90}
az_slew_rate_deg_s: 6
el_slew_rate_deg_s: 6
dial_timeout: 3s
call_timeout: 2s
monitor: {stuck_threshold_deg: 5, stuck_after: 10s, progress_deg: 1, poll_interval: 1s}
`
	var cfg DevicesConfig
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	assert.Equal(t, DevicesConfig{
		Rotctld: "127.0.0.1:4533", Rigctld: "127.0.0.1:4532", Uplink: true, TxVFO: "VFOB",
		Limits: Limits{MinAz: 0, MaxAz: 450, MinEl: 0, MaxEl: 90}, AzSlewRateDegS: 6, ElSlewRateDegS: 6,
		DialTimeout: 3 * time.Second, CallTimeout: 2 * time.Second,
		Monitor: MonitorConfig{StuckThresholdDeg: 5, StuckAfter: 10 * time.Second, ProgressDeg: 1, PollInterval: time.Second},
	}, cfg)
}
