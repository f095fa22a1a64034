package orbit

import (
	"math"
	"sync"
	"sync/atomic"
)

// Resonance constants of SDP4: the integrator step and the phases and strengths of the tesseral
// harmonics that resonate with 12-hour and 24-hour orbits.
const (
	resonanceStep   = 720.0                             // minutes per integrator step
	resonanceStep2  = resonanceStep * resonanceStep / 2 // step²/2, minutes²
	fasx2, fasx4    = 0.13130908, 2.8843198             // synchronous phases, rad
	fasx6           = 0.37448087                        //
	g22, g32, g44   = 5.7686396, 0.95240898, 1.8014998  // half-day phases, rad
	g52, g54        = 1.0508330, 4.4108898              //
	q22, q31, q33   = 1.7891679e-6, 2.1460748e-6, 2.2123015e-7
	root22, root44  = 1.7891679e-6, 7.3636953e-9
	root54, root32  = 2.1765803e-9, 3.7393792e-7
	root52          = 1.1428639e-7
	syncLowRadMin   = 0.0034906585 // resonance band of 24 h orbits, rad/min (0.8–1.2 rev/day)
	syncHighRadMin  = 0.0052359877
	halfDayLowRadM  = 8.26e-3 // resonance band of 12 h orbits, rad/min
	halfDayHighRadM = 9.24e-3
	halfDayMinEcc   = 0.5 // 12 h resonance is modelled only for eccentric (Molniya-like) orbits
)

// resonance holds the geopotential resonance terms of a 12 h or 24 h orbit and the checkpoint
// tables of its numerical integrator.
//
// The reference integrates the resonant mean longitude xli and mean motion xni from the epoch in
// fixed 720-minute steps and keeps the last step in the satellite record, restarting from the
// epoch when asked for an earlier time. Its results therefore depend only on the number of whole
// steps k between the epoch and the requested time: the state after k steps is a fixed sequence.
// We store that sequence, one checkpoint per step, in two tables (after and before the epoch),
// filled lazily up to the furthest step ever asked for. A propagation reads one checkpoint and
// finishes with the same Taylor step the reference uses, so results are bit-for-bit those of
// integrating from the epoch, at a cost independent of the element set's age.
type resonance struct {
	halfDay bool // 12 h (Molniya) resonance; otherwise 24 h (geosynchronous)

	// 24 h terms
	del1, del2, del3 float64
	// 12 h terms
	d2201, d2211, d3210, d3222, d4410, d4422 float64
	d5220, d5232, d5421, d5433               float64
	argpo, argpdot                           float64

	xfact, xlamo, no float64

	after, before checkpointTable
}

// resonanceState is the integrator state after a whole number of steps.
type resonanceState struct {
	xli float64 // resonant mean longitude, rad
	xni float64 // mean motion, rad/min
}

// checkpointTable holds states after 0, 1, 2, ... steps. Readers load the published slice
// without locking; a writer extends it under mu and publishes a new slice header. Entries below
// the published length are never written again, so a reader of an older header sees complete,
// immutable data.
type checkpointTable struct {
	mu     sync.Mutex
	points atomic.Pointer[[]resonanceState]
}

// newResonance returns the resonance terms, or nil when the mean motion is in neither band.
func newResonance(p *Propagator, d *deepSpaceTerms, a orbitAngles) *resonance {
	m, n := &p.m0, &p.near
	var r resonance
	switch {
	case m.no > syncLowRadMin && m.no < syncHighRadMin:
		r.initSynchronous(m, a)
		theta := d.gsto
		r.xlamo = math.Mod(m.ma+m.node+m.argp-theta, twoPi)
		r.xfact = n.mdot + n.xpidot - earthRotRadMin + d.dmdt + d.domdt + d.dnodt - m.no
	case m.no >= halfDayLowRadM && m.no <= halfDayHighRadM && a.em >= halfDayMinEcc:
		r.halfDay = true
		r.initHalfDay(m, a)
		theta := d.gsto
		r.xlamo = math.Mod(m.ma+m.node+m.node-theta-theta, twoPi)
		r.xfact = n.mdot + d.dmdt + 2*(n.nodedot+d.dnodt-earthRotRadMin) - m.no
		r.argpo, r.argpdot = m.argp, n.argpdot
	default:
		return nil
	}
	r.no = m.no
	return &r
}

