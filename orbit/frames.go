package orbit

import (
	"fmt"
	"math"
	"time"
)

// WGS-84 ellipsoid (NIMA TR8350.2). SGP4 itself uses WGS-72 constants internally; those belong
// to the propagator. The ground stations and the sub-satellite point use WGS-84, the datum of
// GNSS receivers and of the ITRF to the centimetre level.
const (
	// WGS84EquatorialRadiusKm is the semi-major axis a of the WGS-84 ellipsoid, km.
	WGS84EquatorialRadiusKm = 6378.137
	// WGS84Flattening is the flattening f = (a−b)/a of the WGS-84 ellipsoid (dimensionless).
	WGS84Flattening = 1 / 298.257223563
	// wgs84E2 is the first eccentricity squared, e² = f(2−f).
	wgs84E2 = WGS84Flattening * (2 - WGS84Flattening)
)

const (
	// j2000JD is the Julian date of J2000.0 (2000-01-01T12:00 TT; used here on the UT1 scale
	// exactly as the IAU-82 GMST formula defines it).
	j2000JD = 2451545.0
	// secondsPerDay is the number of SI seconds in a day of 86400 s.
	secondsPerDay = 86400.0
	// julianCentury is the number of days in a Julian century.
	julianCentury = 36525.0
	// geoRadPerDeg converts degrees to radians.
	geoRadPerDeg = math.Pi / 180
)

// MaxUT1MinusUTC is the largest |UT1−UTC| accepted, seconds: the IERS keeps it within 0.9 s by
// inserting leap seconds into UTC.
const MaxUT1MinusUTC = 0.9

// GMST returns the Greenwich mean sidereal time of the IAU-82 model (Vallado, "Fundamentals of
// Astrodynamics and Applications", eq. 3-45), the angle that turns SGP4's TEME frame into the
// pseudo-Earth-fixed frame, in radians in [0, 2π), and its rate in rad/s.
//
// jd is the instant on the UTC scale; ut1MinusUTC (seconds, from IERS Bulletin A; 0 if unknown,
// which costs at most 0.9 s of Earth rotation, 0.004° at the equator) moves it to UT1.
//
// The formula's largest term, 876600 h·T, is a whole number of days times 86400 s plus the
// fraction of the day, so it is applied as 86400·(fraction of the UT1 day): that keeps the
// angle precise to about 1e-10 s instead of losing digits to a 3e9 s product.
func GMST(jd JulianDate, ut1MinusUTC float64) (theta, rate float64) {
	frac := jd.Frac + ut1MinusUTC/secondsPerDay
	// jd.Day − J2000 is a whole number plus 0.5 (Day falls on midnight), exact in float64.
	days := (jd.Day - j2000JD) + frac
	t := days / julianCentury
	// Seconds of sidereal time; 86400·(0.5+frac) is the 876600 h·T term modulo whole days.
	sec := 67310.54841 + secondsPerDay*(0.5+frac) +
		(8640184.812866+(0.093104-6.2e-6*t)*t)*t
	// Whole turns removed with Floor rather than math.Mod, which is several times slower; the
	// result is the same to the last bit that matters (sec is below 1e8 s until 2100).
	turns := sec / secondsPerDay
	theta = (turns - math.Floor(turns)) * 2 * math.Pi
	// d(sec)/d(UT1 second): 1 from the daily term plus the secular terms per century.
	dsec := 1 + (8640184.812866+(2*0.093104-3*6.2e-6*t)*t)/(julianCentury*secondsPerDay)
	rate = dsec * 2 * math.Pi / secondsPerDay
	return theta, rate
}

// TEMEToECEF turns a TEME state (r km, v km/s) at t into the Earth-fixed frame: the rotation by
// GMST about the z axis gives the pseudo-Earth-fixed (PEF) frame, and the velocity loses the
// Earth's rotation, v_PEF = R·v_TEME − ω×r_PEF, so it is the velocity seen by a station.
//
// Polar motion (PEF → ITRF, x_p and y_p of about 0.3″) is neglected: it moves an Earth-fixed
// point by at most about 10 m, a pointing error below 0.002° for a spacecraft 300 km away, and
// the station coordinates themselves are rarely known that well.
// ut1MinusUTC is in seconds; see GMST.
func TEMEToECEF(r, v Vec3, t time.Time, ut1MinusUTC float64) (rECEF, vECEF Vec3) {
	theta, rate := GMST(JulianDateOf(t), ut1MinusUTC)
	return rotateTEME(r, v, theta, rate)
}

