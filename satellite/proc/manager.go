// Package proc runs decoders and helpers for teams at a ground station: each in its own
// process group and cgroup (v2 or v1, with CPU, memory and pids limits), as the team's system
// user, in the team's directory, with a clean environment; restarted with backoff until a
// crash-loop limit, stopped when idle, reported through events and heartbeats.
// See docs/processes.md.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// tickInterval is how often Run looks at restarts, idle timeouts and output batches.
const tickInterval = 250 * time.Millisecond

// finishedRetention is how long an exited or failed process stays in the list.
const finishedRetention = time.Hour

// Manager owns the managed processes of one runner.
type Manager struct {
	cfg   Config
	log   *zap.Logger
	emit  events.Emitter
	clock clock.Clock
	lim   limiter
	teams *teams
	root  bool
	// programs is the compiled allow-list (proc.programs).
	programs map[string]Program
	iso      isolation
	// outputs is told about output directories (Options.Outputs); nil gives none.
	outputs Outputs

	mu         sync.Mutex
	procs      map[string]*process
	closed     bool
	lastSample time.Time
	wg         sync.WaitGroup // one per run's waiter
	starting   sync.WaitGroup // one per launch in progress outside Run's own goroutine
}

// Options are what New needs besides the context.
type Options struct {
	// Config is the proc section of the runner's configuration; New fills its defaults.
	Config Config
	// Log may be nil (no logging).
	Log *zap.Logger
	// Emitter receives the process.* events; required.
	Emitter events.Emitter
	// Clock times backoff, crash-loop window, idle timeout and grace period; nil is the wall
	// clock.
	Clock clock.Clock
	// Outputs, when set, gives observations' decoders (and process.start with output enabled)
	// an output directory, TALOS_OUTPUT_DIR, and is told when it is to be collected.
	Outputs Outputs

	// v2Mount forces cgroup v2 at a mount point (tests on hybrid hosts).
	v2Mount string
}

// New builds a Manager: it fills the config's defaults, validates it, and picks cgroup v2, v1
// or the rlimit fallback, and finds out whether decoders can be isolated (see Isolation).
//
// With cgroups, New kills every process left below cgroup_parent by a previous runner that
// crashed, and removes those groups: build exactly one Manager, in the runner's `run` command,
// never in a CLI command that inspects a running station. ctx bounds that clean-up.
func New(ctx context.Context, o Options) (*Manager, error) {
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Emitter == nil {
		return nil, errors.New("proc: an event emitter is required")
	}
	clk, log := o.Clock, o.Log
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	programs, err := cfg.compilePrograms()
	if err != nil {
		return nil, err
	}
	root := os.Geteuid() == 0
	m := &Manager{
		cfg: cfg, log: log, emit: o.Emitter, clock: clk, root: root,
		teams: newTeams(cfg, root), programs: programs,
		procs: map[string]*process{}, outputs: o.Outputs,
	}
	m.lim = newLimiter(ctx, cfg, o.v2Mount, log)
	m.iso = probeIsolation(ctx, cfg, root)
	log.Info("process limits", zap.String("cgroup_limits", m.lim.Mode()), zap.Bool("team_users", root))
	if v1, ok := m.lim.(*v1Limiter); ok && !v1.PidsLimited() {
		log.Warn("cgroup v1 pids hierarchy not mounted: no pids limit")
	}
	switch {
	case m.iso.ok:
	case m.iso.allow:
		log.Warn("decoders run UNISOLATED (proc.allow_unisolated: true): "+m.iso.reason, zap.Bool("team_users", root))
	default:
		log.Warn("no decoder will run: " + m.iso.reason + "; set proc.allow_unisolated: true to run them unisolated")
	}
	return m, nil
}

