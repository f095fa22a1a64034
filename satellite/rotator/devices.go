package rotator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// DevicesConfig is a station's rotator and radio, as the runner's configuration file and the
// `track` command describe them. An empty daemon address selects the simulator, so `make run`
// works without hardware.
type DevicesConfig struct {
	// Rotctld is rotctld's host:port, e.g. "127.0.0.1:4533"; empty means a simulated rotator.
	Rotctld string `json:"rotctld" yaml:"rotctld"`
	// Rigctld is rigctld's host:port, e.g. "127.0.0.1:4532"; empty means a simulated radio.
	Rigctld string `json:"rigctld" yaml:"rigctld"`
	// Uplink enables split operation with TxVFO as the transmit VFO, so Devices.Uplink tunes the
	// transmitter.
	Uplink bool `json:"uplink" yaml:"uplink"`
	// TxVFO is the transmit VFO for split; default "VFOB".
	TxVFO string `json:"tx_vfo" yaml:"tx_vfo"`
	// Limits is the rotator's range (degrees): the simulator's, and rotctld's when the daemon
	// does not report one. Zero value: DefaultLimits.
	Limits Limits `json:"limits" yaml:"limits"`
	// AzSlewRateDegS and ElSlewRateDegS are the rotator's slew rates (°/s), as
	// `talos-satellite rotator calibrate` measures them: the tracker aims and pre-positions with
	// them, and the simulated rotator turns at them. Default 6 (DefaultSlewRate).
	AzSlewRateDegS float64 `json:"az_slew_rate_deg_s" yaml:"az_slew_rate_deg_s"`
	ElSlewRateDegS float64 `json:"el_slew_rate_deg_s" yaml:"el_slew_rate_deg_s"`
	// DialTimeout and CallTimeout bound connecting and each call; defaults 3 s and 2 s.
	DialTimeout time.Duration `json:"dial_timeout" yaml:"dial_timeout"`
	CallTimeout time.Duration `json:"call_timeout" yaml:"call_timeout"`
	// Monitor holds the stuck-detection settings.
	Monitor MonitorConfig `json:"monitor" yaml:"monitor"`
}

// DefaultDevicesConfig is the configuration of a station with simulated devices, every
// default spelled out (the zero value of each field means the same).
func DefaultDevicesConfig() DevicesConfig {
	return DevicesConfig{TxVFO: "VFOB", Limits: DefaultLimits, AzSlewRateDegS: DefaultSlewRate.AzDegS, ElSlewRateDegS: DefaultSlewRate.ElDegS,
		DialTimeout: 3 * time.Second, CallTimeout: 2 * time.Second,
		Monitor: MonitorConfig{StuckThresholdDeg: 5, StuckAfter: 10 * time.Second, ProgressDeg: 1, PollInterval: time.Second}}
}

// ValidateDevices checks cfg as OpenDevices will use it, without building, opening or
// connecting anything, so a configuration loader can refuse a bad value when it reads it.
func ValidateDevices(cfg DevicesConfig) error {
	if cfg.Rotctld == "" {
		if _, err := simRotatorConfig(cfg, nil).withDefaults(); err != nil {
			return fmt.Errorf("rotator: %w", err)
		}
	} else if err := limitsOrDefault(cfg.Limits).Validate(); err != nil {
		return fmt.Errorf("rotctld: configured %w", err)
	} else if err := cfg.slewRate().orDefault().Validate(); err != nil {
		return fmt.Errorf("rotctld: configured slew rate %w", err)
	}
	if _, err := cfg.Monitor.withDefaults(); err != nil {
		return fmt.Errorf("rotator monitor: %w", err)
	}
	return nil
}

func simRotatorConfig(cfg DevicesConfig, clk clock.Clock) SimRotatorConfig {
	return SimRotatorConfig{Limits: cfg.Limits, AzRateDegPerS: cfg.AzSlewRateDegS, ElRateDegPerS: cfg.ElSlewRateDegS, Clock: clk}
}

func (cfg DevicesConfig) slewRate() SlewRate {
	return SlewRate{AzDegS: cfg.AzSlewRateDegS, ElDegS: cfg.ElSlewRateDegS}
}

func limitsOrDefault(l Limits) Limits {
	if l == (Limits{}) {
		return DefaultLimits
	}
	return l
}

// DevicesOptions are the collaborators of OpenDevices.
type DevicesOptions struct {
	// Emitter receives the Monitor's events; required.
	Emitter events.Emitter
	// Clock drives the simulators, the Monitor and the reconnect backoff; nil means the system
	// clock.
	Clock clock.Clock
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Registerer receives the client and monitor metrics; nil means none are exported.
	Registerer prometheus.Registerer
}

