package orbit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ElementSet is one set of mean orbital elements in the SGP4 theory (TEME frame, WGS-72, Kozai
// mean motion), as carried by a TLE or an OMM. Angles are in degrees, as in both formats; the
// propagator converts them.
type ElementSet struct {
	// NORADID is the satellite catalog number: 1–339999 in a TLE (Alpha-5 above 99999), up to
	// nine digits in an OMM.
	NORADID int
	// Name is the object name (line 0 of a 3-line TLE, OBJECT_NAME of an OMM); may be empty.
	Name string
	// IntlDesignator is the international designator in TLE form ("98067A"); may be empty.
	IntlDesignator string
	// Classification is 'U' (unclassified), 'C' or 'S'.
	Classification byte
	// Epoch is the instant the elements refer to, UTC, to the nanosecond.
	Epoch time.Time
	// EpochJD is the same instant as a two-part Julian date (UTC), kept separately so that
	// minutes since epoch are computed without losing the fraction of the day. The parsers fill
	// it; in a set built by hand it may be left zero and NewPropagator derives it from Epoch.
	EpochJD JulianDate
	// MeanMotion is the Kozai mean motion at epoch, in revolutions per day.
	MeanMotion float64
	// MeanMotionDot is the first time derivative of the mean motion divided by two, in
	// revolutions per day² (the TLE/OMM convention; SGP4 does not use it).
	MeanMotionDot float64
	// MeanMotionDDot is the second time derivative of the mean motion divided by six, in
	// revolutions per day³ (the TLE/OMM convention; SGP4 does not use it).
	MeanMotionDDot float64
	// BStar is the SGP4 drag term B*, in inverse Earth radii.
	BStar float64
	// Inclination is the mean inclination, in degrees, 0–180.
	Inclination float64
	// RAAN is the mean right ascension of the ascending node, in degrees, 0–360.
	RAAN float64
	// ArgPerigee is the mean argument of perigee, in degrees, 0–360.
	ArgPerigee float64
	// MeanAnomaly is the mean anomaly, in degrees, 0–360.
	MeanAnomaly float64
	// Eccentricity is the mean eccentricity, dimensionless, 0 ≤ e < 1.
	Eccentricity float64
	// ElementSetNo is the element set number (a counter kept by the issuer).
	ElementSetNo int
	// RevAtEpoch is the revolution number at epoch.
	RevAtEpoch int
}

// Validation limits shared by the TLE and OMM parsers.
const (
	// maxNORADID is the largest catalog number an OMM can carry (9 digits); a TLE stops at
	// 339999 ("Z9999" in Alpha-5).
	maxNORADID = 999999999
	// maxMeanMotion is far above any orbit (a grazing orbit makes about 17.5 rev/day); it only
	// rejects garbage.
	maxMeanMotion = 20.0
)

// Validate checks every field against its range and names the first one that is out of it.
// Both parsers call it, so an ElementSet from either one is valid; call it on sets built by
// hand.
func (es *ElementSet) Validate() error {
	checks := []struct {
		name string
		bad  bool
		val  any
	}{
		{"norad id", es.NORADID < 1 || es.NORADID > maxNORADID, es.NORADID},
		{"epoch", es.Epoch.IsZero(), es.Epoch},
		{"mean motion", !(es.MeanMotion > 0 && es.MeanMotion < maxMeanMotion), es.MeanMotion},
		{"eccentricity", !(es.Eccentricity >= 0 && es.Eccentricity < 1), es.Eccentricity},
		{"inclination", !(es.Inclination >= 0 && es.Inclination <= 180), es.Inclination},
		{"raan", !inDegreeCircle(es.RAAN), es.RAAN},
		{"argument of perigee", !inDegreeCircle(es.ArgPerigee), es.ArgPerigee},
		{"mean anomaly", !inDegreeCircle(es.MeanAnomaly), es.MeanAnomaly},
		{"bstar", !isFinite(es.BStar), es.BStar},
		{"mean motion dot", !isFinite(es.MeanMotionDot), es.MeanMotionDot},
		{"mean motion ddot", !isFinite(es.MeanMotionDDot), es.MeanMotionDDot},
		{"element set number", es.ElementSetNo < 0, es.ElementSetNo},
		{"revolution number", es.RevAtEpoch < 0, es.RevAtEpoch},
	}
	for _, c := range checks {
		if c.bad {
			return fmt.Errorf("%s: %w: %v", c.name, ErrFieldRange, c.val)
		}
	}
	return es.validateEpochJD()
}

// maxEpochMismatch is how far EpochJD may be from Epoch: float64 rounding of the fraction of the
// day is far below it, a wrong date is far above.
const maxEpochMismatch = time.Millisecond

func (es *ElementSet) validateEpochJD() error {
	if es.EpochJD == (JulianDate{}) {
		return nil
	}
	jd := es.EpochJD
	if !isFinite(jd.Day) || !(jd.Frac >= 0 && jd.Frac < 1) {
		return fmt.Errorf("epoch julian date: %w: %+v", ErrFieldRange, jd)
	}
	if d := jd.Time().Sub(es.Epoch); d > maxEpochMismatch || d < -maxEpochMismatch {
		return fmt.Errorf("epoch julian date: %w: %+v is %v from epoch %v", ErrFieldRange, jd, d, es.Epoch)
	}
	return nil
}

// ErrFieldRange is wrapped by parse errors for a field whose value is outside its valid range.
var ErrFieldRange = errors.New("value out of range")

// ErrFieldSyntax is wrapped by parse errors for a field that cannot be read at all.
var ErrFieldSyntax = errors.New("malformed value")

func inDegreeCircle(deg float64) bool { return deg >= 0 && deg <= 360 }

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// epochFromTime fills Epoch and EpochJD from t.
func (es *ElementSet) setEpoch(t time.Time) {
	es.Epoch = t.UTC()
	es.EpochJD = JulianDateOf(t)
}
