package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/talos-gs/talos/backend/api"
)

// shimScript runs as the team user before the real program: it waits on fd 3 until the runner
// has placed it in its cgroup (v1) or set its rlimits, then becomes the program. It forks
// nothing before that, so no grandchild can start outside the group. EOF without the go-ahead
// (the runner failed to place it) makes it exit 125 without running anything.
const shimScript = `read -r talos_go <&3 || exit 125; exec 3<&-; %sexec "$@"`

// process is one managed process over its restarts. Its fields are guarded by Manager.mu.
type process struct {
	spec Spec
	// argv, setEnv and network are what the allow-list (or the station's own code) decided.
	argv    []string
	setEnv  map[string]string
	network string
	limits  Limits
	idle    time.Duration
	id      identity
	// output is the process's output directory, nil when it has none.
	output *OutputDir

	state        string
	run          *run // the current or last execution
	restarts     int
	restartTimes []time.Time // restarts inside the crash-loop window
	nextStart    time.Time
	stopReason   string // set when the runner stopped it: no restart
	exitCode     *int
	signal       string
	oomKilled    bool
	finishedAt   time.Time
	cpuPercent   float64
	memoryBytes  uint64
	lastSample   usage
	lastSampleAt time.Time
}

// run is one execution of a process.
type run struct {
	cmd     *exec.Cmd
	pid     int
	grp     group
	out     *output
	started time.Time
	pipes   []*os.File // read ends of stdout and stderr
	done    chan struct{}
}

// exitInfo is how a run ended.
type exitInfo struct {
	code      *int
	signal    string
	oomKilled bool
	failed    bool
}

func (m *Manager) spawn(ctx context.Context, p *process) (*run, error) {
	spec, id := p.spec, p.id
	dir, err := workDir(id, spec.WorkingDir, m.root)
	if err != nil {
		return nil, err
	}
	if _, err := workDir(id, teamTmp, m.root); err != nil {
		return nil, fmt.Errorf("team tmp dir: %w", err)
	}
	if err := m.prepareOutput(p); err != nil {
		return nil, err
	}
	prog, err := resolveProgram(p.argv[0], m.cfg.Path)
	if err != nil {
		return nil, err
	}
	grp, err := m.lim.Create(spec.Team, spec.Name, p.limits, id.dedicated)
	if err != nil {
		return nil, err
	}
	r, err := m.startIn(ctx, p, grp, prog, dir)
	if err != nil {
		if derr := grp.Delete(context.WithoutCancel(ctx)); derr != nil {
			m.log.Warn("remove group of failed start", zapName(spec.Name), zapErr(derr))
		}
		return nil, err
	}
	return r, nil
}

// startIn starts the program in its group: directly (cgroup v2 places it at clone time) or
// through the shim, released only once Attach has placed it.
func (m *Manager) startIn(ctx context.Context, p *process, grp group, prog, dir string) (*run, error) {
	cmd := &exec.Cmd{
		Path: prog,
		Args: append([]string{prog}, p.argv[1:]...),
		Env:  buildEnv(m.cfg, p.id, p.spec, p.setEnv, p.output),
		Dir:  dir,
		// Stdin stays nil: the child reads /dev/null.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	if m.iso.ok {
		cmd.SysProcAttr = isolatedAttr(p.network == NetworkHost)
	}
	if p.id.dedicated {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: p.id.uid, Gid: p.id.gid, Groups: []uint32{}}
	}
	var gate *os.File
	prelude, shim := grp.Shim()
	// An isolated child waits in the shim until its private /tmp is bound, on cgroup v2 too.
	if shim || m.iso.ok {
		gateR, gateW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("shim pipe: %w", err)
		}
		defer func() { _ = gateR.Close() }() // the child has its own copy
		gate = gateW
		cmd.Path = m.cfg.Shell
		cmd.Args = append([]string{m.cfg.Shell, "-c", fmt.Sprintf(shimScript, prelude), "talos-shim", prog}, p.argv[1:]...)
		cmd.ExtraFiles = []*os.File{gateR}
	}
	r, err := m.startCmd(cmd, grp)
	if err != nil {
		closeAll(gate)
		return nil, err
	}
	if m.iso.ok {
		if err := bindPrivateTmp(ctx, m.iso.nsenter, r.pid, filepath.Join(p.id.dir, teamTmp), privateTmpTargets); err != nil {
			closeAll(gate)
			m.abort(r)
			return nil, fmt.Errorf("private /tmp: %w", err)
		}
	}
	if gate != nil {
		_, werr := gate.WriteString("go\n")
		if err := errors.Join(werr, gate.Close()); err != nil {
			m.abort(r)
			return nil, fmt.Errorf("release start shim: %w", err)
		}
	}
	return r, nil
}

