package orbit

import "math"

// Lunar-solar constants of SDP4 (Hujsak 1979 as kept by Vallado 2006). Rates are rad/min.
const (
	solarMeanMotion = 1.19459e-5             // zns
	lunarMeanMotion = 1.5835218e-4           // znl
	solarEcc        = 0.01675                // zes
	lunarEcc        = 0.05490                // zel
	solarPert       = 2.9864797e-6           // c1ss
	lunarPert       = 4.7968065e-7           // c1l
	sinEcliptic     = 0.39785416             // zsinis: sine of the obliquity
	cosEcliptic     = 0.91744867             // zcosis
	solarCosG       = 0.1945905              // zcosgs
	solarSinG       = -0.98088458            // zsings
	lowInclination  = 5.2359877e-2           // 3°: below it the node terms are dropped (singular)
	lyddaneInclRad  = 0.2                    // below it the periodics use Lyddane's non-singular form
	earthRotRadMin  = 4.37526908801129966e-3 // rptim: Earth rotation, rad/min
	days1900To1950  = 18261.5                // days from 1900 January 0.5 (JD 2415020) to the theory's 1950 origin
)

// thirdBody holds the geometry of the Sun or the Moon relative to the orbit (the s and z
// quantities of dscom).
type thirdBody struct {
	s1, s2, s3, s4, s5, s6, s7   float64
	z1, z2, z3                   float64
	z11, z12, z13, z21, z22, z23 float64
	z31, z32, z33                float64
}

// periodicCoeffs are the coefficients of one body's long-period periodics in e, i, l, ω−Ω cos i
// and Ω, plus its mean anomaly at epoch.
type periodicCoeffs struct {
	e2, e3, i2, i3, l2, l3, l4, gh2, gh3, gh4, h2, h3 float64
	zm0, rate, ecc                                    float64
}

// lunarSolarTerms are the long-period lunar and solar periodics (dpper).
type lunarSolarTerms struct {
	sun, moon periodicCoeffs
}

// deepSpaceTerms are everything SDP4 adds for orbits of 225 minutes or more.
type deepSpaceTerms struct {
	ls lunarSolarTerms
	// secular lunar-solar rates of e, i, M, Ω and ω, per minute
	dedt, didt, dmdt, dnodt, domdt float64
	gsto                           float64
	res                            *resonance // nil when the orbit is not resonant
}

// orbitAngles are the epoch quantities dscom needs.
type orbitAngles struct {
	sinim, cosim, sinomm, cosomm, snodm, cnodm float64
	em, emsq, betasq, rtemsq, xnoi             float64
}

// newDeepSpaceTerms computes the lunar-solar and resonance terms at epoch (dscom and dsinit).
func newDeepSpaceTerms(p *Propagator) *deepSpaceTerms {
	m := &p.m0
	a := orbitAngles{em: m.ecc, xnoi: 1 / m.no}
	a.snodm, a.cnodm = math.Sin(m.node), math.Cos(m.node)
	a.sinomm, a.cosomm = math.Sin(m.argp), math.Cos(m.argp)
	a.sinim, a.cosim = math.Sin(m.incl), math.Cos(m.incl)
	a.emsq = a.em * a.em
	a.betasq = 1 - a.emsq
	a.rtemsq = math.Sqrt(a.betasq)

	day := m.epochDays1950 + days1900To1950
	moon := moonGeometry(day)
	sun := bodyTerms(solarCosG, solarSinG, cosEcliptic, sinEcliptic, a.cnodm, a.snodm, solarPert, a)
	lunar := bodyTerms(moon.cosg, moon.sing, moon.cosi, moon.sini,
		moon.cosh*a.cnodm+moon.sinh*a.snodm, a.snodm*moon.cosh-a.cnodm*moon.sinh, lunarPert, a)

	d := &deepSpaceTerms{gsto: p.near.gsto}
	d.ls.sun = periodicsOf(sun, a.emsq, solarEcc)
	d.ls.sun.zm0 = math.Mod(6.2565837+0.017201977*day, twoPi)
	d.ls.sun.rate = solarMeanMotion
	d.ls.moon = periodicsOf(lunar, a.emsq, lunarEcc)
	d.ls.moon.zm0 = math.Mod(4.7199672+0.22997150*day-moon.gam, twoPi)
	d.ls.moon.rate = lunarMeanMotion
	d.secularRates(sun, lunar, a, m.incl)
	d.res = newResonance(p, d, a)
	return d
}

// moonOrbit is the orientation of the Moon's orbit at epoch.
type moonOrbit struct {
	cosi, sini, cosh, sinh, cosg, sing, gam float64
}