// initSynchronous sets the strengths of the 24 h resonance (tesseral harmonics 2,2; 3,1; 3,3).
func (r *resonance) initSynchronous(m *meanElementsAtEpoch, a orbitAngles) {
	aonv := math.Pow(m.no/xke, twoThird)
	emsq := a.emsq
	g200 := 1 + emsq*(-2.5+0.8125*emsq)
	g310 := 1 + 2*emsq
	g300 := 1 + emsq*(-6+6.60937*emsq)
	f220 := 0.75 * (1 + a.cosim) * (1 + a.cosim)
	f311 := 0.9375*a.sinim*a.sinim*(1+3*a.cosim) - 0.75*(1+a.cosim)
	f330 := 1 + a.cosim
	f330 = 1.875 * f330 * f330 * f330
	del1 := 3 * m.no * m.no * aonv * aonv
	r.del2 = 2 * del1 * f220 * g200 * q22
	r.del3 = 3 * del1 * f330 * g300 * q33 * aonv
	r.del1 = del1 * f311 * g310 * q31 * aonv
}

// halfDayG are the eccentricity functions G(e) of the 12 h resonance.
type halfDayG struct {
	g201, g211, g310, g322, g410, g422, g520, g521, g532, g533 float64
}

// eccentricityFunctions evaluates the G(e) fits; the fits change at e = 0.65, 0.7 and 0.715.
func eccentricityFunctions(em float64) halfDayG {
	emsq := em * em
	eoc := em * emsq
	g := halfDayG{g201: -0.306 - (em-0.64)*0.440}
	if em <= 0.65 {
		g.g211 = 3.616 - 13.2470*em + 16.2900*emsq
		g.g310 = -19.302 + 117.3900*em - 228.4190*emsq + 156.5910*eoc
		g.g322 = -18.9068 + 109.7927*em - 214.6334*emsq + 146.5816*eoc
		g.g410 = -41.122 + 242.6940*em - 471.0940*emsq + 313.9530*eoc
		g.g422 = -146.407 + 841.8800*em - 1629.014*emsq + 1083.4350*eoc
		g.g520 = -532.114 + 3017.977*em - 5740.032*emsq + 3708.2760*eoc
	} else {
		g.g211 = -72.099 + 331.819*em - 508.738*emsq + 266.724*eoc
		g.g310 = -346.844 + 1582.851*em - 2415.925*emsq + 1246.113*eoc
		g.g322 = -342.585 + 1554.908*em - 2366.899*emsq + 1215.972*eoc
		g.g410 = -1052.797 + 4758.686*em - 7193.992*emsq + 3651.957*eoc
		g.g422 = -3581.690 + 16178.110*em - 24462.770*emsq + 12422.520*eoc
		if em > 0.715 {
			g.g520 = -5149.66 + 29936.92*em - 54087.36*emsq + 31324.56*eoc
		} else {
			g.g520 = 1464.74 - 4664.75*em + 3763.64*emsq
		}
	}
	if em < 0.7 {
		g.g533 = -919.22770 + 4988.6100*em - 9064.7700*emsq + 5542.21*eoc
		g.g521 = -822.71072 + 4568.6173*em - 8491.4146*emsq + 5337.524*eoc
		g.g532 = -853.66600 + 4690.2500*em - 8624.7700*emsq + 5341.4*eoc
	} else {
		g.g533 = -37995.780 + 161616.52*em - 229838.20*emsq + 109377.94*eoc
		g.g521 = -51752.104 + 218913.95*em - 309468.16*emsq + 146349.42*eoc
		g.g532 = -40023.880 + 170470.89*em - 242699.48*emsq + 115605.82*eoc
	}
	return g
}

