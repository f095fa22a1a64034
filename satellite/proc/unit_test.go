package proc

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/talos-gs/talos/backend/api"
)

func TestConfigDefaultsAndYAML(t *testing.T) {
	t.Parallel()
	var c Config
	require.NoError(t, yaml.Unmarshal([]byte(`
grace_period: 3s
idle_timeout: -1s
backoff: [2s, 10s]
defaults: {memory_mb: 200}
users: {team-a: "1001:1001", team-b: decoder}
`), &c))
	c = c.WithDefaults()
	require.NoError(t, c.Validate())
	assert.Equal(t, 3*time.Second, c.GracePeriod)
	assert.Equal(t, []time.Duration{2 * time.Second, 10 * time.Second}, c.Backoff)
	assert.Equal(t, Limits{CPUCores: 0.1, MemoryMB: 200, Pids: 256}, c.Defaults)
	assert.Equal(t, time.Duration(0), idleTimeout(c, Spec{}), "negative idle_timeout disables it")

	d := Config{}.WithDefaults()
	assert.Equal(t, 50, d.MaxProcesses)
	assert.Equal(t, 10*time.Second, d.GracePeriod)
	assert.Equal(t, 5*time.Minute, d.IdleTimeout)
	assert.Equal(t, 3, d.CrashLoopRestarts)
	assert.Equal(t, 5*time.Minute, d.CrashLoopWindow)
	assert.Equal(t, int64(100<<20), d.Defaults.MemoryBytes())
}

func TestConfigValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"cgroups mode", func(c *Config) { c.Cgroups = "maybe" }, "proc.cgroups"},
		{"parent dotdot", func(c *Config) { c.CgroupParent = "talos/../etc" }, "proc.cgroup_parent"},
		{"parent chars", func(c *Config) { c.CgroupParent = "ta los" }, "proc.cgroup_parent"},
		{"cpu", func(c *Config) { c.Defaults.CPUCores = 0.001 }, "proc.defaults.cpu_cores"},
		{"memory", func(c *Config) { c.Max.MemoryMB = 2 }, "proc.max.memory_mb"},
		{"default above max", func(c *Config) { c.Defaults.MemoryMB = 4096 }, "proc.defaults"},
		{"processes", func(c *Config) { c.MaxProcesses = -1 }, "proc.max_processes"},
		{"grace", func(c *Config) { c.GracePeriod = time.Hour }, "proc.grace_period"},
		{"backoff", func(c *Config) { c.Backoff = []time.Duration{-time.Second} }, "proc.backoff[0]"},
		{"work dir", func(c *Config) { c.WorkDir = "relative" }, "proc.work_dir"},
		{"users", func(c *Config) { c.Users = map[string]string{"t": "Root User"} }, "proc.users.t"},
		{"users root", func(c *Config) { c.Users = map[string]string{"t": "root"} }, "proc.users.t"},
		{"users uid 0", func(c *Config) { c.Users = map[string]string{"t": "0:1000"} }, "proc.users.t"},
		{"users gid 0", func(c *Config) { c.Users = map[string]string{"t": "1000:0"} }, "proc.users.t"},
		{"users gid 00", func(c *Config) { c.Users = map[string]string{"t": "1000:00"} }, "proc.users.t"},
		{"output", func(c *Config) { c.Output.BurstBytes = 1 }, "proc.output.burst_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Config{}.WithDefaults()
			tc.tweak(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTeamUserName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "talos-ops", teamUserName("ops"))
	long := teamUserName("7F3C2A10-1234-4ABC-9DEF-0123456789AB")
	assert.Equal(t, "talos-7f3c2a1012344abc9def012345", long)
	assert.LessOrEqual(t, len(long), 32, "Linux user names have at most 32 characters")
}

