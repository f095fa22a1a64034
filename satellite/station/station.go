// Package station assembles a whole talos-satellite from its configuration, in one place: the
// runner (identity, client, the loops that talk to the backend), then the station's own parts
// — decoder processes (proc), rotator and radio (rotator), the observation scheduler and its
// tracker — plugged into the runner by role (runner.Extras). `talos-satellite run` only parses
// its flags and calls Assemble; the end-to-end tests call it too, so they run what stations run.
package station

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/schedule"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/tracker"
	"github.com/talos-gs/talos/satellite/update"
	"github.com/talos-gs/talos/satellite/upload"
)

// Assemble builds the station cfg describes: the runner first (it binds the status port, so a
// second station on the machine fails before touching any device), then the hardware-facing
// parts, plugged in by role. Run the returned runner.
func Assemble(ctx context.Context, cfg config.Config, log *zap.Logger, opts runner.Options) (*runner.Runner, error) {
	r, err := runner.NewWithOptions(cfg, log, opts)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	hw, err := buildHardware(ctx, stationDeps{cfg: cfg, log: log, em: r.Emitter(), identity: r.Identity(),
		reg: r.Registerer(), clk: r.Clock(), uploadClient: r.UploadClient})
	if err != nil {
		r.Close()
		return nil, err
	}
	up, err := buildUpdater(cfg, log, r, hw.sched)
	if err == nil {
		err = r.Plug(hw.extras())
	}
	if err == nil {
		err = r.Plug(runner.Extras{Loops: []runner.Loop{{Name: "update", Run: up.Run}}, Handlers: up.Handlers()})
	}
	if err != nil {
		hw.close()
		r.Close()
		return nil, err
	}
	return r, nil
}

// buildUpdater builds the self-update (runner.update and the trial of a new binary): it
// downloads through the runner's client, judges a trial by the runner's polls and heartbeats,
// and waits for the scheduler's passes.
func buildUpdater(cfg config.Config, log *zap.Logger, r *runner.Runner, sched *schedule.Scheduler) (*update.Updater, error) {
	return update.New(update.Options{Config: cfg.Update, StateDir: cfg.StateDir, Version: api.Version,
		Download: r.DownloadRelease, Progress: r.Progress, Busy: sched.Busy, Clock: r.Clock(),
		Emitter: r.Emitter(), Logger: log.Named("update")})
}

// stationDeps is what the station takes from the runner.
type stationDeps struct {
	cfg      config.Config
	log      *zap.Logger
	em       events.Emitter
	identity state.Identity
	reg      prometheus.Registerer
	clk      clock.Clock // the runner's: every part of the station keeps the same time
	// uploadClient is the runner's client for uploads (runner.UploadClient).
	uploadClient func() (client.Satellite, error)
}

// hardware is the station's hardware-facing part: decoder processes (proc), the rotator and
// radio (rotator), and the observation scheduler driving the tracker. It plugs into the runner
// as one loop (Run), the commands process.*, observation.* and rotator.park (Handlers), and
// the processes and tracking reports of heartbeats and GET /api/status.
type hardware struct {
	once  sync.Once
	log   *zap.Logger
	procs *proc.Manager
	dev   *rotator.Devices
	sched *schedule.Scheduler
	// uploads is the upload spool of output directories (uploads.go).
	uploads *upload.Uploader
	// uploadsRunning is set once the uploads loop runs (it then closes the spool itself).
	uploadsRunning atomic.Bool
}

// buildHardware builds, in this order, the process manager, the devices (connected once, so a
// wrong rotctld/rigctld address shows at start-up) and the scheduler with its tracker.
func buildHardware(ctx context.Context, d stationDeps) (*hardware, error) {
	st := &hardware{log: d.log.Named("station")}
	steps := []func(context.Context, stationDeps) error{st.buildUploads, st.buildProcs, st.buildDevices, st.buildScheduler}
	for _, step := range steps {
		if err := step(ctx, d); err != nil {
			st.close()
			return nil, err
		}
	}
	return st, nil
}

