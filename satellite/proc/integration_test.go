package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// These tests run real processes under real cgroups and as real team users. They need root;
// without it they skip, and under TALOS_REQUIRE_INTEGRATION=1 they fail.

func infoOf(t *testing.T, m *Manager, name string) api.ProcessInfo {
	t.Helper()
	for _, pi := range m.Processes() {
		if pi.Name == name {
			return pi
		}
	}
	t.Fatalf("process %s not listed", name)
	return api.ProcessInfo{}
}

func TestOOMKillUnderMemoryLimit(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m, rec := newTestManager(t, testConfig(t), nil)
	requireCgroups(t, m)
	runManager(t, m)

	_, err := m.Start(context.Background(), Spec{Name: "alloc", Team: newTeam(t, m), Command: []string{helperBin, helperArg, "alloc", "300"}})
	require.NoError(t, err)

	d := exitData(t, rec.waitEvents(t, api.EventProcessExited, "alloc", 1)[0])
	assert.True(t, d.OOMKilled, "exit event must say oom_killed")
	assert.Equal(t, "SIGKILL", d.Signal)
	assert.Nil(t, d.ExitCode)
	rec.waitEvents(t, api.EventProcessOOMKilled, "alloc", 1)
	pi := infoOf(t, m, "alloc")
	assert.True(t, pi.OOMKilled)
	assert.Equal(t, api.ProcessExited, pi.State)
	assert.NotContains(t, rec.output("alloc"), "allocated", "the allocator must not have finished")
}

func TestCPUQuotaHoldsBusyLoop(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := testConfig(t)
	cfg.SampleInterval = time.Hour // only Run's first tick samples; the explicit sample below is the second
	m, _ := newTestManager(t, cfg, nil)
	requireCgroups(t, m)
	runManager(t, m)

	_, err := m.Start(context.Background(), Spec{Name: "busy", Team: newTeam(t, m), Command: []string{helperBin, helperArg, "busy", "30"}})
	require.NoError(t, err)
	m.mu.Lock()
	r := m.procs["busy"].run
	m.mu.Unlock()
	if l, ok := m.lim.(*v1Limiter); ok {
		// What the kernel holds for this group: 0.1 core, 100 MiB without swap, 256 pids.
		want := map[string]string{"cpu/cpu.cfs_quota_us": "10000", "cpu/cpu.cfs_period_us": "100000",
			"memory/memory.limit_in_bytes": "104857600", "pids/pids.max": "256"}
		if l.memsw {
			want["memory/memory.memsw.limit_in_bytes"] = "104857600"
		}
		for key, v := range want {
			hier, file, _ := strings.Cut(key, "/")
			dir, err := l.dir(l.path(r.grp.Path()), cgroup1.Name(hier))
			require.NoError(t, err)
			raw, err := os.ReadFile(filepath.Join(dir, file))
			require.NoError(t, err)
			assert.Equal(t, v, strings.TrimSpace(string(raw)), key)
		}
	}

	u0, err := r.grp.Usage(r.pid)
	require.NoError(t, err)
	w0 := time.Now()
	time.Sleep(2 * time.Second) // a measuring window, not an assertion on duration
	u1, err := r.grp.Usage(r.pid)
	require.NoError(t, err)
	cores := float64(u1.CPU-u0.CPU) / float64(time.Since(w0))
	t.Logf("busy loop under a 0.1 core quota used %.3f cores over %v (cgroup CPU counter)", cores, time.Since(w0).Round(time.Millisecond))
	assert.LessOrEqual(t, cores, 0.15)
	assert.Greater(t, cores, 0.03, "the busy loop must have run")

	m.sample(time.Now()) // what the heartbeat reports: use since the previous sample (here: start)
	pi := infoOf(t, m, "busy")
	assert.True(t, pi.Limited)
	assert.Greater(t, pi.CPUPercent, 3.0)
	assert.LessOrEqual(t, pi.CPUPercent, 15.0)
	assert.Positive(t, pi.MemoryBytes)

	_, err = m.Stop(context.Background(), "busy")
	require.NoError(t, err)
}

