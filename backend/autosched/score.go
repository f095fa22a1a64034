package autosched

import (
	"math"
	"time"
)

// Quality weights (docs/autoscheduler.md). A pass's quality is the product of an elevation term
// and a duration term, each from qualityFloor to 1: a zenith pass of fullDuration or longer is
// 1; a pass grazing the horizon, or a short one, keeps qualityFloor of its term so that a
// high-priority spacecraft's low pass still beats a low-priority one's zenith pass.
const (
	qualityFloor = 0.2
	fullDuration = 15 * time.Minute
)

// Quality rates a pass 0.04–1 from its maximum elevation (degrees; higher is a shorter path
// through less atmosphere and less ground clutter) and its duration (more time, more data).
func Quality(maxElevationDeg float64, d time.Duration) float64 {
	el := math.Max(0, math.Min(maxElevationDeg, 90)) / 90
	dur := math.Max(0, math.Min(d.Seconds()/fullDuration.Seconds(), 1))
	return (qualityFloor + (1-qualityFloor)*el) * (qualityFloor + (1-qualityFloor)*dur)
}

// rates returns s's slew rates with the defaults applied.
func (s SlewRate) rates() SlewRate {
	if !(s.AzimuthDegS > 0) {
		s.AzimuthDegS = DefaultSlewRateDegS
	}
	if !(s.ElevationDegS > 0) {
		s.ElevationDegS = DefaultSlewRateDegS
	}
	return s
}

// Time is how long the rotator takes from one pointing to another: both axes turn at once,
// each at its own rate, so the slower axis decides. Azimuth does not wrap through north: a
// rotator with a stop there (the common 0–360° kind) must turn the long way, and a 450° one
// that could take the short way just waits a little longer than it needs.
func (s SlewRate) Time(from, to Pointing) time.Duration {
	r := s.rates()
	az := math.Abs(normAz(to.AzimuthDeg) - normAz(from.AzimuthDeg))
	el := math.Abs(to.ElevationDeg - from.ElevationDeg)
	secs := math.Max(az/r.AzimuthDegS, el/r.ElevationDegS)
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// maxTime is the longest slew at s (a full azimuth turn and a full elevation swing).
func (s SlewRate) maxTime() time.Duration {
	return s.Time(Pointing{0, 0}, Pointing{360 - 1e-9, 90})
}

func normAz(az float64) float64 {
	az = math.Mod(az, 360)
	if az < 0 {
		az += 360
	}
	return az
}
