package orbit

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var passEpoch = time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)

var syntheticOrbits = []struct {
	name   string
	orbit  keplerOrbit
	window time.Duration
}{
	{"ISS-like", keplerOrbit{a: 6778, e: 0.0005, inc: 51.6 * geoRadPerDeg, raan: 1.1, argp: 0.3, m0: 2, epoch: passEpoch}, 24 * time.Hour},
	{"sun-synchronous 800 km", keplerOrbit{a: 7178, e: 0.001, inc: 98.6 * geoRadPerDeg, raan: 4, argp: 1, m0: 0.5, epoch: passEpoch}, 24 * time.Hour},
	{"Molniya", keplerOrbit{a: 26600, e: 0.72, inc: 63.4 * geoRadPerDeg, raan: 0.5, argp: 270 * geoRadPerDeg, m0: 0, epoch: passEpoch}, 48 * time.Hour},
	{"GPS-like", keplerOrbit{a: 26560, e: 0.01, inc: 55 * geoRadPerDeg, raan: 3, argp: 0, m0: 1, epoch: passEpoch}, 48 * time.Hour},
	{"low 300 km", keplerOrbit{a: 6678, e: 0, inc: 97 * geoRadPerDeg, raan: 2, argp: 0, m0: 4, epoch: passEpoch}, 24 * time.Hour},
}

// bruteInterval is a run of visible samples of a dense scan.
type bruteInterval struct {
	first, last float64 // s since the window start
	maxEl       float64 // degrees
}

// bruteForce samples the visibility every dt seconds: slow, simple and independent of the pass
// search's step bound and root-finding.
func bruteForce(t *testing.T, eph Ephemeris, o *Observer, from time.Time, window time.Duration, minEl, dt float64) []bruteInterval {
	t.Helper()
	s := newPassSearch(eph, o, from, minEl)
	var out []bruteInterval
	open := false
	for x := 0.0; x <= window.Seconds(); x += dt {
		p, err := s.at(x)
		require.NoError(t, err)
		switch {
		case p.visible() && !open:
			out = append(out, bruteInterval{first: x, last: x, maxEl: p.el})
			open = true
		case p.visible():
			iv := &out[len(out)-1]
			iv.last = x
			iv.maxEl = math.Max(iv.maxEl, p.el)
		default:
			open = false
		}
	}
	return out
}

// assertMatchesBruteForce checks that every run of visible samples is one pass with AOS and LOS
// within dt of it, and that every pass longer than 2·dt was seen by the dense scan. Passes
// shorter than dt may be seen by the search only.
func assertMatchesBruteForce(t *testing.T, passes []Pass, brute []bruteInterval, from time.Time, dt float64) {
	t.Helper()
	sec := func(x time.Time) float64 { return x.Sub(from).Seconds() }
	// Every pass longer than 2·dt holds a visible sample.
	for _, p := range passes {
		if sec(p.LOS)-sec(p.AOS) <= 2*dt {
			continue
		}
		seen := false
		for _, b := range brute {
			seen = seen || (b.last >= sec(p.AOS) && b.first <= sec(p.LOS))
		}
		assert.True(t, seen, "pass %s–%s not seen by the dense scan", p.AOS, p.LOS)
	}
	j := 0
	for _, b := range brute {
		for j < len(passes) && sec(passes[j].LOS) < b.first {
			j++
		}
		require.Less(t, j, len(passes), "no pass for the visible run at %g s", b.first)
		p := passes[j]
		assert.InDelta(t, b.first, sec(p.AOS), dt, "AOS")
		assert.InDelta(t, b.last, sec(p.LOS), dt, "LOS")
		assert.GreaterOrEqual(t, p.MaxElevationDeg, b.maxEl-1e-6, "max elevation below a sample")
		// Sampling every dt misses the peak by up to the elevation rate (≤ ~1°/s) times dt/2.
		assert.InDelta(t, b.maxEl, p.MaxElevationDeg, dt/2, "max elevation")
		j++
	}
}

func TestFindPassesMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for _, orb := range syntheticOrbits {
		for _, st := range stations {
			t.Run(orb.name+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				o := mustObserver(t, st.lat, st.lon, st.alt, WithUT1MinusUTC(0.1))
				from := passEpoch.Add(13 * time.Minute)
				passes, err := FindPasses(orb.orbit, o, from, from.Add(orb.window), PassOptions{MinElevationDeg: 5})
				require.NoError(t, err)
				const dt = 1.0
				brute := bruteForce(t, orb.orbit, o, from, orb.window, 5, dt)
				assertMatchesBruteForce(t, passes, brute, from, dt)
				for _, p := range passes {
					assertPassConsistent(t, orb.orbit, o, p, 5)
				}
			})
		}
	}
}

// assertPassConsistent checks a pass against the look angles at its instants: the elevation is
// at the threshold at AOS and LOS (inside the window) and highest at TCA.
func assertPassConsistent(t *testing.T, eph Ephemeris, o *Observer, p Pass, minEl float64) {
	t.Helper()
	look := func(at time.Time) Look {
		l, err := o.Look(eph, at)
		require.NoError(t, err)
		return l
	}
	thr := func(az float64) float64 {
		if o.mask == nil {
			return minEl
		}
		return math.Max(minEl, o.mask.MinElevation(az))
	}
	require.False(t, p.LOS.Before(p.AOS))
	require.False(t, p.TCA.Before(p.AOS) || p.TCA.After(p.LOS))
	aos, los, tca := look(p.AOS), look(p.LOS), look(p.TCA)
	assert.InDelta(t, p.AOSAzimuthDeg, aos.AzimuthDeg, 1e-9)
	assert.InDelta(t, p.LOSAzimuthDeg, los.AzimuthDeg, 1e-9)
	assert.InDelta(t, p.MaxElevationDeg, tca.ElevationDeg, 1e-9)
	// 1 ms of time is at most about 0.001° of elevation.
	if !p.InProgressAtStart {
		assert.InDelta(t, thr(aos.AzimuthDeg), aos.ElevationDeg, 2e-3, "elevation at AOS")
	}
	if !p.InProgressAtEnd {
		assert.InDelta(t, thr(los.AzimuthDeg), los.ElevationDeg, 2e-3, "elevation at LOS")
	}
	for _, d := range []time.Duration{-time.Second, time.Second} {
		at := p.TCA.Add(d)
		if !at.Before(p.AOS) && !at.After(p.LOS) {
			assert.LessOrEqual(t, look(at).ElevationDeg, p.MaxElevationDeg+1e-9, "elevation above TCA's")
		}
	}
}

func TestFindPassesGrazing(t *testing.T) {
	t.Parallel()
	// Take a real pass, then raise the minimum elevation to just under its peak: the search
	// must still find it although it lasts only a few seconds, and must not at just over.
	orb := syntheticOrbits[0].orbit
	o := mustObserver(t, 48.15, 11.58, 520)
	from := passEpoch
	to := from.Add(24 * time.Hour)
	passes, err := FindPasses(orb, o, from, to, PassOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, passes)
	for _, p := range passes {
		if p.InProgressAtStart || p.InProgressAtEnd {
			continue
		}
		for _, margin := range []float64{0.01, 0.0002} {
			under, err := FindPasses(orb, o, from, to, PassOptions{MinElevationDeg: p.MaxElevationDeg - margin})
			require.NoError(t, err)
			found := false
			for _, q := range under {
				if q.TCA.Sub(p.TCA).Abs() < 10*time.Millisecond {
					found = true
					assert.Less(t, q.LOS.Sub(q.AOS), 20*time.Second, "a grazing pass is short")
					assert.InDelta(t, p.MaxElevationDeg, q.MaxElevationDeg, 1e-9)
				}
			}
			assert.True(t, found, "grazing pass at %s with margin %g° missed", p.TCA, margin)
		}
		over, err := FindPasses(orb, o, from, to, PassOptions{MinElevationDeg: p.MaxElevationDeg + 0.0002})
		require.NoError(t, err)
		for _, q := range over {
			assert.Greater(t, q.TCA.Sub(p.TCA).Abs(), time.Minute, "pass found above its own peak")
		}
	}
}