var pidLine = regexp.MustCompile(`(?m)^(\w+) (\d+)$`)

// pidsFromOutput reads "label pid" lines a test child printed.
func pidsFromOutput(t *testing.T, rec *recorder, name string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	require.Eventually(t, func() bool {
		for _, mm := range pidLine.FindAllStringSubmatch(rec.output(name), -1) {
			pid, _ := strconv.Atoi(mm[2])
			out[mm[1]] = pid
		}
		return len(out) >= n
	}, 30*time.Second, 10*time.Millisecond, "child did not print its pids")
	return out
}

func TestGrandchildrenDieWithGroup(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := testConfig(t)
	m, rec := newTestManager(t, cfg, nil)
	requireCgroups(t, m)
	runManager(t, m)
	team := newTeam(t, m)

	// One grandchild stays in the process group; one leaves it with setsid and ignores TERM:
	// only the cgroup can catch that one.
	script := `echo leader $$; sleep 600 & echo child $!; setsid sh -c 'trap "" TERM; sleep 600' & echo escaped $!; cat /proc/$$/cgroup; wait`
	_, err := m.Start(context.Background(), Spec{Name: "tree", Team: team, Command: []string{"sh", "-c", script}})
	require.NoError(t, err)
	pids := pidsFromOutput(t, rec, "tree", 3)
	assert.Contains(t, rec.output("tree"), filepath.Join(cfg.CgroupParent, team, "tree"),
		"the leader's first instruction already runs in its cgroup")

	_, err = m.Stop(context.Background(), "tree")
	require.NoError(t, err)
	for label, pid := range pids {
		assert.True(t, pidGone(pid), "%s pid %d survived its group", label, pid)
	}
}

func TestTeamUserIsolation(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := testConfig(t)
	m, rec := newTestManager(t, cfg, nil)
	runManager(t, m)
	teamA, teamB := newTeam(t, m), newTeam(t, m)

	_, err := m.Start(context.Background(), Spec{Name: "writer", Team: teamB, Command: []string{"sh", "-c", `echo secret-of-b > "$HOME/secret.txt"; echo wrote`}})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "writer", 1)
	dirB := filepath.Join(cfg.WorkDir, teamB)
	secret, err := os.ReadFile(filepath.Join(dirB, "secret.txt"))
	require.NoError(t, err)
	assert.Equal(t, "secret-of-b\n", string(secret))

	script := fmt.Sprintf(`echo uid $(id -u); echo gid $(id -g); cat %[1]s/secret.txt; echo cat $?; ls %[1]s; echo ls $?`, dirB)
	_, err = m.Start(context.Background(), Spec{Name: "reader", Team: teamA, Command: []string{"sh", "-c", script}})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "reader", 1)
	out := rec.output("reader")
	ids := pidsFromOutput(t, rec, "reader", 4)

	userA, err := (&teams{cfg: m.cfg, root: true}).user(context.Background(), teamA)
	require.NoError(t, err)
	assert.Equal(t, int(userA.uid), ids["uid"], "runs as talos-<team>")
	assert.NotZero(t, ids["uid"])
	assert.NotZero(t, ids["cat"], "reading another team's file must fail")
	assert.NotZero(t, ids["ls"], "listing another team's directory must fail")
	assert.NotContains(t, out, "secret-of-b")
	assert.Contains(t, out, "Permission denied")

	fi, err := os.Stat(filepath.Join(cfg.WorkDir, teamA))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	assert.Equal(t, userA.uid, fi.Sys().(*syscall.Stat_t).Uid)
}

