package orbit

import "math"

// Atmosphere model of SGP4: a power-law density between the reference altitudes below, in km.
const (
	densityFloorKm   = 78.0  // s0 of the theory: altitude where the density function starts
	densityRefKm     = 120.0 // q0 of the theory
	lowPerigeeKm     = 156.0 // below this perigee the density floor moves down with the perigee
	veryLowPerigeeKm = 98.0  // below this it is pinned at 20 km
	pinnedFloorKm    = 20.0
	// simpleDragPerigeeKm: below this perigee altitude only the first drag terms are used
	// (the "simplified" flag of the reference), because the series diverges.
	simpleDragPerigeeKm = 220.0
	// deepSpacePeriodMin: orbits at or above this period get the deep-space (SDP4) terms.
	deepSpacePeriodMin = 225.0
	// smallEccentricity: below it the drag terms that divide by e are dropped.
	smallEccentricity = 1.0e-4
	// nearPolarGuard avoids dividing by 1+cos i for retrograde equatorial orbits.
	nearPolarGuard = 1.5e-12
)

// nearEarthTerms are the coefficients sgp4init computes once; names follow the reference
// (Vallado 2006) so the code can be checked against the paper.
type nearEarthTerms struct {
	simple bool // isimp: perigee below 220 km or deep space: drop the higher drag terms

	aycof, xlcof        float64 // long-period periodic coefficients (J3)
	con41, x1mth2       float64 // 3cos²i−1 and 1−cos²i
	x7thm1              float64 // 7cos²i−1
	cc1, cc4, cc5       float64 // drag coefficients
	d2, d3, d4          float64 // higher-order drag coefficients
	t2cof, t3cof        float64 // coefficients of t², t³ in the mean longitude
	t4cof, t5cof        float64
	delmo, sinmao, eta  float64 // drag terms of the mean anomaly
	omgcof, xmcof       float64
	mdot, argpdot       float64 // secular rates of M and ω, rad/min
	nodedot, nodecf     float64 // secular rate of Ω and its drag correction
	gsto                float64 // Greenwich sidereal angle at epoch, rad
	ao, sinio, cosio    float64 // mean semi-major axis (Earth radii), sin i, cos i
	eccsq, rteosq, posq float64
	perigeeKm           float64 // perigee altitude above the WGS-72 equator, km
	xpidot              float64 // secular rate of the longitude of perigee, rad/min
}

// initl recovers the Brouwer mean motion and semi-major axis from the Kozai mean motion of the
// element set (the element sets are published with the Kozai value).
func (p *Propagator) initl() (omeosq float64) {
	m, n := &p.m0, &p.near
	n.eccsq = m.ecc * m.ecc
	omeosq = 1 - n.eccsq
	n.rteosq = math.Sqrt(omeosq)
	n.cosio = math.Cos(m.incl)
	cosio2 := n.cosio * n.cosio

	ak := math.Pow(xke/m.noKozai, twoThird)
	d1 := 0.75 * j2 * (3*cosio2 - 1) / (n.rteosq * omeosq)
	del := d1 / (ak * ak)
	adel := ak * (1 - del*del - del*(1.0/3.0+134*del*del/81))
	del = d1 / (adel * adel)
	m.no = m.noKozai / (1 + del)

	n.ao = math.Pow(xke/m.no, twoThird)
	n.sinio = math.Sin(m.incl)
	po := n.ao * omeosq
	n.posq = po * po
	n.con41 = 3*cosio2 - 1
	n.gsto = gmst1982(m.epochDays1950 + 2433281.5)
	return omeosq
}

