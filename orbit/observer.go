package orbit

import (
	"errors"
	"fmt"
	"math"
)

// Limits on an observer's position, chosen to catch unit mistakes (feet, kilometres) rather than
// to describe the Earth: the lowest dry land is about −430 m.
const (
	// MinObserverAltitudeM is the lowest accepted observer height above the ellipsoid, metres.
	MinObserverAltitudeM = -1000.0
	// MaxObserverAltitudeM is the highest accepted observer height above the ellipsoid, metres.
	MaxObserverAltitudeM = 100000.0
)

// ErrInvalidObserver is wrapped by every error about an observer's parameters.
var ErrInvalidObserver = errors.New("invalid observer")

// Observer is a ground station on the WGS-84 ellipsoid with its viewing conditions. It is
// immutable after NewObserver and safe for concurrent use.
type Observer struct {
	geo  Geodetic
	ecef Vec3 // km
	// east, north and up are the unit vectors of the local horizon frame in ECEF: the rows of
	// the ECEF → ENU rotation (Vallado eq. 4-1, written as ENU instead of SEZ).
	east, north, up Vec3
	mask            *HorizonMask
	ut1MinusUTC     float64     // seconds
	atmosphere      *Atmosphere // nil: no refraction
}

// ObserverOption sets an optional property of an Observer.
type ObserverOption func(*Observer) error

// WithHorizonMask gives the observer a per-azimuth minimum elevation (terrain, buildings) that
// the pass search respects. Without one the horizon is the ellipsoid's tangent plane.
func WithHorizonMask(m *HorizonMask) ObserverOption {
	return func(o *Observer) error {
		if m == nil {
			return fmt.Errorf("%w: horizon mask is nil", ErrInvalidObserver)
		}
		o.mask = m
		return nil
	}
}

// WithUT1MinusUTC sets UT1−UTC in seconds (IERS Bulletin A, |value| ≤ 0.9 s) for the Earth
// rotation angle. Without it UT1 = UTC, an error of at most 0.9 s of rotation (0.004°).
func WithUT1MinusUTC(seconds float64) ObserverOption {
	return func(o *Observer) error {
		if math.IsNaN(seconds) || math.Abs(seconds) > MaxUT1MinusUTC {
			return fmt.Errorf("%w: ut1_minus_utc %g s is outside [−%g, %g] s",
				ErrInvalidObserver, seconds, MaxUT1MinusUTC, MaxUT1MinusUTC)
		}
		o.ut1MinusUTC = seconds
		return nil
	}
}

// WithRefraction makes the observer report apparent (refracted) elevations for the given
// atmosphere; see Atmosphere.Refraction for the formula and its range of validity.
func WithRefraction(a Atmosphere) ObserverOption {
	return func(o *Observer) error {
		if err := a.validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidObserver, err)
		}
		o.atmosphere = &a
		return nil
	}
}

// NewObserver returns an observer at geodetic latitude latDeg (degrees, north positive, in
// [−90, 90]), longitude lonDeg (degrees, east positive, in [−180, 360)) and altM metres above
// the WGS-84 ellipsoid (not above sea level: the geoid differs by up to ±100 m).
func NewObserver(latDeg, lonDeg, altM float64, opts ...ObserverOption) (*Observer, error) {
	switch {
	case math.IsNaN(latDeg) || latDeg < -90 || latDeg > 90:
		return nil, fmt.Errorf("%w: latitude %g° is outside [−90, 90]", ErrInvalidObserver, latDeg)
	case math.IsNaN(lonDeg) || lonDeg < -180 || lonDeg >= 360:
		return nil, fmt.Errorf("%w: longitude %g° is outside [−180, 360)", ErrInvalidObserver, lonDeg)
	case math.IsNaN(altM) || altM < MinObserverAltitudeM || altM > MaxObserverAltitudeM:
		return nil, fmt.Errorf("%w: altitude %g m is outside [%g, %g] m",
			ErrInvalidObserver, altM, MinObserverAltitudeM, MaxObserverAltitudeM)
	}
	if lonDeg > 180 {
		lonDeg -= 360
	}
	o := &Observer{geo: Geodetic{LatitudeDeg: latDeg, LongitudeDeg: lonDeg, AltitudeKm: altM / 1000}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	o.ecef = GeodeticToECEF(o.geo)
	sLat, cLat := math.Sincos(latDeg * geoRadPerDeg)
	sLon, cLon := math.Sincos(lonDeg * geoRadPerDeg)
	o.east = Vec3{-sLon, cLon, 0}
	o.north = Vec3{-sLat * cLon, -sLat * sLon, cLat}
	o.up = Vec3{cLat * cLon, cLat * sLon, sLat}
	return o, nil
}

// Location returns the observer's geodetic position (AltitudeKm in km).
func (o *Observer) Location() Geodetic { return o.geo }

// ECEF returns the observer's Earth-fixed position, km.
func (o *Observer) ECEF() Vec3 { return o.ecef }

// Mask returns the observer's horizon mask, or nil if it has none.
func (o *Observer) Mask() *HorizonMask { return o.mask }

// UT1MinusUTC returns the UT1−UTC the observer uses, seconds.
func (o *Observer) UT1MinusUTC() float64 { return o.ut1MinusUTC }

// Horizon returns the unit vectors of the observer's local horizon frame in ECEF: east, north
// and up (the geodetic normal). A caller that evaluates many look angles from one observer, such
// as a network planner, projects onto them directly.
func (o *Observer) Horizon() (east, north, up Vec3) { return o.east, o.north, o.up }
