package tracker

import (
	"errors"
	"math"
	"time"
)

// Earth model of the synthetic pass: a sphere is enough for a test target.
const (
	earthRadiusKm = 6371.0
	earthMuKm3S2  = 398600.4418
)

// SyntheticPass is an analytic pass for tests and demonstrations: a spacecraft on a circular
// orbit over a spherical, non-rotating Earth, passing the station with its closest approach at
// TCA. It gives exact look angles and range rate without an element set, so tracker tests can
// build any geometry: an overhead pass, a pass crossing north or south, a low pass.
type SyntheticPass struct {
	// TCA is the time of closest approach.
	TCA time.Time
	// AltitudeKm is the orbit's height above the sphere, km (e.g. 500).
	AltitudeKm float64
	// HeadingDeg is the ground track's direction at TCA, degrees clockwise from north: 0 is a
	// pass going north (rising in the south), 90 going east.
	HeadingDeg float64
	// OffsetDeg is the Earth-central angle between the station and the ground track, degrees,
	// positive to the right of the heading; 0 passes through the zenith.
	OffsetDeg float64
}

// Look returns the look angles and range rate at t.
func (s SyntheticPass) Look(t time.Time) (Look, error) {
	if !(s.AltitudeKm > 0) {
		return Look{}, errors.New("synthetic pass: altitude must be positive")
	}
	p, v := s.state(t)
	e, n, u := p[0], p[1], p[2]
	rng := math.Sqrt(e*e + n*n + u*u)
	az := math.Atan2(e, n) * 180 / math.Pi
	if az < 0 {
		az += 360
	}
	el := math.Atan2(u, math.Hypot(e, n)) * 180 / math.Pi
	rr := (e*v[0] + n*v[1] + u*v[2]) / rng
	return Look{AzDeg: az, ElDeg: el, RangeRateKmS: rr}, nil
}

// state returns the spacecraft's position (km) and velocity (km/s) in the station's
// east-north-up frame.
func (s SyntheticPass) state(t time.Time) (pos, vel [3]float64) {
	r := earthRadiusKm + s.AltitudeKm
	w := math.Sqrt(earthMuKm3S2 / (r * r * r))
	th := w * t.Sub(s.TCA).Seconds()
	h, g := s.HeadingDeg*math.Pi/180, s.OffsetDeg*math.Pi/180
	along := [3]float64{math.Sin(h), math.Cos(h), 0}
	right := [3]float64{math.Cos(h), -math.Sin(h), 0}
	// The closest-approach direction from the Earth's centre, tilted from the zenith.
	c := [3]float64{math.Sin(g) * right[0], math.Sin(g) * right[1], math.Cos(g)}
	for i := range 3 {
		pos[i] = r * (math.Cos(th)*c[i] + math.Sin(th)*along[i])
		vel[i] = r * w * (-math.Sin(th)*c[i] + math.Cos(th)*along[i])
	}
	pos[2] -= earthRadiusKm // from the Earth's centre to the station on the surface
	return pos, vel
}

// Window returns AOS and LOS: when the elevation crosses minElDeg around TCA, found by
// bisection to a millisecond. ok is false when the pass never rises above minElDeg.
func (s SyntheticPass) Window(minElDeg float64) (aos, los time.Time, ok bool) {
	if l, err := s.Look(s.TCA); err != nil || l.ElDeg <= minElDeg {
		return time.Time{}, time.Time{}, false
	}
	above := func(t time.Time) bool { l, _ := s.Look(t); return l.ElDeg > minElDeg }
	return bisect(s.TCA.Add(-30*time.Minute), s.TCA, above, false), bisect(s.TCA, s.TCA.Add(30*time.Minute), above, true), true
}

// bisect finds where above changes between lo and hi; fallingEdge says above(lo) is true.
func bisect(lo, hi time.Time, above func(time.Time) bool, fallingEdge bool) time.Time {
	for hi.Sub(lo) > time.Millisecond {
		mid := lo.Add(hi.Sub(lo) / 2)
		if above(mid) != fallingEdge {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo
}
