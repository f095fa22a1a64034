package proc

import (
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
	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// v2Controllers must be available in the parent for limits to apply.
var v2Controllers = []string{"cpu", "memory", "pids"}

// v2Limiter makes process cgroups in the unified hierarchy. Children are placed at clone time
// with CLONE_INTO_CGROUP (Linux 5.7+), so not even their first instruction runs outside.
type v2Limiter struct {
	mount string
	// base is the parent group, relative to mount, starting with "/".
	base string
	// swap: memory.swap.max exists (swap accounting on), so swap can be forbidden.
	swap bool
	// limits is false only in tests on hosts whose v2 hierarchy has no controllers: groups are
	// then made for placement and killing, without resource settings.
	limits bool
}

func newV2Limiter(ctx context.Context, cfg Config, mount string) (*v2Limiter, error) {
	l := &v2Limiter{mount: mount, base: cfg.CgroupParent, limits: true}
	if !path.IsAbs(cfg.CgroupParent) {
		own, err := ownV2Group()
		if err != nil {
			return nil, err
		}
		if err := l.delegate(own); err != nil {
			return nil, err
		}
		l.base = path.Join(own, cfg.CgroupParent)
	}
	if err := l.probe(); err != nil {
		return nil, err
	}
	if err := reapTree(ctx, filepath.Join(l.mount, l.base)); err != nil {
		return nil, fmt.Errorf("clean up cgroups of a previous run: %w", err)
	}
	return l, nil
}

// ownV2Group is the runner's own cgroup in the unified hierarchy, from /proc/self/cgroup.
func ownV2Group() (string, error) {
	_, unified, err := cgroups.ParseCgroupFileUnified("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read own cgroup: %w", err)
	}
	if unified == "" {
		return "", errors.New("the runner is in no cgroup v2 group")
	}
	return unified, nil
}

// delegate makes the runner's own group able to hold limited children. cgroup v2 lets only a
// group without processes of its own hand controllers to children, so when enabling them
// fails with EBUSY the runner moves itself into a "runner" leaf, as systemd's Delegate=yes
// expects a service to do.
func (l *v2Limiter) delegate(own string) error {
	if own == "/" {
		return nil // the root group is exempt from the no-internal-processes rule
	}
	dir := filepath.Join(l.mount, own)
	if err := missingControllers(dir); err != nil {
		return err
	}
	err := enableControllers(dir)
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	leaf := filepath.Join(dir, "runner")
	// #nosec G301 -- cgroupfs directories; the mode is not an access control here.
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make runner leaf cgroup: %w", err)
	}
	// #nosec G306 -- a cgroupfs control file, which exists already.
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("move the runner into %s: %w", leaf, err)
	}
	return enableControllers(dir)
}

// missingControllers fails naming the controllers cpu, memory or pids that dir cannot use.
func missingControllers(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read cgroup controllers: %w", err)
	}
	have := strings.Fields(string(raw))
	var missing []string
	for _, c := range v2Controllers {
		if !contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cgroup v2 controllers missing in %s: %s", dir, strings.Join(missing, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func enableControllers(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.subtree_control"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open subtree_control: %w", err)
	}
	_, err = f.WriteString("+cpu +memory +pids")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	return nil
}

// probe makes and removes a limited throwaway group, and learns whether swap is accounted.
func (l *v2Limiter) probe() error {
	group := path.Join(l.base, fmt.Sprintf(".probe-%d", os.Getpid()))
	m, err := cgroup2.NewManager(l.mount, group, v2Resources(Limits{CPUCores: 1, MemoryMB: 64, Pids: 64}, false))
	if err != nil {
		return fmt.Errorf("cgroup v2 is not writable: %w", err)
	}
	_, statErr := os.Stat(filepath.Join(l.mount, group, "memory.swap.max"))
	l.swap = statErr == nil
	if err := m.Delete(); err != nil {
		return fmt.Errorf("remove cgroup v2 probe: %w", err)
	}
	return nil
}

