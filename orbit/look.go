package orbit

import (
	"fmt"
	"math"
	"time"
)

// Look is where an observer sees a spacecraft at one instant.
type Look struct {
	// AzimuthDeg is measured from geodetic north, clockwise (east = 90°), degrees in [0, 360).
	// At the zenith, where it is undefined, it is 0.
	AzimuthDeg float64
	// ElevationDeg is the angle above the plane tangent to the WGS-84 ellipsoid at the observer,
	// degrees in [−90, 90]: geometric, or apparent if the observer has refraction enabled.
	ElevationDeg float64
	// RangeKm is the distance from the observer to the spacecraft, km.
	RangeKm float64
	// RangeRateKmS is the rate of change of RangeKm, km/s, positive when the spacecraft recedes.
	// It is computed from the Earth-fixed relative velocity (ρ·ρ̇/|ρ|), not by differences.
	RangeRateKmS float64
	// AzimuthRateDegS is the rate of change of AzimuthDeg, degrees/s (0 at the zenith).
	AzimuthRateDegS float64
	// ElevationRateDegS is the rate of change of the geometric elevation, degrees/s.
	ElevationRateDegS float64
}

// Look propagates eph to t and returns the look angles from o. ut1MinusUTC and refraction come
// from the observer's options.
func (o *Observer) Look(eph Ephemeris, t time.Time) (Look, error) {
	r, v, err := eph.Propagate(t)
	if err != nil {
		return Look{}, fmt.Errorf("look angles at %s: %w", t.UTC().Format(time.RFC3339Nano), err)
	}
	rE, vE := TEMEToECEF(r, v, t, o.ut1MinusUTC)
	return o.LookECEF(rE, vE), nil
}

// LookECEF returns the look angles from o to a spacecraft at Earth-fixed position r (km) with
// Earth-fixed velocity v (km/s), as returned by TEMEToECEF.
func (o *Observer) LookECEF(r, v Vec3) Look {
	l := o.geometricLook(r, v)
	if o.atmosphere != nil {
		l.ElevationDeg += o.atmosphere.Refraction(l.ElevationDeg)
	}
	return l
}

// geometricLook is LookECEF without refraction. The observer is fixed in ECEF, so the relative
// velocity is the spacecraft's Earth-fixed velocity.
func (o *Observer) geometricLook(r, v Vec3) Look {
	rho := r.Sub(o.ecef)
	e, n, u := rho.Dot(o.east), rho.Dot(o.north), rho.Dot(o.up)
	de, dn, du := v.Dot(o.east), v.Dot(o.north), v.Dot(o.up)
	h2 := e*e + n*n
	h := math.Sqrt(h2)
	rng := rho.Norm()
	l := Look{
		ElevationDeg: math.Atan2(u, h) / geoRadPerDeg,
		RangeKm:      rng,
	}
	if rng > 0 {
		l.RangeRateKmS = (e*de + n*dn + u*du) / rng
	}
	if h > 0 {
		az := math.Atan2(e, n) / geoRadPerDeg
		if az < 0 {
			// A tiny negative angle would round to 360 itself; keep [0, 360).
			az = math.Mod(az+360, 360)
		}
		l.AzimuthDeg = az
		l.AzimuthRateDegS = (de*n - e*dn) / h2 / geoRadPerDeg
		// d/dt atan2(u, h) = (u̇·h − u·ḣ)/ρ², with ḣ = (e·ė + n·ṅ)/h.
		l.ElevationRateDegS = (du*h2 - u*(e*de+n*dn)) / (h * rng * rng) / geoRadPerDeg
	}
	return l
}
