package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// v1Limiter makes process cgroups in the v1 cpu, cpuacct, memory and (where mounted) pids
// hierarchies. The children are placed by the start shim (see docs/decisions/0031).
type v1Limiter struct {
	parent string
	// nested: the parent is relative, under the runner's own cgroup of each hierarchy.
	nested bool
	// memsw: the kernel accounts swap, so memory.memsw.limit_in_bytes can forbid it.
	memsw bool
	pids  bool
}

// v1Wanted are the hierarchies a process cgroup joins; cpu, cpuacct and memory are required.
var v1Wanted = []cgroup1.Name{cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory, cgroup1.Pids}

func newV1Limiter(ctx context.Context, cfg Config) (*v1Limiter, error) {
	l := &v1Limiter{parent: cfg.CgroupParent, nested: !filepath.IsAbs(cfg.CgroupParent)}
	subs, err := l.hierarchy()
	if err != nil {
		return nil, err
	}
	have := map[cgroup1.Name]bool{}
	for _, s := range subs {
		have[s.Name()] = true
	}
	for _, n := range []cgroup1.Name{cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory} {
		if !have[n] {
			return nil, fmt.Errorf("cgroup v1 controller %s is not mounted", n)
		}
	}
	l.pids = have[cgroup1.Pids]
	if err := l.probe(); err != nil {
		return nil, err
	}
	// Every process sits in every hierarchy, so the memory hierarchy finds all leftovers.
	mem, err := l.dir(l.path(l.parent), cgroup1.Memory)
	if err != nil {
		return nil, err
	}
	if err := reapTree(ctx, mem); err != nil {
		return nil, fmt.Errorf("clean up cgroups of a previous run: %w", err)
	}
	return l, nil
}

// Mode is "v1"; a missing pids hierarchy is logged by the manager (PidsLimited).
func (l *v1Limiter) Mode() string { return "v1" }

// PidsLimited reports whether the pids hierarchy is mounted, so pids limits apply.
func (l *v1Limiter) PidsLimited() bool { return l.pids }

