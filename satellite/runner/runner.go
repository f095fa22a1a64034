// Package runner assembles talos-satellite: it opens the state directory, builds the client,
// the loops (poller, heartbeat, outbox, executor, status endpoint, housekeeping) and the
// optional parts the lead plugs in (proc, tracker, ...), and runs them under one errgroup with
// a staged shutdown: stop taking work, let running commands finish (drain timeout), then flush
// the outbox under its own timeout.
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

// Part is an optional long-running component (proc, tracker, scheduler) run under the
// runner's errgroup. Its Run must return when ctx is done.
type Part interface {
	Run(ctx context.Context) error
}

// CommandServer is a part that serves command types; its handlers join the executor's registry.
type CommandServer interface {
	Handlers() command.Handlers
}

// ProcessReporter is a part whose processes appear in heartbeats.
type ProcessReporter interface {
	Processes() []api.ProcessInfo
	CgroupLimits() string
}

// TrackingReporter is a part whose tracking state appears in heartbeats and status.
type TrackingReporter interface {
	Tracking() *api.TrackingState
}

// Options are the test seams of New; the zero value is production.
type Options struct {
	Clock clock.Clock
	Now   func() time.Time // measures request durations (default time.Now)
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
	parts       []any
	running     atomic.Bool
}

// New builds a runner from the configuration and the registered identity in cfg.StateDir.
// parts may implement Part, CommandServer, ProcessReporter and TrackingReporter.
func New(cfg config.Config, log *zap.Logger, parts ...any) (*Runner, error) {
	return NewWithOptions(cfg, log, Options{}, parts...)
}

// NewWithOptions is New with test seams.
func NewWithOptions(cfg config.Config, log *zap.Logger, opts Options, parts ...any) (*Runner, error) {
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
	if err := r.Add(parts...); err != nil {
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
	r.health = statusapi.NewHealth(raw, r.registry, nil)
	c, err := client.New(client.Options{BaseURL: raw, APIKey: key, Timeout: r.cfg.Backend.Timeout,
		TLS:      client.TLSOptions{CAFile: r.cfg.Backend.CAFile, CertFile: r.cfg.Backend.CertFile, KeyFile: r.cfg.Backend.KeyFile},
		Observer: r.health, Transport: r.opts.Transport, Now: r.opts.Now})
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
		return fmt.Errorf("%w on %s (set another loopback port with --status-listen or status.listen; port 0 picks a free one): %w",
			ErrStatusListen, r.cfg.Status.Listen, errors.Unwrap(err))
	}
	return nil
}

func (r *Runner) closeStores() {
	if r.status != nil {
		_ = r.status.Close() // nothing to lose: the endpoint has not served
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
		Now: r.opts.Now, Backoff: r.newBackoff(), LongPoll: r.longPoll()})
	r.system = &heartbeat.System{DiskPath: r.cfg.StateDir, ThermalRoot: r.cfg.Heartbeat.ThermalRoot}
	r.heartbeat = heartbeat.New(heartbeat.Options{Sender: r.sat, Sampler: r.system, Outbox: r.outbox, Status: r.Status,
		Logger: r.log.Named("heartbeat"), Clock: r.clk, Backoff: r.newBackoff(),
		Interval: time.Duration(r.identity.Intervals.HeartbeatSeconds) * time.Second})
	var err error
	r.status, err = statusapi.New(statusapi.Options{Listen: r.cfg.Status.Listen, Health: r.health,
		Snapshot: r.Snapshot, Gatherer: r.registry, Logger: r.log.Named("status")})
	if err != nil {
		return err
	}
	return r.registerMetrics()
}

// Add plugs parts in; call it before Run. A value that implements none of the part interfaces
// is a wiring error.
func (r *Runner) Add(parts ...any) error {
	if r.running.Load() {
		return errors.New("runner: Add after Run")
	}
	for i, p := range parts {
		used := false
		if cs, ok := p.(CommandServer); ok {
			if err := r.executor.Register(cs.Handlers()); err != nil {
				return fmt.Errorf("part %d (%T): %w", i, p, err)
			}
			used = true
		}
		_, isPart := p.(Part)
		_, isProc := p.(ProcessReporter)
		_, isTrack := p.(TrackingReporter)
		if !used && !isPart && !isProc && !isTrack {
			return fmt.Errorf("part %d (%T) implements none of Part, CommandServer, ProcessReporter, TrackingReporter", i, p)
		}
		r.parts = append(r.parts, p)
	}
	r.heartbeat = heartbeat.New(heartbeat.Options{Sender: r.sat, Sampler: r.system, Outbox: r.outbox, Status: r.Status,
		Processes: r.processReporters(), Tracking: r.trackingReporters(), Logger: r.log.Named("heartbeat"),
		Clock: r.clk, Backoff: r.newBackoff(), Interval: r.heartbeat.Interval()})
	return nil
}

func (r *Runner) processReporters() []heartbeat.ProcessReporter {
	var out []heartbeat.ProcessReporter
	for _, p := range r.parts {
		if pr, ok := p.(ProcessReporter); ok {
			out = append(out, pr)
		}
	}
	return out
}

func (r *Runner) trackingReporters() []heartbeat.TrackingReporter {
	var out []heartbeat.TrackingReporter
	for _, p := range r.parts {
		if tr, ok := p.(TrackingReporter); ok {
			out = append(out, tr)
		}
	}
	return out
}

// Emitter is where parts send events: the durable outbox.
func (r *Runner) Emitter() events.Emitter { return r.outbox }

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
