package orbit

import (
	"math"
	"time"
)

const (
	// passMuKm3S2 is the Earth's gravitational parameter (WGS-84), km³/s²; it only sizes the
	// coarse step, so the choice of constant does not matter.
	passMuKm3S2 = 398600.4418
	// passEarthRateRadS is the Earth's rotation rate, rad/s, likewise only for the step.
	passEarthRateRadS = 7.292115e-5
	// passStepAngleRad is the largest angle the spacecraft may turn, relative to the station,
	// as seen from the Earth's centre, in one coarse step: 10°. See decision 0006.
	passStepAngleRad = 10 * math.Pi / 180
	// passMinStepS and passMaxStepS clamp the automatic step, seconds.
	passMinStepS = 1.0
	passMaxStepS = 1800.0
	// passFallbackStepS is the step for a state that is not a bound orbit.
	passFallbackStepS = 60.0
)

// coarseStepSeconds sizes the pass-search step to the orbit whose osculating state is r (km),
// v (km/s): the step in which the direction of the spacecraft from the Earth's centre can turn
// by at most passStepAngleRad relative to the rotating Earth. The fastest the direction turns is
// at perigee, ν̇ = √(μ/p³)(1+e)², and the station adds at most the Earth's rate, so
// step = 10° / (ν̇_max + ω⊕). For a circular LEO that is 1/36 of the period, about 2.5 min; for
// a Molniya orbit it follows the perigee passage; for a geostationary one it is 20 min.
// Drag and J2 change ν̇ by far less than the margin in the bound.
func coarseStepSeconds(r, v Vec3) float64 {
	rn, v2 := r.Norm(), v.Dot(v)
	energy := v2/2 - passMuKm3S2/rn
	if rn == 0 || energy >= 0 || math.IsNaN(energy) {
		return passFallbackStepS
	}
	a := -passMuKm3S2 / (2 * energy)
	// Eccentricity vector: ((v² − μ/r)·r − (r·v)·v)/μ.
	ev := r.Scale(v2 - passMuKm3S2/rn).Sub(v.Scale(r.Dot(v))).Scale(1 / passMuKm3S2)
	e := math.Min(ev.Norm(), 0.999)
	p := a * (1 - e*e)
	nuDotMax := math.Sqrt(passMuKm3S2/(p*p*p)) * (1 + e) * (1 + e)
	step := passStepAngleRad / (nuDotMax + passEarthRateRadS)
	return math.Max(passMinStepS, math.Min(passMaxStepS, step))
}

// PassStep is the coarse step FindPasses uses for the orbit whose osculating TEME (or
// Earth-fixed) state is r (km), v (km/s): the time in which the spacecraft's direction from the
// Earth's centre turns by at most 10° relative to a station (decision 0006). Samples this far
// apart bracket every extremum of the elevation singly, which is what lets a planner search
// many stations on one shared set of samples.
func PassStep(r, v Vec3) time.Duration {
	return time.Duration(coarseStepSeconds(r, v) * float64(time.Second))
}
