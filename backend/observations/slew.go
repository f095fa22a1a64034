package observations

import (
	"context"
	"math"
	"time"

	"github.com/talos-gs/talos/backend/store"
)

// SlewRate is a rotator's speed on each axis, degrees per second.
type SlewRate struct {
	AzDegS, ElDegS float64
}

// Pointing is where the antenna points: azimuth and elevation, degrees.
type Pointing struct {
	AzDeg float64 `json:"az_deg"`
	ElDeg float64 `json:"el_deg"`
}

// SlewTime is how long a rotator moving at rate needs from a to b: both axes move at once, so
// the slower axis decides. Azimuth takes the shorter way round (a rotator with its stop in the
// way may need the long way: the station's tracker plans that, and the margin it needs is
// the tracker issue's to feed in here).
func SlewTime(a, b Pointing, rate SlewRate) time.Duration {
	daz := math.Mod(math.Abs(a.AzDeg-b.AzDeg), 360)
	if daz > 180 {
		daz = 360 - daz
	}
	del := math.Abs(a.ElDeg - b.ElDeg)
	secs := math.Max(daz/rate.AzDegS, del/rate.ElDegS)
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// slewRateOf is a station's rotator speed: the one its team set in the station's
// auto-scheduler settings (docs/autoscheduler.md), else the setting. It is the one place a rate
// is read, so the auto-scheduler and the booking rules agree on the gaps between passes.
func (s *Service) slewRateOf(ctx context.Context, satelliteID string) (SlewRate, error) {
	set, err := s.st.AutoschedStations(ctx, []string{satelliteID})
	if err != nil {
		return SlewRate{}, err
	}
	rate := s.set.SlewRate
	if st := set[satelliteID]; st != nil {
		if st.SlewAzDegS > 0 {
			rate.AzDegS = st.SlewAzDegS
		}
		if st.SlewElDegS > 0 {
			rate.ElDegS = st.SlewElDegS
		}
	}
	return rate, nil
}

// maxSlew bounds any slew at rate: half a turn in azimuth and 90° in elevation.
func maxSlew(rate SlewRate) time.Duration {
	return SlewTime(Pointing{0, 0}, Pointing{180, 90}, rate)
}

func aosPointing(o *store.Observation) Pointing { return Pointing{o.AOSAz, o.HorizonEl} }
func losPointing(o *store.Observation) Pointing { return Pointing{o.LOSAz, o.HorizonEl} }
