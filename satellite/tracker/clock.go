package tracker

import (
	"time"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// ScaledClock reads Start when created and then runs Speed times faster than the system
// clock; its timers are system timers shortened by Speed. It lets an operator dry-run a pass
// on simulated devices in seconds (talos-satellite track --from ... --speed 60), and the
// acceptance tests track whole passes against real Hamlib daemons in under a minute.
type ScaledClock struct {
	realStart time.Time
	start     time.Time
	speed     float64
}

var _ clock.Clock = (*ScaledClock)(nil)

// NewScaledClock returns a clock reading start now and running speed (> 0) times faster.
func NewScaledClock(start time.Time, speed float64) *ScaledClock {
	return &ScaledClock{realStart: time.Now(), start: start, speed: speed}
}

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.realStart)) * c.speed))
}

// NewTimer returns a system timer firing after d/speed of wall time.
func (c *ScaledClock) NewTimer(d time.Duration) clock.Timer {
	return wallTimer{time.NewTimer(time.Duration(float64(d) / c.speed))}
}

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time { return w.t.C }
func (w wallTimer) Stop() bool          { return w.t.Stop() }
