package orbit

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGMSTVallado(t *testing.T) {
	t.Parallel()
	// Vallado, "Fundamentals of Astrodynamics and Applications", example 3-5:
	// 1992-08-20 12:14:00 UT1 → θ_GMST = 152.578787886° (we agree to 3.4e-8°, 0.12 mas; the
	// book's value carries the rounding of its intermediate steps).
	at := time.Date(1992, 8, 20, 12, 14, 0, 0, time.UTC)
	theta, rate := GMST(JulianDateOf(at), 0)
	assert.InDelta(t, 152.578787886, theta/geoRadPerDeg, 1e-7)
	// The rate of mean sidereal time: 1.00273790935 turns per solar day.
	assert.InDelta(t, 1.00273790935*2*math.Pi/86400, rate, 1e-15)
}

func TestGMSTUT1Offset(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 27, 3, 4, 5, 0, time.UTC)
	for _, dut1 := range []float64{-0.9, -0.1, 0.3, 0.9} {
		a, rate := GMST(JulianDateOf(at), dut1)
		b, _ := GMST(JulianDateOf(at.Add(time.Duration(dut1*1e9))), 0)
		assert.InDelta(t, b, a, 1e-12, "dut1=%g", dut1)
		// Shifting UT1 by dut1 turns the Earth by rate·dut1.
		c, _ := GMST(JulianDateOf(at), 0)
		assert.InDelta(t, rate*dut1, math.Remainder(a-c, 2*math.Pi), 1e-12)
	}
}

func TestGMSTIsContinuousAcrossMidnight(t *testing.T) {
	t.Parallel()
	mid := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, rate := GMST(JulianDateOf(mid.Add(-time.Millisecond)), 0)
	b, _ := GMST(JulianDateOf(mid.Add(time.Millisecond)), 0)
	assert.InDelta(t, 2e-3*rate, math.Remainder(b-a, 2*math.Pi), 1e-13)
}

func TestGeodeticVallado(t *testing.T) {
	t.Parallel()
	// Vallado example 3-3: r = (6524.834, 6862.875, 6448.296) km →
	// φ_gd = 34.352496°, λ = 46.4464°, h = 5085.22 km.
	g := ECEFToGeodetic(Vec3{6524.834, 6862.875, 6448.296})
	assert.InDelta(t, 34.352496, g.LatitudeDeg, 1e-6)
	assert.InDelta(t, 46.4464, g.LongitudeDeg, 1e-4)
	assert.InDelta(t, 5085.22, g.AltitudeKm, 0.01)
}

func TestGeodeticKnownPoints(t *testing.T) {
	t.Parallel()
	b := WGS84EquatorialRadiusKm * (1 - WGS84Flattening)
	tests := []struct {
		name string
		g    Geodetic
		want Vec3
	}{
		{"equator, prime meridian", Geodetic{0, 0, 0}, Vec3{WGS84EquatorialRadiusKm, 0, 0}},
		{"equator, 90° E, 1 km up", Geodetic{0, 90, 1}, Vec3{0, WGS84EquatorialRadiusKm + 1, 0}},
		{"north pole", Geodetic{90, 0, 0}, Vec3{0, 0, b}},
		{"south pole, 2 km up", Geodetic{-90, 0, 2}, Vec3{0, 0, -b - 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := GeodeticToECEF(tc.g)
			assert.InDelta(t, 0, got.Sub(tc.want).Norm(), 1e-9)
			back := ECEFToGeodetic(got)
			assert.InDelta(t, tc.g.LatitudeDeg, back.LatitudeDeg, 1e-10)
			assert.InDelta(t, tc.g.AltitudeKm, back.AltitudeKm, 1e-9)
		})
	}
}

func TestGeodeticRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		g := Geodetic{
			LatitudeDeg:  rng.Float64()*180 - 90,
			LongitudeDeg: rng.Float64()*360 - 180,
			AltitudeKm:   rng.Float64()*40000 - 1,
		}
		back := ECEFToGeodetic(GeodeticToECEF(g))
		require.InDelta(t, g.LatitudeDeg, back.LatitudeDeg, 1e-10, "%+v", g)
		require.InDelta(t, g.AltitudeKm, back.AltitudeKm, 1e-9, "%+v", g)
		if math.Abs(g.LatitudeDeg) < 89.9999 {
			require.InDelta(t, 0, math.Remainder(g.LongitudeDeg-back.LongitudeDeg, 360), 1e-10, "%+v", g)
		}
	}
}

func TestTEMEToECEFRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 27, 10, 0, 0, 123456789, time.UTC)
	r, v := Vec3{-4000, 5000, 2000}, Vec3{-2, -4, 6}
	rE, vE := TEMEToECEF(r, v, at, 0.25)
	// A rotation keeps lengths; the velocity changes by exactly ω×r.
	assert.InDelta(t, r.Norm(), rE.Norm(), 1e-9)
	rT, vT, err := ecefToTEME(rE, vE, at, 0.25)
	require.NoError(t, err)
	assert.InDelta(t, 0, rT.Sub(r).Norm(), 1e-9)
	assert.InDelta(t, 0, vT.Sub(v).Norm(), 1e-12)
}

func TestEarthFixedVelocityMatchesDifferences(t *testing.T) {
	t.Parallel()
	// The Earth-fixed velocity must be the derivative of the Earth-fixed position.
	k := keplerOrbit{a: 6778, e: 0.001, inc: 0.9, raan: 1, argp: 2, m0: 0.3, epoch: time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)}
	at := k.epoch.Add(17 * time.Minute)
	const h = 0.01 // s
	pos := func(t time.Time) Vec3 {
		r, v, _ := k.Propagate(t)
		rE, _ := TEMEToECEF(r, v, t, 0)
		return rE
	}
	r, v, _ := k.Propagate(at)
	_, vE := TEMEToECEF(r, v, at, 0)
	diff := pos(at.Add(time.Duration(h * 1e9))).Sub(pos(at.Add(-time.Duration(h * 1e9)))).Scale(1 / (2 * h))
	assert.InDelta(t, 0, diff.Sub(vE).Norm(), 1e-8)
}

func TestSubSatellitePoint(t *testing.T) {
	t.Parallel()
	want := Geodetic{LatitudeDeg: 48.1, LongitudeDeg: 11.6, AltitudeKm: 550}
	at := time.Date(2026, 6, 27, 10, 0, 0, 0, time.UTC)
	g, err := SubSatellitePoint(fixedPoint{ecef: GeodeticToECEF(want), ut1MinusUTC: 0.3}, at, 0.3)
	require.NoError(t, err)
	assert.InDelta(t, want.LatitudeDeg, g.LatitudeDeg, 1e-9)
	assert.InDelta(t, want.LongitudeDeg, g.LongitudeDeg, 1e-9)
	assert.InDelta(t, want.AltitudeKm, g.AltitudeKm, 1e-9)

	_, err = SubSatellitePoint(failingAfter{Ephemeris: fixedPoint{}, at: at}, at, 0)
	require.ErrorIs(t, err, errSyntheticDecay)
}