// moonGeometry computes the Moon's orbit orientation at epoch from the regression of its node;
// day counts days since 1900 January 0.5 (JD 2415020.0), the origin of the lunar and solar mean
// elements used here: the epoch in days since 1950 plus 18261.5.
func moonGeometry(day float64) moonOrbit {
	xnodce := math.Mod(4.5236020-9.2422029e-4*day, twoPi)
	stem, ctem := math.Sin(xnodce), math.Cos(xnodce)
	var mo moonOrbit
	mo.cosi = 0.91375164 - 0.03568096*ctem
	mo.sini = math.Sqrt(1 - mo.cosi*mo.cosi)
	mo.sinh = 0.089683511 * stem / mo.sini
	mo.cosh = math.Sqrt(1 - mo.sinh*mo.sinh)
	mo.gam = 5.8351514 + 0.0019443680*day
	zx := 0.39785416 * stem / mo.sini
	zy := mo.cosh*ctem + 0.91744867*mo.sinh*stem
	zx = math.Atan2(zx, zy)
	zx = mo.gam + zx - xnodce
	mo.cosg, mo.sing = math.Cos(zx), math.Sin(zx)
	return mo
}

// bodyTerms computes the s and z quantities for one perturbing body whose orbit has the given
// orientation (cos/sin of its perigee g, inclination i and node h relative to the satellite's
// node) and strength cc.
func bodyTerms(zcosg, zsing, zcosi, zsini, zcosh, zsinh, cc float64, a orbitAngles) thirdBody {
	a1 := zcosg*zcosh + zsing*zcosi*zsinh
	a3 := -zsing*zcosh + zcosg*zcosi*zsinh
	a7 := -zcosg*zsinh + zsing*zcosi*zcosh
	a8 := zsing * zsini
	a9 := zsing*zsinh + zcosg*zcosi*zcosh
	a10 := zcosg * zsini
	a2 := a.cosim*a7 + a.sinim*a8
	a4 := a.cosim*a9 + a.sinim*a10
	a5 := -a.sinim*a7 + a.cosim*a8
	a6 := -a.sinim*a9 + a.cosim*a10

	x1 := a1*a.cosomm + a2*a.sinomm
	x2 := a3*a.cosomm + a4*a.sinomm
	x3 := -a1*a.sinomm + a2*a.cosomm
	x4 := -a3*a.sinomm + a4*a.cosomm
	x5 := a5 * a.sinomm
	x6 := a6 * a.sinomm
	x7 := a5 * a.cosomm
	x8 := a6 * a.cosomm

	var b thirdBody
	emsq := a.emsq
	b.z31 = 12*x1*x1 - 3*x3*x3
	b.z32 = 24*x1*x2 - 6*x3*x4
	b.z33 = 12*x2*x2 - 3*x4*x4
	b.z1 = 3*(a1*a1+a2*a2) + b.z31*emsq
	b.z2 = 6*(a1*a3+a2*a4) + b.z32*emsq
	b.z3 = 3*(a3*a3+a4*a4) + b.z33*emsq
	b.z11 = -6*a1*a5 + emsq*(-24*x1*x7-6*x3*x5)
	b.z12 = -6*(a1*a6+a3*a5) + emsq*(-24*(x2*x7+x1*x8)-6*(x3*x6+x4*x5))
	b.z13 = -6*a3*a6 + emsq*(-24*x2*x8-6*x4*x6)
	b.z21 = 6*a2*a5 + emsq*(24*x1*x5-6*x3*x7)
	b.z22 = 6*(a4*a5+a2*a6) + emsq*(24*(x2*x5+x1*x6)-6*(x4*x7+x3*x8))
	b.z23 = 6*a4*a6 + emsq*(24*x2*x6-6*x4*x8)
	b.z1 = b.z1 + b.z1 + a.betasq*b.z31
	b.z2 = b.z2 + b.z2 + a.betasq*b.z32
	b.z3 = b.z3 + b.z3 + a.betasq*b.z33
	b.s3 = cc * a.xnoi
	b.s2 = -0.5 * b.s3 / a.rtemsq
	b.s4 = b.s3 * a.rtemsq
	b.s1 = -15 * a.em * b.s4
	b.s5 = x1*x3 + x2*x4
	b.s6 = x2*x3 + x1*x4
	b.s7 = x2*x4 - x1*x3
	return b
}

// periodicsOf turns one body's geometry into its periodic coefficients; ecc is the body's
// orbital eccentricity (the Sun's or the Moon's).
func periodicsOf(b thirdBody, emsq, ecc float64) periodicCoeffs {
	return periodicCoeffs{
		e2:  2 * b.s1 * b.s6,
		e3:  2 * b.s1 * b.s7,
		i2:  2 * b.s2 * b.z12,
		i3:  2 * b.s2 * (b.z13 - b.z11),
		l2:  -2 * b.s3 * b.z2,
		l3:  -2 * b.s3 * (b.z3 - b.z1),
		l4:  -2 * b.s3 * (-21 - 9*emsq) * ecc,
		gh2: 2 * b.s4 * b.z32,
		gh3: 2 * b.s4 * (b.z33 - b.z31),
		gh4: -18 * b.s4 * ecc,
		h2:  -2 * b.s2 * b.z22,
		h3:  -2 * b.s2 * (b.z23 - b.z21),
		ecc: ecc,
	}
}

// bodyRates are one body's secular contributions to de/dt, di/dt, dM/dt, d(ω+Ω cos i)/dt and
// dΩ/dt (before division by sin i), per minute.
type bodyRates struct{ e, i, m, gh, h float64 }

