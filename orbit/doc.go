// Package orbit computes where a spacecraft is and how a ground station sees it: element sets
// parsed from TLE and OMM (ParseTLE, ParseTLEs, ParseOMMJSON, ParseOMMKVN), propagated with the
// project's own SGP4/SDP4 (NewPropagator), turned into Earth-fixed and geodetic positions
// (TEMEToECEF, ECEFToGeodetic), look angles and range rate from an Observer on the WGS-84
// ellipsoid, Doppler-shifted frequencies, and passes over a horizon mask (FindPasses).
//
// Units: distances in km (except NewObserver's altitude, metres, as operators give it), speeds
// in km/s, angles in degrees, frequencies in Hz, times as time.Time (UTC). The propagator is checked against Vallado's 33 verification cases and the geometry
// against Skyfield (docs/orbit-propagation.md, docs/orbit-geometry.md; decisions 0002-0009).
//
// orbit imports nothing else of Talos, so the backend and the station share it, and it never
// panics or exits on bad input: malformed element sets and failed propagations are errors.
package orbit