// initHalfDay sets the strengths of the 12 h resonance terms.
func (r *resonance) initHalfDay(m *meanElementsAtEpoch, a orbitAngles) {
	g := eccentricityFunctions(m.ecc)
	sinim, cosim := a.sinim, a.cosim
	cosisq := cosim * cosim
	sini2 := sinim * sinim
	f220 := 0.75 * (1 + 2*cosim + cosisq)
	f221 := 1.5 * sini2
	f321 := 1.875 * sinim * (1 - 2*cosim - 3*cosisq)
	f322 := -1.875 * sinim * (1 + 2*cosim - 3*cosisq)
	f441 := 35 * sini2 * f220
	f442 := 39.3750 * sini2 * sini2
	f522 := 9.84375 * sinim * (sini2*(1-2*cosim-5*cosisq) + 0.33333333*(-2+4*cosim+6*cosisq))
	f523 := sinim * (4.92187512*sini2*(-2-4*cosim+10*cosisq) + 6.56250012*(1+2*cosim-3*cosisq))
	f542 := 29.53125 * sinim * (2 - 8*cosim + cosisq*(-12+8*cosim+10*cosisq))
	f543 := 29.53125 * sinim * (-2 - 8*cosim + cosisq*(12+8*cosim-10*cosisq))

	aonv := math.Pow(m.no/xke, twoThird)
	temp1 := 3 * m.no * m.no * aonv * aonv
	temp := temp1 * root22
	r.d2201 = temp * f220 * g.g201
	r.d2211 = temp * f221 * g.g211
	temp1 *= aonv
	temp = temp1 * root32
	r.d3210 = temp * f321 * g.g310
	r.d3222 = temp * f322 * g.g322
	temp1 *= aonv
	temp = 2 * temp1 * root44
	r.d4410 = temp * f441 * g.g410
	r.d4422 = temp * f442 * g.g422
	temp1 *= aonv
	temp = temp1 * root52
	r.d5220 = temp * f522 * g.g520
	r.d5232 = temp * f523 * g.g532
	temp = 2 * temp1 * root54
	r.d5421 = temp * f542 * g.g521
	r.d5433 = temp * f543 * g.g533
}

// rates returns dn/dt, dλ/dt and d²n/dt² of the integrator at state s and time atime (minutes).
// Each harmonic needs the sine and the cosine of the same angle, so Sincos computes both at once.
func (r *resonance) rates(s resonanceState, atime float64) (xndt, xldot, xnddt float64) {
	xldot = s.xni + r.xfact
	if r.halfDay {
		xndt, xnddt = r.halfDayRates(s.xli, atime)
	} else {
		xndt, xnddt = r.synchronousRates(s.xli)
	}
	return xndt, xldot, xnddt * xldot
}

func (r *resonance) synchronousRates(xli float64) (xndt, xnddt float64) {
	s1, c1 := math.Sincos(xli - fasx2)
	s2, c2 := math.Sincos(2 * (xli - fasx4))
	s3, c3 := math.Sincos(3 * (xli - fasx6))
	xndt = r.del1*s1 + r.del2*s2 + r.del3*s3
	xnddt = r.del1*c1 + 2*r.del2*c2 + 3*r.del3*c3
	return xndt, xnddt
}

