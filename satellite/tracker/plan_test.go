package tracker

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/rotator"
)

var tca = time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)

// Pass geometries. An eastbound pass with its ground track north of the station culminates in
// the north and crosses azimuth 0; south of the station it crosses 180.
var (
	passNorth    = SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: -8}
	passSouth    = SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: 8}
	passOverhead = SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: 0.2}
	passEastish  = SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 160, OffsetDeg: -12}
	passNorthOH  = SyntheticPass{TCA: tca, AltitudeKm: 800, HeadingDeg: 0, OffsetDeg: 0.1}
	// passZenith culminates 0.25° from the zenith (0.02° of central angle is 2 km).
	passZenith = SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: 0.02}
	// passOverheadNorth culminates at about 85° in the north-west and crosses azimuth 0 after.
	passOverheadNorth = SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 60, OffsetDeg: -0.5}

	lim360     = rotator.Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 90}
	lim180     = rotator.Limits{MinAz: -180, MaxAz: 180, MinEl: 0, MaxEl: 90}
	lim450     = rotator.Limits{MinAz: 0, MaxAz: 450, MinEl: 0, MaxEl: 90}
	limFlip    = rotator.Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 180}
	limFlip180 = rotator.Limits{MinAz: -180, MaxAz: 180, MinEl: 0, MaxEl: 180}
)

func trackOf(t *testing.T, p SyntheticPass) []SkyPoint {
	t.Helper()
	aos, los, ok := p.Window(0)
	require.True(t, ok, "the synthetic pass must rise")
	track, err := SampleTrack(p, aos, los, time.Second)
	require.NoError(t, err)
	return track
}

func TestPlanPass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pass      SyntheticPass
		lim       rotator.Limits
		crossings int
		flips     bool
		// azMin and azMax bound the planned azimuths (degrees), checking which wrap was used.
		azMin, azMax float64
	}{
		{"north on 0-360 must unwind once", passNorth, lim360, 1, false, 0, 360},
		{"north on 0-450 uses the overlap", passNorth, lim450, 0, false, 270, 450},
		{"north on -180-180 stays in range", passNorth, lim180, 0, false, -90, 90},
		{"north on 0-360 flip rotator flips", passNorth, limFlip, 0, true, 90, 270},
		{"south on 0-360", passSouth, lim360, 0, false, 90, 270},
		{"south on 0-450", passSouth, lim450, 0, false, 90, 270},
		{"south on -180-180 must unwind once", passSouth, lim180, 1, false, -180, 180},
		{"south on -180-180 flip rotator flips", passSouth, limFlip180, 0, true, -90, 90},
		{"overhead on 0-360", passOverhead, lim360, 0, false, 80, 280},
		{"overhead on flip rotator goes over the top", passOverhead, limFlip, 0, true, 0, 360},
		{"overhead northbound on 0-450", passNorthOH, lim450, 0, false, 0, 450},
		{"overhead northbound on -180-180", passNorthOH, lim180, 0, false, -180, 180},
		{"high south-east pass on 0-360", passEastish, lim360, 0, false, 0, 360},
		{"near-overhead crossing north on 0-450", passOverheadNorth, lim450, 0, false, 180, 450},
		{"near-overhead crossing north on 0-360 must unwind", passOverheadNorth, lim360, 1, false, 0, 360},
		{"near-overhead crossing north on flip rotator", passOverheadNorth, limFlip, 0, true, 0, 360},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			track := trackOf(t, tc.pass)
			plan, err := PlanPass(track, tc.lim, nil)
			require.NoError(t, err)
			require.Len(t, plan.Points, len(track))
			assert.Equal(t, tc.crossings, plan.StopCrossings, "stop crossings")
			assert.Equal(t, tc.flips, plan.Flips > 0, "flips: %d", plan.Flips)
			lo, hi := plan.AzRange()
			assert.GreaterOrEqual(t, lo, tc.azMin)
			assert.LessOrEqual(t, hi, tc.azMax)
			assertFollowsSky(t, plan, track)
		})
	}
}

