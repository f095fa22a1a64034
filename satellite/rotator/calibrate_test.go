package rotator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// calibrateOnFake runs Calibrate on the fake clock, advancing it by each wait Calibrate starts.
func calibrateOnFake(t *testing.T, clk *clock.Fake, rot Rotator, opts CalibrateOptions) (Calibration, error) {
	t.Helper()
	opts.Clock = clk
	type result struct {
		c   Calibration
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Calibrate(context.Background(), rot, opts)
		done <- result{c, err}
	}()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := clk.BlockUntil(ctx, 1)
		cancel()
		select {
		case r := <-done:
			return r.c, r.err
		default:
		}
		if err == nil {
			clk.AdvanceToNext()
		}
	}
}

func TestCalibrateMeasuresTheSlewRate(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC))
	sim, err := NewSimRotator(SimRotatorConfig{AzRateDegPerS: 3, ElRateDegPerS: 1.5, ParkAz: 350, ParkEl: 10, Clock: clk})
	require.NoError(t, err)
	c, err := calibrateOnFake(t, clk, sim, CalibrateOptions{MoveDeg: 20})
	require.NoError(t, err)
	assert.InEpsilon(t, 3, c.Rate.AzDegS, 0.02, "%+v", c)
	assert.InEpsilon(t, 1.5, c.Rate.ElDegS, 0.02, "%+v", c)
	assert.Greater(t, c.AzDeg, 18.0, "most of the move is timed")
	// Azimuth 350 + 20 is past 360: the move went down to 330; elevation up to 30. Then back.
	az, el, err := sim.Position(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, 330, az, calibrateArriveDeg)
	assert.InDelta(t, 30, el, calibrateArriveDeg)
	clk.Advance(time.Minute)
	az, el, err = sim.Position(context.Background())
	require.NoError(t, err)
	assert.Equal(t, [2]float64{350, 10}, [2]float64{az, el}, "moved back where it stood")
}

func TestCalibrateFailures(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	t.Run("jammed", func(t *testing.T) {
		t.Parallel()
		clk := clock.NewFake(start)
		sim, err := NewSimRotator(SimRotatorConfig{Clock: clk})
		require.NoError(t, err)
		sim.Jam(true)
		_, err = calibrateOnFake(t, clk, sim, CalibrateOptions{Timeout: 10 * time.Second})
		require.ErrorContains(t, err, "calibrate azimuth: the rotator did not reach 20° in 10s")
	})
	t.Run("too fast for the poll", func(t *testing.T) {
		t.Parallel()
		clk := clock.NewFake(start)
		sim, err := NewSimRotator(SimRotatorConfig{AzRateDegPerS: 360, Clock: clk})
		require.NoError(t, err)
		_, err = calibrateOnFake(t, clk, sim, CalibrateOptions{Poll: time.Second})
		require.ErrorIs(t, err, ErrCalibrateTooFast)
	})
	t.Run("bad move", func(t *testing.T) {
		t.Parallel()
		sim, err := NewSimRotator(SimRotatorConfig{})
		require.NoError(t, err)
		_, err = Calibrate(context.Background(), sim, CalibrateOptions{MoveDeg: 500})
		require.ErrorContains(t, err, "must be in (1, 180]")
	})
	t.Run("no room", func(t *testing.T) {
		t.Parallel()
		sim, err := NewSimRotator(SimRotatorConfig{Limits: Limits{MinAz: 0, MaxAz: 10, MinEl: 0, MaxEl: 90}})
		require.NoError(t, err)
		_, err = Calibrate(context.Background(), sim, CalibrateOptions{})
		require.ErrorContains(t, err, "no room for a 20° azimuth move")
	})
}

func TestSlewRate(t *testing.T) {
	t.Parallel()
	r := SlewRate{AzDegS: 6, ElDegS: 2}
	assert.Equal(t, 10*time.Second, r.MoveTime(0, 0, 60, 20), "azimuth and elevation at once: the slower one counts")
	assert.Equal(t, 15*time.Second, r.MoveTime(10, 0, 10, 30))
	assert.Equal(t, 75*time.Second, r.FullRangeTime(Limits{MinAz: 0, MaxAz: 450, MinEl: 0, MaxEl: 90}))
	require.ErrorContains(t, SlewRate{AzDegS: 6}.Validate(), "el_slew_rate_deg_s")
	require.ErrorContains(t, SlewRate{AzDegS: 400, ElDegS: 1}.Validate(), "az_slew_rate_deg_s")
	rc, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: "127.0.0.1:4533"}, SlewRate: SlewRate{AzDegS: 3}})
	require.NoError(t, err)
	assert.Equal(t, SlewRate{AzDegS: 3, ElDegS: 6}, rc.SlewRate(), "an axis left out takes the default")
	_, err = NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: "127.0.0.1:4533"}, SlewRate: SlewRate{ElDegS: -1}})
	require.ErrorContains(t, err, "el_slew_rate_deg_s")
}
