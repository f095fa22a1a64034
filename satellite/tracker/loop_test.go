package tracker

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
)

// recordingRotator records every command with the clock's time.
type recordingRotator struct {
	rotator.Rotator
	clk clock.Clock

	mu     sync.Mutex
	sets   []PlanPoint
	parked int
}

func (r *recordingRotator) SetPosition(ctx context.Context, az, el float64) error {
	r.mu.Lock()
	r.sets = append(r.sets, PlanPoint{T: r.clk.Now(), AzDeg: az, ElDeg: el})
	r.mu.Unlock()
	return r.Rotator.SetPosition(ctx, az, el)
}

func (r *recordingRotator) Park(ctx context.Context) error {
	r.mu.Lock()
	r.parked++
	r.mu.Unlock()
	return r.Rotator.Park(ctx)
}

type freqSet struct {
	t  time.Time
	hz float64
}

// recordingRadio records every frequency command with the clock's time.
type recordingRadio struct {
	rotator.Radio
	clk clock.Clock

	mu   sync.Mutex
	sets []freqSet
}

func (r *recordingRadio) SetFrequency(ctx context.Context, hz float64) error {
	r.mu.Lock()
	r.sets = append(r.sets, freqSet{r.clk.Now(), hz})
	r.mu.Unlock()
	return r.Radio.SetFrequency(ctx, hz)
}

type eventLog struct {
	mu  sync.Mutex
	evs []api.Event
}

func (l *eventLog) Emit(ev api.Event) { l.mu.Lock(); l.evs = append(l.evs, ev); l.mu.Unlock() }

func (l *eventLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, e.Type)
	}
	return out
}

// drive advances the fake clock timer by timer, each time once `waiters` loops are parked on
// it, until done is closed.
func drive(t *testing.T, f *clock.Fake, waiters int, done <-chan struct{}) {
	t.Helper()
	for {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-done:
			case <-ctx.Done():
			}
			cancel()
		}()
		err := f.BlockUntil(ctx, waiters)
		cancel()
		select {
		case <-done:
			return
		default:
		}
		if err == nil {
			f.AdvanceToNext()
		}
	}
}

type fixture struct {
	clk   *clock.Fake
	rot   *recordingRotator
	radio *recordingRadio
	sim   *rotator.SimRotator
	ev    *eventLog
	reg   *prometheus.Registry
	tr    *Tracker
}

func newFixture(t *testing.T, start time.Time, lim rotator.Limits, cfg Config) *fixture {
	t.Helper()
	fx := &fixture{clk: clock.NewFake(start), ev: &eventLog{}, reg: prometheus.NewRegistry()}
	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: lim, AzRateDegPerS: 10, ElRateDegPerS: 10, Clock: fx.clk})
	require.NoError(t, err)
	fx.sim = sim
	fx.rot = &recordingRotator{Rotator: sim, clk: fx.clk}
	radio, err := rotator.NewSimRadio(rotator.SimRadioConfig{})
	require.NoError(t, err)
	fx.radio = &recordingRadio{Radio: radio, clk: fx.clk}
	fx.tr, err = New(Options{Config: cfg, Rotator: fx.rot, Downlink: fx.radio, Clock: fx.clk, Emitter: fx.ev, Registerer: fx.reg})
	require.NoError(t, err)
	return fx
}

func (fx *fixture) track(t *testing.T, p Pass) (Summary, error) {
	t.Helper()
	done := make(chan struct{})
	var sum Summary
	var err error
	go func() {
		defer close(done)
		sum, err = fx.tr.Track(context.Background(), p)
	}()
	drive(t, fx.clk, 2, done)
	return sum, err
}

func passOf(t *testing.T, sp SyntheticPass) Pass {
	t.Helper()
	aos, los, ok := sp.Window(0)
	require.True(t, ok)
	return Pass{ObservationID: "obs-1", NoradID: 99999, Target: sp, AOS: aos, LOS: los,
		Transmitter: api.ObservationTransmitter{DownlinkHz: 437.5e6, Mode: "FM", PassbandHz: 12500}}
}

func TestTrackFollowsThePlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sp   SyntheticPass
		lim  rotator.Limits
		// maxErr bounds the worst pointing error (degrees); the keyhole swing of a 0-90°
		// rotator under a zenith pass is the one case allowed more.
		maxErr float64
	}{
		{"north pass on 0-450", passNorth, lim450, 6},
		{"north pass on flip rotator", passNorth, limFlip, 6},
		{"south pass on 0-360", passSouth, lim360, 6},
		{"near-overhead pass on 0-450", passOverheadNorth, lim450, 6},
		{"near-overhead pass on flip rotator", passOverheadNorth, limFlip, 6},
		{"zenith pass on flip rotator, over the top", passZenith, limFlip, 3},
		{"zenith pass on 0-450, through the keyhole", passZenith, lim450, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := passOf(t, tc.sp)
			fx := newFixture(t, p.AOS.Add(-40*time.Second), tc.lim, Config{})
			sum, err := fx.track(t, p)
			require.NoError(t, err)
			t.Logf("max pointing error %.2f°, mean %.2f°, moves %d of %d ticks",
				sum.MaxPointingErrorDeg, sum.MeanPointingErrorDeg, sum.Moves, sum.TrackedTicks)

			assert.Zero(t, sum.StopCrossings)
			assert.Zero(t, sum.Overruns, "a fake clock never overruns")
			assert.InDelta(t, p.LOS.Sub(p.AOS).Seconds()*2, sum.TrackedTicks, 2)
			assert.Less(t, sum.MeanPointingErrorDeg, 2.5, "%+v", sum)
			assert.Less(t, sum.MaxPointingErrorDeg, tc.maxErr, "%+v", sum)
			assert.Less(t, sum.Moves, sum.TrackedTicks, "the threshold holds the rotator between moves")
			assert.Equal(t, api.AfterLOSPark, sum.AfterLOS)
			assert.Equal(t, 1, fx.rot.parked)
			assert.Equal(t, []string{api.EventAOS, api.EventLOS}, fx.ev.types())
			assert.Equal(t, StateIdle, fx.tr.Tracking().State)

			// Every command is inside the limits, and neighbouring commands never jump across
			// the stop.
			require.NotEmpty(t, fx.rot.sets)
			first := fx.rot.sets[0]
			assert.True(t, first.T.Before(p.AOS), "pre-positioned before AOS")
			assert.InDelta(t, map[bool]float64{false: 0, true: 180}[first.ElDeg > 90], first.ElDeg, 1e-9, "at the horizon")
			for i, s := range fx.rot.sets {
				require.True(t, tc.lim.Contains(s.AzDeg, s.ElDeg), "command %d %+v", i, s)
				if i > 0 {
					require.Less(t, math.Abs(s.AzDeg-fx.rot.sets[i-1].AzDeg), 180.0, "command %d jumps", i)
				}
			}
			assert.InDelta(t, 0, counterValue(t, fx.reg, "talos_tracker_overruns_total"), 0)
			assert.InDelta(t, float64(sum.Moves), counterValue(t, fx.reg, "talos_tracker_moves_total"), 0)
			assert.Positive(t, counterValue(t, fx.reg, "talos_tracker_retunes_total"))
		})
	}
}

func TestTrackDopplerAndDeadband(t *testing.T) {
	t.Parallel()
	p := passOf(t, passOverhead)
	p.ObservationID = "doppler"
	fx := newFixture(t, p.AOS.Add(-5*time.Second), lim450, Config{})
	sum, err := fx.track(t, p)
	require.NoError(t, err)

	sets := fx.radio.sets
	require.NotEmpty(t, sets)
	assert.Equal(t, len(sets), sum.Retunes)
	for i, s := range sets {
		at := s.t
		if at.Before(p.AOS) {
			at = p.AOS
		}
		l, err := passOverhead.Look(at)
		require.NoError(t, err)
		want := orbit.DownlinkFrequency(p.Transmitter.DownlinkHz, l.RangeRateKmS)
		require.InDelta(t, want, s.hz, 1e-3, "retune %d at %s", i, s.t)
		if i > 0 {
			require.GreaterOrEqual(t, math.Abs(s.hz-sets[i-1].hz), DefaultDeadbandHz, "deadband at retune %d", i)
		}
	}
	// At 437.5 MHz a 7.5 km/s pass shifts ±11 kHz: the first retune is well above the carrier,
	// the last well below.
	assert.Greater(t, sets[0].hz-p.Transmitter.DownlinkHz, 9e3)
	assert.Less(t, sets[len(sets)-1].hz-p.Transmitter.DownlinkHz, -9e3)
	assert.LessOrEqual(t, sum.MaxDopplerErrorHz, 0.5, "the simulated radio rounds to 1 Hz")
	mode, pb, err := fx.radio.Mode(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "FM", mode)
	assert.Equal(t, 12500, pb)
}

