package rotator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

var epoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestSimRotatorSlewsAtItsRates(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	s, err := NewSimRotator(SimRotatorConfig{
		Limits: Limits{MinAz: 0, MaxAz: 450, MinEl: 0, MaxEl: 90}, AzRateDegPerS: 4, ElRateDegPerS: 2, Clock: clk,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.SetPosition(ctx, 400, 30))

	tests := []struct {
		after          time.Duration
		wantAz, wantEl float64
	}{
		{0, 0, 0},
		{5 * time.Second, 20, 10},
		{15 * time.Second, 60, 30},    // elevation arrived
		{100 * time.Second, 400, 30},  // the long way round, no wrap
		{1000 * time.Second, 400, 30}, // and stays
	}
	start := clk.Now()
	for _, tt := range tests {
		clk.Advance(start.Add(tt.after).Sub(clk.Now()))
		az, el, err := s.Position(ctx)
		require.NoError(t, err)
		assert.InDelta(t, tt.wantAz, az, 1e-9, "az after %s", tt.after)
		assert.InDelta(t, tt.wantEl, el, 1e-9, "el after %s", tt.after)
	}
}

func TestSimRotatorStopParkJamDisconnect(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	s, err := NewSimRotator(SimRotatorConfig{ParkAz: 180, ParkEl: 0, Clock: clk})
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, s.SetPosition(ctx, 90, 60))
	clk.Advance(5 * time.Second) // 6°/s: az 150, el 30
	require.NoError(t, s.Stop(ctx))
	clk.Advance(time.Minute)
	az, el, _ := s.Position(ctx)
	assert.InDelta(t, 150, az, 1e-9)
	assert.InDelta(t, 30, el, 1e-9)

	require.NoError(t, s.Park(ctx))
	clk.Advance(time.Minute)
	az, el, _ = s.Position(ctx)
	assert.Equal(t, []float64{180, 0}, []float64{az, el})

	s.Jam(true)
	require.NoError(t, s.SetPosition(ctx, 0, 45))
	clk.Advance(time.Minute)
	az, el, _ = s.Position(ctx)
	assert.Equal(t, []float64{180, 0}, []float64{az, el}, "jammed: accepts but does not move")
	s.Jam(false)
	clk.Advance(time.Minute)
	az, el, _ = s.Position(ctx)
	assert.Equal(t, []float64{0, 45}, []float64{az, el})

	s.Disconnect(true)
	_, _, err = s.Position(ctx)
	require.ErrorIs(t, err, ErrDisconnected)
	require.ErrorIs(t, s.SetPosition(ctx, 1, 1), ErrDisconnected)
	s.Disconnect(false)
	require.NoError(t, s.SetPosition(ctx, 1, 1))
}

func TestSimRotatorRefusals(t *testing.T) {
	t.Parallel()
	s, err := NewSimRotator(SimRotatorConfig{Clock: clock.NewFake(epoch)})
	require.NoError(t, err)
	for _, p := range [][2]float64{{361, 0}, {-1, 0}, {0, 91}, {0, -1}} {
		require.ErrorIs(t, s.SetPosition(context.Background(), p[0], p[1]), ErrInvalidParameter, "%v", p)
	}
	bad := []SimRotatorConfig{
		{AzRateDegPerS: -1},
		{ElRateDegPerS: 1000},
		{ParkAz: 400},
		{Limits: Limits{MinAz: 10, MaxAz: 0, MaxEl: 90}},
	}
	for _, cfg := range bad {
		_, err := NewSimRotator(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}

func TestSimRadio(t *testing.T) {
	t.Parallel()
	r, err := NewSimRadio(SimRadioConfig{})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r.SetFrequency(ctx, 437_500_123.4))
	hz, err := r.Frequency(ctx)
	require.NoError(t, err)
	assert.Equal(t, 437_500_123.0, hz)

	require.NoError(t, r.SetMode(ctx, "USB", 0))
	mode, pb, _ := r.Mode(ctx)
	assert.Equal(t, "USB", mode)
	assert.Equal(t, 2400, pb)
	require.NoError(t, r.SetMode(ctx, "CW", -1))
	_, pb, _ = r.Mode(ctx)
	assert.Equal(t, 2400, pb, "-1 keeps the passband")

	up := r.Uplink()
	require.NoError(t, r.SetSplit(ctx, true, "VFOB"))
	require.NoError(t, up.SetFrequency(ctx, 145_900_000))
	require.NoError(t, up.SetMode(ctx, "LSB", 2700))
	hz, _ = r.Frequency(ctx)
	assert.Equal(t, 437_500_123.0, hz)
	hz, _ = up.Frequency(ctx)
	assert.Equal(t, 145_900_000.0, hz)

	require.ErrorIs(t, r.SetFrequency(ctx, -1), ErrInvalidParameter)
	require.ErrorIs(t, r.SetMode(ctx, "fm", 0), ErrInvalidParameter)
	r.Disconnect(true)
	_, err = up.Frequency(ctx)
	require.ErrorIs(t, err, ErrDisconnected)
}
