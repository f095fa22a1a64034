package orbit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// WGS-72 constants, as SGP4 requires: the element sets are fitted with them, so using WGS-84
// here would make positions worse, not better.
const (
	// earthRadiusKm is the WGS-72 equatorial radius, km.
	earthRadiusKm = 6378.135
	// earthMu is the WGS-72 gravitational parameter, km³/s².
	earthMu = 398600.8
	j2      = 0.001082616
	j3      = -0.00000253881
	j4      = -0.00000165597
	j3oj2   = j3 / j2

	twoPi    = 2 * math.Pi
	deg2rad  = math.Pi / 180
	twoThird = 2.0 / 3.0
	// minPerDay converts rev/day to rev/min.
	minPerDay = 1440.0
)

var (
	// xke is √(μ/R³) in 1/minute: the theory's time unit is the time for one radian of a
	// circular orbit at one Earth radius.
	xke = 60.0 / math.Sqrt(earthRadiusKm*earthRadiusKm*earthRadiusKm/earthMu)
	// kmPerSecPerER converts a velocity in Earth radii per minute to km/s.
	kmPerSecPerER = earthRadiusKm * xke / 60.0
)

// maxAbsMinutes bounds the time since epoch the propagator accepts: ±190 years. SGP4 means
// nothing that far out; the bound keeps the deep-space checkpoint table and the work per call
// bounded for any input.
const maxAbsMinutes = 1e8

// ErrTimeOutOfRange is returned for a time that is not finite or more than about 190 years
// (10⁸ minutes) from the epoch.
var ErrTimeOutOfRange = errors.New("time since epoch not finite or beyond ±1e8 minutes")

// Propagator computes TEME position and velocity of one element set with SGP4 (near Earth,
// period < 225 min) or SDP4 (deep space), following Vallado, Crawford, Hujsak and Kelso,
// "Revisiting Spacetrack Report #3" (AIAA 2006-6753), improved mode, WGS-72.
//
// A Propagator is immutable after NewPropagator except for the deep-space resonance checkpoint
// table, which is built lazily under a mutex and read without locks; it is safe for concurrent
// use, and a propagation allocates nothing once the table covers the time asked for.
type Propagator struct {
	es      *ElementSet
	epochJD JulianDate

	m0   meanElementsAtEpoch
	near nearEarthTerms
	deep *deepSpaceTerms // nil for near-Earth orbits
}

// meanElementsAtEpoch are the SGP4 mean elements in the units of the theory: radians, Earth radii,
// radians per minute.
type meanElementsAtEpoch struct {
	ecc, incl, node, argp, ma float64
	noKozai                   float64 // Kozai mean motion, rad/min
	no                        float64 // Brouwer ("un-Kozai'd") mean motion, rad/min
	bstar                     float64
	epochDays1950             float64 // days since 1949-12-31 00:00 UT, the theory's time origin
}

// NewPropagator validates es and initialises the propagator. Invalid elements return an error:
// a field error from Validate, or a *PropagationError (codes 1–6) when the orbit cannot be
// propagated even at its epoch. The propagator keeps its own copy of es.
func NewPropagator(es *ElementSet) (*Propagator, error) {
	if es == nil {
		return nil, errors.New("new propagator: nil element set")
	}
	if err := es.Validate(); err != nil {
		return nil, fmt.Errorf("new propagator: %w", err)
	}
	own := *es // a caller changing its set later must not change ours
	es = &own
	if es.EpochJD == (JulianDate{}) {
		es.EpochJD = JulianDateOf(es.Epoch)
	}
	p := &Propagator{es: es, epochJD: es.EpochJD}
	p.m0 = meanElementsFrom(es)
	p.initNearEarth()
	if _, _, err := p.PropagateMinutes(0); err != nil {
		return nil, fmt.Errorf("new propagator: norad %d: %w", es.NORADID, err)
	}
	return p, nil
}

func meanElementsFrom(es *ElementSet) meanElementsAtEpoch {
	// The reference divides by minutes-per-radian-per-day; keep the same operation order.
	xpdotp := minPerDay / twoPi
	return meanElementsAtEpoch{
		ecc:           es.Eccentricity,
		incl:          es.Inclination * deg2rad,
		node:          es.RAAN * deg2rad,
		argp:          es.ArgPerigee * deg2rad,
		ma:            es.MeanAnomaly * deg2rad,
		noKozai:       es.MeanMotion / xpdotp,
		bstar:         es.BStar,
		epochDays1950: epochDays1950(es.EpochJD),
	}
}

// epochDays1950 returns the epoch in days since 1949-12-31 00:00 UT, the time origin of the
// theory, used for Greenwich sidereal time and the Sun's and Moon's positions at epoch. The
// reference forms it from a single float64 Julian date, which rounds the epoch to about 40 µs;
// we round the same way, on purpose: it moves the Sun and Moon by nothing measurable, but makes
// the deep-space terms agree bit for bit (an exact epoch shifts WIND, e = 0.97, by 4 mm).
// Minutes since epoch, which is what matters, are still computed from the exact two-part date.
func epochDays1950(jd JulianDate) float64 {
	return (jd.Day + jd.Frac) - 2433281.5
}

// ElementSet returns the propagator's copy of the element set it was built from; treat it as
// read-only.
func (p *Propagator) ElementSet() *ElementSet { return p.es }

// Epoch returns the epoch of the element set, UTC.
func (p *Propagator) Epoch() time.Time { return p.es.Epoch }

// Period returns the anomalistic period computed from the Brouwer mean motion at epoch.
func (p *Propagator) Period() time.Duration {
	return time.Duration(twoPi / p.m0.no * float64(time.Minute))
}

// DeepSpace reports whether the orbit period is 225 minutes or more, so SDP4's lunar-solar and
// resonance terms apply.
func (p *Propagator) DeepSpace() bool { return p.deep != nil }

// Propagate returns the TEME position (km) and velocity (km/s) at t. The time since epoch is
// taken from two-part Julian dates, so it is exact to well below a microsecond at any distance
// from the epoch. For code 6 (decayed) the computed, sub-surface state is returned with the
// error; for the other errors r and v are zero.
func (p *Propagator) Propagate(t time.Time) (r, v Vec3, err error) {
	return p.PropagateMinutes(JulianDateOf(t).MinutesSince(p.epochJD))
}

// PropagateMinutes returns the TEME position (km) and velocity (km/s) tsince minutes after the
// epoch (negative before it). Errors are *PropagationError values wrapping the sentinels of
// errors.go, or ErrTimeOutOfRange.
func (p *Propagator) PropagateMinutes(tsince float64) (r, v Vec3, err error) {
	if !(math.Abs(tsince) <= maxAbsMinutes) {
		return Vec3{}, Vec3{}, fmt.Errorf("%w: %g", ErrTimeOutOfRange, tsince)
	}
	return p.propagate(tsince)
}
