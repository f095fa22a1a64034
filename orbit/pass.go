package orbit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Pass search limits.
const (
	// MaxPassWindow is the longest window FindPasses accepts.
	MaxPassWindow = 366 * 24 * time.Hour
	// MinPassStep is the smallest coarse step PassOptions.Step accepts.
	MinPassStep = 100 * time.Millisecond
	// PassTimeTolerance is the precision of AOS, LOS and TCA: the root finders stop when the
	// bracket is narrower than this.
	PassTimeTolerance = time.Millisecond
)

// ErrInvalidPassSearch is wrapped by every error about the arguments of FindPasses.
var ErrInvalidPassSearch = errors.New("invalid pass search")

// PassOptions tunes FindPasses.
type PassOptions struct {
	// MinElevationDeg is the lowest elevation (degrees, in [−90, 90)) at which the spacecraft
	// counts as visible, everywhere; the observer's horizon mask, if any, raises it further
	// where the mask is higher.
	MinElevationDeg float64
	// Step overrides the coarse sampling step (at least MinPassStep). Zero, the default, sizes
	// it to the orbit: see docs/decisions/0006-pass-search-step.md.
	Step time.Duration
}

// Pass is one interval in which a spacecraft is above the observer's horizon mask and minimum
// elevation, clipped to the search window.
type Pass struct {
	// AOS (acquisition of signal) is when the spacecraft rises above the mask, or the window
	// start if InProgressAtStart.
	AOS time.Time
	// TCA (time of closest approach) is when the elevation is highest within the pass.
	TCA time.Time
	// LOS (loss of signal) is when it sets below the mask, or the window end if InProgressAtEnd.
	LOS time.Time
	// MaxElevationDeg is the elevation at TCA, degrees (apparent if the observer refracts).
	MaxElevationDeg float64
	// AOSAzimuthDeg and LOSAzimuthDeg are the azimuths at AOS and LOS, degrees from north,
	// clockwise.
	AOSAzimuthDeg, LOSAzimuthDeg float64
	// InProgressAtStart says the spacecraft was already visible at the window start.
	InProgressAtStart bool
	// InProgressAtEnd says the spacecraft is still visible at the window end.
	InProgressAtEnd bool
	// AlwaysVisible says the spacecraft is visible for the whole window (for example a
	// geostationary spacecraft above the mask): there is no AOS or LOS inside it.
	AlwaysVisible bool
}

// FindPasses returns the passes of eph over o between from and to, in time order, with times in
// UTC. It samples the elevation and its rate at a coarse step sized to the orbit, finds every
// extremum of the elevation between samples by Brent's method on its rate, and then every mask
// crossing on the monotone stretches between extrema, also by Brent's method, to
// PassTimeTolerance. An empty result means the spacecraft is never visible in the window. A
// propagation error (for example a decayed spacecraft) ends the search with that error.
func FindPasses(eph Ephemeris, o *Observer, from, to time.Time, opts PassOptions) ([]Pass, error) {
	if err := validatePassSearch(eph, o, from, to, opts); err != nil {
		return nil, err
	}
	// UTC without a monotonic reading, so the pass times print and compare as plain instants.
	s := newPassSearch(eph, o, from.UTC().Round(0), opts.MinElevationDeg)
	step := opts.Step.Seconds()
	if step == 0 {
		r, v, err := eph.Propagate(from)
		if err != nil {
			return nil, fmt.Errorf("find passes: size the step at %s: %w", from.UTC().Format(time.RFC3339), err)
		}
		step = coarseStepSeconds(r, v)
	}
	if err := s.scan(to.Sub(from).Seconds(), step); err != nil {
		return nil, fmt.Errorf("find passes: %w", err)
	}
	return s.passes(), nil
}

