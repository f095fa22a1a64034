package tracker

import (
	"fmt"
	"time"

	"github.com/talos-gs/talos/orbit"
)

// Look is where the station sees the spacecraft at one instant.
type Look struct {
	// AzDeg is the azimuth, degrees clockwise from north in [0, 360).
	AzDeg float64
	// ElDeg is the elevation above the horizon, degrees.
	ElDeg float64
	// RangeRateKmS is the rate of change of the range, km/s, positive when receding.
	RangeRateKmS float64
}

// Target is what the tracker follows. The orbit-backed OrbitTarget is the real one; tests use
// synthetic passes.
type Target interface {
	Look(t time.Time) (Look, error)
}

// OrbitTarget follows a spacecraft's ephemeris (an SGP4 propagator) from an observer.
type OrbitTarget struct {
	Ephemeris orbit.Ephemeris
	Observer  *orbit.Observer
}

// Look propagates the ephemeris to t and returns the look angles.
func (o OrbitTarget) Look(t time.Time) (Look, error) {
	l, err := o.Observer.Look(o.Ephemeris, t)
	if err != nil {
		return Look{}, fmt.Errorf("orbit target: %w", err)
	}
	return Look{AzDeg: l.AzimuthDeg, ElDeg: l.ElevationDeg, RangeRateKmS: l.RangeRateKmS}, nil
}

// SampleTrack samples target every step from start to end (both included), for PlanPass.
func SampleTrack(target Target, start, end time.Time, step time.Duration) ([]SkyPoint, error) {
	if step <= 0 || end.Before(start) {
		return nil, fmt.Errorf("sample track: bad window %s..%s step %s", start, end, step)
	}
	n := int(end.Sub(start)/step) + 1
	out := make([]SkyPoint, 0, n+1)
	for t := start; !t.After(end); t = t.Add(step) {
		l, err := target.Look(t)
		if err != nil {
			return nil, fmt.Errorf("sample track at %s: %w", t.Format(time.RFC3339), err)
		}
		out = append(out, SkyPoint{T: t, AzDeg: l.AzDeg, ElDeg: l.ElDeg})
	}
	if last := out[len(out)-1].T; last.Before(end) {
		l, err := target.Look(end)
		if err != nil {
			return nil, fmt.Errorf("sample track at %s: %w", end.Format(time.RFC3339), err)
		}
		out = append(out, SkyPoint{T: end, AzDeg: l.AzDeg, ElDeg: l.ElDeg})
	}
	return out, nil
}
