package rotator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// MonitorConfig holds the stuck-detection settings.
type MonitorConfig struct {
	// StuckThresholdDeg is the pointing difference (degrees) above which the rotator is behind
	// its command; default 5.
	StuckThresholdDeg float64 `json:"stuck_threshold_deg" yaml:"stuck_threshold_deg"`
	// StuckAfter is how long the difference must persist, without the rotator moving, before a
	// rotator.stuck event; default 10 s.
	StuckAfter time.Duration `json:"stuck_after" yaml:"stuck_after"`
	// ProgressDeg is the movement (degrees, either axis) that proves the rotator is still
	// slewing and restarts the StuckAfter timer, so a long legitimate slew is not "stuck";
	// default 1. A negative value disables it: any difference above the threshold for
	// StuckAfter is then stuck.
	ProgressDeg float64 `json:"progress_deg" yaml:"progress_deg"`
	// PollInterval is Run's readback cadence while no one moves the rotator; default 1 s.
	PollInterval time.Duration `json:"poll_interval" yaml:"poll_interval"`
}

func (c MonitorConfig) withDefaults() (MonitorConfig, error) {
	if c.StuckThresholdDeg == 0 {
		c.StuckThresholdDeg = 5
	}
	if c.StuckAfter == 0 {
		c.StuckAfter = 10 * time.Second
	}
	if c.ProgressDeg == 0 {
		c.ProgressDeg = 1
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	switch {
	case !(c.StuckThresholdDeg > 0 && c.StuckThresholdDeg < 180):
		return c, fmt.Errorf("stuck_threshold_deg %v: must be in (0, 180)", c.StuckThresholdDeg)
	case c.StuckAfter < 0:
		return c, fmt.Errorf("stuck_after %s: must not be negative", c.StuckAfter)
	case math.IsNaN(c.ProgressDeg) || c.ProgressDeg >= 180:
		return c, fmt.Errorf("progress_deg %v: must be below 180 (negative disables it)", c.ProgressDeg)
	case c.PollInterval < 10*time.Millisecond:
		return c, fmt.Errorf("poll_interval %s: must be at least 10ms", c.PollInterval)
	}
	return c, nil
}

// MonitorOptions are the Monitor's collaborators.
type MonitorOptions struct {
	Config MonitorConfig
	// Name identifies the rotator in events and logs, e.g. "rotctld 127.0.0.1:4533".
	Name string
	// Emitter receives rotator.stuck, rotator.fault and rotator.recovered events.
	Emitter events.Emitter
	// Clock times the stuck window and the polls; nil means the system clock.
	Clock clock.Clock
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Registerer receives the monitor's metrics; nil means none are exported.
	Registerer prometheus.Registerer
}

// Monitor wraps a Rotator: it reads the position back after every move (and every
// PollInterval in Run), reports a rotator that stays away from its command as rotator.stuck, a
// lost rotator as rotator.fault (once per outage) and its return as rotator.recovered. It is
// itself a Rotator, so the tracker drives the Monitor and never knows. Safe for concurrent use.
type Monitor struct {
	rot  Rotator
	cfg  MonitorConfig
	name string
	em   events.Emitter
	clk  clock.Clock
	log  *zap.Logger
	met  *monitorMetrics

	mu           sync.Mutex
	commanded    bool // a target is set (cleared by Stop and Park)
	cmdAz, cmdEl float64
	behind       bool      // the difference is above the threshold
	behindSince  time.Time // start of the current no-progress window
	anchorAz     float64   // position at behindSince
	anchorEl     float64
	stuck        bool
	faulted      bool
	faultSince   time.Time
}

var _ Rotator = (*Monitor)(nil)

// NewMonitor wraps rot.
func NewMonitor(rot Rotator, opts MonitorOptions) (*Monitor, error) {
	cfg, err := opts.Config.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("rotator monitor: %w", err)
	}
	if rot == nil || opts.Emitter == nil {
		return nil, errors.New("rotator monitor: rotator and emitter are required")
	}
	m := &Monitor{rot: rot, cfg: cfg, name: opts.Name, em: opts.Emitter, clk: opts.Clock, log: opts.Logger}
	if m.clk == nil {
		m.clk = clock.Real{}
	}
	if m.log == nil {
		m.log = zap.NewNop()
	}
	m.log = m.log.With(zap.String("rotator", opts.Name))
	if opts.Registerer != nil {
		if m.met, err = newMonitorMetrics(opts.Registerer); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SetPosition commands the rotator and reads the position back at once. It returns the
// command's error only: a failed readback is counted, logged and, if the rotator is gone,
// reported as a fault.
func (m *Monitor) SetPosition(ctx context.Context, azDeg, elDeg float64) error {
	err := m.rot.SetPosition(ctx, azDeg, elDeg)
	m.observe(err)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.commanded, m.cmdAz, m.cmdEl = true, azDeg, elDeg
	m.mu.Unlock()
	_, _, _ = m.Position(ctx)
	return nil
}

// Position reads the rotator's position and checks it against the command.
func (m *Monitor) Position(ctx context.Context) (azDeg, elDeg float64, err error) {
	azDeg, elDeg, err = m.rot.Position(ctx)
	m.met.readback(err)
	m.observe(err)
	if err == nil {
		m.check(azDeg, elDeg)
	}
	return azDeg, elDeg, err
}

// Stop halts the rotator; the command is forgotten, so a stopped rotator is never "stuck".
func (m *Monitor) Stop(ctx context.Context) error {
	err := m.rot.Stop(ctx)
	m.observe(err)
	if err == nil {
		m.forgetCommand()
	}
	return err
}

// Park parks the rotator. The park position belongs to the daemon, so it is not monitored.
func (m *Monitor) Park(ctx context.Context) error {
	err := m.rot.Park(ctx)
	m.observe(err)
	if err == nil {
		m.forgetCommand()
	}
	return err
}

// Limits returns the wrapped rotator's limits.
func (m *Monitor) Limits() Limits { return m.rot.Limits() }

// SlewRate returns the wrapped rotator's slew rate.
func (m *Monitor) SlewRate() SlewRate { return m.rot.SlewRate() }

// Run reads the position back every PollInterval until ctx ends, so a rotator that stops
// moving, or a daemon that dies, is noticed while the tracker is idle between commands.
func (m *Monitor) Run(ctx context.Context) error {
	for {
		if err := clock.Wait(ctx, m.clk, m.cfg.PollInterval); err != nil {
			return nil
		}
		// Position logs nothing itself; a failed readback shows as a fault or in the metrics.
		_, _, _ = m.Position(ctx)
	}
}

// Faulted reports whether the rotator is currently unreachable.
func (m *Monitor) Faulted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faulted
}

// Stuck reports whether a rotator.stuck episode is open.
func (m *Monitor) Stuck() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stuck
}