func TestNextStateBackoffAndCrashLoopWindow(t *testing.T) {
	t.Parallel()
	m := &Manager{cfg: Config{}.WithDefaults()}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	fail := exitInfo{failed: true}
	tests := []struct {
		name      string
		policy    api.RestartPolicy
		restarts  []time.Duration // ago
		ex        exitInfo
		stopped   bool
		wantState string
		wantDelay time.Duration
	}{
		{"first failure", api.RestartOnFailure, nil, fail, false, api.ProcessBackoff, time.Second},
		{"second", api.RestartOnFailure, []time.Duration{time.Minute}, fail, false, api.ProcessBackoff, 5 * time.Second},
		{"third", api.RestartOnFailure, []time.Duration{2 * time.Minute, time.Minute}, fail, false, api.ProcessBackoff, 15 * time.Second},
		{"crash loop", api.RestartOnFailure, []time.Duration{3 * time.Minute, 2 * time.Minute, time.Minute}, fail, false, api.ProcessFailed, 0},
		{"old restarts age out", api.RestartOnFailure, []time.Duration{10 * time.Minute, 6 * time.Minute, time.Minute}, fail, false, api.ProcessBackoff, 5 * time.Second},
		{"success is not restarted", api.RestartOnFailure, nil, exitInfo{}, false, api.ProcessExited, 0},
		{"policy never", api.RestartNever, nil, fail, false, api.ProcessExited, 0},
		{"stopped by runner", api.RestartOnFailure, nil, fail, true, api.ProcessExited, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &process{spec: Spec{Restart: tc.policy}}
			for _, ago := range tc.restarts {
				p.restartTimes = append(p.restartTimes, now.Add(-ago))
			}
			if tc.stopped {
				p.stopReason = "stopped"
			}
			state, delay := m.nextState(p, tc.ex, now)
			assert.Equal(t, tc.wantState, state)
			assert.Equal(t, tc.wantDelay, delay)
		})
	}
}

func TestOutputBatchingAndRateLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var sent []outputBatch
	cfg := Config{}.WithDefaults().Output
	cfg.BatchLines, cfg.RateBytesPerSecond, cfg.BurstBytes, cfg.MaxLineBytes = 3, 100, 100, 16
	o := newOutput(cfg, clock, func(b outputBatch) { sent = append(sent, b) })

	o.add("stdout", "a", 0)
	o.add("stderr", "b", 0)
	assert.Empty(t, sent, "a batch waits for 3 lines")
	o.add("stdout", "c", 0)
	require.Len(t, sent, 1)
	assert.Equal(t, []outputLine{{"stdout", "a", false, 0}, {"stderr", "b", false, 0}, {"stdout", "c", false, 0}}, sent[0].Lines)

	o.add("stdout", "d", 0)
	o.flushDue(clock.Now().Add(time.Second))
	assert.Len(t, sent, 1, "not due before flush_interval")
	clock.Advance(cfg.FlushInterval)
	o.flushDue(clock.Now())
	require.Len(t, sent, 2)

	for i := 0; i < 40; i++ { // 40 × 11 bytes > the 100-byte burst
		o.add("stdout", "0123456789", 0)
	}
	o.flush()
	total, dropped := 0, 0
	for _, b := range sent[2:] {
		total += len(b.Lines)
		dropped += b.Dropped
	}
	assert.Equal(t, 40, total+dropped, "every line is sent or counted as dropped")
	assert.Positive(t, dropped)
	assert.Equal(t, clock.Now(), o.lastActivity(), "dropped lines still count as activity")
}

func TestOutputReadTruncatesLongLines(t *testing.T) {
	t.Parallel()
	cfg := Config{}.WithDefaults().Output
	cfg.MaxLineBytes = 16
	var lines []outputLine
	o := newOutput(cfg, newFakeClock(), func(b outputBatch) { lines = append(lines, b.Lines...) })
	r, w, err := os.Pipe()
	require.NoError(t, err)
	o.read(r, "stdout")
	_, err = w.WriteString("short\r\n" + strings.Repeat("x", 40) + "\nlast without newline")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	o.wait(make(chan time.Time))
	o.flush()
	require.Len(t, lines, 3)
	assert.Equal(t, outputLine{"stdout", "short", false, 0}, lines[0])
	assert.Equal(t, outputLine{"stdout", strings.Repeat("x", 16), true, 24}, lines[1])
	assert.Equal(t, outputLine{"stdout", "last without new", true, 4}, lines[2], "EOF ends the last line")
}

