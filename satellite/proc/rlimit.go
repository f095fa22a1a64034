package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// rlimitLimiter is the fallback without usable cgroups. What it gives and what it does not is
// spelled out in docs/processes.md ("Without cgroups"): RLIMIT_AS is not a memory limit and
// nothing here is a CPU rate limit.
type rlimitLimiter struct {
	reason string
	log    *zap.Logger
}

func (l *rlimitLimiter) Mode() string { return "off: " + l.reason }
func (l *rlimitLimiter) Close() error { return nil }

func (l *rlimitLimiter) Create(_, _ string, lim Limits, dedicatedUser bool) (group, error) {
	return &rlimitGroup{lim: lim, dedicatedUser: dedicatedUser, log: l.log}, nil
}

// fallbackNice is the niceness of processes without a CPU quota: a runaway decoder still
// competes for the CPU, but the tracker (nice 0) wins.
const fallbackNice = 10

type rlimitGroup struct {
	lim           Limits
	dedicatedUser bool
	log           *zap.Logger
}

func (g *rlimitGroup) Limited() bool                { return false }
func (g *rlimitGroup) Path() string                 { return "" }
func (g *rlimitGroup) Prepare(_ *exec.Cmd) error    { return nil }
func (g *rlimitGroup) Release()                     {}
func (g *rlimitGroup) OOMKilled() bool              { return false }
func (g *rlimitGroup) Delete(context.Context) error { return nil }

// Shim lowers RLIMIT_AS in the shim itself ("ulimit -v", in KiB, which dash, bash and busybox
// sh all know): a process may always lower its own limits, whereas prlimit(2) on a process of
// another user needs CAP_SYS_RESOURCE, which containers often drop.
func (g *rlimitGroup) Shim() (string, bool) {
	return fmt.Sprintf("ulimit -v %d || exit 125; ", g.lim.MemoryBytes()/1024), true
}

// Attach sets RLIMIT_NPROC and the niceness on the waiting shim; the program it then executes,
// and everything that program forks, inherits them.
func (g *rlimitGroup) Attach(pid int) error {
	if g.dedicatedUser {
		// RLIMIT_NPROC counts every process of the user, so it is only a per-team bound when
		// the team has a user of its own. Setting it on another user's process needs
		// CAP_SYS_RESOURCE; without it the bound is skipped, with a warning.
		n := uint64(g.lim.Pids)
		if err := unix.Prlimit(pid, unix.RLIMIT_NPROC, &unix.Rlimit{Cur: n, Max: n}, nil); err != nil {
			g.log.Warn("RLIMIT_NPROC not set", zap.Int("pid", pid), zap.Error(err))
		}
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, pid, fallbackNice); err != nil {
		return fmt.Errorf("set nice %d: %w", fallbackNice, err)
	}
	return nil
}

// Kill signals the process group; a member that left it (setsid) is out of reach.
func (g *rlimitGroup) Kill(ctx context.Context, pgid int) error {
	return killLoop(ctx, func() ([]int, error) { return groupMembers(pgid) })
}

// Usage sums CPU time and resident memory over the members of the process group.
func (g *rlimitGroup) Usage(pgid int) (usage, error) {
	var u usage
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return u, fmt.Errorf("read /proc: %w", err)
	}
	page := uint64(os.Getpagesize())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.pgrp != pgid {
			continue
		}
		u.CPU += st.cpu
		u.MemoryBytes += st.rssPages * page
	}
	return u, nil
}

// groupMembers lists the live (not zombie) processes of a process group.
func groupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.pgrp == pgid && st.state != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

type procStat struct {
	state    string
	pgrp     int
	cpu      time.Duration
	rssPages uint64
}

// clockTick is USER_HZ, 100 on every Linux architecture Talos runs on.
const clockTick = 100

func readProcStat(pid int) (procStat, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(raw))
}

// parseProcStat reads /proc/<pid>/stat; the command name may hold spaces and parentheses, so
// the fields are counted from the last ')'.
func parseProcStat(s string) (procStat, error) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procStat{}, errors.New("proc stat: no command name")
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the name, want 22", len(f))
	}
	pgrp, err1 := strconv.Atoi(f[2])
	utime, err2 := strconv.ParseUint(f[11], 10, 64)
	stime, err3 := strconv.ParseUint(f[12], 10, 64)
	rss, err4 := strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return procStat{}, fmt.Errorf("proc stat: %w", err)
	}
	if rss < 0 {
		rss = 0
	}
	ticks := utime + stime
	if utime > 1<<40 || stime > 1<<40 { // 348 years of CPU: garbage, and it would overflow below
		return procStat{}, fmt.Errorf("proc stat: implausible CPU ticks %d+%d", utime, stime)
	}
	return procStat{
		state:    f[0],
		pgrp:     pgrp,
		cpu:      time.Duration(ticks) * time.Second / clockTick,
		rssPages: uint64(rss),
	}, nil
}

// signalGroup sends sig to a process group, ignoring a group that is already gone.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal group %d: %w", pgid, err)
	}
	return nil
}