// assertFollowsSky checks the invariants every plan keeps: inside the limits, pointing where
// the sky point is, and Map reproducing the plan.
func assertFollowsSky(t *testing.T, plan Plan, track []SkyPoint) {
	t.Helper()
	for i, pt := range plan.Points {
		require.True(t, plan.Limits.Contains(pt.AzDeg, pt.ElDeg), "point %d %+v outside %+v", i, pt, plan.Limits)
		az, el := ToSky(pt.AzDeg, pt.ElDeg)
		wantEl := math.Max(track[i].ElDeg, plan.Limits.MinEl)
		require.InDelta(t, pt.ErrorDeg, Separation(az, el, track[i].AzDeg, wantEl), 1e-6, "point %d", i)
		// Plane mode accepts at most the pass's distance from the zenith (2.5° for passOverhead).
		require.Less(t, pt.ErrorDeg, 3.0, "point %d: planned error", i)
		m := plan.Map(pt.T, track[i].AzDeg, track[i].ElDeg)
		require.InDelta(t, pt.AzDeg, m.AzDeg, 1e-9, "Map at point %d", i)
		require.InDelta(t, pt.ElDeg, m.ElDeg, 1e-9, "Map at point %d", i)
	}
}

func TestPlanFlipGoesOverTheTop(t *testing.T) {
	t.Parallel()
	track := trackOf(t, passZenith)
	normal, err := PlanPass(track, lim360, nil)
	require.NoError(t, err)
	flip, err := PlanPass(track, limFlip, nil)
	require.NoError(t, err)
	assert.Greater(t, azTravel(normal), 150.0, "a 0-90° rotator swings through the keyhole")
	assert.Less(t, azTravel(flip), 10.0, "a flip rotator holds its azimuth and goes over the top")
	planes, maxErr := 0, 0.0
	for _, pt := range flip.Points {
		if pt.Plane {
			planes++
			maxErr = math.Max(maxErr, pt.ErrorDeg)
		}
	}
	assert.Positive(t, planes)
	assert.Less(t, maxErr, 0.5, "off the plane by no more than the distance from the zenith")
	assertFollowsSky(t, flip, track)

	// At 87.5° the planner mixes: part of the swing is saved for at most 2.5° of error.
	n87, err := PlanPass(trackOf(t, passOverhead), lim360, nil)
	require.NoError(t, err)
	f87, err := PlanPass(trackOf(t, passOverhead), limFlip, nil)
	require.NoError(t, err)
	assert.Less(t, azTravel(f87), azTravel(n87)/2)

	// An 83° pass is 7° off any vertical plane at culmination: the swing is the better deal.
	high, err := PlanPass(trackOf(t, passOverheadNorth), limFlip, nil)
	require.NoError(t, err)
	for _, pt := range high.Points {
		require.False(t, pt.Plane)
	}
}

func azTravel(p Plan) float64 {
	var s float64
	for i := 1; i < len(p.Points); i++ {
		s += math.Abs(p.Points[i].AzDeg - p.Points[i-1].AzDeg)
	}
	return s
}

func TestPlanAnchorKeepsTheWrap(t *testing.T) {
	t.Parallel()
	// A low pass in the north-east, 14°..86°: both 20..80 and 380..440 fit a 0-450 rotator.
	p := SyntheticPass{TCA: tca, AltitudeKm: 500, HeadingDeg: 140, OffsetDeg: -18}
	track := trackOf(t, p)
	require.Less(t, track[0].AzDeg, 90.0)
	mid := track[len(track)/2]
	tests := []struct {
		name      string
		anchor    *Anchor
		wantAbove float64
	}{
		{"no anchor takes the plain wrap", nil, 0},
		{"anchor near the plain wrap", &Anchor{T: mid.T, AzDeg: mid.AzDeg}, 0},
		{"anchor in the overlap keeps it", &Anchor{T: mid.T, AzDeg: mid.AzDeg + 360}, 360},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, err := PlanPass(track, lim450, tc.anchor)
			require.NoError(t, err)
			lo, hi := plan.AzRange()
			assert.GreaterOrEqual(t, lo, tc.wantAbove)
			assert.Less(t, hi, tc.wantAbove+360)
			assert.Zero(t, plan.StopCrossings)
		})
	}
}