// startCmd starts cmd with its output piped, and places it in grp.
func (m *Manager) startCmd(cmd *exec.Cmd, grp group) (*run, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := grp.Prepare(cmd); err != nil {
		closeAll(outR, outW, errR, errW)
		return nil, err
	}
	err = cmd.Start()
	closeAll(outW, errW) // the child holds its own copies
	grp.Release()
	if err != nil {
		closeAll(outR, errR)
		return nil, fmt.Errorf("start %s: %w", cmd.Args[0], err)
	}
	r := &run{cmd: cmd, pid: cmd.Process.Pid, grp: grp, pipes: []*os.File{outR, errR}, done: make(chan struct{}), started: m.clock.Now()}
	if err := grp.Attach(r.pid); err != nil {
		m.abort(r)
		return nil, fmt.Errorf("place pid %d in its group: %w", r.pid, err)
	}
	return r, nil
}

// abort kills and reaps a run that could not be set up; the shim, if any, never ran the program.
func (m *Manager) abort(r *run) {
	_ = signalGroup(r.pid, syscall.SIGKILL)
	// Not cancellable: the run must end whatever the caller's context says; the loop is bounded.
	_ = r.grp.Kill(context.Background(), r.pid)
	_ = r.cmd.Wait()
	closeAll(r.pipes...)
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// waitExit waits for the leader to exit without reaping it (WNOWAIT): while it is a zombie its
// pid, which is also the process group id, cannot be reused, so killing the group afterwards
// cannot hit a stranger.
func waitExit(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// outputDrain bounds how long the end of a run waits for its output pipes to close; only a
// process that escaped its group (possible without cgroups) keeps them open longer.
const outputDrain = 2 * time.Second

// wait follows a run to its end: leader exit, then the rest of the group killed, reaped,
// output flushed, group removed; then the manager decides what comes next.
func (m *Manager) wait(ctx context.Context, p *process, r *run) {
	defer m.wg.Done()
	if err := waitExit(r.pid); err != nil {
		m.log.Warn("waitid", zapName(p.spec.Name), zapErr(err))
	}
	// ctx is not cancelled with the runner (see launch); the kill and delete loops are bounded.
	if err := r.grp.Kill(ctx, r.pid); err != nil {
		m.log.Warn("kill rest of group", zapName(p.spec.Name), zapErr(err))
	}
	_ = r.cmd.Wait() // the exit status is read from ProcessState below
	r.out.wait(time.After(outputDrain))
	closeAll(r.pipes...)
	r.out.flush()
	ex := exitOf(r.cmd.ProcessState, r.grp.OOMKilled())
	if err := r.grp.Delete(ctx); err != nil {
		m.log.Warn("remove process group", zapName(p.spec.Name), zapErr(err))
	}
	m.exited(p, r, ex)
}

func exitOf(ps *os.ProcessState, oom bool) exitInfo {
	ex := exitInfo{oomKilled: oom}
	if ps == nil {
		ex.failed = true
		return ex
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ex.signal = unix.SignalName(ws.Signal())
		if ex.signal == "" {
			ex.signal = ws.Signal().String()
		}
		ex.failed = true
	} else {
		code := ps.ExitCode()
		ex.code = &code
		ex.failed = code != 0
	}
	ex.failed = ex.failed || oom
	return ex
}

// terminate stops a run: SIGTERM to the process group, SIGKILL to the group (and every
// member of its cgroup) after the grace period or when ctx ends first.
func (m *Manager) terminate(ctx context.Context, r *run) error {
	if err := signalGroup(r.pid, syscall.SIGTERM); err != nil {
		return err
	}
	grace := m.clock.NewTimer(m.cfg.GracePeriod)
	defer grace.Stop()
	select {
	case <-r.done:
		return nil
	case <-grace.C():
	case <-ctx.Done():
	}
	select {
	case <-r.done: // ended meanwhile: its group may be gone already
		return nil
	default:
	}
	err := errors.Join(signalGroup(r.pid, syscall.SIGKILL), r.grp.Kill(context.WithoutCancel(ctx), r.pid))
	<-r.done // a SIGKILLed group ends; the waiter closes done
	return err
}

// info is the heartbeat view of a process; the caller holds m.mu.
func (p *process) info() api.ProcessInfo {
	pi := api.ProcessInfo{
		Name: p.spec.Name, TeamID: p.spec.Team, State: p.state, Restarts: p.restarts,
		CPUPercent: p.cpuPercent, MemoryBytes: p.memoryBytes,
		ExitCode: p.exitCode, Signal: p.signal, OOMKilled: p.oomKilled,
	}
	if p.run != nil {
		pi.Limited = p.run.grp.Limited()
		if live(p.state) {
			pi.PID = p.run.pid
		}
	}
	return pi
}

// live states count against max_processes.
func live(state string) bool {
	switch state {
	case api.ProcessStarting, api.ProcessRunning, api.ProcessStopping, api.ProcessBackoff:
		return true
	}
	return false
}