func TestTrackUplinkIsTheInverse(t *testing.T) {
	t.Parallel()
	p := passOf(t, passSouth)
	start := p.AOS.Add(-2 * time.Second)
	fx := newFixture(t, start, lim360, Config{DopplerPeriod: 100 * time.Millisecond})
	sim, err := rotator.NewSimRadio(rotator.SimRadioConfig{})
	require.NoError(t, err)
	up := &recordingRadio{Radio: sim.Uplink(), clk: fx.clk}
	fx.tr.uplink = up
	p.Transmitter.UplinkHz = 145.9e6
	sum, err := fx.track(t, p)
	require.NoError(t, err)
	require.NotEmpty(t, up.sets)
	for _, s := range up.sets {
		at := s.t
		if at.Before(p.AOS) {
			at = p.AOS
		}
		l, err := passSouth.Look(at)
		require.NoError(t, err)
		require.InDelta(t, p.Transmitter.UplinkHz/(1-l.RangeRateKmS/orbit.SpeedOfLightKmS), s.hz, 1e-3)
	}
	// The uplink starts below the carrier (the spacecraft approaches) and ends above it.
	assert.Less(t, up.sets[0].hz, p.Transmitter.UplinkHz)
	assert.Greater(t, up.sets[len(up.sets)-1].hz, p.Transmitter.UplinkHz)
	assert.Equal(t, len(up.sets)+len(fx.radio.sets), sum.Retunes)
}

func TestTrackAfterLOS(t *testing.T) {
	t.Parallel()
	az, el := 123.0, 45.0
	tests := []struct {
		name     string
		settings api.RotatorSettings
		parks    int
		lastAz   float64
	}{
		{"stay", api.RotatorSettings{AfterLOS: api.AfterLOSStay}, 0, -1},
		{"position", api.RotatorSettings{AfterLOS: api.AfterLOSPosition, ParkAzDeg: &az, ParkElDeg: &el}, 0, az},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := passOf(t, passSouth)
			p.Rotator = tc.settings
			fx := newFixture(t, p.LOS.Add(-20*time.Second), lim360, Config{})
			sum, err := fx.track(t, p)
			require.NoError(t, err)
			assert.Equal(t, tc.settings.AfterLOS, sum.AfterLOS)
			assert.Equal(t, tc.parks, fx.rot.parked)
			last := fx.rot.sets[len(fx.rot.sets)-1]
			if tc.lastAz >= 0 {
				assert.InDelta(t, tc.lastAz, last.AzDeg, 1e-9)
			} else {
				assert.NotEqual(t, az, last.AzDeg)
			}
		})
	}
}

func TestTrackResumesMidPass(t *testing.T) {
	t.Parallel()
	// The rotator stands in the overlap (az 400 = 40°) when the runner restarts mid-pass: the
	// new plan keeps that wrap instead of unwinding.
	p := passNorth
	pass := passOf(t, p)
	mid := pass.AOS.Add(pass.LOS.Sub(pass.AOS) * 3 / 5)
	l, err := p.Look(mid)
	require.NoError(t, err)
	require.Less(t, l.AzDeg, 90.0, "the pass is east of north by then")
	fx := newFixture(t, mid, lim450, Config{})
	require.NoError(t, fx.sim.SetPosition(context.Background(), l.AzDeg+360, l.ElDeg))
	fx.clk.Advance(time.Minute) // let the simulated rotator get there
	mid = mid.Add(time.Minute)
	sum, err := fx.track(t, pass)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, sum.PlanAzMinDeg, 270.0)
	assert.Greater(t, sum.PlanAzMaxDeg, 360.0)
	assert.Greater(t, fx.rot.sets[0].AzDeg, 360.0, "the first command after the restart stays in the overlap")
	assert.True(t, fx.rot.sets[0].T.Equal(mid), "the first tick runs at once")
}

