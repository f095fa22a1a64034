package orbit

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var stations = []struct {
	name          string
	lat, lon, alt float64 // degrees, degrees, metres
}{
	{"48N", 48.15, 11.58, 520},
	{"equator", 0, -78.5, 0},
	{"35S", -35.4, 148.98, 680},
	{"high", -23.03, -67.75, 5050},
	{"pole", 89.99, 0, 0},
}

func mustObserver(t testing.TB, lat, lon, alt float64, opts ...ObserverOption) *Observer {
	t.Helper()
	o, err := NewObserver(lat, lon, alt, opts...)
	require.NoError(t, err)
	return o
}

func TestLookFirstPrinciples(t *testing.T) {
	t.Parallel()
	for _, st := range stations {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			o := mustObserver(t, st.lat, st.lon, st.alt)
			tests := []struct {
				name        string
				dir         Vec3 // unit direction in ENU
				rangeKm     float64
				wantAz      float64
				wantEl      float64
				checkAzimut bool
			}{
				{"overhead", Vec3{0, 0, 1}, 500, 0, 90, false},
				{"due north on the horizon", Vec3{0, 1, 0}, 2000, 0, 0, true},
				{"due east 30° up", Vec3{math.Cos(math.Pi / 6), 0, math.Sin(math.Pi / 6)}, 1500, 90, 30, true},
				{"south-west 10° down", Vec3{-math.Cos(10*geoRadPerDeg) * math.Sqrt(0.5), -math.Cos(10*geoRadPerDeg) * math.Sqrt(0.5), -math.Sin(10 * geoRadPerDeg)}, 900, 225, -10, true},
				{"due west 60° up", Vec3{-math.Cos(math.Pi / 3), 0, math.Sin(math.Pi / 3)}, 700, 270, 60, true},
			}
			for _, tc := range tests {
				ecefDir := o.east.Scale(tc.dir.X).Add(o.north.Scale(tc.dir.Y)).Add(o.up.Scale(tc.dir.Z))
				target := o.ecef.Add(ecefDir.Scale(tc.rangeKm))
				l := o.LookECEF(target, Vec3{})
				assert.InDelta(t, tc.wantEl, l.ElevationDeg, 1e-9, tc.name)
				assert.InDelta(t, tc.rangeKm, l.RangeKm, 1e-9, tc.name)
				assert.InDelta(t, 0, l.RangeRateKmS, 1e-12, tc.name)
				if tc.checkAzimut {
					assert.InDelta(t, tc.wantAz, l.AzimuthDeg, 1e-9, tc.name)
				}
			}
		})
	}
}

func TestLookOverheadIsAlongTheEllipsoidNormal(t *testing.T) {
	t.Parallel()
	// A spacecraft 500 km above the station along the WGS-84 normal is at the zenith; on a
	// spherical Earth it would appear up to 0.19° off at 45° latitude.
	o := mustObserver(t, 48.15, 11.58, 520)
	above := GeodeticToECEF(Geodetic{LatitudeDeg: 48.15, LongitudeDeg: 11.58, AltitudeKm: 500.52})
	l := o.LookECEF(above, Vec3{})
	assert.InDelta(t, 90, l.ElevationDeg, 1e-9)
	assert.InDelta(t, 500, l.RangeKm, 1e-9)
}

func TestRangeRateKnownRadialVelocity(t *testing.T) {
	t.Parallel()
	o := mustObserver(t, -35.4, 148.98, 680)
	dir := o.north.Scale(0.6).Add(o.up.Scale(0.8))          // a unit vector
	perp := o.east                                          // perpendicular to it
	target := o.ecef.Add(dir.Scale(1000))                   // 1000 km away
	for _, w := range []float64{-7.1, -0.5, 0, 0.25, 6.9} { // km/s along the line of sight
		v := dir.Scale(w).Add(perp.Scale(3)) // a transverse 3 km/s must not count
		l := o.LookECEF(target, v)
		assert.InDelta(t, w, l.RangeRateKmS, 1e-12)
	}
}

func TestLookRatesMatchDifferences(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	k := keplerOrbit{a: 6778, e: 0.01, inc: 51.6 * geoRadPerDeg, raan: 2, argp: 1, m0: 0, epoch: epoch}
	o := mustObserver(t, 48.15, 11.58, 520, WithUT1MinusUTC(0.3))
	const h = 0.005 // s
	for m := 0; m < 600; m += 7 {
		at := epoch.Add(time.Duration(m) * time.Minute)
		l, err := o.Look(k, at)
		require.NoError(t, err)
		before, err := o.Look(k, at.Add(-time.Duration(h*1e9)))
		require.NoError(t, err)
		after, err := o.Look(k, at.Add(time.Duration(h*1e9)))
		require.NoError(t, err)
		assert.InDelta(t, (after.RangeKm-before.RangeKm)/(2*h), l.RangeRateKmS, 1e-7, "range rate at %s", at)
		assert.InDelta(t, (after.ElevationDeg-before.ElevationDeg)/(2*h), l.ElevationRateDegS, 1e-7, "elevation rate at %s", at)
		if l.ElevationDeg < 85 {
			dAz := math.Remainder(after.AzimuthDeg-before.AzimuthDeg, 360)
			assert.InDelta(t, dAz/(2*h), l.AzimuthRateDegS, 1e-6, "azimuth rate at %s", at)
		}
	}
}

