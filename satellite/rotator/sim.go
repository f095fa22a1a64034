package rotator

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// SimRotatorConfig configures a simulated rotator.
type SimRotatorConfig struct {
	// Limits is the mechanical range (degrees); the zero value means DefaultLimits.
	Limits Limits
	// AzRateDegPerS and ElRateDegPerS are the slew rates (degrees per second); 0 means
	// DefaultSlewRate's (6°/s, about a Yaesu G-5500's azimuth speed and Hamlib's dummy rotator's).
	AzRateDegPerS float64
	ElRateDegPerS float64
	// ParkAz and ParkEl are the park position (degrees) and where the rotator starts; it must be
	// inside Limits.
	ParkAz, ParkEl float64
	// Clock drives the simulated motion; nil means the system clock.
	Clock clock.Clock
}

// withDefaults fills in the zero fields and checks the result.
func (cfg SimRotatorConfig) withDefaults() (SimRotatorConfig, error) {
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if err := cfg.Limits.Validate(); err != nil {
		return cfg, fmt.Errorf("simulated rotator: %w", err)
	}
	rate := SlewRate{AzDegS: cfg.AzRateDegPerS, ElDegS: cfg.ElRateDegPerS}.orDefault()
	cfg.AzRateDegPerS, cfg.ElRateDegPerS = rate.AzDegS, rate.ElDegS
	if err := rate.Validate(); err != nil {
		return cfg, fmt.Errorf("simulated rotator: slew rate %w", err)
	}
	if !cfg.Limits.Contains(cfg.ParkAz, cfg.ParkEl) {
		return cfg, fmt.Errorf("simulated rotator: park position %v/%v outside limits %+v", cfg.ParkAz, cfg.ParkEl, cfg.Limits)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return cfg, nil
}

// SimRotator is an in-process Rotator that slews at a fixed rate per axis on an injected clock,
// for `make run` and for tests without hardware. Jam and Disconnect inject the two failures the
// Monitor detects. Safe for concurrent use.
type SimRotator struct {
	cfg SimRotatorConfig

	mu           sync.Mutex
	fromAz       float64 // position at fromTime
	fromEl       float64
	fromTime     time.Time
	toAz, toEl   float64 // where it is heading
	jammed       bool
	disconnected bool
}

var _ Rotator = (*SimRotator)(nil)

// NewSimRotator returns a simulated rotator standing at its park position.
func NewSimRotator(cfg SimRotatorConfig) (*SimRotator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &SimRotator{cfg: cfg, fromAz: cfg.ParkAz, fromEl: cfg.ParkEl, toAz: cfg.ParkAz, toEl: cfg.ParkEl}
	s.fromTime = cfg.Clock.Now()
	return s, nil
}

// SetPosition starts a move to azDeg, elDeg (degrees). Like rotctld, a position outside the
// limits is refused with ErrInvalidParameter.
func (s *SimRotator) SetPosition(_ context.Context, azDeg, elDeg float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disconnected {
		return fmt.Errorf("simulated rotator set_pos: %w", ErrDisconnected)
	}
	if !finite(azDeg) || !finite(elDeg) || !s.cfg.Limits.Contains(azDeg, elDeg) {
		return fmt.Errorf("simulated rotator set_pos %v/%v outside %+v: %w", azDeg, elDeg, s.cfg.Limits, ErrInvalidParameter)
	}
	s.retargetLocked(azDeg, elDeg)
	return nil
}

// Position returns where the rotator is now on the injected clock (degrees).
func (s *SimRotator) Position(context.Context) (azDeg, elDeg float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disconnected {
		return 0, 0, fmt.Errorf("simulated rotator get_pos: %w", ErrDisconnected)
	}
	azDeg, elDeg = s.positionLocked()
	return azDeg, elDeg, nil
}

// Stop halts the rotator where it is.
func (s *SimRotator) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disconnected {
		return fmt.Errorf("simulated rotator stop: %w", ErrDisconnected)
	}
	az, el := s.positionLocked()
	s.retargetLocked(az, el)
	return nil
}

// Park moves the rotator to its park position.
func (s *SimRotator) Park(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disconnected {
		return fmt.Errorf("simulated rotator park: %w", ErrDisconnected)
	}
	s.retargetLocked(s.cfg.ParkAz, s.cfg.ParkEl)
	return nil
}

// Limits returns the configured range.
func (s *SimRotator) Limits() Limits { return s.cfg.Limits }

// SlewRate returns the simulated slew rates.
func (s *SimRotator) SlewRate() SlewRate {
	return SlewRate{AzDegS: s.cfg.AzRateDegPerS, ElDegS: s.cfg.ElRateDegPerS}
}

// Jam freezes (true) or frees (false) the mechanism: a jammed rotator accepts commands but does
// not move, as with a seized bearing or a blown fuse.
func (s *SimRotator) Jam(jammed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	az, el := s.positionLocked()
	s.fromAz, s.fromEl, s.fromTime = az, el, s.cfg.Clock.Now()
	s.jammed = jammed
}

// Disconnect makes every call fail with ErrDisconnected (true) until called with false, as
// when rotctld dies and comes back. The mechanism keeps moving meanwhile.
func (s *SimRotator) Disconnect(disconnected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disconnected = disconnected
}

func (s *SimRotator) retargetLocked(az, el float64) {
	s.fromAz, s.fromEl = s.positionLocked()
	s.fromTime = s.cfg.Clock.Now()
	s.toAz, s.toEl = az, el
}

