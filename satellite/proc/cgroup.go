package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// limiter makes the resource group of each process: a cgroup (v1 or v2) or, without cgroups,
// rlimits on the process itself.
type limiter interface {
	// Mode is what the heartbeat reports: "v1", "v2" or "off: <reason>".
	Mode() string
	// Create makes the group for one process of a team.
	Create(team, name string, l Limits, dedicatedUser bool) (group, error)
	// Close removes what the limiter made for itself (the parent cgroup), if it is empty.
	Close() error
}

// group is the resource group of one running process.
type group interface {
	// Limited reports whether cgroup limits apply.
	Limited() bool
	// Path names the group in events: the cgroup path, or "" without cgroups.
	Path() string
	// Shim says whether the process must be started through the start shim, which waits
	// until Attach has placed it (cgroup v1, rlimits), and what shell commands the shim runs
	// before it executes the program; false means Prepare places the child at clone time
	// (cgroup v2 CLONE_INTO_CGROUP).
	Shim() (prelude string, use bool)
	// Prepare adjusts the command before it starts.
	Prepare(cmd *exec.Cmd) error
	// Release frees what Prepare holds, once the child is started (or failed to start).
	Release()
	// Attach places the started (and still waiting) shim in the group.
	Attach(pid int) error
	// Kill sends SIGKILL to every process of the group and returns once it is empty or
	// nothing more can be done.
	Kill(ctx context.Context, pgid int) error
	// Usage returns the cumulative CPU time and the current memory use of the group.
	Usage(pgid int) (usage, error)
	// OOMKilled reports whether the kernel OOM-killed a process of the group.
	OOMKilled() bool
	// Delete removes the group once it is empty.
	Delete(ctx context.Context) error
}

// usage is one sample of a group's resource use.
type usage struct {
	// CPU is the cumulative CPU time of the whole group.
	CPU time.Duration
	// MemoryBytes is the current memory use, page cache that can be dropped excluded.
	MemoryBytes uint64
}

// newLimiter picks cgroup v2, v1 or rlimits, and says why when cgroups are off.
func newLimiter(ctx context.Context, cfg Config, v2Mount string, log *zap.Logger) limiter {
	if cfg.Cgroups == "off" {
		return &rlimitLimiter{reason: "disabled by config (proc.cgroups: off)", log: log}
	}
	if os.Geteuid() != 0 && v2Mount == "" {
		// Without root, v1 is never writable; v2 may be delegated, which the probe finds out.
		if cgroups.Mode() != cgroups.Unified {
			return &rlimitLimiter{reason: fmt.Sprintf("not running as root (euid %d) and no delegated cgroup v2", os.Geteuid()), log: log}
		}
	}
	var (
		l   limiter
		err error
	)
	switch mode := cgroups.Mode(); {
	case v2Mount != "":
		l, err = newV2Limiter(ctx, cfg, v2Mount)
	case mode == cgroups.Unified:
		l, err = newV2Limiter(ctx, cfg, "/sys/fs/cgroup")
	case mode == cgroups.Legacy || mode == cgroups.Hybrid:
		// On hybrid hosts the controllers live in the v1 hierarchies.
		l, err = newV1Limiter(ctx, cfg)
	default:
		err = errors.New("no cgroup filesystem is mounted")
	}
	if err != nil {
		return &rlimitLimiter{reason: err.Error(), log: log}
	}
	return l
}

// cgroupPath joins the configured parent, the team and the process name.
func cgroupPath(parent, team, name string) string {
	return path.Join(parent, team, name)
}

// killLoop SIGKILLs the listed processes until the list is empty: a process forked between
// listing and killing shows up in the next round, and a killed process forks nothing more.
func killLoop(ctx context.Context, list func() ([]int, error)) error {
	for round := 0; round < 100; round++ {
		pids, err := list()
		if err != nil {
			// ENODEV: the group was removed while its file was being read (its run just ended).
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
				return nil
			}
			return fmt.Errorf("list group processes: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("kill pid %d: %w", pid, err)
			}
		}
		// Real time, not the manager's clock: this waits for the kernel, which a test's fake
		// clock does not move.
		if err := clock.Wait(ctx, clock.Real{}, time.Duration(round+1)*time.Millisecond); err != nil {
			return fmt.Errorf("kill group: %w", err)
		}
	}
	return errors.New("group still has processes after 100 kill rounds")
}

// reapTree kills every process left in the cgroups below dir and removes them: a runner that
// crashed (or was killed) left its decoders' descendants there, which Pdeathsig does not reach.
func reapTree(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, reapTree(ctx, filepath.Join(dir, e.Name())))
		}
	}
	errs = append(errs, killLoop(ctx, func() ([]int, error) { return readPidsFile(filepath.Join(dir, "cgroup.procs")) }))
	removeEmptyTree(dir)
	return errors.Join(errs...)
}

// readKeyedFile parses "key value" lines (cpu.stat, memory.events, memory.oom_control).
func readKeyedFile(file string) (map[string]uint64, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseKeyed(raw), nil
}

func parseKeyed(raw []byte) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
			out[fields[0]] = v
		}
	}
	return out
}

func readUintFile(file string) (uint64, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(raw))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return v, nil
}

func readPidsFile(file string) ([]int, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// cpuQuota converts cores into a CFS quota over the default 100 ms period, in microseconds.
func cpuQuota(cores float64) (quotaUS int64, periodUS uint64) {
	const period = 100000
	q := int64(cores * period)
	if q < 1000 {
		q = 1000 // the kernel's smallest quota is 1 ms
	}
	return q, period
}