func TestFindPassesHorizonMask(t *testing.T) {
	t.Parallel()
	// A tall building to the east-south-east, hills elsewhere.
	mask, err := NewHorizonMask([]MaskPoint{
		{0, 3}, {60, 4}, {95, 4}, {100, 35}, {140, 35}, {145, 6}, {200, 2}, {300, 12},
	})
	require.NoError(t, err)
	for _, orb := range syntheticOrbits[:2] {
		for _, st := range stations[:3] {
			t.Run(orb.name+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				o := mustObserver(t, st.lat, st.lon, st.alt, WithHorizonMask(mask))
				passes, err := FindPasses(orb.orbit, o, passEpoch, passEpoch.Add(orb.window), PassOptions{MinElevationDeg: 1})
				require.NoError(t, err)
				const dt = 1.0
				assertMatchesBruteForce(t, passes, bruteForce(t, orb.orbit, o, passEpoch, orb.window, 1, dt), passEpoch, dt)
				for _, p := range passes {
					assertPassConsistent(t, orb.orbit, o, p, 1)
				}
			})
		}
	}
}

func TestFindPassesWithRefractionRisesEarlier(t *testing.T) {
	t.Parallel()
	orb := syntheticOrbits[0].orbit
	plain := mustObserver(t, 48.15, 11.58, 520)
	refr := mustObserver(t, 48.15, 11.58, 520, WithRefraction(StandardAtmosphere))
	to := passEpoch.Add(24 * time.Hour)
	a, err := FindPasses(orb, plain, passEpoch, to, PassOptions{})
	require.NoError(t, err)
	b, err := FindPasses(orb, refr, passEpoch, to, PassOptions{})
	require.NoError(t, err)
	require.Len(t, b, len(a))
	for i := range a {
		if !a[i].InProgressAtStart {
			assert.True(t, b[i].AOS.Before(a[i].AOS))
		}
		if !a[i].InProgressAtEnd {
			assert.True(t, b[i].LOS.After(a[i].LOS))
		}
		assertPassConsistent(t, orb, refr, b[i], 0)
	}
}

func TestFindPassesAlwaysAndNeverVisible(t *testing.T) {
	t.Parallel()
	o := mustObserver(t, 48.15, 11.58, 520)
	// A geostationary point due south of the station, and one on the far side of the Earth.
	geoRadius := 42164.0
	south := fixedPoint{ecef: Vec3{geoRadius * math.Cos(11.58*geoRadPerDeg), geoRadius * math.Sin(11.58*geoRadPerDeg), 0}}
	hidden := fixedPoint{ecef: south.ecef.Scale(-1)}
	to := passEpoch.Add(24 * time.Hour)

	passes, err := FindPasses(south, o, passEpoch, to, PassOptions{MinElevationDeg: 10})
	require.NoError(t, err)
	require.Len(t, passes, 1)
	p := passes[0]
	assert.True(t, p.AlwaysVisible && p.InProgressAtStart && p.InProgressAtEnd)
	assert.Equal(t, passEpoch, p.AOS)
	assert.Equal(t, to, p.LOS)
	assert.InDelta(t, 180, p.AOSAzimuthDeg, 1e-6)
	assert.InDelta(t, 34.7, p.MaxElevationDeg, 0.1) // 90° − 48.15° − the parallax of GEO

	passes, err = FindPasses(south, o, passEpoch, to, PassOptions{MinElevationDeg: 40})
	require.NoError(t, err)
	assert.Empty(t, passes, "GEO below the minimum elevation")

	passes, err = FindPasses(hidden, o, passEpoch, to, PassOptions{})
	require.NoError(t, err)
	assert.Empty(t, passes)
}