func TestChildEnvironmentIsClean(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	require.Equal(t, fakeAPIKey, os.Getenv("TALOS_API_KEY"), "the runner's key is in the test process")
	m, rec := newTestManager(t, testConfig(t), nil)
	runManager(t, m)

	_, err := m.Start(context.Background(), Spec{
		Name: "env", Team: newTeam(t, m), Env: map[string]string{"SAMPLE_RATE": "48000"},
		Command: []string{"sh", "-c", `env; echo stdin=$(readlink /proc/self/fd/0); touch "$TMPDIR/x" && echo tmp=ok`},
	})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "env", 1)
	out := rec.output("env")
	assert.NotContains(t, out, fakeAPIKey)
	assert.NotContains(t, out, "TALOS_")
	assert.Contains(t, out, "SAMPLE_RATE=48000")
	assert.Contains(t, out, "PATH=/usr/local/bin:/usr/bin:/bin")
	assert.Contains(t, out, "stdin=/dev/null")
	assert.Contains(t, out, "tmp=ok", "TMPDIR is the team's own, writable")
}

func TestCrashLoopStopsRestarts(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	clock := newFakeClock()
	m, rec := newTestManager(t, testConfig(t), clock)
	runManager(t, m)

	_, err := m.Start(context.Background(), Spec{Name: "crash", Team: newTeam(t, m), Restart: api.RestartOnFailure, Command: []string{"sh", "-c", "exit 3"}})
	require.NoError(t, err)
	for i, delay := range []time.Duration{time.Second, 5 * time.Second, 15 * time.Second} {
		rec.waitEvents(t, api.EventProcessExited, "crash", i+1)
		d := exitData(t, rec.waitEvents(t, api.EventProcessRestarting, "crash", i+1)[i])
		assert.InDelta(t, delay.Seconds(), d.RestartInSeconds, 1e-9, "backoff of restart %d", i+1)
		advance(t, clock, delay)
		rec.waitEvents(t, api.EventProcessStarted, "crash", i+2)
	}
	rec.waitEvents(t, api.EventProcessFailed, "crash", 1)
	pi := infoOf(t, m, "crash")
	assert.Equal(t, api.ProcessFailed, pi.State)
	assert.Equal(t, 3, pi.Restarts)
	require.NotNil(t, pi.ExitCode)
	assert.Equal(t, 3, *pi.ExitCode)

	advance(t, clock, time.Hour)
	advance(t, clock, time.Second)
	assert.Len(t, rec.find(api.EventProcessStarted, "crash"), 4, "no start after the crash-loop limit")
}

func TestIdleTimeoutStopsSilentProcess(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	clock := newFakeClock()
	m, rec := newTestManager(t, testConfig(t), clock)
	runManager(t, m)

	_, err := m.Start(context.Background(), Spec{Name: "quiet", Team: newTeam(t, m), Restart: api.RestartOnFailure, Command: []string{"sleep", "600"}})
	require.NoError(t, err)
	advance(t, clock, 4*time.Minute)
	advance(t, clock, time.Minute)
	rec.waitEvents(t, api.EventProcessIdleTimeout, "quiet", 1)
	d := exitData(t, rec.waitEvents(t, api.EventProcessExited, "quiet", 1)[0])
	assert.Equal(t, "idle_timeout", d.Reason)
	assert.Equal(t, "SIGTERM", d.Signal)
	assert.Equal(t, api.ProcessExited, infoOf(t, m, "quiet").State, "an idle stop is not restarted")
}

func TestMaxProcessesRefusesTheNext(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m, _ := newTestManager(t, testConfig(t), nil)
	var pids []int
	t.Cleanup(func() { // runs after runManager's cleanup has shut the manager down
		for _, pid := range pids {
			assert.True(t, pidGone(pid), "pid %d left behind", pid)
		}
	})
	runManager(t, m)
	team := newTeam(t, m)

	for i := 0; i < 50; i++ {
		pi, err := m.Start(context.Background(), Spec{Name: fmt.Sprintf("p%02d", i), Team: team, Command: []string{"sleep", "600"}})
		require.NoError(t, err, "start %d", i)
		pids = append(pids, pi.PID)
	}
	_, err := m.Start(context.Background(), Spec{Name: "p50", Team: team, Command: []string{"sleep", "600"}})
	require.ErrorIs(t, err, ErrTooManyProcesses)
	assert.Contains(t, err.Error(), "50 of 50 (proc.max_processes)")

	_, err = m.Stop(context.Background(), "p00")
	require.NoError(t, err)
	_, err = m.Start(context.Background(), Spec{Name: "p50", Team: team, Command: []string{"sleep", "600"}})
	require.NoError(t, err, "a slot frees when a process stops")
}