// TestV2ResourcesOnFakeHierarchy checks what the v2 code writes, on a directory laid out like
// /sys/fs/cgroup: this host's real v2 hierarchy has no controllers to write to.
func TestV2ResourcesOnFakeHierarchy(t *testing.T) {
	t.Parallel()
	for _, swap := range []bool{true, false} {
		mount := t.TempDir()
		for _, d := range []string{"", "talos", "talos/team1"} {
			require.NoError(t, os.MkdirAll(filepath.Join(mount, d), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(mount, d, "cgroup.subtree_control"), nil, 0o644))
		}
		l := &v2Limiter{mount: mount, base: "/talos", swap: swap, limits: true}
		g, err := l.Create("team1", "dec", Limits{CPUCores: 0.1, MemoryMB: 100, Pids: 256}, true)
		require.NoError(t, err)
		dir := filepath.Join(mount, "talos/team1/dec")
		read := func(f string) string {
			// The library creates control files without permissions (cgroupfs ignores them);
			// a non-root test run must grant itself read access first.
			require.NoError(t, os.Chmod(filepath.Join(dir, f), 0o600))
			b, err := os.ReadFile(filepath.Join(dir, f))
			require.NoError(t, err, f)
			return string(b)
		}
		assert.Equal(t, "10000 100000", read("cpu.max"))
		assert.Equal(t, "104857600", read("memory.max"))
		assert.Equal(t, "1", read("memory.oom.group"))
		assert.Equal(t, "256", read("pids.max"))
		if swap {
			assert.Equal(t, "0", read("memory.swap.max"))
		} else {
			assert.NoFileExists(t, filepath.Join(dir, "memory.swap.max"))
		}
		ctl, err := os.ReadFile(filepath.Join(mount, "talos/team1/cgroup.subtree_control")) // made by the test: 0644
		require.NoError(t, err)
		assert.Equal(t, "+cpu +memory +pids", string(ctl))

		require.NoError(t, os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte("usage_usec 2500000\nuser_usec 2000000\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.current"), []byte("52428800\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n"), 0o644))
		u, err := g.Usage(0)
		require.NoError(t, err)
		assert.Equal(t, 2500*time.Millisecond, u.CPU)
		assert.Equal(t, uint64(50<<20), u.MemoryBytes)
		assert.True(t, g.OOMKilled())
	}
}

func TestV2DelegationNeedsControllers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io pids\n"), 0o644))
	err := missingControllers(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "controllers missing")
	assert.Contains(t, err.Error(), "memory")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io memory hugetlb pids rdma misc\n"), 0o644))
	assert.NoError(t, missingControllers(dir))
}

func TestCPUQuota(t *testing.T) {
	t.Parallel()
	for cores, want := range map[float64]int64{0.1: 10000, 1: 100000, 2.5: 250000, 0.001: 1000} {
		q, p := cpuQuota(cores)
		assert.Equal(t, want, q, "cores %v", cores)
		assert.Equal(t, uint64(100000), p)
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	st, err := parseProcStat("4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 100 1000000 300 18446744073709551615")
	require.NoError(t, err)
	assert.Equal(t, procStat{state: "S", pgrp: 4242, cpu: 2 * time.Second, rssPages: 300}, st)
	_, err = parseProcStat("garbage")
	assert.Error(t, err)
	_, err = parseProcStat("1 (x) S 1")
	assert.Error(t, err)
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 100 1000000 300 18446744073709551615")
	f.Add("1 ()) Z 0 -5 0")
	f.Add(")")
	f.Add("7 (x) R 1 7 7 0 -1 0 0 0 0 0 18446744073709551615 18446744073709551615 0 0 20 0 1 0 1 1 1 1")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseProcStat(s)
		if err == nil && st.cpu < 0 {
			t.Fatalf("negative CPU time from %q", s)
		}
	})
}

