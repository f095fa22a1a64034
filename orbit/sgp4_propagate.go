package orbit

import (
	"fmt"
	"math"
)

// Numerical limits of the propagation, from the reference implementation.
const (
	minMeanEcc      = -0.001 // below this the mean eccentricity is an error (code 1)
	eccFloor        = 1.0e-6 // smaller eccentricities are raised to it to keep the theory regular
	keplerTolerance = 1.0e-12
	keplerMaxIter   = 10
	keplerMaxStep   = 0.95 // clamp of a Newton step, so the iteration cannot jump across branches
)

// meanState holds the mean elements at the requested time: radians, rad/min.
type meanState struct {
	em, inclm, nodem, argpm, mm, nm float64
}

// osculatingInput holds the elements after the lunar-solar periodics, before the short-period
// (J2) corrections.
type osculatingInput struct {
	ep, incl, node, argp, mp float64
	sinip, cosip             float64 // sin and cos of incl
}

// dragTerms are the atmospheric-drag corrections of semi-major axis, eccentricity and mean
// longitude at one time.
type dragTerms struct {
	tempa, tempe, templ float64
}

// propagate is the SGP4 propagation proper; tsince is in minutes and already range-checked.
func (p *Propagator) propagate(t float64) (r, v Vec3, err error) {
	s, drag := p.secularAndDrag(t)
	if p.deep != nil {
		p.deep.secular(t, &s, p)
	}
	if s.nm <= 0 {
		return Vec3{}, Vec3{}, &PropagationError{Code: 2, Minutes: t, Value: s.nm}
	}
	am := p.semiMajorAxis(s.nm) * drag.tempa * drag.tempa
	s.nm = xke / (am * math.Sqrt(am)) // am^1.5: a square root is several times cheaper than Pow
	s.em -= drag.tempe
	if s.em >= 1 || s.em < minMeanEcc {
		return Vec3{}, Vec3{}, &PropagationError{Code: 1, Minutes: t, Value: s.em}
	}
	if s.em < eccFloor {
		s.em = eccFloor
	}
	s.mm += p.m0.no * drag.templ
	wrapAngles(&s)

	o := osculatingInput{ep: s.em, incl: s.inclm, node: s.nodem, argp: s.argpm, mp: s.mm,
		sinip: p.near.sinio, cosip: p.near.cosio} // near Earth the inclination is constant
	aycof, xlcof := p.near.aycof, p.near.xlcof
	if p.deep != nil {
		p.deep.ls.apply(t, &o)
		if o.incl < 0 {
			// the periodics can carry a near-equatorial orbit through zero inclination; flip it
			o.incl = -o.incl
			o.sinip = -o.sinip // sin is odd and cos even, exactly, in Go's math package
			o.node += math.Pi
			o.argp -= math.Pi
		}
		if o.ep < 0 || o.ep > 1 {
			return Vec3{}, Vec3{}, &PropagationError{Code: 3, Minutes: t, Value: o.ep}
		}
		aycof, xlcof = longPeriodCoefficients(o.sinip, o.cosip)
	}
	return p.shortPeriodic(t, am, s.nm, o, aycof, xlcof)
}

// semiMajorAxis returns (xke/n)^(2/3) in Earth radii. Only a resonant orbit changes the mean
// motion, so every other orbit reuses the value computed at initialisation: the same bits, without
// the cost of Pow on every call.
func (p *Propagator) semiMajorAxis(nm float64) float64 {
	if nm == p.m0.no {
		return p.near.ao
	}
	return math.Pow(xke/nm, twoThird)
}

// secularAndDrag applies the secular effects of gravity and the drag corrections at t minutes.
func (p *Propagator) secularAndDrag(t float64) (meanState, dragTerms) {
	m, n := &p.m0, &p.near
	xmdf := m.ma + n.mdot*t
	argpdf := m.argp + n.argpdot*t
	nodedf := m.node + n.nodedot*t
	t2 := t * t
	s := meanState{
		em: m.ecc, inclm: m.incl, nm: m.no,
		nodem: nodedf + n.nodecf*t2,
		argpm: argpdf,
		mm:    xmdf,
	}
	d := dragTerms{tempa: 1 - n.cc1*t, tempe: m.bstar * n.cc4 * t, templ: n.t2cof * t2}
	if n.simple {
		return s, d
	}
	delomg := n.omgcof * t
	delmtemp := 1 + n.eta*math.Cos(xmdf)
	delm := n.xmcof * (delmtemp*delmtemp*delmtemp - n.delmo)
	temp := delomg + delm
	s.mm = xmdf + temp
	s.argpm = argpdf - temp
	t3 := t2 * t
	t4 := t3 * t
	d.tempa = d.tempa - n.d2*t2 - n.d3*t3 - n.d4*t4
	d.tempe += m.bstar * n.cc5 * (math.Sin(s.mm) - n.sinmao)
	d.templ += n.t3cof*t3 + t4*(n.t4cof+t*n.t5cof)
	return s, d
}

// wrapAngles reduces node, perigee and mean longitude to (−2π, 2π) and recovers the mean anomaly
// from the reduced mean longitude, as the reference does (the order matters for the last bits).
func wrapAngles(s *meanState) {
	xlm := s.mm + s.argpm + s.nodem
	s.nodem = math.Mod(s.nodem, twoPi)
	s.argpm = math.Mod(s.argpm, twoPi)
	xlm = math.Mod(xlm, twoPi)
	s.mm = math.Mod(xlm-s.argpm-s.nodem, twoPi)
}

// orbitInPlane is the long-period-corrected orbit in its plane at one time, before the
// short-period corrections: radius rl and semi-latus rectum pl (Earth radii), radial rates,
// and the argument of latitude su with sin 2u and cos 2u.
type orbitInPlane struct {
	rl, pl, rdotl, rvdotl, betal float64
	su, sin2u, cos2u             float64
}

