// Package runner is talos-satellite's protocol core: it opens the state directory, builds the
// client and the loops that talk to the backend (poller, heartbeat, outbox, executor, status
// endpoint, housekeeping), takes the station's own parts through Plug (satellite/station builds
// them: processes, devices, scheduler), and runs everything under one errgroup with a staged
// shutdown: stop taking work, let running commands finish (drain timeout), send the final
// heartbeat, then flush the outbox under its own timeout.
package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/executor"
	"github.com/talos-gs/talos/satellite/heartbeat"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/outbox"
	"github.com/talos-gs/talos/satellite/poller"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/statusapi"
)

// Extras are what a station adds to the runner's protocol loops, each field by its role;
// every field is optional. satellite/station fills them from the hardware it builds.
type Extras struct {
	// Loops run under the runner's errgroup from Run until its context ends; each must return
	// then. An error from one stops the runner.
	Loops []Loop
	// Handlers serve command types beside the runner's built-ins; a type served twice is a
	// wiring error.
	Handlers command.Handlers
	// Processes reports decoder processes in heartbeats and GET /api/status.
	Processes ProcessReporter
	// Tracking reports the tracker's state in heartbeats and GET /api/status.
	Tracking TrackingReporter
}

// Loop is a named long-running part (the name prefixes its errors).
type Loop struct {
	Name string
	Run  func(ctx context.Context) error
}

// ProcessReporter reports decoder processes and whether they run under cgroup limits.
type ProcessReporter interface {
	Processes() []api.ProcessInfo
	CgroupLimits() string
}

// TrackingReporter reports what the tracker is doing.
type TrackingReporter interface {
	Tracking() *api.TrackingState
}

// Options are the test seams of New; the zero value is production.
type Options struct {
	// Clock is the runner's one clock: every loop waits on it and measures with it.
	Clock clock.Clock
	Rand  backoff.Rand
	// Level is the logger's level, changed by config.update; nil: a fresh one at cfg.Log.Level
	// (changes then only show in the diagnostics).
	Level *zap.AtomicLevel
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// Runner is an assembled talos-satellite.
type Runner struct {
	cfg      config.Config
	opts     Options
	log      *zap.Logger
	clk      clock.Clock
	identity state.Identity
	started  time.Time
	recent   *recentErrors

	registry  *prometheus.Registry
	health    *statusapi.Health
	sat       client.Satellite
	outbox    *outbox.Outbox
	commands  *state.Commands
	executor  *executor.Executor
	poller    *poller.Poller
	heartbeat *heartbeat.Loop
	status    *statusapi.Server
	system    *heartbeat.System

	maintenance atomic.Bool
	ivMu        sync.Mutex // guards identity.Intervals, changed by config.update
	extras      []Extras   // set by Plug before Run, read-only from then on
	running     atomic.Bool
}

// New builds a runner from the configuration and the registered identity in cfg.StateDir. It
// binds the status endpoint's port; Plug adds a station's parts, Run runs everything.
func New(cfg config.Config, log *zap.Logger) (*Runner, error) {
	return NewWithOptions(cfg, log, Options{})
}

// NewWithOptions is New with test seams.
func NewWithOptions(cfg config.Config, log *zap.Logger, opts Options) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, opts: opts, clk: opts.Clock, recent: newRecentErrors(20), registry: prometheus.NewRegistry()}
	if r.clk == nil {
		r.clk = clock.Real{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	r.log = log.WithOptions(zap.WrapCore(r.recent.tee))
	if r.opts.Level == nil {
		lvl := zap.NewAtomicLevel()
		r.opts.Level = &lvl
	}
	if err := r.open(); err != nil {
		r.closeStores()
		return nil, err
	}
	if err := r.listenStatus(); err != nil {
		r.closeStores()
		return nil, err
	}
	return r, nil
}

func (r *Runner) open() error {
	steps := []func() error{r.loadIdentity, r.openStores, r.buildLoops}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) loadIdentity() error {
	if err := state.EnsureDir(r.cfg.StateDir); err != nil {
		return err
	}
	id, key, err := state.LoadIdentity(r.cfg.StateDir)
	if err != nil {
		return err
	}
	r.identity = id
	r.log = r.log.With(zap.String("satellite_id", id.SatelliteID), zap.String("team_id", id.TeamID))
	r.sat.ID = id.SatelliteID
	return r.buildClientWithKey(key)
}

func (r *Runner) backendURL() string {
	if r.cfg.Backend.URL != "" {
		return r.cfg.Backend.URL
	}
	return r.identity.BackendURL
}

func (r *Runner) buildClientWithKey(key string) error {
	raw := r.backendURL()
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("backend url %q: %w", raw, err)
	}
	if err := CheckTransportSecurity(u, r.cfg.Backend.Insecure); err != nil {
		return err
	}
	r.health = statusapi.NewHealth(raw, r.registry, r.clk.Now)
	c, err := client.New(client.Options{BaseURL: raw, APIKey: key, Timeout: r.cfg.Backend.Timeout,
		TLS:      client.TLSOptions{CAFile: r.cfg.Backend.CAFile, CertFile: r.cfg.Backend.CertFile, KeyFile: r.cfg.Backend.KeyFile},
		Observer: r.health, Transport: r.opts.Transport, Clock: r.clk})
	if err != nil {
		return err
	}
	r.sat.Client = c
	return nil
}