// CgroupLimits is "v1", "v2" or "off: <reason>", for the heartbeat: one line of at most
// api.MaxCgroupLimitsLen characters (a reason may be a multi-line joined error). When decoders
// run unisolated (proc.allow_unisolated), it starts with "UNISOLATED: " and the reason, so every
// heartbeat and `talos-satellite status` say so where operators already look.
func (m *Manager) CgroupLimits() string {
	mode := m.lim.Mode()
	if !m.iso.ok && m.iso.allow {
		mode = "UNISOLATED: " + m.iso.reason + "; cgroup limits " + mode
	}
	return api.FitLine(mode, api.MaxCgroupLimitsLen)
}

// Processes lists the known processes with their latest CPU and memory sample, for the
// heartbeat and process.list: the live ones by name, then those finished within the last hour,
// most recent first; at most api.MaxHeartbeatProcesses in all (the backend refuses a longer
// list), so the oldest finished ones are left out first.
func (m *Manager) Processes() []api.ProcessInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := make([]*process, 0, len(m.procs))
	for _, p := range m.procs {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return reportedBefore(ps[i], ps[j]) })
	ps = ps[:min(len(ps), api.MaxHeartbeatProcesses)]
	out := make([]api.ProcessInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	return out
}

// reportedBefore orders processes for the report: live before finished, live ones by name,
// finished ones newest first (then by name).
func reportedBefore(a, b *process) bool {
	la, lb := live(a.state), live(b.state)
	switch {
	case la != lb:
		return la
	case !la && !a.finishedAt.Equal(b.finishedAt):
		return a.finishedAt.After(b.finishedAt)
	}
	return a.spec.Name < b.spec.Name
}

// Start runs a process and returns once it runs (or failed to start). The name must not be
// used by a live process; at most max_processes may be live at once.
func (m *Manager) Start(ctx context.Context, spec Spec) (api.ProcessInfo, error) {
	if err := spec.validate(); err != nil {
		return api.ProcessInfo{}, err
	}
	if err := m.teams.check(spec.Team); err != nil {
		return api.ProcessInfo{}, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p, err := m.newProcess(spec)
	if err != nil {
		return api.ProcessInfo{}, err
	}
	if err := m.iso.check(); err != nil {
		return api.ProcessInfo{}, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	if err := m.reserve(p); err != nil {
		return api.ProcessInfo{}, err
	}
	defer m.starting.Done()
	if p.id, err = m.teams.identity(ctx, spec.Team); err == nil {
		err = m.launch(ctx, p)
	}
	if err != nil {
		m.mu.Lock()
		delete(m.procs, spec.Name)
		m.mu.Unlock()
		return api.ProcessInfo{}, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	return m.infoOf(p), nil
}

// Check tells whether spec would be allowed to start (its fields, its team, the allow-list,
// its limits), without starting anything: an observation is checked when it is scheduled, not
// at AOS with nobody watching.
func (m *Manager) Check(spec Spec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if err := m.teams.check(spec.Team); err != nil {
		return err
	}
	if _, err := m.newProcess(spec); err != nil {
		return err
	}
	return m.iso.check()
}

// newProcess applies the allow-list (a Program spec) and the limits.
func (m *Manager) newProcess(spec Spec) (*process, error) {
	a := allowed{argv: spec.Command, max: m.cfg.Max, network: spec.Network}
	if spec.Program != "" {
		var err error
		if a, err = allow(m.programs, m.cfg.Max, spec.Program, spec.Args, spec.Env); err != nil {
			return nil, err
		}
	}
	if a.network == "" {
		a.network = NetworkNone
	}
	limits, err := resolveLimits(m.cfg.Defaults, a.max, spec.Limits)
	if err != nil {
		return nil, err
	}
	return &process{spec: spec, argv: a.argv, setEnv: a.setEnv, network: a.network, limits: limits,
		idle: idleTimeout(m.cfg, spec), state: api.ProcessStarting}, nil
}

// reserve claims the name and a slot, so concurrent starts cannot overshoot max_processes.
func (m *Manager) reserve(p *process) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrShuttingDown
	}
	if old, ok := m.procs[p.spec.Name]; ok && live(old.state) {
		return fmt.Errorf("%w: %s is %s", ErrExists, p.spec.Name, old.state)
	}
	n := 0
	for _, q := range m.procs {
		if live(q.state) {
			n++
		}
	}
	if n >= m.cfg.MaxProcesses {
		return fmt.Errorf("%w: %d of %d (proc.max_processes) are live; stop one first", ErrTooManyProcesses, n, m.cfg.MaxProcesses)
	}
	m.procs[p.spec.Name] = p
	m.starting.Add(1)
	return nil
}

// launch spawns one run of p and hands it to a waiter.
func (m *Manager) launch(ctx context.Context, p *process) error {
	r, err := m.spawn(ctx, p)
	if err != nil {
		return err
	}
	r.out = newOutput(m.cfg.Output, m.clock, func(b outputBatch) { m.sendOutput(p, b) })
	r.out.read(r.pipes[0], "stdout")
	r.out.read(r.pipes[1], "stderr")
	m.mu.Lock()
	p.run, p.state = r, api.ProcessRunning
	p.exitCode, p.signal, p.oomKilled = nil, "", false
	p.lastSample, p.lastSampleAt = usage{}, r.started
	data := m.eventData(p, r, nil)
	m.wg.Add(1)
	m.mu.Unlock()
	// The end of a run is cleaned up whatever happens to the launcher's context.
	go m.wait(context.WithoutCancel(ctx), p, r)
	m.event(p, api.EventProcessStarted, api.SeverityInfo, "process started", data)
	return nil
}

func (m *Manager) infoOf(p *process) api.ProcessInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return p.info()
}

