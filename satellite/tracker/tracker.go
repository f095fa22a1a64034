// Package tracker points a station's antenna at a spacecraft and keeps its radio on the
// Doppler-corrected frequency during a pass. The pass is planned whole before AOS (plan.go) so
// the rotator never meets its mechanical stop mid-pass; a 2 Hz loop on a drift-free monotonic
// schedule (ticker.go) then follows the plan with fresh look angles (loop.go), and a second
// loop retunes the radio (doppler.go). It knows nothing of commands or storage: the scheduler
// (satellite/schedule) decides when to call Track.
package tracker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
)

// Config tunes the tracker. The zero value of every field means its default.
type Config struct {
	// Period is the pointing loop's period; default 500 ms (2 Hz).
	Period time.Duration `json:"period" yaml:"period"`
	// DopplerPeriod is the radio retune cadence; default Period (every tick), at least 50 ms
	// (20 Hz).
	DopplerPeriod time.Duration `json:"doppler_period" yaml:"doppler_period"`
	// CommandLatency is how long a position command takes to reach the rotator and start it
	// moving. With the time the rotator needs to turn to the next aim point (at the rotator's
	// SlewRate), it is the lag between deciding a move and the antenna being there; the
	// tracker moves that much earlier (see aim.go). Default 250 ms.
	CommandLatency time.Duration `json:"command_latency" yaml:"command_latency"`
	// MaxLead caps that lag; default 5 s.
	MaxLead time.Duration `json:"max_lead" yaml:"max_lead"`
	// EdgeWindow is how close to AOS or LOS the pass counts as "near the edge", where the
	// rotator is moved for any change above EdgeThresholdDeg instead of the pass's threshold;
	// default 10 s.
	EdgeWindow time.Duration `json:"edge_window" yaml:"edge_window"`
	// EdgeThresholdDeg is the move threshold near the edges, degrees; default 0.2.
	EdgeThresholdDeg float64 `json:"edge_threshold_deg" yaml:"edge_threshold_deg"`
	// PlanStep is the sampling step of the pass plan; default 1 s.
	PlanStep time.Duration `json:"plan_step" yaml:"plan_step"`
	// DeadbandHz is the smallest frequency change that retunes the radio, Hz; default 1.
	DeadbandHz float64 `json:"deadband_hz" yaml:"deadband_hz"`
	// DeviceTimeout bounds each rotator or radio call; default 2 s.
	DeviceTimeout time.Duration `json:"device_timeout" yaml:"device_timeout"`
}

// DefaultConfig is the tracker's configuration with every default filled in: what the zero
// value of each field means, spelled out for the station's configuration file.
func DefaultConfig() Config {
	return Config{Period: 500 * time.Millisecond, DopplerPeriod: 500 * time.Millisecond,
		CommandLatency: 250 * time.Millisecond, MaxLead: 5 * time.Second, EdgeWindow: 10 * time.Second,
		EdgeThresholdDeg: 0.2, PlanStep: time.Second, DeadbandHz: DefaultDeadbandHz, DeviceTimeout: 2 * time.Second}
}

// ValidateConfig checks c as New will use it (zero fields take their defaults), without
// building a tracker or touching a device.
func ValidateConfig(c Config) error {
	_, err := c.withDefaults()
	return err
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	def := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	def(&c.Period, d.Period)
	def(&c.DopplerPeriod, c.Period) // every tick unless told otherwise
	def(&c.CommandLatency, d.CommandLatency)
	def(&c.MaxLead, d.MaxLead)
	def(&c.EdgeWindow, d.EdgeWindow)
	def(&c.PlanStep, d.PlanStep)
	def(&c.DeviceTimeout, d.DeviceTimeout)
	if c.EdgeThresholdDeg == 0 {
		c.EdgeThresholdDeg = d.EdgeThresholdDeg
	}
	if c.DeadbandHz == 0 {
		c.DeadbandHz = d.DeadbandHz
	}
	return c, c.validate()
}