func TestTrackRefusesBadPasses(t *testing.T) {
	t.Parallel()
	p := passOf(t, passSouth)
	fx := newFixture(t, p.LOS.Add(time.Second), lim360, Config{})
	_, err := fx.tr.Track(context.Background(), p)
	require.ErrorIs(t, err, ErrPassOver)
	p.Target = nil
	_, err = fx.tr.Track(context.Background(), p)
	require.ErrorContains(t, err, "no target")
}

func TestTrackCancelParks(t *testing.T) {
	t.Parallel()
	p := passOf(t, passSouth)
	fx := newFixture(t, p.AOS, lim360, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		_, err = fx.tr.Track(ctx, p)
	}()
	require.NoError(t, fx.clk.BlockUntil(context.Background(), 2))
	fx.clk.Advance(time.Second)
	require.NoError(t, fx.clk.BlockUntil(context.Background(), 2))
	cancel()
	<-done
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, fx.rot.parked)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Period: time.Millisecond}, "period"},
		{Config{DopplerPeriod: 10 * time.Millisecond}, "doppler_period"},
		{Config{DeadbandHz: -1}, "deadband"},
		{Config{PlanStep: time.Hour}, "plan_step"},
	}
	for _, tc := range tests {
		_, err := tc.cfg.withDefaults()
		require.ErrorContains(t, err, tc.want)
	}
	_, err := New(Options{})
	require.ErrorContains(t, err, "rotator is required")
	reg := prometheus.NewRegistry()
	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{})
	require.NoError(t, err)
	_, err = New(Options{Rotator: sim, Registerer: reg})
	require.NoError(t, err)
	_, err = New(Options{Rotator: sim, Registerer: reg})
	require.ErrorContains(t, err, "already registered")
	_ = events.EmitterFunc(nil)
}

// counterValue sums a counter family's series in reg (0 when it has none).
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue()
		}
	}
	return v
}

// failingTarget stops propagating after `calls` look-ups (a decayed orbit).
type failingTarget struct {
	Target
	calls int
	n     *atomic.Int64
}

func (f failingTarget) Look(t time.Time) (Look, error) {
	if f.n.Add(1) > int64(f.calls) {
		return Look{}, errors.New("orbit decayed")
	}
	return f.Target.Look(t)
}

func TestTrackSurvivesATargetThatStopsPropagating(t *testing.T) {
	t.Parallel()
	p := passOf(t, passSouth)
	track, err := SampleTrack(passSouth, p.AOS, p.LOS, time.Second)
	require.NoError(t, err)

	// Failing while planning: the pass is refused before the rotator moves.
	p.Target = failingTarget{Target: passSouth, calls: 10, n: new(atomic.Int64)}
	fx := newFixture(t, p.AOS.Add(-2*time.Second), lim360, Config{})
	_, err = fx.tr.Track(context.Background(), p)
	require.ErrorContains(t, err, "orbit decayed")
	assert.Empty(t, fx.rot.sets)

	// Failing mid-pass: the loop keeps its schedule, logs, and still parks at LOS.
	p.Target = failingTarget{Target: passSouth, calls: len(track) + 400, n: new(atomic.Int64)}
	sum, err := fx.track(t, p)
	require.NoError(t, err)
	assert.Less(t, sum.TrackedTicks, len(track), "ticks without look angles are not tracked")
	assert.Positive(t, sum.TrackedTicks)
	assert.Equal(t, 1, fx.rot.parked)
	assert.Equal(t, StateIdle, fx.tr.Tracking().State)
}