func TestParseKeyed(t *testing.T) {
	t.Parallel()
	got := parseKeyed([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 2\nbad line here\nnan x\n"))
	assert.Equal(t, map[string]uint64{"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 2}, got)
}

func TestBuildEnvIsMinimal(t *testing.T) {
	t.Parallel()
	cfg := Config{}.WithDefaults()
	env := buildEnv(cfg, identity{user: "talos-a", dir: "/w/a"}, Spec{Env: map[string]string{"GAIN": "40"}}, map[string]string{"TOKEN": "held"}, nil)
	assert.Equal(t, []string{"GAIN=40", "HOME=/w/a", "LANG=C.UTF-8", "LOGNAME=talos-a", "PATH=/usr/local/bin:/usr/bin:/bin", "TMPDIR=/w/a/.tmp", "TOKEN=held", "USER=talos-a"}, env)
}

func TestHandlers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	cfg.Programs = map[string]Program{"echo-sleep": {Path: "/bin/sh", Args: []string{"-c", "echo hello; sleep 600"}}}
	m, rec := newTestManager(t, cfg, nil)
	runManager(t, m)
	h := m.Handlers()
	require.Len(t, h, 4)

	team := newTeam(t, m)
	payload, err := json.Marshal(api.ProcessStartPayload{Name: "echo", TeamID: team, Program: "echo-sleep"})
	require.NoError(t, err)
	res, err := h[api.CommandProcessStart](context.Background(), api.Command{ID: "c1", Type: api.CommandProcessStart, Payload: payload, CorrelationID: "obs-1"})
	require.NoError(t, err)
	var started api.ProcessInfo
	require.NoError(t, json.Unmarshal(res, &started))
	assert.Equal(t, api.ProcessRunning, started.State)
	assert.Positive(t, started.PID)
	ev := rec.waitEvents(t, api.EventProcessStarted, "echo", 1)[0]
	assert.Equal(t, "c1", ev.CommandID)
	assert.Equal(t, "obs-1", ev.CorrelationID)

	res, err = h[api.CommandProcessList](context.Background(), api.Command{Type: api.CommandProcessList})
	require.NoError(t, err)
	var list api.ProcessListResult
	require.NoError(t, json.Unmarshal(res, &list))
	assert.Len(t, list.Processes, 1)
	assert.Equal(t, "off: disabled by config (proc.cgroups: off)", list.CgroupLimits)

	res, err = h[api.CommandProcessRestart](context.Background(), api.Command{Type: api.CommandProcessRestart, Payload: json.RawMessage(`{"name":"echo"}`)})
	require.NoError(t, err)
	var restarted api.ProcessInfo
	require.NoError(t, json.Unmarshal(res, &restarted))
	assert.Equal(t, 1, restarted.Restarts)
	assert.NotEqual(t, started.PID, restarted.PID)

	res, err = h[api.CommandProcessStop](context.Background(), api.Command{Type: api.CommandProcessStop, Payload: json.RawMessage(`{"name":"echo"}`)})
	require.NoError(t, err)
	var stopped api.ProcessInfo
	require.NoError(t, json.Unmarshal(res, &stopped))
	assert.Equal(t, api.ProcessExited, stopped.State)
	assert.Equal(t, "SIGTERM", stopped.Signal)

	bad := []struct{ typ, payload, want string }{
		{api.CommandProcessStart, `{"name":"x","team_id":"t","program":"echo-sleep","evil":1}`, `unknown field "evil"`},
		{api.CommandProcessStart, ``, "payload is missing"},
		{api.CommandProcessStart, `{"name":"x","team_id":"t","program":"echo-sleep","limits":{"memory_mb":1}}`, "invalid limits.memory_mb"},
		{api.CommandProcessStart, `{"name":"x","team_id":"t","command":["/bin/sh","-c","id"]}`, "invalid command: a raw argv is not accepted"},
		{api.CommandProcessStop, `{"name":"../x"}`, "invalid name"},
		{api.CommandProcessStop, `{"name":"nope"}`, "no such process"},
	}
	for _, b := range bad {
		_, err := h[b.typ](context.Background(), api.Command{Type: b.typ, Payload: json.RawMessage(b.payload)})
		require.Error(t, err, b.payload)
		assert.Contains(t, err.Error(), b.want)
	}
}