func (r *resonance) halfDayRates(xli, atime float64) (xndt, xnddt float64) {
	xomi := r.argpo + r.argpdot*atime
	x2omi := xomi + xomi
	x2li := xli + xli
	s2201, c2201 := math.Sincos(x2omi + xli - g22)
	s2211, c2211 := math.Sincos(xli - g22)
	s3210, c3210 := math.Sincos(xomi + xli - g32)
	s3222, c3222 := math.Sincos(-xomi + xli - g32)
	s4410, c4410 := math.Sincos(x2omi + x2li - g44)
	s4422, c4422 := math.Sincos(x2li - g44)
	s5220, c5220 := math.Sincos(xomi + xli - g52)
	s5232, c5232 := math.Sincos(-xomi + xli - g52)
	s5421, c5421 := math.Sincos(xomi + x2li - g54)
	s5433, c5433 := math.Sincos(-xomi + x2li - g54)
	xndt = r.d2201*s2201 + r.d2211*s2211 + r.d3210*s3210 + r.d3222*s3222 +
		r.d4410*s4410 + r.d4422*s4422 + r.d5220*s5220 + r.d5232*s5232 +
		r.d5421*s5421 + r.d5433*s5433
	// the reference groups the (4,4,1,0), (4,4,2,2), (5,4,2,1) and (5,4,3,3) terms, which carry a
	// factor 2 from differentiating 2λ
	xnddt = r.d2201*c2201 + r.d2211*c2211 + r.d3210*c3210 + r.d3222*c3222 +
		r.d5220*c5220 + r.d5232*c5232 +
		2*(r.d4410*c4410+r.d4422*c4422+r.d5421*c5421+r.d5433*c5433)
	return xndt, xnddt
}

// at returns the resonant mean longitude xl (rad) and mean motion nm (rad/min) at t minutes.
func (r *resonance) at(t float64) (xl, nm float64) {
	delt := -resonanceStep
	table := &r.before
	if t > 0 {
		delt, table = resonanceStep, &r.after
	}
	k := stepsBefore(t, delt)
	s := r.checkpoint(table, k, delt)
	atime := float64(k) * delt
	xndt, xldot, xnddt := r.rates(s, atime)
	ft := t - atime
	nm = s.xni + xndt*ft + xnddt*ft*ft*0.5
	xl = s.xli + xldot*ft + xndt*ft*ft*0.5
	return xl, nm
}

// stepsBefore returns the number of whole steps the reference integrator takes to reach t: it
// steps while |t − atime| ≥ 720 min.
func stepsBefore(t, delt float64) int {
	k := int(math.Abs(t) / resonanceStep)
	for k > 0 && math.Abs(t-float64(k-1)*delt) < resonanceStep {
		k--
	}
	for math.Abs(t-float64(k)*delt) >= resonanceStep {
		k++
	}
	return k
}

// checkpoint returns the state after k steps, extending the table if needed.
func (r *resonance) checkpoint(table *checkpointTable, k int, delt float64) resonanceState {
	if pts := table.points.Load(); pts != nil && k < len(*pts) {
		return (*pts)[k]
	}
	return r.extend(table, k, delt)
}

// extend integrates the table out to step k under the table's lock and publishes it.
func (r *resonance) extend(table *checkpointTable, k int, delt float64) resonanceState {
	table.mu.Lock()
	defer table.mu.Unlock()
	var pts []resonanceState
	if cur := table.points.Load(); cur != nil {
		pts = *cur
	}
	if k < len(pts) {
		return pts[k]
	}
	if len(pts) == 0 {
		pts = append(pts, resonanceState{xli: r.xlamo, xni: r.no})
	}
	for len(pts) <= k {
		last := len(pts) - 1
		pts = append(pts, r.step(pts[last], float64(last)*delt, delt))
	}
	table.points.Store(&pts)
	return pts[k]
}

// step advances the state by one 720-minute step with the reference's second-order Euler-Maclaurin
// formula.
func (r *resonance) step(s resonanceState, atime, delt float64) resonanceState {
	xndt, xldot, xnddt := r.rates(s, atime)
	return resonanceState{
		xli: s.xli + xldot*delt + xndt*resonanceStep2,
		xni: s.xni + xndt*delt + xnddt*resonanceStep2,
	}
}