func TestShutdownLeavesNothingBehind(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := testConfig(t)
	cfg.GracePeriod = time.Second
	m, rec := newTestManager(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	team := newTeam(t, m)

	_, err := m.Start(ctx, Spec{Name: "polite", Team: team, Command: []string{"sh", "-c", `sleep 600 & echo polite $!; wait`}})
	require.NoError(t, err)
	_, err = m.Start(ctx, Spec{Name: "stubborn", Team: team, Command: []string{"sh", "-c", `trap "" TERM; echo stubborn $$; sleep 600 & echo grandchild $!; while :; do wait; done`}})
	require.NoError(t, err)
	pids := pidsFromOutput(t, rec, "polite", 1)
	for k, v := range pidsFromOutput(t, rec, "stubborn", 2) {
		pids[k] = v
	}
	for _, pi := range m.Processes() {
		pids["leader-"+pi.Name] = pi.PID
	}

	cancel()
	require.NoError(t, <-done)
	for label, pid := range pids {
		assert.True(t, pidGone(pid), "%s pid %d left behind", label, pid)
	}
	d := exitData(t, rec.find(api.EventProcessExited, "stubborn")[0])
	assert.Equal(t, "shutdown", d.Reason)
	assert.Equal(t, "SIGKILL", d.Signal, "a process ignoring SIGTERM is killed after the grace period")
	_, err = m.Start(context.Background(), Spec{Name: "late", Team: team, Command: []string{"true"}})
	require.ErrorIs(t, err, ErrShuttingDown)
	if l, ok := m.lim.(*v1Limiter); ok {
		dir, err := l.dir(l.path(cfg.CgroupParent), "memory")
		require.NoError(t, err)
		_, err = os.Stat(dir)
		assert.True(t, errors.Is(err, os.ErrNotExist), "cgroup parent %s removed", dir)
	}
}

func TestLeftoversOfACrashedRunnerAreReaped(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := testConfig(t)
	crashed, rec := newTestManager(t, cfg, nil)
	requireCgroups(t, crashed)
	runManager(t, crashed) // for its output batches; it stops nothing before the new runner starts
	team := newTeam(t, crashed)
	_, err := crashed.Start(context.Background(), Spec{Name: "orphan", Team: team, Command: []string{"sh", "-c", `setsid sleep 600 & echo orphan $!; wait`}})
	require.NoError(t, err)
	pids := pidsFromOutput(t, rec, "orphan", 1)

	// A new runner with the same config, while the first never stopped its process.
	next, _ := newTestManager(t, cfg, nil)
	runManager(t, next)
	assert.True(t, pidGone(pids["orphan"]), "the new runner killed what the old one left")
	rec.waitEvents(t, api.EventProcessExited, "orphan", 1)
}

// TestCgroupV2PlacementAndKill runs the v2 code path on the kernel's unified hierarchy: on a
// hybrid host (v1 controllers, v2 mounted at /sys/fs/cgroup/unified) it has no controllers,
// so limits are not set, but CLONE_INTO_CGROUP placement, cgroup.kill and removal are real.
func TestCgroupV2PlacementAndKill(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	mount := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
		mount = "/sys/fs/cgroup"
		if _, err := os.Stat(filepath.Join(mount, "cgroup.subtree_control")); err != nil {
			skipOrFail(t, "no cgroup v2 hierarchy mounted")
		}
	}
	cfg := testConfig(t)
	m, rec := newTestManager(t, cfg, nil)
	base := "/" + cfg.CgroupParent
	require.NoError(t, m.lim.Close()) // the host's own limiter made its parent when probing
	m.lim = &v2Limiter{mount: mount, base: base, limits: false}
	runManager(t, m)
	team := newTeam(t, m)

	script := `echo leader $$; setsid sleep 600 & echo escaped $!; cat /proc/$$/cgroup; wait`
	_, err := m.Start(context.Background(), Spec{Name: "v2", Team: team, Command: []string{"sh", "-c", script}})
	require.NoError(t, err)
	pids := pidsFromOutput(t, rec, "v2", 2)
	want := "0::" + filepath.Join(base, team, "v2")
	assert.Contains(t, rec.output("v2"), want, "born in its v2 cgroup")
	grand, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pids["escaped"]))
	require.NoError(t, err)
	assert.Contains(t, string(grand), want)

	_, err = m.Stop(context.Background(), "v2")
	require.NoError(t, err)
	for label, pid := range pids {
		assert.True(t, pidGone(pid), "%s pid %d survived", label, pid)
	}
	_, err = os.Stat(filepath.Join(mount, base, team, "v2"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "process cgroup removed")
	t.Cleanup(func() { removeEmptyTree(filepath.Join(mount, base)) })
}