// initNearEarth computes every coefficient that does not depend on time (sgp4init).
func (p *Propagator) initNearEarth() {
	omeosq := p.initl()
	m, n := &p.m0, &p.near
	rp := n.ao * (1 - m.ecc)
	n.simple = rp < simpleDragPerigeeKm/earthRadiusKm+1
	n.perigeeKm = (rp - 1) * earthRadiusKm
	n.x1mth2 = 1 - n.cosio*n.cosio
	n.x7thm1 = 7*n.cosio*n.cosio - 1

	g := newDragGeometry(m, n)
	cc3 := p.dragCoefficients(g, omeosq)
	xhdot1 := p.secularRates(1 / n.posq)

	n.omgcof = m.bstar * cc3 * math.Cos(m.argp)
	if m.ecc > smallEccentricity {
		n.xmcof = -twoThird * g.coef * m.bstar / g.eeta
	}
	n.nodecf = 3.5 * omeosq * xhdot1 * n.cc1
	n.t2cof = 1.5 * n.cc1
	n.aycof, n.xlcof = longPeriodCoefficients(n.sinio, n.cosio)
	n.delmo = math.Pow(1+n.eta*math.Cos(m.ma), 3)
	n.sinmao = math.Sin(m.ma)

	if twoPi/m.no >= deepSpacePeriodMin {
		n.simple = true
		p.deep = newDeepSpaceTerms(p)
		return
	}
	if !n.simple {
		n.higherDragTerms(g.tsi, g.sfour)
	}
}

// dragGeometry are the intermediate quantities of the atmosphere model at epoch.
type dragGeometry struct {
	sfour, tsi         float64 // density floor (1 + altitude, Earth radii) and 1/(a − s)
	etasq, eeta, psisq float64 // η², e·η and |1 − η²|
	coef, coef1        float64 // (q0 − s)⁴·ξ⁴ and the same over ψ^3.5
}

func newDragGeometry(m *meanElementsAtEpoch, n *nearEarthTerms) dragGeometry {
	var g dragGeometry
	var qzms24 float64
	g.sfour, qzms24 = densityParameters(n.perigeeKm)
	g.tsi = 1 / (n.ao - g.sfour)
	n.eta = n.ao * m.ecc * g.tsi
	g.etasq = n.eta * n.eta
	g.eeta = m.ecc * n.eta
	g.psisq = math.Abs(1 - g.etasq)
	g.coef = qzms24 * math.Pow(g.tsi, 4)
	g.coef1 = g.coef / math.Pow(g.psisq, 3.5)
	return g
}

// dragCoefficients sets C1, C4 and C5 of the drag theory and returns C3 (which only feeds the
// perigee drift).
func (p *Propagator) dragCoefficients(g dragGeometry, omeosq float64) (cc3 float64) {
	m, n := &p.m0, &p.near
	etasq, eeta, tsi := g.etasq, g.eeta, g.tsi
	cc2 := g.coef1 * m.no * (n.ao*(1+1.5*etasq+eeta*(4+etasq)) +
		0.375*j2*tsi/g.psisq*n.con41*(8+3*etasq*(8+etasq)))
	n.cc1 = m.bstar * cc2
	if m.ecc > smallEccentricity {
		cc3 = -2 * g.coef * tsi * j3oj2 * m.no * n.sinio / m.ecc
	}
	n.cc4 = 2 * m.no * g.coef1 * n.ao * omeosq *
		(n.eta*(2+0.5*etasq) + m.ecc*(0.5+2*etasq) -
			j2*tsi/(n.ao*g.psisq)*(-3*n.con41*(1-2*eeta+etasq*(1.5-0.5*eeta))+
				0.75*n.x1mth2*(2*etasq-eeta*(1+etasq))*math.Cos(2*m.argp)))
	n.cc5 = 2 * g.coef1 * n.ao * omeosq * (1 + 2.75*(etasq+eeta) + eeta*etasq)
	return cc3
}