func validatePassSearch(eph Ephemeris, o *Observer, from, to time.Time, opts PassOptions) error {
	switch {
	case eph == nil:
		return fmt.Errorf("%w: ephemeris is nil", ErrInvalidPassSearch)
	case o == nil:
		return fmt.Errorf("%w: observer is nil", ErrInvalidPassSearch)
	case !to.After(from):
		return fmt.Errorf("%w: window end %s is not after its start %s", ErrInvalidPassSearch,
			to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	case to.Sub(from) > MaxPassWindow:
		return fmt.Errorf("%w: window of %s is longer than %s", ErrInvalidPassSearch, to.Sub(from), MaxPassWindow)
	case math.IsNaN(opts.MinElevationDeg) || opts.MinElevationDeg < -90 || opts.MinElevationDeg >= 90:
		return fmt.Errorf("%w: minimum elevation %g° is outside [−90, 90)", ErrInvalidPassSearch, opts.MinElevationDeg)
	case opts.Step != 0 && opts.Step < MinPassStep:
		return fmt.Errorf("%w: step %s is shorter than %s", ErrInvalidPassSearch, opts.Step, MinPassStep)
	}
	return nil
}

// passSample is the state of the search at t seconds after the window start.
type passSample struct {
	t      float64 // s since the window start
	el     float64 // elevation, degrees (apparent if the observer refracts)
	elRate float64 // geometric elevation rate, degrees/s
	az     float64 // azimuth, degrees
	g      float64 // el − threshold(az), degrees: visible when > 0
}

func (p passSample) visible() bool { return p.g > 0 }

// crossing is an instant where the visibility changes.
type crossing struct {
	at   passSample
	rise bool
}

// passSearch holds one run of FindPasses.
type passSearch struct {
	eph  Ephemeris
	o    *Observer
	from time.Time
	// minEl is the global minimum elevation; thrLo and thrHi bound the threshold over all
	// azimuths (equal when the threshold does not depend on azimuth), degrees.
	minEl, thrLo, thrHi float64
	first, last         passSample
	step, end           float64 // coarse step and window length, s
	maxima              []passSample
	crossings           []crossing
}

func newPassSearch(eph Ephemeris, o *Observer, from time.Time, minEl float64) *passSearch {
	s := &passSearch{eph: eph, o: o, from: from, minEl: minEl, thrLo: minEl, thrHi: minEl}
	if o.mask != nil {
		lo, hi := o.mask.Bounds()
		s.thrLo, s.thrHi = math.Max(minEl, lo), math.Max(minEl, hi)
	}
	return s
}

// threshold returns the minimum elevation at azimuth az, degrees.
func (s *passSearch) threshold(az float64) float64 {
	if s.o.mask == nil {
		return s.minEl
	}
	return math.Max(s.minEl, s.o.mask.MinElevation(az))
}

// at evaluates the search state t seconds after the window start.
func (s *passSearch) at(t float64) (passSample, error) {
	when := s.from.Add(time.Duration(math.Round(t * 1e9)))
	r, v, err := s.eph.Propagate(when)
	if err != nil {
		return passSample{}, fmt.Errorf("propagate to %s: %w", when.UTC().Format(time.RFC3339Nano), err)
	}
	rE, vE := TEMEToECEF(r, v, when, s.o.ut1MinusUTC)
	l := s.o.geometricLook(rE, vE)
	p := passSample{t: t, el: l.ElevationDeg, elRate: l.ElevationRateDegS, az: l.AzimuthDeg}
	if s.o.atmosphere != nil {
		p.el += s.o.atmosphere.Refraction(p.el)
	}
	p.g = p.el - s.threshold(p.az)
	return p, nil
}

// scan samples [0, end] seconds every step seconds, splits it at the elevation extrema into
// monotone stretches and records the visibility crossings on each.
func (s *passSearch) scan(end, step float64) error {
	prev, err := s.at(0)
	if err != nil {
		return err
	}
	s.first, s.step, s.end = prev, step, end
	for k := 1; ; k++ {
		t := math.Min(float64(k)*step, end)
		cur, err := s.at(t)
		if err != nil {
			return err
		}
		if err := s.interval(prev, cur); err != nil {
			return err
		}
		prev = cur
		if t >= end {
			break
		}
	}
	s.last = prev
	return nil
}

// interval handles one coarse step [a, b]: a sign change of the elevation rate brackets an
// extremum, which splits the step into two monotone stretches.
func (s *passSearch) interval(a, b passSample) error {
	isMax := a.elRate > 0 && b.elRate <= 0
	isMin := a.elRate < 0 && b.elRate >= 0
	if !isMax && !isMin {
		return s.monotone(a, b)
	}
	tol := PassTimeTolerance.Seconds()
	rate := func(t float64) (float64, error) {
		p, err := s.at(t)
		return p.elRate, err
	}
	t, err := brentRoot(rate, a.t, b.t, a.elRate, b.elRate, tol)
	if err != nil {
		return err
	}
	m, err := s.at(t)
	if err != nil {
		return err
	}
	if isMax {
		if err := s.recordMaximum(m, a, b); err != nil {
			return err
		}
	}
	if err := s.monotone(a, m); err != nil {
		return err
	}
	return s.monotone(m, b)
}

// recordMaximum keeps the elevation maximum at the rate root m (bracketed by the coarse step
// [a, b]) for the TCA of the pass it falls in. One that may belong to a pass is polished on the
// elevation itself; the stretches stay split at the rate root, which lies inside [a, b].
func (s *passSearch) recordMaximum(m, a, b passSample) error {
	if m.el > s.thrLo-maxPolishMarginDeg {
		lo, hi := math.Max(0, a.t-s.step), math.Min(s.end, b.t+s.step)
		var err error
		if m, err = s.polishMaximum(m, lo, hi); err != nil {
			return err
		}
	}
	s.maxima = append(s.maxima, m)
	return nil
}

// monotone records the visibility crossings in (a, b], over which the elevation is monotone.
func (s *passSearch) monotone(a, b passSample) error {
	lo, hi := math.Min(a.el, b.el), math.Max(a.el, b.el)
	if hi <= s.thrLo || lo > s.thrHi {
		// Below the lowest threshold or above the highest throughout: no crossing possible.
		return nil
	}
	if s.thrLo == s.thrHi {
		// A threshold independent of azimuth: g is monotone too, one crossing at most.
		return s.crossingIn(a, b)
	}
	return s.maskBand(a, b)
}

// maskStep is the sub-step (seconds) at which the visibility is sampled while the elevation is
// within the band of a mask whose height varies with azimuth, and maskBandSamples the most
// sub-samples spent on one monotone stretch (longer stretches get a longer sub-step).
const (
	maskStep        = 2.0
	maskBandSamples = 2000
)

// maskBand records the crossings of a varying mask on a monotone stretch: they can only happen
// while the elevation is between the lowest and highest threshold, so that part is found by
// root-finding and sampled at maskStep.
func (s *passSearch) maskBand(a, b passSample) error {
	c, err := s.elevationCrossing(a, b, s.thrLo)
	if err != nil {
		return err
	}
	d, err := s.elevationCrossing(a, b, s.thrHi)
	if err != nil {
		return err
	}
	if c.t > d.t {
		c, d = d, c
	}
	// The ends a→c and d→b matter too: at c and d the root-finder leaves g within a hair of
	// zero on either side, so a crossing right at the band's edge may fall just outside it.
	if err := s.crossingIn(a, c); err != nil {
		return err
	}
	step := math.Max(maskStep, (d.t-c.t)/maskBandSamples)
	prev := c
	for t := c.t + step; ; t += step {
		cur := d
		if t < d.t {
			if cur, err = s.at(t); err != nil {
				return err
			}
		}
		if err := s.crossingIn(prev, cur); err != nil {
			return err
		}
		if cur.t >= d.t {
			break
		}
		prev = cur
	}
	return s.crossingIn(d, b)
}

// elevationCrossing returns the sample where the elevation equals level on the monotone stretch
// [a, b], or the end of the stretch nearest to it if it does not reach it.
func (s *passSearch) elevationCrossing(a, b passSample, level float64) (passSample, error) {
	switch {
	case (a.el-level)*(b.el-level) <= 0:
	case math.Abs(a.el-level) < math.Abs(b.el-level):
		return a, nil
	default:
		return b, nil
	}
	f := func(t float64) (float64, error) {
		p, err := s.at(t)
		return p.el - level, err
	}
	t, err := brentRoot(f, a.t, b.t, a.el-level, b.el-level, PassTimeTolerance.Seconds())
	if err != nil {
		return passSample{}, err
	}
	return s.at(t)
}

// crossingIn records the crossing in (a, b] if the visibility differs at its ends; the
// threshold must be crossed at most once in between.
func (s *passSearch) crossingIn(a, b passSample) error {
	if a.visible() == b.visible() {
		return nil
	}
	f := func(t float64) (float64, error) {
		p, err := s.at(t)
		return p.g, err
	}
	t, err := brentRoot(f, a.t, b.t, a.g, b.g, PassTimeTolerance.Seconds())
	if err != nil {
		return err
	}
	p, err := s.at(t)
	if err != nil {
		return err
	}
	s.crossings = append(s.crossings, crossing{at: p, rise: b.visible()})
	return nil
}
