package planner

import (
	"math"
	"time"

	"github.com/talos-gs/talos/orbit"
)

// track is one spacecraft sampled in Earth-fixed coordinates every h seconds from the window
// start: r[k], v[k] at k·h, up to the first sample at or past the window end.
type track struct {
	h    float64 // step, s
	r, v []orbit.Vec3
	// end is the last instant the samples cover, s: the window end, or earlier if the
	// propagation failed.
	end float64
}

// sample propagates es over the network's window into tr (reusing its memory). A propagation
// failure ends the samples early and is returned; the samples before it stay usable.
func (n *network) sample(es *orbit.ElementSet, tr *track) (*track, *SpacecraftError) {
	tr.r, tr.v, tr.end = tr.r[:0], tr.v[:0], 0
	p, err := orbit.NewPropagator(es)
	if err != nil {
		return tr, &SpacecraftError{At: n.from, Err: err}
	}
	r0, v0, err := p.Propagate(n.from)
	if err != nil {
		return tr, &SpacecraftError{At: n.from, Err: err}
	}
	tr.h = orbit.PassStep(r0, v0).Seconds()
	if p.DeepSpace() {
		tr.h = math.Min(tr.h, maxDeepSpaceStep)
	}
	count := int(math.Ceil(n.end/tr.h)) + 1
	for k := range count {
		at := n.from.Add(time.Duration(float64(k) * tr.h * float64(time.Second)))
		r, v, err := p.Propagate(at)
		if err != nil {
			tr.end = math.Min(n.end, float64(k-1)*tr.h)
			return tr, &SpacecraftError{At: at, Err: err}
		}
		if p.DeepSpace() {
			if v, err = chordVelocity(p, at); err != nil {
				tr.end = math.Min(n.end, float64(k-1)*tr.h)
				return tr, &SpacecraftError{At: at, Err: err}
			}
		}
		rE, vE := orbit.TEMEToECEF(r, v, at, 0)
		tr.r, tr.v = append(tr.r, rE), append(tr.v, vE)
	}
	tr.end = n.end
	return tr, nil
}

// maxDeepSpaceStep caps the step of a deep-space orbit (period of 225 min or more), seconds,
// and chordDelta is the half-interval of the central difference that gives its velocity.
const (
	maxDeepSpaceStep = 600.0
	chordDelta       = time.Second
)

// chordVelocity is the TEME velocity at t as the central difference of the positions a second
// either side. SDP4's own velocity leaves out its lunar-solar periodic terms, so it is not the
// derivative of its position; interpolating with it put a geostationary spacecraft hundreds of
// metres off, seconds at a slow crossing of the horizon.
func chordVelocity(p *orbit.Propagator, t time.Time) (orbit.Vec3, error) {
	r1, _, err := p.Propagate(t.Add(-chordDelta))
	if err != nil {
		return orbit.Vec3{}, err
	}
	r2, _, err := p.Propagate(t.Add(chordDelta))
	if err != nil {
		return orbit.Vec3{}, err
	}
	return r2.Sub(r1).Scale(1 / (2 * chordDelta.Seconds())), nil
}

// at returns the position (km) and velocity (km/s) at t seconds from the window start by cubic
// Hermite interpolation between the samples around t; the velocity is the derivative of the
// interpolated position, so elevation rates and elevations agree exactly. With steps that turn
// the spacecraft by at most 10°, the interpolation error is tens of metres at most.
func (tr *track) at(t float64) (r, v orbit.Vec3) {
	k := int(t / tr.h)
	k = max(0, min(k, len(tr.r)-2))
	s := t/tr.h - float64(k)
	if s == 0 {
		return tr.r[k], tr.v[k]
	}
	s2, s3 := s*s, s*s*s
	h00, h10, h01, h11 := 2*s3-3*s2+1, s3-2*s2+s, -2*s3+3*s2, s3-s2
	d00, d10, d01, d11 := 6*s2-6*s, 3*s2-4*s+1, -6*s2+6*s, 3*s2-2*s
	r0, v0, r1, v1 := tr.r[k], tr.v[k].Scale(tr.h), tr.r[k+1], tr.v[k+1].Scale(tr.h)
	r = r0.Scale(h00).Add(v0.Scale(h10)).Add(r1.Scale(h01)).Add(v1.Scale(h11))
	v = r0.Scale(d00).Add(v0.Scale(d10)).Add(r1.Scale(d01)).Add(v1.Scale(d11)).Scale(1 / tr.h)
	return r, v
}