// shortPeriodic solves Kepler's equation for the long-period-corrected elements, adds the J2
// short-period terms and returns position and velocity.
func (p *Propagator) shortPeriodic(t, am, nm float64, o osculatingInput, aycof, xlcof float64) (r, v Vec3, err error) {
	k, err := inPlane(t, am, o, aycof, xlcof)
	if err != nil {
		return Vec3{}, Vec3{}, err
	}
	temp := 1 / k.pl
	temp1 := 0.5 * j2 * temp
	temp2 := temp1 * temp

	sinip, cosip := o.sinip, o.cosip
	con41, x1mth2, x7thm1 := p.near.con41, p.near.x1mth2, p.near.x7thm1
	if p.deep != nil {
		// the inclination moves with the lunar-solar terms, so these are no longer constants
		cosisq := cosip * cosip
		con41 = 3*cosisq - 1
		x1mth2 = 1 - cosisq
		x7thm1 = 7*cosisq - 1
	}
	mrt := k.rl*(1-1.5*temp2*k.betal*con41) + 0.5*temp1*x1mth2*k.cos2u
	su := k.su - 0.25*temp2*x7thm1*k.sin2u
	xnode := o.node + 1.5*temp2*cosip*k.sin2u
	xinc := o.incl + 1.5*temp2*cosip*sinip*k.cos2u
	mvt := k.rdotl - nm*temp1*x1mth2*k.sin2u/xke
	rvdot := k.rvdotl + nm*temp1*(x1mth2*k.cos2u+1.5*con41)/xke

	r, v = orient(su, xnode, xinc, mrt, mvt, rvdot)
	if !isFinite(r.X + r.Y + r.Z + v.X + v.Y + v.Z) { // NaN and ±Inf survive the sum
		return Vec3{}, Vec3{}, fmt.Errorf("%w at %g min since epoch", ErrNonFinite, t)
	}
	if mrt < 1 {
		return r, v, &PropagationError{Code: 6, Minutes: t, Value: mrt}
	}
	return r, v, nil
}

// inPlane adds the long-period J3 terms, solves Kepler's equation and returns the orbit in its
// plane; a negative semi-latus rectum is error code 4.
func inPlane(t, am float64, o osculatingInput, aycof, xlcof float64) (orbitInPlane, error) {
	sinArgp, cosArgp := math.Sincos(o.argp)
	axnl := o.ep * cosArgp
	temp := 1 / (am * (1 - o.ep*o.ep))
	aynl := o.ep*sinArgp + temp*aycof
	xl := o.mp + o.argp + o.node + temp*xlcof*axnl

	u := math.Mod(xl-o.node, twoPi)
	sineo1, coseo1 := solveKepler(u, axnl, aynl)

	ecose := axnl*coseo1 + aynl*sineo1
	esine := axnl*sineo1 - aynl*coseo1
	el2 := axnl*axnl + aynl*aynl
	var k orbitInPlane
	k.pl = am * (1 - el2)
	if k.pl < 0 {
		return k, &PropagationError{Code: 4, Minutes: t, Value: k.pl}
	}
	k.rl = am * (1 - ecose)
	k.rdotl = math.Sqrt(am) * esine / k.rl
	k.rvdotl = math.Sqrt(k.pl) / k.rl
	k.betal = math.Sqrt(1 - el2)
	temp = esine / (1 + k.betal)
	sinu := am / k.rl * (sineo1 - aynl - axnl*temp)
	cosu := am / k.rl * (coseo1 - axnl + aynl*temp)
	k.su = math.Atan2(sinu, cosu)
	k.sin2u = (cosu + cosu) * sinu
	k.cos2u = 1 - 2*sinu*sinu
	return k, nil
}

// solveKepler solves the modified Kepler equation for E+ω by Newton iteration. It returns the
// sine and cosine evaluated at the start of the last iteration, as the reference does.
func solveKepler(u, axnl, aynl float64) (sineo1, coseo1 float64) {
	eo1 := u
	tem5 := 9999.9
	for ktr := 1; math.Abs(tem5) >= keplerTolerance && ktr <= keplerMaxIter; ktr++ {
		sineo1, coseo1 = math.Sincos(eo1)
		tem5 = 1 - coseo1*axnl - sineo1*aynl
		tem5 = (u - aynl*coseo1 + axnl*sineo1 - eo1) / tem5
		if math.Abs(tem5) >= keplerMaxStep {
			tem5 = math.Copysign(keplerMaxStep, tem5)
		}
		eo1 += tem5
	}
	return sineo1, coseo1
}

// orient builds the TEME position (km) and velocity (km/s) from the argument of latitude su,
// node, inclination (radians), radius mrt (Earth radii) and its rates (Earth radii per minute).
func orient(su, xnode, xinc, mrt, mvt, rvdot float64) (r, v Vec3) {
	sinsu, cossu := math.Sincos(su)
	snod, cnod := math.Sincos(xnode)
	sini, cosi := math.Sincos(xinc)
	xmx := -snod * cosi
	xmy := cnod * cosi
	uvec := Vec3{xmx*sinsu + cnod*cossu, xmy*sinsu + snod*cossu, sini * sinsu}
	vvec := Vec3{xmx*cossu - cnod*sinsu, xmy*cossu - snod*sinsu, sini * cossu}
	r = uvec.Scale(mrt * earthRadiusKm)
	v = Vec3{
		(mvt*uvec.X + rvdot*vvec.X) * kmPerSecPerER,
		(mvt*uvec.Y + rvdot*vvec.Y) * kmPerSecPerER,
		(mvt*uvec.Z + rvdot*vvec.Z) * kmPerSecPerER,
	}
	return r, v
}