func (s *SimRotator) positionLocked() (az, el float64) {
	if s.jammed {
		return s.fromAz, s.fromEl
	}
	elapsed := s.cfg.Clock.Now().Sub(s.fromTime).Seconds()
	return approach(s.fromAz, s.toAz, s.cfg.AzRateDegPerS*elapsed),
		approach(s.fromEl, s.toEl, s.cfg.ElRateDegPerS*elapsed)
}

// approach moves from towards to by at most step. Azimuth moves linearly in the rotator's own
// range (no wrap): a 0–450° rotator going from 10° to 400° turns the long way, as the real one
// must.
func approach(from, to, step float64) float64 {
	if step <= 0 {
		return from
	}
	d := to - from
	if math.Abs(d) <= step {
		return to
	}
	return from + math.Copysign(step, d)
}

// SimRadioConfig configures a simulated radio.
type SimRadioConfig struct {
	// FrequencyHz, Mode and PassbandHz are the initial receive settings; zero values mean
	// 145.8 MHz FM 15 kHz.
	FrequencyHz float64
	Mode        string
	PassbandHz  int
}

// SimRadio is an in-process Radio with split operation (Uplink), for `make run` and tests.
// Tuning is instant. Safe for concurrent use.
type SimRadio struct {
	mu           sync.Mutex
	rx, tx       simVFO
	split        bool
	disconnected bool
}

type simVFO struct {
	hz   float64
	mode string
	pb   int
}

var _ Radio = (*SimRadio)(nil)

// NewSimRadio returns a simulated radio.
func NewSimRadio(cfg SimRadioConfig) (*SimRadio, error) {
	if cfg.FrequencyHz == 0 {
		cfg.FrequencyHz = 145_800_000
	}
	if cfg.Mode == "" {
		cfg.Mode, cfg.PassbandHz = "FM", 15000
	}
	if err := checkFrequency(cfg.FrequencyHz); err != nil {
		return nil, fmt.Errorf("simulated radio: %w", err)
	}
	if err := checkMode(cfg.Mode, cfg.PassbandHz); err != nil {
		return nil, fmt.Errorf("simulated radio: %w", err)
	}
	v := simVFO{hz: math.Round(cfg.FrequencyHz), mode: cfg.Mode, pb: cfg.PassbandHz}
	return &SimRadio{rx: v, tx: v}, nil
}

// SetFrequency tunes the receive VFO (Hz, rounded to 1 Hz like rigctld).
func (r *SimRadio) SetFrequency(_ context.Context, hz float64) error { return r.setFreq(&r.rx, hz) }

// Frequency reads the receive VFO (Hz).
func (r *SimRadio) Frequency(context.Context) (float64, error) { return r.freq(&r.rx) }

// SetMode sets the receive mode and passband (Hz; 0 default, -1 unchanged).
func (r *SimRadio) SetMode(_ context.Context, mode string, passbandHz int) error {
	return r.setMode(&r.rx, mode, passbandHz)
}

// Mode reads the receive mode and passband (Hz).
func (r *SimRadio) Mode(context.Context) (string, int, error) { return r.mode(&r.rx) }

// SetSplit turns split on or off; the transmit VFO name is not simulated.
func (r *SimRadio) SetSplit(_ context.Context, on bool, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disconnected {
		return fmt.Errorf("simulated radio set_split_vfo: %w", ErrDisconnected)
	}
	r.split = on
	return nil
}

// Uplink returns the transmit side of split operation.
func (r *SimRadio) Uplink() Radio { return simUplink{r} }

// Disconnect makes every call fail with ErrDisconnected until called with false.
func (r *SimRadio) Disconnect(disconnected bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disconnected = disconnected
}

type simUplink struct{ r *SimRadio }

func (u simUplink) SetFrequency(_ context.Context, hz float64) error { return u.r.setFreq(&u.r.tx, hz) }
func (u simUplink) Frequency(context.Context) (float64, error)       { return u.r.freq(&u.r.tx) }
func (u simUplink) SetMode(_ context.Context, mode string, pb int) error {
	return u.r.setMode(&u.r.tx, mode, pb)
}
func (u simUplink) Mode(context.Context) (string, int, error) { return u.r.mode(&u.r.tx) }

func (r *SimRadio) setFreq(v *simVFO, hz float64) error {
	if err := checkFrequency(hz); err != nil {
		return fmt.Errorf("simulated radio: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disconnected {
		return fmt.Errorf("simulated radio set_freq: %w", ErrDisconnected)
	}
	v.hz = math.Round(hz)
	return nil
}

func (r *SimRadio) freq(v *simVFO) (float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disconnected {
		return 0, fmt.Errorf("simulated radio get_freq: %w", ErrDisconnected)
	}
	return v.hz, nil
}

func (r *SimRadio) setMode(v *simVFO, mode string, pb int) error {
	if err := checkMode(mode, pb); err != nil {
		return fmt.Errorf("simulated radio: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disconnected {
		return fmt.Errorf("simulated radio set_mode: %w", ErrDisconnected)
	}
	v.mode = mode
	switch {
	case pb == 0:
		v.pb = defaultPassband(mode)
	case pb > 0:
		v.pb = pb
	}
	return nil
}

func (r *SimRadio) mode(v *simVFO) (string, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disconnected {
		return "", 0, fmt.Errorf("simulated radio get_mode: %w", ErrDisconnected)
	}
	return v.mode, v.pb, nil
}

// defaultPassband is the simulated radio's "normal" passband (Hz) for a mode, roughly what
// Hamlib's dummy rig reports.
func defaultPassband(mode string) int {
	switch mode {
	case "FM", "PKTFM":
		return 15000
	case "WFM":
		return 230000
	case "AM":
		return 8000
	case "CW", "CWR":
		return 500
	}
	return 2400
}