func TestLookPropagationError(t *testing.T) {
	t.Parallel()
	o := mustObserver(t, 0, 0, 0)
	at := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	_, err := o.Look(failingAfter{Ephemeris: fixedPoint{}, at: at}, at)
	require.ErrorIs(t, err, errSyntheticDecay)
}

func TestNewObserverValidates(t *testing.T) {
	t.Parallel()
	mask, err := NewHorizonMask([]MaskPoint{{0, 5}})
	require.NoError(t, err)
	tests := []struct {
		name          string
		lat, lon, alt float64
		opts          []ObserverOption
		wantErr       string
	}{
		{"ok", 48, 11, 500, []ObserverOption{WithHorizonMask(mask), WithUT1MinusUTC(-0.2), WithRefraction(StandardAtmosphere)}, ""},
		{"east longitude above 180", 48, 350, 0, nil, ""},
		{"latitude too big", 91, 0, 0, nil, "latitude"},
		{"latitude NaN", math.NaN(), 0, 0, nil, "latitude"},
		{"longitude too small", 0, -181, 0, nil, "longitude"},
		{"longitude 360", 0, 360, 0, nil, "longitude"},
		{"altitude above 100 km", 0, 0, 200000, nil, "altitude"},
		{"altitude too low", 0, 0, -2000, nil, "altitude"},
		{"nil mask", 0, 0, 0, []ObserverOption{WithHorizonMask(nil)}, "mask"},
		{"UT1-UTC too big", 0, 0, 0, []ObserverOption{WithUT1MinusUTC(1.5)}, "ut1_minus_utc"},
		{"pressure zero", 0, 0, 0, []ObserverOption{WithRefraction(Atmosphere{PressureHPa: 0, TemperatureC: 10})}, "pressure"},
		{"temperature absurd", 0, 0, 0, []ObserverOption{WithRefraction(Atmosphere{PressureHPa: 1000, TemperatureC: 200})}, "temperature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := NewObserver(tc.lat, tc.lon, tc.alt, tc.opts...)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.LessOrEqual(t, o.Location().LongitudeDeg, 180.0)
				return
			}
			require.ErrorIs(t, err, ErrInvalidObserver)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestRefraction(t *testing.T) {
	t.Parallel()
	a := StandardAtmosphere
	// Sæmundsson at the horizon: 1.02′/tan(10.3/5.11 °) = 28.98′.
	assert.InDelta(t, 28.98/60, a.Refraction(0), 0.01/60)
	assert.InDelta(t, 0, a.Refraction(90), 1e-12)
	// Half the pressure, half the refraction.
	thin := Atmosphere{PressureHPa: 505, TemperatureC: 10}
	assert.InDelta(t, a.Refraction(5)/2, thin.Refraction(5), 1e-12)
	// The apparent elevation increases with the true one everywhere, so the pass search can
	// find crossings of it by root-finding.
	prev := math.Inf(-1)
	for el := -90.0; el <= 90; el += 0.01 {
		app := el + a.Refraction(el)
		require.Greater(t, app, prev, "at %g°", el)
		prev = app
	}
	o := mustObserver(t, 10, 20, 0, WithRefraction(a))
	plain := mustObserver(t, 10, 20, 0)
	target := o.ecef.Add(o.north.Scale(math.Cos(0.1)).Add(o.up.Scale(math.Sin(0.1))).Scale(800))
	assert.InDelta(t, plain.LookECEF(target, Vec3{}).ElevationDeg+a.Refraction(0.1/geoRadPerDeg),
		o.LookECEF(target, Vec3{}).ElevationDeg, 1e-12)
}

// FuzzLook checks that any observer the constructor accepts and any finite Earth-fixed state
// give look angles in range, never a panic or NaN (except at the observer itself).
func FuzzLook(f *testing.F) {
	f.Add(48.0, 11.0, 500.0, 7000.0, 100.0, -200.0, 1.0, 7.0, -0.5)
	f.Add(90.0, 0.0, 0.0, 0.0, 0.0, 7000.0, 0.0, 0.0, 0.0)
	f.Add(-90.0, 359.0, -1000.0, 0.0, 0.0, -6357.0, 1e3, -1e3, 0.0)
	f.Fuzz(func(t *testing.T, lat, lon, alt, x, y, z, vx, vy, vz float64) {
		o, err := NewObserver(lat, lon, alt, WithRefraction(StandardAtmosphere))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidObserver)
			return
		}
		for _, c := range []float64{x, y, z, vx, vy, vz} {
			if math.IsNaN(c) || math.Abs(c) > 1e9 {
				return
			}
		}
		r := Vec3{x, y, z}
		l := o.LookECEF(r, Vec3{vx, vy, vz})
		if r.Sub(o.ECEF()).Norm() < 1e-9 {
			return
		}
		require.False(t, math.IsNaN(l.AzimuthDeg) || math.IsNaN(l.ElevationDeg) || math.IsNaN(l.RangeRateKmS))
		require.GreaterOrEqual(t, l.AzimuthDeg, 0.0)
		require.Less(t, l.AzimuthDeg, 360.0)
		require.GreaterOrEqual(t, l.ElevationDeg, -90.0)
		require.LessOrEqual(t, l.ElevationDeg, 91.0) // 90° plus at most the refraction
	})
}
