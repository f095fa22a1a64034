package orbit

import (
	"errors"
	"math"
	"time"
)

// Synthetic ephemerides for the geometry tests: they need no propagator and have answers that
// follow from first principles.

// keplerOrbit is a two-body orbit (μ of WGS-84) given by classical elements in TEME, angles in
// radians, a in km, mean anomaly m0 at epoch.
type keplerOrbit struct {
	a, e, inc, raan, argp, m0 float64
	epoch                     time.Time
}

func (k keplerOrbit) Propagate(t time.Time) (Vec3, Vec3, error) {
	n := math.Sqrt(passMuKm3S2 / (k.a * k.a * k.a))
	m := k.m0 + n*t.Sub(k.epoch).Seconds()
	ea := m
	for range 50 {
		d := (ea - k.e*math.Sin(ea) - m) / (1 - k.e*math.Cos(ea))
		ea -= d
		if math.Abs(d) < 1e-15 {
			break
		}
	}
	sE, cE := math.Sincos(ea)
	b := k.a * math.Sqrt(1-k.e*k.e)
	// Perifocal position and velocity.
	px, py := k.a*(cE-k.e), b*sE
	edot := n / (1 - k.e*cE)
	vx, vy := -k.a*sE*edot, b*cE*edot
	return k.toTEME(px, py), k.toTEME(vx, vy), nil
}

// toTEME rotates a perifocal vector by argp, inc and raan.
func (k keplerOrbit) toTEME(x, y float64) Vec3 {
	sw, cw := math.Sincos(k.argp)
	si, ci := math.Sincos(k.inc)
	so, co := math.Sincos(k.raan)
	x1, y1 := cw*x-sw*y, sw*x+cw*y // in the orbit plane, from the node
	return Vec3{co*x1 - so*ci*y1, so*x1 + co*ci*y1, si * y1}
}

// fixedPoint is a point at rest in the Earth-fixed frame (km), seen as a TEME ephemeris: the
// inverse of TEMEToECEF, so a geostationary spacecraft or a target at a known place.
type fixedPoint struct {
	ecef        Vec3
	ut1MinusUTC float64
}

func (f fixedPoint) Propagate(t time.Time) (Vec3, Vec3, error) {
	return ecefToTEME(f.ecef, Vec3{}, t, f.ut1MinusUTC)
}

// ecefToTEME inverts TEMEToECEF: rotate back by −θ and add ω×r.
func ecefToTEME(r, v Vec3, t time.Time, dut1 float64) (Vec3, Vec3, error) {
	theta, rate := GMST(JulianDateOf(t), dut1)
	s, c := math.Sincos(theta)
	vi := Vec3{v.X - rate*r.Y, v.Y + rate*r.X, v.Z} // v + ω×r, still in Earth-fixed axes
	rot := func(w Vec3) Vec3 { return Vec3{c*w.X - s*w.Y, s*w.X + c*w.Y, w.Z} }
	return rot(r), rot(vi), nil
}

// failingAfter wraps an ephemeris that fails from a given instant on, like a decayed orbit.
type failingAfter struct {
	Ephemeris
	at time.Time
}

var errSyntheticDecay = errors.New("synthetic decay")

func (f failingAfter) Propagate(t time.Time) (Vec3, Vec3, error) {
	if !t.Before(f.at) {
		return Vec3{}, Vec3{}, errSyntheticDecay
	}
	return f.Ephemeris.Propagate(t)
}