func (st *hardware) buildProcs(ctx context.Context, d stationDeps) error {
	pc := d.cfg.Proc.Config
	pc.OwnTeam = d.identity.TeamID // the station's own team may always run processes
	if pc.WorkDir == "" {
		dir, err := config.TeamsDir(d.cfg.StateDir)
		if err != nil {
			return err
		}
		pc.WorkDir = dir
	}
	if err := ensureTeamsDir(pc.WorkDir); err != nil {
		return err
	}
	if blocked := untraversable(pc.WorkDir); blocked != "" && os.Geteuid() == 0 {
		st.log.Warn("team users cannot reach their directories: a parent of proc.work_dir is not traversable by others (o+x); their processes will fail to start",
			zap.String("work_dir", pc.WorkDir), zap.String("parent", blocked))
	}
	m, err := proc.New(ctx, proc.Options{Config: pc, Log: d.log.Named("proc"), Emitter: d.em, Clock: d.clk,
		Outputs: outputs{u: st.uploads, log: d.log.Named("uploads")}})
	if err != nil {
		return fmt.Errorf("process manager: %w", err)
	}
	st.procs = m
	return nil
}

// ensureTeamsDir makes the base of the team directories 0711: each team user must traverse it
// to reach its own 0700 directory, but may not list the others. systemd's StateDirectory makes
// it 0700, hence the chmod of an existing one.
func ensureTeamsDir(dir string) error {
	// #nosec G301 -- 0711 on purpose, see above.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("proc.work_dir %s: %w", dir, err)
	}
	// #nosec G302 -- a directory: traversable, not listable.
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("proc.work_dir %s: make it 0711: %w", dir, err)
	}
	return nil
}