func TestFallbackWithoutCgroups(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	m, rec := newTestManager(t, cfg, nil)
	runManager(t, m)
	assert.Equal(t, "off: disabled by config (proc.cgroups: off)", m.CgroupLimits())
	rec.waitEvents(t, api.EventProcessLimitsOff, "", 1)

	_, err := m.Start(context.Background(), Spec{Name: "limits", Team: newTeam(t, m), Limits: Limits{MemoryMB: 64},
		Command: []string{"sh", "-c", `echo as $(ulimit -v); echo nice $(nice); sleep 600 & echo child $!; wait`}})
	require.NoError(t, err)
	vals := pidsFromOutput(t, rec, "limits", 3)
	assert.Equal(t, 64*1024, vals["as"], "RLIMIT_AS is the memory limit, in KiB for ulimit -v")
	assert.Equal(t, fallbackNice, vals["nice"])
	pi := infoOf(t, m, "limits")
	assert.False(t, pi.Limited)

	_, err = m.Stop(context.Background(), "limits")
	require.NoError(t, err)
	assert.True(t, pidGone(vals["child"]), "the process group dies together")
}

func TestStartRefusals(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	m, _ := newTestManager(t, cfg, nil)
	runManager(t, m)
	team := newTeam(t, m)
	ok := Spec{Name: "dup", Team: team, Command: []string{"sleep", "600"}}
	_, err := m.Start(context.Background(), ok)
	require.NoError(t, err)

	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"duplicate", ok, "already has this name"},
		{"bad name", Spec{Name: "Bad Name", Team: team, Command: []string{"true"}}, "invalid name"},
		{"no program", Spec{Name: "x", Team: team}, "invalid program"},
		{"key env", Spec{Name: "x", Team: team, Command: []string{"true"}, Env: map[string]string{"TALOS_API_KEY": "x"}}, "invalid env.TALOS_API_KEY"},
		{"escape dir", Spec{Name: "x", Team: team, Command: []string{"true"}, WorkingDir: "../other"}, "invalid working_dir"},
		{"too much cpu", Spec{Name: "x", Team: team, Command: []string{"true"}, Limits: Limits{CPUCores: 8}}, "limits.cpu_cores 8 > 2"},
		{"unknown program", Spec{Name: "x", Team: team, Command: []string{"no-such-decoder"}}, `"no-such-decoder" not found in proc.path`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Start(context.Background(), tc.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = m.Stop(context.Background(), "nothing")
	require.ErrorIs(t, err, ErrNotFound)
}