// rotateTEME applies the rotation by theta (rad) at rate (rad/s) described in TEMEToECEF.
func rotateTEME(r, v Vec3, theta, rate float64) (rECEF, vECEF Vec3) {
	s, c := math.Sincos(theta)
	rECEF = Vec3{c*r.X + s*r.Y, -s*r.X + c*r.Y, r.Z}
	// −ω×r with ω = (0, 0, rate): (rate·y, −rate·x, 0).
	vECEF = Vec3{
		c*v.X + s*v.Y + rate*rECEF.Y,
		-s*v.X + c*v.Y - rate*rECEF.X,
		v.Z,
	}
	return rECEF, vECEF
}

// Geodetic is a point given by WGS-84 geodetic coordinates.
type Geodetic struct {
	// LatitudeDeg is the geodetic latitude (angle of the ellipsoid normal to the equator),
	// degrees, north positive, in [−90, 90].
	LatitudeDeg float64
	// LongitudeDeg is the longitude, degrees, east positive, in (−180, 180].
	LongitudeDeg float64
	// AltitudeKm is the height above the ellipsoid along its normal, km.
	AltitudeKm float64
}

// GeodeticToECEF returns the Earth-fixed Cartesian position (km) of a WGS-84 geodetic point
// (Vallado eq. 3-7: the radius of curvature in the prime vertical N = a/√(1−e²sin²φ)).
func GeodeticToECEF(g Geodetic) Vec3 {
	sLat, cLat := math.Sincos(g.LatitudeDeg * geoRadPerDeg)
	sLon, cLon := math.Sincos(g.LongitudeDeg * geoRadPerDeg)
	n := WGS84EquatorialRadiusKm / math.Sqrt(1-wgs84E2*sLat*sLat)
	return Vec3{
		(n + g.AltitudeKm) * cLat * cLon,
		(n + g.AltitudeKm) * cLat * sLon,
		(n*(1-wgs84E2) + g.AltitudeKm) * sLat,
	}
}

// ECEFToGeodetic returns the WGS-84 geodetic coordinates of an Earth-fixed position r (km).
// It iterates φ = atan2(z + e²N·sinφ, p), which gains a factor of about e² ≈ 0.0067 per step,
// to 1e-14 rad (under a nanometre); the height uses the form that stays exact at the poles.
func ECEFToGeodetic(r Vec3) Geodetic {
	p := math.Hypot(r.X, r.Y)
	lat := math.Atan2(r.Z, p*(1-wgs84E2))
	for range 10 {
		s := math.Sin(lat)
		n := WGS84EquatorialRadiusKm / math.Sqrt(1-wgs84E2*s*s)
		next := math.Atan2(r.Z+wgs84E2*n*s, p)
		done := math.Abs(next-lat) < 1e-14
		lat = next
		if done {
			break
		}
	}
	sLat, cLat := math.Sincos(lat)
	h := p*cLat + r.Z*sLat - WGS84EquatorialRadiusKm*math.Sqrt(1-wgs84E2*sLat*sLat)
	lon := 0.0
	if p > 0 {
		lon = math.Atan2(r.Y, r.X)
	}
	return Geodetic{LatitudeDeg: lat / geoRadPerDeg, LongitudeDeg: lon / geoRadPerDeg, AltitudeKm: h}
}

// SubSatellitePoint returns the point on the WGS-84 ellipsoid directly below the spacecraft at
// t (along the ellipsoid normal), with the spacecraft's height above it in AltitudeKm.
// ut1MinusUTC is in seconds; see GMST.
func SubSatellitePoint(eph Ephemeris, t time.Time, ut1MinusUTC float64) (Geodetic, error) {
	r, v, err := eph.Propagate(t)
	if err != nil {
		return Geodetic{}, fmt.Errorf("sub-satellite point at %s: %w", t.UTC().Format(time.RFC3339Nano), err)
	}
	rE, _ := TEMEToECEF(r, v, t, ut1MinusUTC)
	return ECEFToGeodetic(rE), nil
}