// densityParameters returns s (1 + altitude of the density floor, Earth radii) and (q0−s)⁴ of
// the atmosphere model. Below a 156 km perigee the floor follows the perigee down (and is pinned
// at 20 km below 98 km) so the density function stays meaningful.
func densityParameters(perigeeKm float64) (sfour, qzms24 float64) {
	if perigeeKm >= lowPerigeeKm {
		return densityFloorKm/earthRadiusKm + 1, math.Pow((densityRefKm-densityFloorKm)/earthRadiusKm, 4)
	}
	floorKm := perigeeKm - densityFloorKm
	if perigeeKm < veryLowPerigeeKm {
		floorKm = pinnedFloorKm
	}
	return floorKm/earthRadiusKm + 1, math.Pow((densityRefKm-floorKm)/earthRadiusKm, 4)
}

// secularRates sets the secular rates of mean anomaly, argument of perigee and node from J2
// (to second order) and J4.
func (p *Propagator) secularRates(pinvsq float64) (xhdot1 float64) {
	m, n := &p.m0, &p.near
	cosio2 := n.cosio * n.cosio
	cosio4 := cosio2 * cosio2
	con42 := 1 - 5*cosio2
	temp1 := 1.5 * j2 * pinvsq * m.no
	temp2 := 0.5 * temp1 * j2 * pinvsq
	temp3 := -0.46875 * j4 * pinvsq * pinvsq * m.no
	n.mdot = m.no + 0.5*temp1*n.rteosq*n.con41 + 0.0625*temp2*n.rteosq*(13-78*cosio2+137*cosio4)
	n.argpdot = -0.5*temp1*con42 + 0.0625*temp2*(7-114*cosio2+395*cosio4) +
		temp3*(3-36*cosio2+49*cosio4)
	xhdot1 = -temp1 * n.cosio
	n.nodedot = xhdot1 + (0.5*temp2*(4-19*cosio2)+2*temp3*(3-7*cosio2))*n.cosio
	n.xpidot = n.argpdot + n.nodedot
	return xhdot1
}

// longPeriodCoefficients returns the J3 long-period coefficients for inclination i given sin i and
// cos i. 1+cos i vanishes for a retrograde equatorial orbit; the reference then divides by a
// tiny constant instead, and so do we.
func longPeriodCoefficients(sini, cosi float64) (aycof, xlcof float64) {
	aycof = -0.5 * j3oj2 * sini
	den := 1 + cosi
	if math.Abs(cosi+1) <= nearPolarGuard {
		den = nearPolarGuard
	}
	xlcof = -0.25 * j3oj2 * sini * (3 + 5*cosi) / den
	return aycof, xlcof
}

// higherDragTerms sets the t³…t⁵ drag coefficients used when the perigee is high enough.
func (n *nearEarthTerms) higherDragTerms(tsi, sfour float64) {
	cc1sq := n.cc1 * n.cc1
	n.d2 = 4 * n.ao * tsi * cc1sq
	temp := n.d2 * tsi * n.cc1 / 3
	n.d3 = (17*n.ao + sfour) * temp
	n.d4 = 0.5 * temp * n.ao * tsi * (221*n.ao + 31*sfour) * n.cc1
	n.t3cof = n.d2 + 2*cc1sq
	n.t4cof = 0.25 * (3*n.d3 + n.cc1*(12*n.d2+10*cc1sq))
	n.t5cof = 0.2 * (3*n.d4 + 12*n.cc1*n.d3 + 6*n.d2*n.d2 + 15*cc1sq*(2*n.d2+cc1sq))
}

// gmst1982 returns the Greenwich mean sidereal angle (IAU-82), radians in [0, 2π), for a Julian
// date on the UT1 scale. SDP4 uses it to place the resonance terms relative to the Earth.
func gmst1982(jdut1 float64) float64 {
	tut1 := (jdut1 - 2451545.0) / 36525.0
	sec := -6.2e-6*tut1*tut1*tut1 + 0.093104*tut1*tut1 +
		(876600.0*3600+8640184.812866)*tut1 + 67310.54841
	// 240 s of time per degree
	g := math.Mod(sec*deg2rad/240.0, twoPi)
	if g < 0 {
		g += twoPi
	}
	return g
}