// ConfigError names the Config field (by its yaml name) that is out of range.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return e.Field + " " + e.Reason }

func (c Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Period < 10*time.Millisecond || c.Period > 10*time.Second:
		return bad("period", "%s must be 10ms to 10s", c.Period)
	case c.DopplerPeriod < 50*time.Millisecond:
		return bad("doppler_period", "%s must be at least 50ms (20 Hz)", c.DopplerPeriod)
	case c.CommandLatency < 0 || c.MaxLead < 0 || c.EdgeWindow < 0:
		return bad("command_latency, max_lead and edge_window", "must not be negative")
	case !(c.EdgeThresholdDeg > 0 && c.EdgeThresholdDeg < 30):
		return bad("edge_threshold_deg", "%v must be in (0, 30)", c.EdgeThresholdDeg)
	case c.PlanStep < 100*time.Millisecond || c.PlanStep > time.Minute:
		return bad("plan_step", "%s must be 100ms to 1m", c.PlanStep)
	case !(c.DeadbandHz >= 0 && c.DeadbandHz < 1e6):
		return bad("deadband_hz", "%v must be 0 to 1e6", c.DeadbandHz)
	case c.DeviceTimeout <= 0:
		return bad("device_timeout", "%s must be positive", c.DeviceTimeout)
	}
	return nil
}

// Options are the tracker's collaborators.
type Options struct {
	Config Config
	// Rotator is required. Wrap it in a rotator.Monitor to get stuck/fault/recovered events.
	Rotator rotator.Rotator
	// Downlink is the receiver; nil means no Doppler tuning.
	Downlink rotator.Radio
	// Uplink is the transmitter (for example a Rigctld's Uplink()); nil means no uplink tuning.
	Uplink rotator.Radio
	// Clock times the loops; nil means the system clock.
	Clock clock.Clock
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Emitter receives observation.aos and observation.los; nil means none are sent.
	Emitter events.Emitter
	// Registerer receives the tracker's metrics; nil means none are exported.
	Registerer prometheus.Registerer
}

// Tracker tracks one pass at a time. Safe for concurrent use: Track refuses a second pass
// while one runs, and Tracking may be called at any time.
type Tracker struct {
	cfg      Config
	rot      rotator.Rotator
	downlink rotator.Radio
	uplink   rotator.Radio
	clk      clock.Clock
	log      *zap.Logger
	em       events.Emitter
	met      *metrics

	busy sync.Mutex // held for the whole of a Track call

	mu    sync.Mutex
	state api.TrackingState
}

// ErrBusy is returned by Track while another pass is being tracked.
var ErrBusy = errors.New("tracker: another pass is being tracked")

// New returns a tracker.
func New(opts Options) (*Tracker, error) {
	cfg, err := opts.Config.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("tracker config: %w", err)
	}
	if opts.Rotator == nil {
		return nil, errors.New("tracker: a rotator is required")
	}
	met, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	t := &Tracker{cfg: cfg, rot: opts.Rotator, downlink: opts.Downlink, uplink: opts.Uplink,
		clk: opts.Clock, log: opts.Logger, em: opts.Emitter, met: met, state: api.TrackingState{State: StateIdle}}
	if t.clk == nil {
		t.clk = clock.Real{}
	}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if t.em == nil {
		t.em = events.EmitterFunc(func(api.Event) {})
	}
	return t, nil
}

// Tracking states reported in heartbeats (api.TrackingState.State).
const (
	StateIdle      = "idle"
	StatePreparing = "preparing"
	StateTracking  = "tracking"
	StateParking   = "parking"
)

// Tracking returns a snapshot of what the tracker is doing, for the heartbeat.
func (t *Tracker) Tracking() *api.TrackingState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.state
	return &s
}

func (t *Tracker) updateState(f func(s *api.TrackingState)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.state)
}

// Config returns the tracker's configuration with defaults applied.
func (t *Tracker) Config() Config { return t.cfg }
