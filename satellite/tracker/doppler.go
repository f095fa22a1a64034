package tracker

import (
	"context"
	"fmt"
	"math"

	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/rotator"
)

// DefaultDeadbandHz is the smallest frequency change worth a retune, Hz: below it the radio
// would only be kept busy.
const DefaultDeadbandHz = 1.0

// tuner keeps one radio on a Doppler-corrected frequency. It is used from one goroutine.
type tuner struct {
	radio    rotator.Radio
	baseHz   float64 // the frequency as the spacecraft sees it, Hz
	uplink   bool    // true: transmit so that the spacecraft receives baseHz
	deadband float64 // Hz

	set      bool
	lastHz   float64 // last frequency commanded, Hz
	retunes  int
	errorHz  float64 // |readback − wanted| after the latest retune, Hz
	maxError float64
}

// corrected returns the frequency to tune for the range rate rrKmS (km/s, positive receding):
// f·(1 − ṙ/c) on the downlink, f/(1 − ṙ/c) on the uplink.
func (u *tuner) corrected(rrKmS float64) float64 {
	if u.uplink {
		return orbit.UplinkFrequency(u.baseHz, rrKmS)
	}
	return orbit.DownlinkFrequency(u.baseHz, rrKmS)
}

// update retunes the radio if the corrected frequency moved by the deadband or more since the
// last command, then reads the frequency back. It reports whether it retuned.
func (u *tuner) update(ctx context.Context, rrKmS float64) (bool, error) {
	want := u.corrected(rrKmS)
	if u.set && math.Abs(want-u.lastHz) < u.deadband {
		return false, nil
	}
	if err := u.radio.SetFrequency(ctx, want); err != nil {
		return false, fmt.Errorf("tune %.0f Hz: %w", want, err)
	}
	u.set, u.lastHz = true, want
	u.retunes++
	got, err := u.radio.Frequency(ctx)
	if err != nil {
		return true, fmt.Errorf("read back frequency: %w", err)
	}
	u.errorHz = math.Abs(got - want)
	u.maxError = math.Max(u.maxError, u.errorHz)
	return true, nil
}