// Devices is a station's opened rotator and radio.
type Devices struct {
	// Rotator is the Monitor-wrapped rotator: drive the antenna through it.
	Rotator *Monitor
	// Radio is the receiver (downlink).
	Radio Radio
	// Uplink is the transmitter side of split operation; nil unless DevicesConfig.Uplink.
	Uplink Radio

	txVFO string
	split interface {
		SetSplit(ctx context.Context, on bool, txVFO string) error
	}
	runs   []func(context.Context) error
	closes []func() error
}

// OpenDevices builds the rotator and radio cfg describes. It does not connect: Prepare does,
// and every call dials on demand.
func OpenDevices(cfg DevicesConfig, opts DevicesOptions) (*Devices, error) {
	if opts.Emitter == nil {
		return nil, errors.New("devices: an event emitter is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if cfg.TxVFO == "" {
		cfg.TxVFO = "VFOB"
	}
	var cm *ClientMetrics
	if opts.Registerer != nil && (cfg.Rotctld != "" || cfg.Rigctld != "") {
		var err error
		if cm, err = NewClientMetrics(opts.Registerer); err != nil {
			return nil, fmt.Errorf("devices: %w", err)
		}
	}
	conn := func(addr string) ConnOptions {
		return ConnOptions{Addr: addr, DialTimeout: cfg.DialTimeout, CallTimeout: cfg.CallTimeout,
			Clock: opts.Clock, Logger: opts.Logger, Metrics: cm}
	}
	d := &Devices{txVFO: cfg.TxVFO}
	rot, name, err := d.openRotator(cfg, conn, opts.Clock)
	if err != nil {
		return nil, err
	}
	if err := d.openRadio(cfg, conn); err != nil {
		return nil, err
	}
	d.Rotator, err = NewMonitor(rot, MonitorOptions{Config: cfg.Monitor, Name: name, Emitter: opts.Emitter,
		Clock: opts.Clock, Logger: opts.Logger, Registerer: opts.Registerer})
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	d.runs = append(d.runs, d.Rotator.Run)
	return d, nil
}

func (d *Devices) openRotator(cfg DevicesConfig, conn func(string) ConnOptions, clk clock.Clock) (Rotator, string, error) {
	if cfg.Rotctld == "" {
		sim, err := NewSimRotator(simRotatorConfig(cfg, clk))
		if err != nil {
			return nil, "", fmt.Errorf("devices: rotator: %w", err)
		}
		return sim, "simulated rotator", nil
	}
	rc, err := NewRotctld(RotctldOptions{ConnOptions: conn(cfg.Rotctld), Limits: cfg.Limits, SlewRate: cfg.slewRate()})
	if err != nil {
		return nil, "", fmt.Errorf("devices: rotctld: %w", err)
	}
	d.runs = append(d.runs, rc.Run)
	d.closes = append(d.closes, rc.Close)
	return rc, "rotctld " + cfg.Rotctld, nil
}

func (d *Devices) openRadio(cfg DevicesConfig, conn func(string) ConnOptions) error {
	if cfg.Rigctld == "" {
		sim, err := NewSimRadio(SimRadioConfig{})
		if err != nil {
			return fmt.Errorf("devices: radio: %w", err)
		}
		d.Radio, d.split = sim, sim
		if cfg.Uplink {
			d.Uplink = sim.Uplink()
		}
		return nil
	}
	rc, err := NewRigctld(RigctldOptions{ConnOptions: conn(cfg.Rigctld)})
	if err != nil {
		return fmt.Errorf("devices: rigctld: %w", err)
	}
	d.Radio, d.split = rc, rc
	if cfg.Uplink {
		d.Uplink = rc.Uplink()
	}
	d.runs = append(d.runs, rc.Run)
	d.closes = append(d.closes, rc.Close)
	return nil
}

// Prepare connects to the daemons (reading rotctld's limits) and, with an uplink, turns split
// on. Call it before a pass: a misconfigured address or a dead daemon shows here, not at AOS.
func (d *Devices) Prepare(ctx context.Context) error {
	var errs []error
	if c, ok := d.Rotator.rot.(interface{ Connect(context.Context) error }); ok {
		if err := c.Connect(ctx); err != nil {
			errs = append(errs, fmt.Errorf("rotator: %w", err))
		}
	}
	if c, ok := d.Radio.(interface{ Connect(context.Context) error }); ok {
		if err := c.Connect(ctx); err != nil {
			errs = append(errs, fmt.Errorf("radio: %w", err))
		}
	}
	if d.Uplink != nil && len(errs) == 0 {
		if err := d.split.SetSplit(ctx, true, d.txVFO); err != nil {
			errs = append(errs, fmt.Errorf("radio: enable split on %s: %w", d.txVFO, err))
		}
	}
	return errors.Join(errs...)
}

// Run runs the reconnect loops and the Monitor's readback until ctx ends.
func (d *Devices) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, run := range d.runs {
		g.Go(func() error { return run(ctx) })
	}
	return g.Wait()
}

// Close closes the daemon connections.
func (d *Devices) Close() error {
	var errs []error
	for _, c := range d.closes {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