func (m *Monitor) forgetCommand() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commanded, m.behind, m.stuck = false, false, false
}

// faultData and stuckData are the Data of the monitor's events.
type faultData struct {
	Rotator   string  `json:"rotator,omitempty"`
	Error     string  `json:"error,omitempty"`
	DownForS  float64 `json:"down_for_s,omitempty"`
	FaultedAt string  `json:"faulted_at,omitempty"`
}

type stuckData struct {
	Rotator       string  `json:"rotator,omitempty"`
	CommandedAz   float64 `json:"commanded_az_deg"`
	CommandedEl   float64 `json:"commanded_el_deg"`
	ReportedAz    float64 `json:"reported_az_deg"`
	ReportedEl    float64 `json:"reported_el_deg"`
	DifferenceDeg float64 `json:"pointingDiffdeg"`
	ForS          float64 `json:"for_s"`
}

// observe turns call results into fault and recovery events: the first fault of an outage
// emits rotator.fault, the first success after it rotator.recovered.
func (m *Monitor) observe(err error) {
	if err != nil && !IsFault(err) {
		return // a refused command says nothing about the connection
	}
	now := m.clk.Now()
	m.mu.Lock()
	var ev *api.Event
	switch {
	case err != nil && !m.faulted:
		m.faulted, m.faultSince = true, now
		e := events.New(now, api.EventRotatorFault, api.SeverityError,
			"rotator unreachable: "+err.Error(), faultData{Rotator: m.name, Error: err.Error()})
		ev = &e
	case err == nil && m.faulted:
		m.faulted = false
		down := now.Sub(m.faultSince)
		e := events.New(now, api.EventRotatorRecovered, api.SeverityInfo,
			fmt.Sprintf("rotator reachable again after %s", down.Round(time.Millisecond)),
			faultData{Rotator: m.name, DownForS: down.Seconds(), FaultedAt: m.faultSince.UTC().Format(time.RFC3339Nano)})
		ev = &e
	}
	m.mu.Unlock()
	if ev == nil {
		return
	}
	m.met.event(ev.Type)
	if ev.Type == api.EventRotatorFault {
		m.log.Warn("rotator fault", zap.Error(err))
	} else {
		m.log.Info("rotator recovered")
	}
	m.em.Emit(*ev)
}