// CheckTransportSecurity refuses plain http to anything but this machine unless insecure is
// set: the API key would cross the network in clear text.
func CheckTransportSecurity(u *url.URL, insecure bool) error {
	if u.Scheme == "http" && !client.IsLoopback(u) && !insecure {
		return fmt.Errorf("backend url %s uses plain http to a remote host: the API key would travel in clear text; use https, or pass --insecure (backend.insecure) on a trusted lab network", u.Redacted())
	}
	return nil
}

func (r *Runner) openStores() error {
	var err error
	if r.commands, err = state.OpenCommands(r.cfg.StateDir); err != nil {
		return err
	}
	on, err := r.commands.Maintenance()
	if err != nil {
		return fmt.Errorf("read maintenance flag: %w", err)
	}
	r.maintenance.Store(on)
	flush := time.Duration(r.identity.Intervals.EventsSeconds) * time.Second
	r.outbox, err = outbox.Open(outbox.Options{Dir: r.cfg.StateDir, Sender: r.sat, Logger: r.log.Named("outbox"),
		Clock: r.clk, Backoff: r.newBackoff(),
		Limits: outbox.Limits{MaxEvents: r.cfg.Outbox.MaxEvents, MaxBytes: r.cfg.Outbox.MaxBytes,
			BatchSize: r.cfg.Outbox.BatchSize, FlushInterval: flush, FlushTimeout: r.cfg.Outbox.FlushTimeout}})
	return err
}

// ErrStatusListen is returned by New when the status endpoint cannot bind its address.
var ErrStatusListen = errors.New("the status endpoint cannot listen")

// listenStatus binds the status endpoint's port before anything else starts: a port in use
// (a second station on the machine) fails here with a message naming the setting, before the
// station announces itself online or builds its devices.
func (r *Runner) listenStatus() error {
	if err := r.status.Listen(context.Background()); err != nil {
		return fmt.Errorf("%w on %s (choose a free loopback port with --status-listen or status.listen): %w",
			ErrStatusListen, r.cfg.Status.Listen, errors.Unwrap(err))
	}
	return nil
}

// Close releases the stores and the status port of a runner that will not Run (its assembly
// failed). Run releases them itself; after Close, Run refuses to start.
func (r *Runner) Close() {
	if r.running.CompareAndSwap(false, true) {
		r.closeStores()
	}
}

func (r *Runner) closeStores() {
	if r.status != nil {
		_ = r.status.Close() // after Run the server already closed it; before, nothing was served
	}
	if r.outbox != nil {
		_ = r.outbox.Close()
	}
	if r.commands != nil {
		_ = r.commands.Close()
	}
}

func (r *Runner) newBackoff() *backoff.Backoff { return backoff.New(r.opts.Rand) }

func (r *Runner) longPoll() time.Duration {
	if !r.cfg.Poll.LongPoll {
		return 0
	}
	return time.Duration(r.intervals().LongPollSeconds) * time.Second
}

func (r *Runner) intervals() api.Intervals {
	r.ivMu.Lock()
	defer r.ivMu.Unlock()
	return r.identity.Intervals
}