func (l *v2Limiter) Mode() string { return "v2" }

// v2Resources are cpu.max, memory.max, memory.swap.max=0 where swap is accounted,
// memory.oom.group=1 (an OOM kill takes the whole group, not a random member) and pids.max.
func v2Resources(lim Limits, swap bool) *cgroup2.Resources {
	quota, period := cpuQuota(lim.CPUCores)
	mem := lim.MemoryBytes()
	oomGroup := true
	r := &cgroup2.Resources{
		CPU:    &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)},
		Memory: &cgroup2.Memory{Max: &mem, OOMGroup: &oomGroup},
		Pids:   &cgroup2.Pids{Max: lim.Pids},
	}
	if swap {
		zero := int64(0)
		r.Memory.Swap = &zero
	}
	return r
}

func (l *v2Limiter) Create(team, name string, lim Limits, _ bool) (group, error) {
	rel := cgroupPath(l.base, team, name)
	res := &cgroup2.Resources{}
	if l.limits {
		res = v2Resources(lim, l.swap)
	}
	m, err := cgroup2.NewManager(l.mount, rel, res)
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", rel, err)
	}
	return &v2Group{m: m, rel: rel, dir: filepath.Join(l.mount, rel), limited: l.limits}, nil
}

func (l *v2Limiter) Close() error {
	removeEmptyTree(filepath.Join(l.mount, l.base))
	return nil
}

type v2Group struct {
	m       *cgroup2.Manager
	rel     string
	dir     string
	fd      *os.File
	limited bool
}

func (g *v2Group) Limited() bool        { return g.limited }
func (g *v2Group) Path() string         { return g.rel }
func (g *v2Group) Shim() (string, bool) { return "", false }

// Prepare asks clone3 to create the child directly in the group (CLONE_INTO_CGROUP).
func (g *v2Group) Prepare(cmd *exec.Cmd) error {
	fd, err := os.OpenFile(g.dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", g.rel, err)
	}
	g.fd = fd
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	return nil
}

// Release closes the directory handle Prepare opened.
func (g *v2Group) Release() {
	if g.fd != nil {
		_ = g.fd.Close()
		g.fd = nil
	}
}

// Attach has nothing to do: the child was born in the group.
func (g *v2Group) Attach(_ int) error { return nil }

// Kill uses cgroup.kill (Linux 5.14+), which the kernel applies to every member atomically,
// then makes sure the group is empty.
func (g *v2Group) Kill(ctx context.Context, _ int) error {
	if _, err := os.Stat(filepath.Join(g.dir, "cgroup.kill")); err == nil {
		if err := g.m.Kill(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup.kill %s: %w", g.rel, err)
		}
	}
	return killLoop(ctx, func() ([]int, error) { return readPidsFile(filepath.Join(g.dir, "cgroup.procs")) })
}

func (g *v2Group) Usage(_ int) (usage, error) {
	st, err := readKeyedFile(filepath.Join(g.dir, "cpu.stat"))
	if err != nil {
		return usage{}, fmt.Errorf("read cpu.stat: %w", err)
	}
	u := usage{CPU: time.Duration(st["usage_usec"]) * time.Microsecond}
	if mem, err := readUintFile(filepath.Join(g.dir, "memory.current")); err == nil {
		u.MemoryBytes = mem
		if ms, err := readKeyedFile(filepath.Join(g.dir, "memory.stat")); err == nil && ms["inactive_file"] < mem {
			u.MemoryBytes -= ms["inactive_file"]
		}
	}
	return u, nil
}

// OOMKilled reads the oom_kill counter of memory.events.
func (g *v2Group) OOMKilled() bool {
	ev, err := readKeyedFile(filepath.Join(g.dir, "memory.events"))
	return err == nil && ev["oom_kill"] > 0
}

func (g *v2Group) Delete(ctx context.Context) error {
	g.Release()
	return deleteRetry(ctx, func() error {
		err := g.m.Delete()
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return err
	})
}
