package orbit

import (
	"math"
	"os"
	"testing"
	"time"

	satellite "github.com/joshuaferrara/go-satellite"
	"github.com/stretchr/testify/require"
)

// catalogPropagators reads the 571-object catalog of testdata and builds a propagator for each
// element set; those the propagator refuses are counted, not hidden.
func catalogPropagators(tb testing.TB) (props []*Propagator, refused int) {
	tb.Helper()
	f, err := os.Open("testdata/celestrak-active-2026-177.tle")
	require.NoError(tb, err)
	defer func() { _ = f.Close() }() // read only
	sets, err := ParseTLEs(f)
	require.NoError(tb, err)
	require.Len(tb, sets, 571)
	for _, es := range sets {
		p, err := NewPropagator(es)
		if err != nil {
			refused++
			continue
		}
		props = append(props, p)
	}
	return props, refused
}

func issPropagator(tb testing.TB) *Propagator {
	tb.Helper()
	es, err := ParseTLE("ISS (ZARYA)",
		"1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990",
		"2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225")
	require.NoError(tb, err)
	p, err := NewPropagator(es)
	require.NoError(tb, err)
	return p
}

// julianDayFloat is t as one float64 Julian date, the form go-satellite takes.
func julianDayFloat(t time.Time) float64 {
	jd := JulianDateOf(t)
	return jd.Day + jd.Frac
}

// BenchmarkLookAngles measures the look-angle computation alone (TEME state in; the Earth
// rotation angle, the Earth-fixed frame and azimuth, elevation, range and range rate out) next
// to go-satellite's ECIToLookAngles (azimuth, elevation and range only, spherical observer) on
// the same states.
func BenchmarkLookAngles(b *testing.B) {
	p := issPropagator(b)
	start := time.Date(2026, 6, 27, 1, 37, 0, 0, time.UTC)
	const n = 512
	times := make([]time.Time, n)
	jds := make([]float64, n)
	rs, vs := make([]Vec3, n), make([]Vec3, n)
	for i := range n {
		times[i] = start.Add(time.Duration(i) * time.Second)
		jds[i] = julianDayFloat(times[i])
		var err error
		rs[i], vs[i], err = p.Propagate(times[i])
		require.NoError(b, err)
	}
	o := mustObserver(b, 48, 11.58, 520)
	b.Run("orbit", func(b *testing.B) {
		b.ReportAllocs()
		var sink float64
		for i := 0; b.Loop(); i++ {
			k := i % n
			rE, vE := TEMEToECEF(rs[k], vs[k], times[k], 0)
			sink += o.LookECEF(rE, vE).ElevationDeg
		}
		_ = sink
	})
	b.Run("go-satellite", func(b *testing.B) {
		b.ReportAllocs()
		obs := satellite.LatLong{Latitude: 48 * geoRadPerDeg, Longitude: 11.58 * geoRadPerDeg}
		var sink float64
		for i := 0; b.Loop(); i++ {
			k := i % n
			r := satellite.Vector3{X: rs[k].X, Y: rs[k].Y, Z: rs[k].Z}
			sink += satellite.ECIToLookAngles(r, obs, 0.520, jds[k]).El
		}
		_ = sink
	})
}

// pointingError is the angle (degrees) between two directions given as azimuth and elevation.
func pointingError(az1, el1, az2, el2 float64) float64 {
	u := func(az, el float64) Vec3 {
		sa, ca := math.Sincos(az * geoRadPerDeg)
		se, ce := math.Sincos(el * geoRadPerDeg)
		return Vec3{ce * sa, ce * ca, se}
	}
	a, b := u(az1, el1), u(az2, el2)
	return math.Atan2(a.Cross(b).Norm(), a.Dot(b)) / geoRadPerDeg
}

// TestGoSatellitePointingError measures how far go-satellite's ECIToLookAngles points from this
// package for the ISS over 48° N, given the same TEME positions: its observer sits on a sphere
// and its latitude is taken as geocentric. The number goes to docs/orbit-geometry.md.
func TestGoSatellitePointingError(t *testing.T) {
	t.Parallel()
	p := issPropagator(t)
	o := mustObserver(t, 48, 11.58, 0)
	obs := satellite.LatLong{Latitude: 48 * geoRadPerDeg, Longitude: 11.58 * geoRadPerDeg}
	start := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	var worstVisible, worstRange float64
	visible := 0
	for s := 0; s < 86400; s += 5 {
		at := start.Add(time.Duration(s) * time.Second)
		l, err := o.Look(p, at)
		require.NoError(t, err)
		if l.ElevationDeg < 0 {
			continue
		}
		visible++
		r, _, err := p.Propagate(at)
		require.NoError(t, err)
		g := satellite.ECIToLookAngles(satellite.Vector3{X: r.X, Y: r.Y, Z: r.Z}, obs, 0, julianDayFloat(at))
		e := pointingError(l.AzimuthDeg, l.ElevationDeg, g.Az/geoRadPerDeg, g.El/geoRadPerDeg)
		worstVisible = math.Max(worstVisible, e)
		worstRange = math.Max(worstRange, math.Abs(g.Rg-l.RangeKm))
	}
	require.Positive(t, visible)
	t.Logf("ISS over 48° N, %d samples above the horizon: go-satellite points up to %.2f° away, range up to %.1f km off",
		visible, worstVisible, worstRange)
	// The spherical observer is about 21 km from the WGS-84 one: at the horizon, where the
	// ISS is 2000+ km away, that is ~0.5°; overhead, 400 km away, several degrees.
	require.Greater(t, worstVisible, 0.1, "go-satellite should differ measurably")
}