// check compares a readback with the command and opens, extends or closes a stuck episode.
func (m *Monitor) check(az, el float64) {
	now := m.clk.Now()
	m.mu.Lock()
	if !m.commanded {
		m.mu.Unlock()
		return
	}
	diff := PointingDifference(m.cmdAz, m.cmdEl, az, el)
	m.met.difference(diff)
	ev := m.stepLocked(now, az, el, diff)
	m.mu.Unlock()
	if ev != nil {
		m.met.event(ev.Type)
		m.log.Warn("rotator stuck", zap.Float64("pointingDiffdeg", diff))
		m.em.Emit(*ev)
	}
}

func (m *Monitor) stepLocked(now time.Time, az, el, diff float64) *api.Event {
	if diff <= m.cfg.StuckThresholdDeg {
		if m.stuck {
			m.log.Info("rotator caught up with its command", zap.Float64("pointingDiffdeg", diff))
		}
		m.behind, m.stuck = false, false
		return nil
	}
	moved := math.Max(math.Abs(az-m.anchorAz), math.Abs(el-m.anchorEl))
	if !m.behind || (m.cfg.ProgressDeg >= 0 && moved >= m.cfg.ProgressDeg) {
		// Behind, but just now or still moving: (re)start the no-progress window here.
		m.behind, m.behindSince, m.anchorAz, m.anchorEl = true, now, az, el
		return nil
	}
	if m.stuck || now.Sub(m.behindSince) < m.cfg.StuckAfter {
		return nil
	}
	m.stuck = true
	forS := now.Sub(m.behindSince).Seconds()
	e := events.New(now, api.EventRotatorStuck, api.SeverityError,
		fmt.Sprintf("rotator %.1f° from its command for %.0f s", diff, forS),
		stuckData{Rotator: m.name, CommandedAz: m.cmdAz, CommandedEl: m.cmdEl, ReportedAz: az,
			ReportedEl: el, DifferenceDeg: diff, ForS: forS})
	return &e
}

// PointingDifference is the larger of the azimuth and elevation differences between a
// command and a readback, in degrees. Azimuth is compared modulo 360, so 359° and 1° differ by
// 2°, and 400° on a 0–450° rotator equals 40°.
func PointingDifference(cmdAz, cmdEl, az, el float64) float64 {
	dAz := math.Mod(math.Abs(cmdAz-az), 360)
	if dAz > 180 {
		dAz = 360 - dAz
	}
	return math.Max(dAz, math.Abs(cmdEl-el))
}

type monitorMetrics struct {
	pointingDiff prometheus.Gauge
	events       *prometheus.CounterVec
	readbacks    *prometheus.CounterVec
	faulted      prometheus.Gauge
}

func newMonitorMetrics(reg prometheus.Registerer) (*monitorMetrics, error) {
	m := &monitorMetrics{
		pointingDiff: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_rotator_pointing_pointingDiffdegrees",
			Help: "Difference between the commanded and the read-back rotator position at the last readback, in degrees.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_rotator_events_total",
			Help: "rotator.stuck, rotator.fault and rotator.recovered events emitted.",
		}, []string{"type"}),
		readbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_rotator_readbacks_total",
			Help: "Position readbacks by result (ok, error).",
		}, []string{"result"}),
		faulted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_rotator_faulted",
			Help: "1 while the rotator is unreachable, else 0.",
		}),
	}
	for _, c := range []prometheus.Collector{m.pointingDiff, m.events, m.readbacks, m.faulted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register rotator monitor metrics: %w", err)
		}
	}
	return m, nil
}

func (m *monitorMetrics) difference(d float64) {
	if m != nil {
		m.pointingDiff.Set(d)
	}
}

func (m *monitorMetrics) readback(err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.readbacks.WithLabelValues(result).Inc()
}

func (m *monitorMetrics) event(typ string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(typ).Inc()
	switch typ {
	case api.EventRotatorFault:
		m.faulted.Set(1)
	case api.EventRotatorRecovered:
		m.faulted.Set(0)
	}
}