func TestFindPassesWindowEdges(t *testing.T) {
	t.Parallel()
	orb := syntheticOrbits[0].orbit
	o := mustObserver(t, 48.15, 11.58, 520)
	all, err := FindPasses(orb, o, passEpoch, passEpoch.Add(24*time.Hour), PassOptions{})
	require.NoError(t, err)
	var p Pass
	for _, q := range all {
		if !q.InProgressAtStart && !q.InProgressAtEnd && q.LOS.Sub(q.AOS) > 4*time.Minute {
			p = q
			break
		}
	}
	require.False(t, p.AOS.IsZero(), "need a full pass")
	// Open the window in the middle of the pass and close it in the middle of the next hour.
	from := p.AOS.Add(p.LOS.Sub(p.AOS) / 2)
	got, err := FindPasses(orb, o, from, from.Add(time.Hour), PassOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, got)
	assert.True(t, got[0].InProgressAtStart)
	assert.False(t, got[0].AlwaysVisible)
	assert.Equal(t, from, got[0].AOS)
	assert.InDelta(t, 0, got[0].LOS.Sub(p.LOS).Seconds(), 0.002)

	to := p.AOS.Add(time.Minute)
	got, err = FindPasses(orb, o, p.AOS.Add(-time.Hour), to, PassOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, got)
	last := got[len(got)-1]
	assert.True(t, last.InProgressAtEnd)
	assert.Equal(t, to, last.LOS)
	assert.InDelta(t, 0, last.AOS.Sub(p.AOS).Seconds(), 0.002)

	// A window entirely inside the pass: visible throughout.
	got, err = FindPasses(orb, o, p.AOS.Add(time.Minute), p.LOS.Add(-time.Minute), PassOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.True(t, got[0].AlwaysVisible)
}

func TestFindPassesValidates(t *testing.T) {
	t.Parallel()
	o := mustObserver(t, 0, 0, 0)
	orb := syntheticOrbits[0].orbit
	to := passEpoch.Add(time.Hour)
	tests := []struct {
		name     string
		eph      Ephemeris
		o        *Observer
		from, to time.Time
		opts     PassOptions
		wantErr  string
	}{
		{"nil ephemeris", nil, o, passEpoch, to, PassOptions{}, "ephemeris is nil"},
		{"nil observer", orb, nil, passEpoch, to, PassOptions{}, "observer is nil"},
		{"empty window", orb, o, passEpoch, passEpoch, PassOptions{}, "not after"},
		{"reversed window", orb, o, to, passEpoch, PassOptions{}, "not after"},
		{"window too long", orb, o, passEpoch, passEpoch.Add(400 * 24 * time.Hour), PassOptions{}, "longer than"},
		{"min elevation 90", orb, o, passEpoch, to, PassOptions{MinElevationDeg: 90}, "minimum elevation"},
		{"min elevation NaN", orb, o, passEpoch, to, PassOptions{MinElevationDeg: math.NaN()}, "minimum elevation"},
		{"step too small", orb, o, passEpoch, to, PassOptions{Step: time.Millisecond}, "step"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := FindPasses(tc.eph, tc.o, tc.from, tc.to, tc.opts)
			require.ErrorIs(t, err, ErrInvalidPassSearch)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestFindPassesPropagationError(t *testing.T) {
	t.Parallel()
	o := mustObserver(t, 48.15, 11.58, 520)
	eph := failingAfter{Ephemeris: syntheticOrbits[0].orbit, at: passEpoch.Add(5 * time.Hour)}
	_, err := FindPasses(eph, o, passEpoch, passEpoch.Add(24*time.Hour), PassOptions{})
	require.ErrorIs(t, err, errSyntheticDecay)
	_, err = FindPasses(failingAfter{Ephemeris: eph, at: passEpoch}, o, passEpoch, passEpoch.Add(time.Hour), PassOptions{})
	require.ErrorIs(t, err, errSyntheticDecay)
}

func TestCoarseStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		orbit    keplerOrbit
		min, max float64 // seconds
	}{
		// 10° of a 92.2 min orbit plus the Earth's rotation: 2.4 min.
		{"LEO", syntheticOrbits[0].orbit, 140, 150},
		// Molniya: ν̇ at perigee is about 10× the mean motion.
		{"Molniya", syntheticOrbits[2].orbit, 60, 200},
		// GEO: the spacecraft and the station turn together; 10° over (ω+ω) = 20 min.
		{"GEO", keplerOrbit{a: 42164, epoch: passEpoch}, 1190, 1210},
	}
	for _, tc := range tests {
		r, v, err := tc.orbit.Propagate(passEpoch)
		require.NoError(t, err)
		step := coarseStepSeconds(r, v)
		assert.GreaterOrEqual(t, step, tc.min, tc.name)
		assert.LessOrEqual(t, step, tc.max, tc.name)
	}
	assert.Equal(t, passFallbackStepS, coarseStepSeconds(Vec3{7000, 0, 0}, Vec3{0, 20, 0}), "unbound")
	assert.Equal(t, passFallbackStepS, coarseStepSeconds(Vec3{}, Vec3{}), "zero")
}
