package orbit

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// MaskPoint is one point of a horizon mask: at AzimuthDeg (degrees from north, clockwise, in
// [0, 360)) the spacecraft must be at least ElevationDeg (degrees, in [−90, 90]) high to be seen.
type MaskPoint struct {
	AzimuthDeg   float64
	ElevationDeg float64
}

// HorizonMask is a minimum elevation that depends on azimuth, interpolated linearly in azimuth
// between its points and wrapping through north (from the last point back to the first). It is
// immutable and safe for concurrent use.
type HorizonMask struct {
	points   []MaskPoint // sorted by azimuth, distinct azimuths
	min, max float64     // degrees
}

// NewHorizonMask builds a mask from at least one point, in any order. Azimuths must be distinct.
// A single point gives a constant minimum elevation.
func NewHorizonMask(points []MaskPoint) (*HorizonMask, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("%w: horizon mask has no points", ErrInvalidObserver)
	}
	ps := slices.Clone(points)
	for i, p := range ps {
		if math.IsNaN(p.AzimuthDeg) || p.AzimuthDeg < 0 || p.AzimuthDeg >= 360 {
			return nil, fmt.Errorf("%w: horizon mask point %d: azimuth %g° is outside [0, 360)",
				ErrInvalidObserver, i, p.AzimuthDeg)
		}
		if math.IsNaN(p.ElevationDeg) || p.ElevationDeg < -90 || p.ElevationDeg > 90 {
			return nil, fmt.Errorf("%w: horizon mask point %d: elevation %g° is outside [−90, 90]",
				ErrInvalidObserver, i, p.ElevationDeg)
		}
	}
	slices.SortFunc(ps, func(a, b MaskPoint) int { return cmpFloat(a.AzimuthDeg, b.AzimuthDeg) })
	m := &HorizonMask{points: ps, min: ps[0].ElevationDeg, max: ps[0].ElevationDeg}
	for i, p := range ps {
		if i > 0 && p.AzimuthDeg == ps[i-1].AzimuthDeg {
			return nil, fmt.Errorf("%w: horizon mask has two points at azimuth %g°", ErrInvalidObserver, p.AzimuthDeg)
		}
		m.min = math.Min(m.min, p.ElevationDeg)
		m.max = math.Max(m.max, p.ElevationDeg)
	}
	return m, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Points returns a copy of the mask's points, sorted by azimuth.
func (m *HorizonMask) Points() []MaskPoint { return slices.Clone(m.points) }

// Bounds returns the lowest and highest minimum elevation of the mask, degrees.
func (m *HorizonMask) Bounds() (lo, hi float64) { return m.min, m.max }

// MinElevation returns the minimum elevation (degrees) at azimuth azDeg (degrees; any value,
// reduced modulo 360).
func (m *HorizonMask) MinElevation(azDeg float64) float64 {
	n := len(m.points)
	if n == 1 {
		return m.points[0].ElevationDeg
	}
	az := math.Mod(azDeg, 360)
	if az < 0 {
		az += 360
	}
	// i is the first point at or after az; the segment runs from point i−1 to point i, and
	// wraps through 360° before the first and after the last point.
	i := sort.Search(n, func(k int) bool { return m.points[k].AzimuthDeg >= az })
	a, b := m.points[(i-1+n)%n], m.points[i%n]
	span := b.AzimuthDeg - a.AzimuthDeg
	off := az - a.AzimuthDeg
	if span <= 0 {
		span += 360
	}
	if off < 0 {
		off += 360
	}
	return a.ElevationDeg + (b.ElevationDeg-a.ElevationDeg)*off/span
}