func TestPlanStartIsTheHorizon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		lim    rotator.Limits
		pass   SyntheticPass
		wantEl float64
	}{
		{"normal", lim360, passSouth, 0},
		{"flipped", limFlip, passNorth, 180},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			track := trackOf(t, tc.pass)
			plan, err := PlanPass(track, tc.lim, nil)
			require.NoError(t, err)
			s := plan.Start()
			assert.InDelta(t, tc.wantEl, s.ElDeg, 1e-9)
			assert.InDelta(t, plan.Points[0].AzDeg, s.AzDeg, 1e-9)
		})
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	t.Parallel()
	_, err := PlanPass(nil, lim360, nil)
	require.ErrorIs(t, err, ErrEmptyTrack)
	_, err = PlanPass([]SkyPoint{{T: tca, AzDeg: math.NaN()}}, lim360, nil)
	require.ErrorContains(t, err, "not finite")
	_, err = PlanPass([]SkyPoint{{T: tca}}, rotator.Limits{MinAz: 10, MaxAz: 5, MaxEl: 90}, nil)
	require.ErrorContains(t, err, "min_az")
}

func TestPlanNarrowRotatorClamps(t *testing.T) {
	t.Parallel()
	// A 0-180° azimuth rotator cannot reach the west: the plan clamps to the stop rather than
	// failing, and stays inside the limits.
	lim := rotator.Limits{MinAz: 0, MaxAz: 180, MinEl: 0, MaxEl: 90}
	plan, err := PlanPass(trackOf(t, passSouth), lim, nil)
	require.NoError(t, err)
	for _, pt := range plan.Points {
		require.True(t, lim.Contains(pt.AzDeg, pt.ElDeg), "%+v", pt)
	}
}

func TestSeparationAndToSky(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a1, e1, a2, e2, want float64
	}{
		{0, 0, 90, 0, 90},
		{359, 10, 1, 10, 1.9696},
		{10, 90, 200, 90, 0},
		{0, 0, 180, 0, 180},
	}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, Separation(tc.a1, tc.e1, tc.a2, tc.e2), 1e-3)
	}
	az, el := ToSky(190, 120)
	assert.InDelta(t, 10, az, 1e-9)
	assert.InDelta(t, 60, el, 1e-9)
	az, el = ToSky(400, 30)
	assert.InDelta(t, 40, az, 1e-9)
	assert.InDelta(t, 30, el, 1e-9)
}

func TestSyntheticPassGeometry(t *testing.T) {
	t.Parallel()
	aos, los, ok := passOverhead.Window(0)
	require.True(t, ok)
	// A 500 km circular orbit is visible for roughly 10-12 minutes overhead.
	assert.InDelta(t, 11*60, los.Sub(aos).Seconds(), 90)
	top, err := passOverhead.Look(tca)
	require.NoError(t, err)
	assert.Greater(t, top.ElDeg, 85.0)
	assert.InDelta(t, 0, top.RangeRateKmS, 1e-9)
	rise, err := passOverhead.Look(aos)
	require.NoError(t, err)
	assert.InDelta(t, 0, rise.ElDeg, 0.01)
	assert.Less(t, rise.RangeRateKmS, -5.0, "approaching at several km/s")
	_, _, ok = SyntheticPass{TCA: tca, AltitudeKm: 500, OffsetDeg: 40}.Window(0)
	assert.False(t, ok, "a track 40° away never rises")
}
