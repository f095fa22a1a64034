package planner

import (
	"math"
	"time"

	"github.com/talos-gs/talos/orbit"
)

const (
	// timeTolerance is the precision of AOS and LOS, seconds, and tcaTolerance that of TCA,
	// where the elevation is flat (an error of 0.1 s changes it by well under 0.001°). orbit's
	// is 1 ms; the planner's contract is 1 s, and every step of a root finder is an evaluation.
	timeTolerance = 0.01
	tcaTolerance  = 0.1
	// newtonSteps bounds the safeguarded iterations of a crossing and an extremum.
	newtonSteps = 40
	// maskStep and maskSamples sub-sample a stretch whose elevation lies within the band of a
	// varying mask, as orbit's pass search does.
	maskStep    = 2.0
	maskSamples = 2000
)

// point is the state of one pair at t seconds from the window start.
type point struct {
	t     float64
	sinEl float64 // sine of the geometric elevation
	rate  float64 // its time derivative, 1/s
	g     float64 // > 0 when visible: sinEl − sin(threshold), or el − threshold(az) with a mask
}

func (p point) visible() bool { return p.g > 0 }

type crossing struct {
	at   point
	rise bool
}

// search finds the passes of one spacecraft over one station within a run of near samples; a
// worker reuses it for every pair.
type search struct {
	tr        *track
	st        *station
	maxima    []point
	crossings []crossing
}

// run searches station i from sample a−1 to sample b+1 (clipped to the window) and appends the
// passes found to out. Outside a run the station cannot see the spacecraft, so the first point
// is visible only at the window start and the last only at the window end.
func (s *search) run(n *network, tr *track, i, a, b int, out []found) []found {
	s.tr, s.st = tr, &n.stations[i]
	s.maxima, s.crossings = s.maxima[:0], s.crossings[:0]
	lo := math.Max(0, float64(a-1)*tr.h)
	hi := math.Min(tr.end, float64(b+1)*tr.h)
	if hi <= lo {
		return out
	}
	first := s.eval(lo)
	prev := first
	for k := a; ; k++ {
		t := math.Min(float64(k)*tr.h, hi)
		if t <= prev.t {
			continue
		}
		cur := s.eval(t)
		s.interval(prev, cur)
		prev = cur
		if t >= hi {
			break
		}
	}
	return s.passes(n, i, first, prev, out)
}

// eval is the pair's state at t.
func (s *search) eval(t float64) point {
	r, v := s.tr.at(t)
	rho := r.Sub(s.st.ecef)
	n := rho.Norm()
	u := rho.Dot(s.st.up)
	p := point{t: t, sinEl: u / n}
	p.rate = (v.Dot(s.st.up)*n - u*rho.Dot(v)/n) / (n * n)
	if s.st.mask == nil {
		p.g = p.sinEl - s.st.sinMin
	} else {
		az := azimuth(rho, s.st)
		p.g = math.Asin(p.sinEl)/radPerDeg - s.st.threshold(az)
	}
	return p
}

func azimuth(rho orbit.Vec3, st *station) float64 {
	az := math.Atan2(rho.Dot(st.east), rho.Dot(st.north)) / radPerDeg
	if az < 0 {
		az = math.Mod(az+360, 360)
	}
	return az
}

func (s *search) root(f func(point) float64, a, b point, tol float64) point {
	t, _ := orbit.FindRoot(func(t float64) (float64, error) { return f(s.eval(t)), nil },
		a.t, b.t, f(a), f(b), tol)
	return s.eval(t)
}

func gOf(p point) float64 { return p.g }

// extremum finds the root of the elevation rate in [a, b], where it changes sign. Each step
// fits the cubic through the bracket's ends (sin(elevation) and its rate at both) and evaluates
// where its derivative vanishes, then keeps the half that still brackets the sign change; near
// a smooth maximum the cubic is nearly exact, so two or three evaluations reach tcaTolerance.
// It bisects instead when the cubic's estimate leaves the bracket, or when two steps have not
// halved it (the estimates creeping up on one end instead of closing in): a guard that rejected
// every estimate near an end made it bisect down to tcaTolerance, eleven evaluations a pass.
func (s *search) extremum(a, b point) point {
	t, width := cubicStationary(a, b), b.t-a.t
	for i := range newtonSteps {
		m := s.eval(t)
		if m.rate == 0 {
			return m
		}
		if (m.rate > 0) == (a.rate > 0) {
			a = m
		} else {
			b = m
		}
		next := cubicStationary(a, b)
		if math.Abs(next-t) < tcaTolerance || b.t-a.t < tcaTolerance {
			return m
		}
		if i%2 == 1 {
			if b.t-a.t > width/2 {
				next = math.NaN()
			}
			width = b.t - a.t
		}
		if !(next > a.t && next < b.t) {
			next = a.t + (b.t-a.t)/2
		}
		t = next
	}
	return s.eval(t)
}