func secularOf(b thirdBody, rate, emsq float64) bodyRates {
	return bodyRates{
		e:  b.s1 * rate * b.s5,
		i:  b.s2 * rate * (b.z11 + b.z13),
		m:  -rate * b.s3 * (b.z1 + b.z3 - 14 - 6*emsq),
		gh: b.s4 * rate * (b.z31 + b.z33 - 6),
		h:  -rate * b.s2 * (b.z21 + b.z23),
	}
}

// secularRates sets the secular lunar-solar rates (first part of dsinit). The node terms are
// singular at zero inclination and are dropped below 3° (and above 177°).
func (d *deepSpaceTerms) secularRates(sun, moon thirdBody, a orbitAngles, incl float64) {
	s := secularOf(sun, solarMeanMotion, a.emsq)
	l := secularOf(moon, lunarMeanMotion, a.emsq)
	nearEquatorial := incl < lowInclination || incl > math.Pi-lowInclination
	if nearEquatorial {
		s.h, l.h = 0, 0
	}
	shs := s.h
	if a.sinim != 0 {
		shs /= a.sinim
	}
	sgs := s.gh - a.cosim*shs
	d.dedt = s.e + l.e
	d.didt = s.i + l.i
	d.dmdt = s.m + l.m
	d.domdt = sgs + l.gh
	d.dnodt = shs
	if a.sinim != 0 {
		d.domdt -= a.cosim / a.sinim * l.h
		d.dnodt += l.h / a.sinim
	}
}

// secular applies the secular lunar-solar rates and the resonance to the mean elements at t
// minutes (dspace).
func (d *deepSpaceTerms) secular(t float64, s *meanState, p *Propagator) {
	s.em += d.dedt * t
	s.inclm += d.didt * t
	s.argpm += d.domdt * t
	s.nodem += d.dnodt * t
	s.mm += d.dmdt * t
	if d.res == nil {
		return
	}
	theta := math.Mod(d.gsto+t*earthRotRadMin, twoPi)
	xl, nm := d.res.at(t)
	if d.res.halfDay {
		s.mm = xl - 2*s.nodem + 2*theta
	} else {
		s.mm = xl - s.nodem - s.argpm + theta
	}
	dndt := nm - p.m0.no
	s.nm = p.m0.no + dndt
}

// apply adds the lunar-solar long-period periodics at t minutes to o (dpper). Below 0.2 rad of
// inclination it uses Lyddane's modification, which avoids dividing by sin i.
func (ls *lunarSolarTerms) apply(t float64, o *osculatingInput) {
	s := ls.sun.at(t)
	l := ls.moon.at(t)
	pe := s.e + l.e
	pinc := s.i + l.i
	pl := s.l + l.l
	pgh := s.gh + l.gh
	ph := s.h + l.h

	o.incl += pinc
	o.ep += pe
	sinip, cosip := math.Sincos(o.incl)
	o.sinip, o.cosip = sinip, cosip
	if o.incl >= lyddaneInclRad {
		ph /= sinip
		pgh -= cosip * ph
		o.argp += pgh
		o.node += ph
		o.mp += pl
		return
	}
	lyddane(o, sinip, cosip, pinc, pl, pgh, ph)
}

// lyddane applies the periodics in the non-singular variables sin i sin Ω and sin i cos Ω.
// Improved mode: the node is not forced into [0, 2π) (the "afspc" mode did that), but it is kept
// on the same branch as before the correction.
func lyddane(o *osculatingInput, sinip, cosip, pinc, pl, pgh, ph float64) {
	sinop, cosop := math.Sincos(o.node)
	alfdp := sinip * sinop
	betdp := sinip * cosop
	dalf := ph*cosop + pinc*cosip*sinop
	dbet := -ph*sinop + pinc*cosip*cosop
	alfdp += dalf
	betdp += dbet
	o.node = math.Mod(o.node, twoPi)
	xls := o.mp + o.argp + cosip*o.node
	dls := pl + pgh - pinc*o.node*sinip
	xls += dls
	xnoh := o.node
	o.node = math.Atan2(alfdp, betdp)
	if math.Abs(xnoh-o.node) > math.Pi {
		if o.node < xnoh {
			o.node += twoPi
		} else {
			o.node -= twoPi
		}
	}
	o.mp += pl
	o.argp = xls - o.mp - cosip*o.node
}

// bodyPeriodics are one body's periodic corrections at one time.
type bodyPeriodics struct{ e, i, l, gh, h float64 }

func (c *periodicCoeffs) at(t float64) bodyPeriodics {
	zm := c.zm0 + c.rate*t
	zf := zm + 2*c.ecc*math.Sin(zm)
	sinzf, coszf := math.Sincos(zf)
	f2 := 0.5*sinzf*sinzf - 0.25
	f3 := -0.5 * sinzf * coszf
	return bodyPeriodics{
		e:  c.e2*f2 + c.e3*f3,
		i:  c.i2*f2 + c.i3*f3,
		l:  c.l2*f2 + c.l3*f3 + c.l4*sinzf,
		gh: c.gh2*f2 + c.gh3*f3 + c.gh4*sinzf,
		h:  c.h2*f2 + c.h3*f3,
	}
}
