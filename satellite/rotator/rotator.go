// Package rotator drives a station's antenna rotator and radio. It holds the two small
// interfaces the tracker codes against (Rotator, Radio), clients for Hamlib's network daemons
// rotctld and rigctld (no cgo), in-process simulators with a slew rate for tests and `make run`,
// and a Monitor that reads the position back after every move and reports stuck and lost
// rotators as events.
package rotator

import (
	"context"
	"fmt"
)

// Rotator points an antenna. Angles in degrees: azimuth clockwise from true north, elevation
// above the horizon. Implementations are safe for concurrent use.
type Rotator interface {
	// SetPosition commands the rotator to azDeg, elDeg (degrees). It returns once the device
	// accepted the command, not when it arrives: read Position to follow the move.
	SetPosition(ctx context.Context, azDeg, elDeg float64) error
	// Position reads back where the rotator is now (degrees).
	Position(ctx context.Context) (azDeg, elDeg float64, err error)
	// Stop halts any motion at once.
	Stop(ctx context.Context) error
	// Park moves the rotator to its park position (defined by the device or daemon).
	Park(ctx context.Context) error
	// Limits returns the device's range (degrees), read from the device where it tells, else the
	// configured limits.
	Limits() Limits
	// SlewRate returns how fast the rotator turns per axis (degrees per second): the
	// configured rate (measured by `talos-satellite rotator calibrate`), or a simulator's own.
	SlewRate() SlewRate
}

// Radio tunes a receiver/transceiver. Frequencies in Hz; passband in Hz. Implementations are
// safe for concurrent use.
type Radio interface {
	// SetFrequency tunes the current VFO to hz (Hz).
	SetFrequency(ctx context.Context, hz float64) error
	// Frequency reads the current VFO's frequency (Hz).
	Frequency(ctx context.Context) (hz float64, err error)
	// SetMode sets the modulation (Hamlib names: "FM", "USB", "LSB", "CW", "AM", "PKTFM", ...)
	// and the passband in Hz; passbandHz 0 keeps the radio's default for the mode, -1 leaves the
	// passband unchanged.
	SetMode(ctx context.Context, mode string, passbandHz int) error
	// Mode reads the modulation and the passband (Hz).
	Mode(ctx context.Context) (mode string, passbandHz int, err error)
}

// Limits is a rotator's mechanical range, in degrees. MaxAz above 360 means the rotator has an
// overlap (e.g. 0–450); MinAz below 0 means a -180–180 style range; MaxEl 180 means a flip
// (0–180° elevation) rotator.
type Limits struct {
	// MinAz is the smallest azimuth the rotator accepts, in degrees.
	MinAz float64 `json:"min_az" yaml:"min_az"`
	// MaxAz is the largest azimuth the rotator accepts, in degrees.
	MaxAz float64 `json:"max_az" yaml:"max_az"`
	// MinEl is the smallest elevation the rotator accepts, in degrees.
	MinEl float64 `json:"min_el" yaml:"min_el"`
	// MaxEl is the largest elevation the rotator accepts, in degrees.
	MaxEl float64 `json:"max_el" yaml:"max_el"`
}

// DefaultLimits is the common 0–360° azimuth, 0–90° elevation range.
var DefaultLimits = Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 90}

// Validate reports a range that cannot be a rotator's, naming the field.
func (l Limits) Validate() error {
	switch {
	case l.MinAz >= l.MaxAz:
		return fmt.Errorf("limits: min_az %g must be below max_az %g", l.MinAz, l.MaxAz)
	case l.MinAz < -360 || l.MaxAz > 720 || l.MaxAz-l.MinAz > 720:
		// Hamlib's dummy rotator spans -180..450 (630°); nothing real turns more than two turns.
		return fmt.Errorf("limits: azimuth range %g..%g is outside -360..720 or wider than 720°", l.MinAz, l.MaxAz)
	case !finite(l.MinAz) || !finite(l.MaxAz) || !finite(l.MinEl) || !finite(l.MaxEl):
		return fmt.Errorf("limits: %+v: every bound must be a finite number", l)
	case l.MinEl >= l.MaxEl:
		return fmt.Errorf("limits: min_el %g must be below max_el %g", l.MinEl, l.MaxEl)
	case l.MinEl < -90 || l.MaxEl > 180:
		return fmt.Errorf("limits: elevation range %g..%g is outside -90..180", l.MinEl, l.MaxEl)
	}
	return nil
}

// Contains reports whether azDeg, elDeg (degrees) is inside the range.
func (l Limits) Contains(azDeg, elDeg float64) bool {
	return azDeg >= l.MinAz && azDeg <= l.MaxAz && elDeg >= l.MinEl && elDeg <= l.MaxEl
}
