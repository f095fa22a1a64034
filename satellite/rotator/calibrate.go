package rotator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// CalibrateOptions tune Calibrate. The zero value of each field means its default.
type CalibrateOptions struct {
	// MoveDeg is the length of the timed move on each axis, degrees; default 20. Longer moves
	// time the rate more precisely (a controller's acceleration counts for less).
	MoveDeg float64
	// Poll is the readback cadence while timing; default 50 ms.
	Poll time.Duration
	// Timeout bounds each axis's move; default 2 minutes.
	Timeout time.Duration
	// Clock times the moves; nil means the system clock.
	Clock clock.Clock
}

// Calibration is what Calibrate measured.
type Calibration struct {
	// Rate is the measured slew rate per axis, degrees per second.
	Rate SlewRate
	// AzDeg and ElDeg are the distances timed on each axis (degrees: between the first and the
	// last readback in motion, leaving out the latency, the start and the stop), AzTime and
	// ElTime how long they took.
	AzDeg, ElDeg   float64
	AzTime, ElTime time.Duration
}

// calibrateStartDeg is the movement that marks the start of the timed part of a move, and
// calibrateArriveDeg how near the target counts as arrived (degrees).
const (
	calibrateStartDeg  = 0.2
	calibrateArriveDeg = 0.5
)

// ErrCalibrateTooFast is returned when a move ends before two readbacks could time it.
var ErrCalibrateTooFast = errors.New("calibrate: the move ended before it could be timed; use a longer move")

// Calibrate times a move of MoveDeg on each axis of rot (azimuth, then elevation, within its
// limits) by reading the position back every Poll, and returns the slew rates: the distance
// covered between the first and the last readback that show the axis in motion, over the
// time between them (the command latency, the start and the stop are left out). It moves the rotator
// back to where it stood at the end, without waiting.
func Calibrate(ctx context.Context, rot Rotator, opts CalibrateOptions) (Calibration, error) {
	opts = opts.withDefaults()
	if !(opts.MoveDeg > 1 && opts.MoveDeg <= 180) {
		return Calibration{}, fmt.Errorf("calibrate: move %v° must be in (1, 180]", opts.MoveDeg)
	}
	az0, el0, err := rot.Position(ctx)
	if err != nil {
		return Calibration{}, fmt.Errorf("calibrate: read position: %w", err)
	}
	lim := rot.Limits()
	var c Calibration
	azTo, ok := moveWithin(az0, opts.MoveDeg, lim.MinAz, lim.MaxAz)
	if !ok {
		return c, fmt.Errorf("calibrate: no room for a %v° azimuth move from %v° inside %v..%v", opts.MoveDeg, az0, lim.MinAz, lim.MaxAz)
	}
	if c.AzDeg, c.AzTime, err = timeMove(ctx, rot, opts, az0, el0, azTo, el0, 0); err != nil {
		return c, fmt.Errorf("calibrate azimuth: %w", err)
	}
	elTo, ok := moveWithin(el0, opts.MoveDeg, lim.MinEl, math.Min(lim.MaxEl, 90))
	if !ok {
		return c, fmt.Errorf("calibrate: no room for a %v° elevation move from %v° inside %v..%v", opts.MoveDeg, el0, lim.MinEl, lim.MaxEl)
	}
	if c.ElDeg, c.ElTime, err = timeMove(ctx, rot, opts, azTo, el0, azTo, elTo, 1); err != nil {
		return c, fmt.Errorf("calibrate elevation: %w", err)
	}
	c.Rate = SlewRate{AzDegS: c.AzDeg / c.AzTime.Seconds(), ElDegS: c.ElDeg / c.ElTime.Seconds()}
	if err := rot.SetPosition(ctx, az0, el0); err != nil {
		return c, fmt.Errorf("calibrate: move back: %w", err)
	}
	return c, c.Rate.Validate()
}

func (o CalibrateOptions) withDefaults() CalibrateOptions {
	if o.MoveDeg == 0 {
		o.MoveDeg = 20
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return o
}

// moveWithin returns from+d, or from−d when that is outside [lo, hi].
func moveWithin(from, d, lo, hi float64) (float64, bool) {
	switch {
	case from+d <= hi:
		return from + d, true
	case from-d >= lo:
		return from - d, true
	}
	return 0, false
}

// timeMove commands (toAz, toEl) and times axis (0 azimuth, 1 elevation) between the first
// and the last readback that show it in motion: moved from the start, not yet at the target
// (a readback at the target may come a poll after the rotator stopped).
func timeMove(ctx context.Context, rot Rotator, o CalibrateOptions, fromAz, fromEl, toAz, toEl float64, axis int) (float64, time.Duration, error) {
	if err := rot.SetPosition(ctx, toAz, toEl); err != nil {
		return 0, 0, err
	}
	from, to := [2]float64{fromAz, fromEl}[axis], [2]float64{toAz, toEl}[axis]
	deadline := o.Clock.Now().Add(o.Timeout)
	var first, last struct {
		pos float64
		at  time.Time
	}
	for {
		az, el, err := rot.Position(ctx)
		if err != nil {
			return 0, 0, err
		}
		now, pos := o.Clock.Now(), [2]float64{az, el}[axis]
		if math.Abs(pos-to) <= calibrateArriveDeg {
			if first.at.IsZero() || !last.at.After(first.at) {
				return 0, 0, ErrCalibrateTooFast
			}
			return math.Abs(last.pos - first.pos), last.at.Sub(first.at), nil
		}
		if math.Abs(pos-from) >= calibrateStartDeg {
			if first.at.IsZero() {
				first.pos, first.at = pos, now
			}
			last.pos, last.at = pos, now
		}
		if now.After(deadline) {
			return 0, 0, fmt.Errorf("the rotator did not reach %v° in %s (it reads %v°): stuck or not moving", to, o.Timeout, pos)
		}
		if err := clock.Wait(ctx, o.Clock, o.Poll); err != nil {
			return 0, 0, err
		}
	}
}
