package rotator

import (
	"fmt"
	"math"
	"time"
)

// SlewRate is how fast a rotator turns, per axis, in degrees per second. Most rotators drive
// both axes at once, so a move takes as long as its slower axis. `talos-satellite rotator
// calibrate` measures it on the real rotator.
type SlewRate struct {
	// AzDegS is the azimuth rate, degrees per second.
	AzDegS float64 `json:"az_deg_s" yaml:"az_deg_s"`
	// ElDegS is the elevation rate, degrees per second.
	ElDegS float64 `json:"el_deg_s" yaml:"el_deg_s"`
}

// DefaultSlewRate is a Yaesu G-5500's azimuth speed, and Hamlib's dummy rotator's (both axes).
var DefaultSlewRate = SlewRate{AzDegS: 6, ElDegS: 6}

// orDefault fills a zero axis with DefaultSlewRate's.
func (s SlewRate) orDefault() SlewRate {
	if s.AzDegS == 0 {
		s.AzDegS = DefaultSlewRate.AzDegS
	}
	if s.ElDegS == 0 {
		s.ElDegS = DefaultSlewRate.ElDegS
	}
	return s
}

// Validate reports a rate that is not a positive number up to 360°/s, naming the axis.
func (s SlewRate) Validate() error {
	for _, a := range []struct {
		name string
		v    float64
	}{{"az_slew_rate_deg_s", s.AzDegS}, {"el_slew_rate_deg_s", s.ElDegS}} {
		if !(a.v > 0 && a.v <= 360) {
			return fmt.Errorf("%s: %v °/s must be in (0, 360]", a.name, a.v)
		}
	}
	return nil
}

// MoveTime is how long the rotator takes to turn from (fromAz, fromEl) to (toAz, toEl), in its
// own coordinates (degrees): the slower axis's time, both axes moving at once.
func (s SlewRate) MoveTime(fromAz, fromEl, toAz, toEl float64) time.Duration {
	sec := math.Max(math.Abs(toAz-fromAz)/s.AzDegS, math.Abs(toEl-fromEl)/s.ElDegS)
	return time.Duration(sec * float64(time.Second))
}

// FullRangeTime is the longest move inside lim: from one end of each axis to the other.
func (s SlewRate) FullRangeTime(lim Limits) time.Duration {
	return s.MoveTime(lim.MinAz, lim.MinEl, lim.MaxAz, lim.MaxEl)
}
