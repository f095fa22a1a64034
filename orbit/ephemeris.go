package orbit

import "time"

// Ephemeris is anything that can say where a spacecraft is at an instant. The look-angle and
// pass-search code take an Ephemeris rather than a propagator, so they work the same on an SGP4
// Propagator, on a table of states, or on a synthetic orbit in a test.
type Ephemeris interface {
	// Propagate returns the position r (km) and velocity v (km/s) at t in the TEME frame (true
	// equator, mean equinox of date, as defined for SGP4 by Vallado et al. 2006, Appendix C).
	Propagate(t time.Time) (r, v Vec3, err error)
}