// Stop stops a process: SIGTERM to its group, SIGKILL after the grace period (or at once when
// ctx ends). It returns the process's final state; stopping a finished process is no error.
func (m *Manager) Stop(ctx context.Context, name string) (api.ProcessInfo, error) {
	return m.stop(ctx, name, "stopped")
}

func (m *Manager) stop(ctx context.Context, name, reason string) (api.ProcessInfo, error) {
	m.mu.Lock()
	p, ok := m.procs[name]
	if !ok {
		m.mu.Unlock()
		return api.ProcessInfo{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	switch p.state {
	case api.ProcessStarting:
		m.mu.Unlock()
		return api.ProcessInfo{}, fmt.Errorf("%w: %s", ErrStarting, name)
	case api.ProcessBackoff:
		p.state, p.stopReason, p.finishedAt = api.ProcessExited, reason, m.clock.Now()
		info, out := p.info(), p.output
		m.mu.Unlock()
		m.closeOutput(out) // stopped while waiting to restart: it has exited for good
		return info, nil
	case api.ProcessRunning:
		p.state, p.stopReason = api.ProcessStopping, reason
	case api.ProcessStopping:
	default:
		info := p.info()
		m.mu.Unlock()
		return info, nil
	}
	r := p.run
	m.mu.Unlock()
	err := m.terminate(ctx, r)
	info := m.infoOf(p)
	if err != nil {
		return info, fmt.Errorf("stop %s: %w", name, err)
	}
	return info, nil
}

// Restart stops a process (if live) and starts it again with the same spec and a fresh
// crash-loop count.
func (m *Manager) Restart(ctx context.Context, name string) (api.ProcessInfo, error) {
	if _, err := m.Stop(ctx, name); err != nil {
		return api.ProcessInfo{}, err
	}
	m.mu.Lock()
	p, ok := m.procs[name]
	switch {
	case m.closed:
		m.mu.Unlock()
		return api.ProcessInfo{}, ErrShuttingDown
	case !ok:
		m.mu.Unlock()
		return api.ProcessInfo{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	case live(p.state):
		m.mu.Unlock()
		return api.ProcessInfo{}, fmt.Errorf("%w: %s is %s", ErrExists, name, p.state)
	}
	p.state, p.stopReason, p.restartTimes = api.ProcessStarting, "", nil
	p.output = nil // collected when it exited: opened again for this run
	p.restarts++
	m.starting.Add(1)
	m.mu.Unlock()
	defer m.starting.Done()
	if err := m.launch(ctx, p); err != nil {
		m.fail(p, err)
		return m.infoOf(p), fmt.Errorf("restart %s: %w", name, err)
	}
	return m.infoOf(p), nil
}

// exited records how a run ended and decides what comes next: nothing (stopped by the
// runner, or succeeded, or policy never), a restart after backoff, or failed (crash loop).
func (m *Manager) exited(p *process, r *run, ex exitInfo) {
	now := m.clock.Now()
	m.mu.Lock()
	p.exitCode, p.signal, p.oomKilled = ex.code, ex.signal, ex.oomKilled
	p.cpuPercent, p.memoryBytes = 0, 0
	next, delay := m.nextState(p, ex, now)
	p.state = next
	if next == api.ProcessBackoff {
		p.nextStart = now.Add(delay)
	} else {
		p.finishedAt = now
	}
	data := m.eventData(p, r, &ex)
	data.RuntimeSeconds = now.Sub(r.started).Seconds()
	close(r.done)
	out := p.output
	m.mu.Unlock()

	sev, msg := api.SeverityInfo, "process exited"
	if ex.failed && data.Reason == "" {
		sev, msg = api.SeverityWarning, "process failed"
	}
	m.event(p, api.EventProcessExited, sev, msg, data)
	if next != api.ProcessBackoff {
		m.closeOutput(out)
	}
	if ex.oomKilled {
		m.event(p, api.EventProcessOOMKilled, api.SeverityError, fmt.Sprintf("OOM-killed at its %d MiB memory limit", p.limits.MemoryMB), data)
	}
	switch next {
	case api.ProcessBackoff:
		data.RestartInSeconds = delay.Seconds()
		m.event(p, api.EventProcessRestarting, api.SeverityWarning, fmt.Sprintf("restarting in %v", delay), data)
	case api.ProcessFailed:
		m.event(p, api.EventProcessFailed, api.SeverityError,
			fmt.Sprintf("crash loop: %d restarts within %v, not restarting", m.cfg.CrashLoopRestarts, m.cfg.CrashLoopWindow), data)
	}
}

// nextState applies the restart policy and the crash-loop limit; the caller holds m.mu.
func (m *Manager) nextState(p *process, ex exitInfo, now time.Time) (string, time.Duration) {
	if p.stopReason != "" || !ex.failed || p.spec.Restart != api.RestartOnFailure || m.closed {
		return api.ProcessExited, 0
	}
	recent := p.restartTimes[:0]
	for _, t := range p.restartTimes {
		if now.Sub(t) < m.cfg.CrashLoopWindow {
			recent = append(recent, t)
		}
	}
	p.restartTimes = recent
	if len(recent) >= m.cfg.CrashLoopRestarts {
		return api.ProcessFailed, 0
	}
	i := len(recent)
	if i >= len(m.cfg.Backoff) {
		i = len(m.cfg.Backoff) - 1
	}
	return api.ProcessBackoff, m.cfg.Backoff[i]
}

// fail marks a process failed after a restart could not be launched.
func (m *Manager) fail(p *process, err error) {
	m.mu.Lock()
	p.state, p.finishedAt = api.ProcessFailed, m.clock.Now()
	data := m.eventData(p, nil, nil)
	m.mu.Unlock()
	m.log.Warn("restart failed", zapName(p.spec.Name), zapErr(err))
	m.event(p, api.EventProcessFailed, api.SeverityError, "restart failed: "+err.Error(), data)
}

// Run supervises until ctx ends (restarts, idle timeouts, output batches, usage samples),
// then stops every process within the grace period and returns once none is left.
func (m *Manager) Run(ctx context.Context) error {
	if !m.iso.ok {
		m.event(nil, api.EventProcessUnisolated, api.SeverityWarning, "decoders are not isolated: "+m.iso.String(),
			map[string]string{"isolation": m.iso.String()})
	}
	if mode := m.lim.Mode(); !m.limited() {
		m.event(nil, api.EventProcessLimitsOff, api.SeverityWarning, "cgroup limits are "+mode, map[string]string{"cgroup_limits": mode})
	}
	for {
		t := m.clock.NewTimer(tickInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return m.shutdown(ctx)
		case now := <-t.C():
			m.tick(ctx, now)
		}
	}
}

func (m *Manager) limited() bool {
	_, ok := m.lim.(*rlimitLimiter)
	return !ok
}

// shutdown stops taking work, stops every live process in parallel and waits for them all.
func (m *Manager) shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.starting.Wait() // a start in progress finishes; its process is then stopped below
	m.mu.Lock()
	var names []string
	for name, p := range m.procs {
		if live(p.state) {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	// Processes are stopped even though ctx is done: the grace period bounds the wait.
	stopCtx := context.WithoutCancel(ctx)
	errs := make(chan error, len(names))
	for _, name := range names {
		go func() {
			_, err := m.stop(stopCtx, name, "shutdown")
			if errors.Is(err, ErrStarting) {
				err = nil // its launcher sees closed and the waiter reports it
			}
			errs <- err
		}()
	}
	var all []error
	for range names {
		all = append(all, <-errs)
	}
	m.wg.Wait()
	all = append(all, m.lim.Close())
	return errors.Join(all...)
}

// tick does the periodic work of Run.
func (m *Manager) tick(ctx context.Context, now time.Time) {
	var due, idle []*process
	var idleData []processEvent
	var outs []*output
	m.mu.Lock()
	for name, p := range m.procs {
		switch {
		case p.state == api.ProcessBackoff && !now.Before(p.nextStart):
			p.state = api.ProcessStarting
			p.restarts++
			p.restartTimes = append(p.restartTimes, now)
			due = append(due, p)
		case p.state == api.ProcessRunning && p.idle > 0 && now.Sub(p.run.out.lastActivity()) >= p.idle:
			idle = append(idle, p)
			idleData = append(idleData, m.eventData(p, p.run, nil))
		case !live(p.state) && now.Sub(p.finishedAt) > finishedRetention:
			delete(m.procs, name)
		}
		if p.run != nil && p.state == api.ProcessRunning {
			outs = append(outs, p.run.out)
		}
	}
	sample := now.Sub(m.lastSample) >= m.cfg.SampleInterval
	if sample {
		m.lastSample = now
	}
	m.mu.Unlock()
	for _, o := range outs {
		o.flushDue(now)
	}
	for _, p := range due {
		if err := m.launch(ctx, p); err != nil {
			m.fail(p, err)
		}
	}
	for i, p := range idle {
		m.event(p, api.EventProcessIdleTimeout, api.SeverityWarning, fmt.Sprintf("no output for %v, stopping", p.idle), idleData[i])
		// Not cancelled with Run: the grace period bounds the stop, and shutdown waits for it.
		go func() { _, _ = m.stop(context.WithoutCancel(ctx), p.spec.Name, "idle_timeout") }()
	}
	if sample {
		m.sample(now)
	}
}

// sample reads each running group's CPU time and memory; CPU percent is the CPU time used
// since the previous sample over the time between them, 100 = one core.
// The files are read without holding m.mu (the fallback scans /proc once per process).
func (m *Manager) sample(now time.Time) {
	runs := map[*process]*run{}
	m.mu.Lock()
	for _, p := range m.procs {
		if p.state == api.ProcessRunning && p.run != nil {
			runs[p] = p.run
		}
	}
	m.mu.Unlock()
	for p, r := range runs {
		u, err := r.grp.Usage(r.pid)
		if err != nil {
			continue // the group may be ending right now; the next sample catches up
		}
		m.mu.Lock()
		if p.run == r && p.state == api.ProcessRunning {
			if dt := now.Sub(p.lastSampleAt); dt > 0 && u.CPU >= p.lastSample.CPU {
				p.cpuPercent = 100 * float64(u.CPU-p.lastSample.CPU) / float64(dt)
			}
			p.memoryBytes = u.MemoryBytes
			p.lastSample, p.lastSampleAt = u, now
		}
		m.mu.Unlock()
	}
}