// cubicStationary returns where the derivative of the cubic Hermite interpolant of sin(el)
// through a and b vanishes inside [a, b], or the secant root of the rate if it has none there.
func cubicStationary(a, b point) float64 {
	h := b.t - a.t
	// p(s) on s ∈ [0, 1]; p'(s)/h = c2 s² + c1 s + c0 with the rates at both ends as p'(0), p'(1).
	d0, d1 := a.rate*h, b.rate*h
	dy := b.sinEl - a.sinEl
	c2 := 3*(d0+d1) - 6*dy
	c1 := 6*dy - 4*d0 - 2*d1
	c0 := d0
	secant := a.t + h*d0/(d0-d1)
	if math.Abs(c2) < 1e-12 {
		return secant
	}
	disc := c1*c1 - 4*c2*c0
	if disc < 0 {
		return secant
	}
	q := -(c1 + math.Copysign(math.Sqrt(disc), c1)) / 2
	for _, x := range [2]float64{q / c2, c0 / q} {
		if x > 0 && x < 1 {
			return a.t + x*h
		}
	}
	return secant
}

// crossing finds where g changes sign in [a, b]. Without a mask g is sin(elevation) less a
// constant, so its derivative is the rate eval already computes: a Newton iteration from the
// secant guess, kept inside the shrinking bracket (bisection when a step would leave it),
// converges in two or three evaluations where Brent's method takes ten.
func (s *search) crossing(a, b point) point {
	if s.st.mask != nil {
		return s.root(gOf, a, b, timeTolerance)
	}
	lo, hi := a, b
	t := a.t - a.g*(b.t-a.t)/(b.g-a.g)
	for range newtonSteps {
		p := s.eval(t)
		if p.g == 0 {
			return p
		}
		if (p.g > 0) == (lo.g > 0) {
			lo = p
		} else {
			hi = p
		}
		next := t - p.g/p.rate
		if p.rate == 0 || next <= math.Min(lo.t, hi.t) || next >= math.Max(lo.t, hi.t) {
			next = (lo.t + hi.t) / 2
		}
		if math.Abs(next-t) < timeTolerance {
			return p
		}
		t = next
	}
	return s.eval(t)
}

// interval handles one step [a, b]: a sign change of the elevation rate brackets an extremum
// (at most one per step, decision 0006), which splits it into two monotone stretches.
func (s *search) interval(a, b point) {
	isMax := a.rate > 0 && b.rate <= 0
	// Without a mask, a minimum matters only between two visible ends, where the pair may set
	// and rise again within the step; elsewhere g stays below its higher end and crosses at
	// most once. A mask's band is judged on the ends' elevations, so there it always splits.
	isMin := a.rate < 0 && b.rate >= 0 && (s.st.mask != nil || a.visible() && b.visible())
	if !isMax && !isMin {
		s.monotone(a, b)
		return
	}
	m := s.extremum(a, b)
	if isMax {
		s.maxima = append(s.maxima, m)
	}
	s.monotone(a, m)
	s.monotone(m, b)
}

// monotone records the visibility crossings in (a, b], over which the elevation is monotone.
func (s *search) monotone(a, b point) {
	if s.st.mask == nil {
		s.crossingIn(a, b)
		return
	}
	lo := math.Asin(math.Min(a.sinEl, b.sinEl)) / radPerDeg
	hi := math.Asin(math.Max(a.sinEl, b.sinEl)) / radPerDeg
	if hi <= s.st.thrLo || lo > s.st.thrHi {
		return
	}
	step := math.Max(maskStep, (b.t-a.t)/maskSamples)
	prev := a
	for t := a.t + step; ; t += step {
		cur := b
		if t < b.t {
			cur = s.eval(t)
		}
		s.crossingIn(prev, cur)
		if cur.t >= b.t {
			return
		}
		prev = cur
	}
}

func (s *search) crossingIn(a, b point) {
	if a.visible() == b.visible() {
		return
	}
	s.crossings = append(s.crossings, crossing{at: s.crossing(a, b), rise: b.visible()})
}

// passes turns the crossings between first and last into passes.
func (s *search) passes(n *network, i int, first, last point, out []found) []found {
	start, open, atStart := first, first.visible(), first.visible()
	for _, c := range s.crossings {
		switch {
		case c.rise && !open:
			start, open, atStart = c.at, true, false
		case !c.rise && open:
			out = append(out, s.pass(i, start, c.at, atStart, false))
			open = false
		}
	}
	if open {
		out = append(out, s.pass(i, start, last, atStart, last.t >= n.end || last.t >= s.tr.end))
	}
	return out
}

func (s *search) pass(i int, aos, los point, atStart, atEnd bool) found {
	tca := aos
	if los.sinEl > aos.sinEl {
		tca = los
	}
	for _, m := range s.maxima {
		if m.t >= aos.t && m.t <= los.t && m.sinEl >= tca.sinEl {
			tca = m
		}
	}
	f := found{
		station: int32(i), aos: aos.t, tca: tca.t, los: los.t,
		maxEl: math.Asin(tca.sinEl) / radPerDeg,
		aosAz: s.azimuthAt(aos.t), losAz: s.azimuthAt(los.t),
	}
	if atStart {
		f.flags |= flagAtStart
	}
	if atEnd {
		f.flags |= flagAtEnd
	}
	return f
}

func (s *search) azimuthAt(t float64) float64 {
	r, _ := s.tr.at(t)
	return azimuth(r.Sub(s.st.ecef), s.st)
}

func (n *network) time(t float64) time.Time {
	return n.from.Add(time.Duration(math.Round(t * 1e9)))
}