func (r *Runner) buildLoops() error {
	r.executor = executor.New(executor.Options{Store: r.commands, Reporter: r.sat, Logger: r.log.Named("executor"),
		Clock: r.clk, Rand: r.opts.Rand, Workers: r.cfg.Executor.Workers, DrainTimeout: r.cfg.Executor.DrainTimeout,
		Handlers: executor.Builtins{Clock: r.clk, Settings: r, Maintenance: r, Diagnostics: r.Diagnostics}.Handlers()})
	r.poller = poller.New(poller.Options{Source: r.sat, Sink: r.executor, Logger: r.log.Named("poller"), Clock: r.clk,
		Backoff: r.newBackoff(), LongPoll: r.longPoll()})
	r.system = &heartbeat.System{DiskPath: r.cfg.StateDir, ThermalRoot: r.cfg.Heartbeat.ThermalRoot}
	parts := reports{r}
	r.heartbeat = heartbeat.New(heartbeat.Options{Sender: r.sat, Sampler: r.system, Outbox: r.outbox, Status: r.Status,
		Processes: []heartbeat.ProcessReporter{parts}, Tracking: []heartbeat.TrackingReporter{parts},
		Logger: r.log.Named("heartbeat"), Clock: r.clk, Backoff: r.newBackoff(),
		Interval: time.Duration(r.identity.Intervals.HeartbeatSeconds) * time.Second, Tags: r.cfg.Station.Tags})
	var err error
	r.status, err = statusapi.New(statusapi.Options{Listen: r.cfg.Status.Listen, Health: r.health,
		Snapshot: r.Snapshot, Gatherer: r.registry, Logger: r.log.Named("status")})
	if err != nil {
		return err
	}
	return r.registerMetrics()
}

// Plug adds a station's parts; call it before Run. A nameless loop or a command type already
// served is a wiring error: do not Run a runner whose Plug failed (Close it).
func (r *Runner) Plug(x Extras) error {
	if r.running.Load() {
		return errors.New("runner: Plug after Run")
	}
	for i, loop := range x.Loops {
		if loop.Name == "" || loop.Run == nil {
			return fmt.Errorf("plug: loop %d (%q) needs a name and a Run", i, loop.Name)
		}
	}
	if len(x.Handlers) > 0 {
		if err := r.executor.Register(x.Handlers); err != nil {
			return fmt.Errorf("plug: %w", err)
		}
	}
	r.extras = append(r.extras, x)
	return nil
}

// reports gathers the plugged parts' reports for the heartbeat and the status snapshot.
type reports struct{ r *Runner }

func (p reports) Processes() []api.ProcessInfo {
	var out []api.ProcessInfo
	for _, x := range p.r.extras {
		if x.Processes != nil {
			out = append(out, x.Processes.Processes()...)
		}
	}
	return out
}

func (p reports) CgroupLimits() string {
	limits := ""
	for _, x := range p.r.extras {
		if x.Processes != nil {
			if c := x.Processes.CgroupLimits(); c != "" {
				limits = c
			}
		}
	}
	return limits
}

func (p reports) Tracking() *api.TrackingState {
	var ts *api.TrackingState
	for _, x := range p.r.extras {
		if x.Tracking != nil {
			if t := x.Tracking.Tracking(); t != nil {
				ts = t
			}
		}
	}
	return ts
}

// Emitter is where parts send events: the durable outbox.
func (r *Runner) Emitter() events.Emitter { return r.outbox }

// UploadClient is the satellite's client for artifact uploads, on connections of its own so
// polls, heartbeats and events never wait behind an upload body (satellite/upload).
func (r *Runner) UploadClient() (client.Satellite, error) {
	c, err := r.sat.Client.ForUploads()
	if err != nil {
		return client.Satellite{}, fmt.Errorf("upload client: %w", err)
	}
	return client.Satellite{Client: c, ID: r.sat.ID}, nil
}

// Identity returns the registered identity.
func (r *Runner) Identity() state.Identity {
	id := r.identity
	id.Intervals = r.intervals()
	return id
}

// StatusAddr returns the status endpoint's address once it listens.
func (r *Runner) StatusAddr() string {
	if a := r.status.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// StatusReady is closed once the status endpoint listens.
func (r *Runner) StatusReady() <-chan struct{} { return r.status.Ready() }