// hierarchy keeps the wanted subsystems that are mounted.
func (l *v1Limiter) hierarchy() ([]cgroup1.Subsystem, error) {
	all, err := cgroup1.Default()
	if err != nil {
		return nil, fmt.Errorf("cgroup v1 hierarchies: %w", err)
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		for _, w := range v1Wanted {
			if s.Name() == w {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func (l *v1Limiter) path(rel string) cgroup1.Path {
	if l.nested {
		return cgroup1.NestedPath(rel)
	}
	return cgroup1.StaticPath(rel)
}

// probe makes and removes a throwaway cgroup with limits, so a host where the hierarchies are
// read-only falls back to rlimits at start-up instead of failing every process start.
func (l *v1Limiter) probe() error {
	rel := filepath.Join(l.parent, fmt.Sprintf(".probe-%d", os.Getpid()))
	cg, err := cgroup1.New(l.path(rel), l.resources(Limits{CPUCores: 1, MemoryMB: 64, Pids: 64}, false), cgroup1.WithHierarchy(l.hierarchy))
	if err != nil {
		return fmt.Errorf("cgroup v1 is not writable: %w", err)
	}
	if mem, err := l.dir(l.path(rel), cgroup1.Memory); err == nil {
		_, statErr := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
		l.memsw = statErr == nil
	}
	if err := cg.Delete(); err != nil {
		return fmt.Errorf("remove cgroup v1 probe: %w", err)
	}
	return nil
}

// resources are the v1 settings: CFS quota, memory limit, memsw = limit (no swap) where the
// kernel accounts swap, and the pids limit.
func (l *v1Limiter) resources(lim Limits, memsw bool) *specs.LinuxResources {
	quota, period := cpuQuota(lim.CPUCores)
	mem := lim.MemoryBytes()
	r := &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
		Memory: &specs.LinuxMemory{Limit: &mem},
	}
	if memsw {
		r.Memory.Swap = &mem
	} else {
		// Without swap accounting the limit cannot forbid swap; swappiness 0 keeps the group
		// from swapping short of the host running out of memory.
		zero := uint64(0)
		r.Memory.Swappiness = &zero
	}
	if l.pids {
		pids := lim.Pids
		r.Pids = &specs.LinuxPids{Limit: &pids}
	}
	return r
}

func (l *v1Limiter) Create(team, name string, lim Limits, _ bool) (group, error) {
	rel := cgroupPath(l.parent, team, name)
	p := l.path(rel)
	cg, err := cgroup1.New(p, l.resources(lim, l.memsw), cgroup1.WithHierarchy(l.hierarchy))
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", rel, err)
	}
	g := &v1Group{cg: cg, rel: rel}
	if g.memDir, err = l.dir(p, cgroup1.Memory); err != nil {
		return nil, errors.Join(err, cg.Delete())
	}
	if g.cpuacctDir, err = l.dir(p, cgroup1.Cpuacct); err != nil {
		return nil, errors.Join(err, cg.Delete())
	}
	return g, nil
}

// Close removes the parent cgroups in every hierarchy; they stay while any process is left.
func (l *v1Limiter) Close() error {
	subs, err := l.hierarchy()
	if err != nil {
		return err
	}
	for _, s := range subs {
		if dir, err := l.dir(l.path(l.parent), s.Name()); err == nil {
			removeEmptyTree(dir)
		}
	}
	return nil
}

// dir is the directory of a cgroup in one v1 hierarchy, wherever that hierarchy is mounted
// (co-mounted cpu,cpuacct included).
func (l *v1Limiter) dir(p cgroup1.Path, name cgroup1.Name) (string, error) {
	rel, err := p(name)
	if err != nil {
		return "", fmt.Errorf("cgroup path of %s: %w", name, err)
	}
	subs, err := l.hierarchy()
	if err != nil {
		return "", err
	}
	for _, s := range subs {
		if pt, ok := s.(interface{ Path(string) string }); ok && s.Name() == name {
			return pt.Path(rel), nil
		}
	}
	return "", fmt.Errorf("cgroup v1 controller %s is not mounted", name)
}

// removeEmptyTree removes the empty cgroup directories below dir, deepest first, then dir.
func removeEmptyTree(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			removeEmptyTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir) // cgroupfs refuses to remove a group holding processes: keep it then
}

type v1Group struct {
	cg         cgroup1.Cgroup
	rel        string
	memDir     string
	cpuacctDir string
}

func (g *v1Group) Limited() bool                         { return true }
func (g *v1Group) Path() string                          { return g.rel }
func (g *v1Group) Shim() (string, bool)                  { return "", true }
func (g *v1Group) Prepare(_ *exec.Cmd) error             { return nil }
func (g *v1Group) Release()                              {}
func (g *v1Group) Attach(pid int) error                  { return g.cg.AddProc(uint64(pid)) }
func (g *v1Group) Delete(ctx context.Context) error      { return deleteRetry(ctx, g.cg.Delete) }
func (g *v1Group) Kill(ctx context.Context, _ int) error { return killLoop(ctx, g.pids) }
func (g *v1Group) pids() ([]int, error)                  { return readPidsFile(filepath.Join(g.memDir, "cgroup.procs")) }
func (g *v1Group) oomControl() map[string]uint64 {
	m, _ := readKeyedFile(filepath.Join(g.memDir, "memory.oom_control"))
	return m
}

func (g *v1Group) Usage(_ int) (usage, error) {
	cpu, err := readUintFile(filepath.Join(g.cpuacctDir, "cpuacct.usage"))
	if err != nil {
		return usage{}, fmt.Errorf("read cpuacct.usage: %w", err)
	}
	mem, err := readUintFile(filepath.Join(g.memDir, "memory.usage_in_bytes"))
	if err != nil {
		return usage{}, fmt.Errorf("read memory.usage_in_bytes: %w", err)
	}
	if st, err := readKeyedFile(filepath.Join(g.memDir, "memory.stat")); err == nil && st["total_inactive_file"] < mem {
		mem -= st["total_inactive_file"]
	}
	return usage{CPU: time.Duration(cpu), MemoryBytes: mem}, nil
}

// OOMKilled reads memory.oom_control's oom_kill counter (Linux 4.13+); older kernels only
// have memory.failcnt, which counts hitting the limit, not kills, so it is not used.
func (g *v1Group) OOMKilled() bool {
	return g.oomControl()["oom_kill"] > 0
}

// deleteRetry retries removing a cgroup for a moment: the kernel may still be tearing down the
// tasks that just died.
func deleteRetry(ctx context.Context, del func() error) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = del(); err == nil || errors.Is(err, cgroup1.ErrCgroupDeleted) {
			return nil
		}
		if werr := clock.Wait(ctx, clock.Real{}, time.Duration(i+1)*2*time.Millisecond); werr != nil {
			return fmt.Errorf("delete cgroup: %w", errors.Join(err, werr))
		}
	}
	return fmt.Errorf("delete cgroup: %w", err)
}