// untraversable returns the first parent of dir that others cannot search, or "".
func untraversable(dir string) string {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			return p
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// buildDevices opens the rotator and radio and connects them once. A daemon that cannot be
// reached is fatal only with station.require_devices; otherwise the station starts without it
// and the clients keep reconnecting (rotator.fault / rotator.recovered from the Monitor).
func (st *hardware) buildDevices(ctx context.Context, d stationDeps) error {
	dev, err := rotator.OpenDevices(d.cfg.Devices, rotator.DevicesOptions{Emitter: d.em, Clock: d.clk,
		Logger: d.log.Named("devices"), Registerer: d.reg})
	if err != nil {
		return err
	}
	st.dev = dev
	timeout := 2*d.cfg.Devices.DialTimeout + d.cfg.Devices.CallTimeout
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := dev.Prepare(pctx); err != nil {
		err = fmt.Errorf("devices (rotctld %q, rigctld %q): %w", d.cfg.Devices.Rotctld, d.cfg.Devices.Rigctld, err)
		if d.cfg.Station.RequireDevices {
			return fmt.Errorf("%w (station.require_devices is true)", err)
		}
		st.log.Error("devices not reachable at start-up; starting anyway, reconnecting in the background", zap.Error(err))
	}
	return nil
}

func (st *hardware) buildScheduler(_ context.Context, d stationDeps) error {
	obs, err := observer(d)
	if err != nil {
		return err
	}
	tr, err := tracker.New(tracker.Options{Config: d.cfg.Tracker, Clock: d.clk, Rotator: st.dev.Rotator, Downlink: st.dev.Radio,
		Uplink: st.dev.Uplink, Logger: d.log.Named("tracker"), Emitter: d.em, Registerer: d.reg})
	if err != nil {
		return err
	}
	st.sched, err = schedule.New(schedule.Options{StateDir: d.cfg.StateDir, Clock: d.clk, Tracker: tr, Rotator: st.dev.Rotator,
		Targets: schedule.OrbitTargets(obs), Processes: procAdapter{st.procs}, PrepareLead: d.cfg.Station.PrepareLead,
		Logger: d.log.Named("schedule"), Emitter: d.em})
	return err
}

// observer is the station's position: the registered location, unless the config overrides it.
func observer(d stationDeps) (*orbit.Observer, error) {
	loc, from := d.identity.Location, "registration"
	if d.cfg.Station.OverrideLocation {
		loc, from = api.Location{Lat: d.cfg.Station.Lat, Lon: d.cfg.Station.Lon, AltM: d.cfg.Station.AltM}, "station.override_location"
	} else if loc == (api.Location{}) {
		d.log.Warn("the station's location is 0°N 0°E: register with --lat/--lon/--alt-m or set station.override_location, or passes will be computed for the wrong place")
	}
	obs, err := orbit.NewObserver(loc.Lat, loc.Lon, loc.AltM)
	if err != nil {
		return nil, fmt.Errorf("station location (from %s): %w", from, err)
	}
	d.log.Info("station location", zap.Float64("lat", loc.Lat), zap.Float64("lon", loc.Lon), zap.Float64("alt_m", loc.AltM), zap.String("from", from))
	return obs, nil
}

// Run runs the scheduler, the process manager and the device loops until ctx ends, and stops
// them in order: the scheduler first (a pass in progress parks the rotator and stays stored, to
// resume at the next start; its decoder is stopped), then every other process (SIGTERM, SIGKILL
// after proc.grace_period), then the device loops; the devices are closed last.
func (st *hardware) Run(ctx context.Context) error {
	defer st.close()
	// The manager and devices outlive ctx until the scheduler has parked and stopped its decoder.
	late, stopLate := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLate()
	g, gctx := errgroup.WithContext(late)
	g.Go(func() error { return wrapErr("process manager", st.procs.Run(gctx)) })
	g.Go(func() error { return wrapErr("devices", st.dev.Run(gctx)) })
	g.Go(func() error {
		defer stopLate()
		sctx, cancel := context.WithCancel(gctx)
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		return wrapErr("scheduler", st.sched.Run(sctx))
	})
	return g.Wait()
}

func wrapErr(name string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// close releases what buildHardware opened; each step may be missing after a failed build.
// The parts stay readable afterwards (the runner's last status snapshot asks for tracking).
func (st *hardware) close() {
	st.once.Do(func() {
		if st.sched != nil {
			if err := st.sched.Close(); err != nil {
				st.log.Warn("close the observation store", zap.Error(err))
			}
		}
		if st.dev != nil {
			if err := st.dev.Close(); err != nil {
				st.log.Warn("close the devices", zap.Error(err))
			}
		}
		if st.uploads != nil && !st.uploadsRunning.Load() {
			_ = st.uploads.Close() // never ran: its loop did not close it
		}
	})
}

// Handlers are the process manager's and the scheduler's commands.
func (st *hardware) Handlers() command.Handlers {
	hs := st.procs.Handlers()
	for typ, h := range st.sched.Handlers() {
		if _, dup := hs[typ]; dup {
			// Both are this project's packages: a clash is a programming error, caught by tests.
			st.log.Error("command type served twice; the scheduler's handler wins", zap.String("type", typ))
		}
		hs[typ] = h
	}
	return hs
}

// extras plugs the hardware into the runner, each piece by its role.
func (st *hardware) extras() runner.Extras {
	return runner.Extras{Loops: []runner.Loop{{Name: "station", Run: st.Run}, st.uploadsLoop()}, Handlers: st.Handlers(),
		Processes: st, Tracking: st}
}

// Processes are the decoder processes, for the heartbeat.
func (st *hardware) Processes() []api.ProcessInfo { return st.procs.Processes() }

// CgroupLimits is "v1", "v2" or "off: <reason>", for the heartbeat.
func (st *hardware) CgroupLimits() string { return st.procs.CgroupLimits() }

// Tracking is the tracker's state, for the heartbeat.
func (st *hardware) Tracking() *api.TrackingState { return st.sched.Tracking() }
