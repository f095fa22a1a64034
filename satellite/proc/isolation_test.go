package proc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// echoProgram prints its arguments, a station-held variable and an allowed one.
var echoProgram = Program{
	Path:        "/bin/sh",
	Args:        []string{"-c", `echo "args:$*"; echo "held:$STATION_TOKEN"; echo "rate:$SAMPLE_RATE"`, "echo"},
	ArgPatterns: []string{`-o`, `[a-z0-9]+\.png`},
	Env:         []string{"SAMPLE_RATE"},
	SetEnv:      map[string]string{"STATION_TOKEN": "held-secret"},
	Limits:      Limits{MemoryMB: 64},
}

// TestAllowListRefusesWhatTheOwnerDidNotAllow sends process.start payloads through the
// handler: anything outside the allow-list is refused with the field and the reason, before a
// user, a directory or a process is made (so it needs no root).
func TestAllowListRefusesWhatTheOwnerDidNotAllow(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	cfg.OwnTeam = "team-a"
	cfg.Programs = map[string]Program{"echo": echoProgram, "true": {Path: "/bin/true"}}
	m, _ := newTestManager(t, cfg, nil)
	start := m.Handlers()[api.CommandProcessStart]
	tests := []struct {
		name, payload, want string
	}{
		{"not listed", `{"name":"x","team_id":"team-a","program":"bash"}`, `program: "bash" is not allowed by this station's allow-list of programs (proc.programs); this station allows: echo, true`},
		{"raw argv", `{"name":"x","team_id":"team-a","command":["/bin/bash","-c","cat /var/lib/talos-satellite/api_key"]}`, "invalid command: a raw argv is not accepted"},
		{"argument not matching", `{"name":"x","team_id":"team-a","program":"echo","args":["-o","x.png; id"]}`, `args[1]: not allowed by this station's allow-list of programs (proc.programs): "x.png; id" matches none of the argument patterns of program echo`},
		{"arguments to a program without patterns", `{"name":"x","team_id":"team-a","program":"true","args":["-v"]}`, "args: not allowed by this station's allow-list of programs (proc.programs): program true takes at most 0 arguments"},
		{"variable not allowed", `{"name":"x","team_id":"team-a","program":"echo","env":{"GAIN":"40"}}`, "env.GAIN: not allowed by this station's allow-list of programs (proc.programs): program echo may be given only SAMPLE_RATE"},
		{"station-held variable", `{"name":"x","team_id":"team-a","program":"echo","env":{"STATION_TOKEN":"mine"}}`, "env.STATION_TOKEN: not allowed"},
		{"LD_PRELOAD", `{"name":"x","team_id":"team-a","program":"echo","env":{"LD_PRELOAD":"/home/x/evil.so"}}`, "invalid env.LD_PRELOAD: LD_* variables are read by the loader"},
		{"PATH", `{"name":"x","team_id":"team-a","program":"echo","env":{"PATH":"/home/x/bin"}}`, "invalid env.PATH: is set by the satellite"},
		{"GCONV_PATH", `{"name":"x","team_id":"team-a","program":"echo","env":{"GCONV_PATH":"/home/x"}}`, "invalid env.GCONV_PATH: is read by the loader"},
		{"above the program's limit", `{"name":"x","team_id":"team-a","program":"echo","limits":{"memory_mb":128}}`, "limit above the station maximum: limits.memory_mb 128 > 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := start(context.Background(), api.Command{ID: "c", Type: api.CommandProcessStart, Payload: json.RawMessage(tc.payload)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Empty(t, m.Processes(), "nothing was started")
	_, err := os.Stat(filepath.Join(cfg.WorkDir, "team-a"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no team directory was made")
}

// TestAllowedProgramGetsItsArgvAndHeldVariables: the argv is the program's path, its fixed
// arguments, then the command's; the station-held variable is set and never part of the
// command.
func TestAllowedProgramGetsItsArgvAndHeldVariables(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := testConfig(t)
	cfg.Programs = map[string]Program{"echo": echoProgram}
	m, rec := newTestManager(t, cfg, nil)
	runManager(t, m)
	team := newTeam(t, m)
	payload, err := json.Marshal(api.ProcessStartPayload{Name: "echo", TeamID: team, Program: "echo",
		Args: []string{"-o", "apt.png"}, Env: map[string]string{"SAMPLE_RATE": "48000"}})
	require.NoError(t, err)
	_, err = m.Handlers()[api.CommandProcessStart](context.Background(), api.Command{ID: "c1", Type: api.CommandProcessStart, Payload: payload})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "echo", 1)
	out := rec.output("echo")
	assert.Contains(t, out, "args:-o apt.png")
	assert.Contains(t, out, "held:held-secret")
	assert.Contains(t, out, "rate:48000")
}

// TestDecoderCannotReachHostLoopback: a listener on the host's 127.0.0.1 (like rotctld,
// rigctld or the status endpoint) is out of reach of a decoder without network, and reachable
// from one whose program says network: host (so the test can fail).
func TestDecoderCannotReachHostLoopback(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	dial := Program{Path: helperBin, Args: []string{helperArg, "dial"}, ArgPatterns: []string{`127\.0\.0\.1:[0-9]+`}}
	hostDial := dial
	hostDial.Network = NetworkHost
	cfg := testConfig(t)
	cfg.Programs = map[string]Program{"dial": dial, "dial-host": hostDial}
	m, rec := newTestManager(t, cfg, nil)
	runManager(t, m)
	require.Equal(t, "isolated", m.Isolation())
	team := newTeam(t, m)
	for _, prog := range []string{"dial", "dial-host"} {
		_, err := m.Start(context.Background(), Spec{Name: prog, Team: team, Program: prog, Args: []string{ln.Addr().String()}})
		require.NoError(t, err)
	}
	rec.waitEvents(t, api.EventProcessExited, "dial", 1)
	rec.waitEvents(t, api.EventProcessExited, "dial-host", 1)
	assert.Contains(t, rec.output("dial"), "dial: error", "no network: the host's loopback is unreachable")
	assert.NotContains(t, rec.output("dial"), "dial: connected")
	assert.Contains(t, rec.output("dial-host"), "dial: connected", "network: host reaches it")
}

// TestPrivateTmpPerTeam: a decoder's /tmp is its team's own directory: it sees neither the
// host's /tmp nor another team's files, and what it writes there stays in its team directory.
func TestPrivateTmpPerTeam(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	host, err := os.CreateTemp("/tmp", "talos-host-file-")
	require.NoError(t, err)
	_, err = host.WriteString("host-secret\n")
	require.NoError(t, errors.Join(err, host.Close(), os.Chmod(host.Name(), 0o644)))
	t.Cleanup(func() { _ = os.Remove(host.Name()) })

	m, rec := newTestManager(t, testConfig(t), nil)
	runManager(t, m)
	teamA, teamB := newTeam(t, m), newTeam(t, m)
	file := unique("b-file-")
	_, err = m.Start(context.Background(), Spec{Name: "writer", Team: teamB,
		Command: []string{"sh", "-c", `echo b-secret > /tmp/` + file + ` && cat /tmp/` + file}})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "writer", 1)
	require.Contains(t, rec.output("writer"), "b-secret", "team B reads its own /tmp")

	_, err = m.Start(context.Background(), Spec{Name: "reader", Team: teamA,
		Command: []string{"sh", "-c", `cat /tmp/` + file + `; cat /var/tmp/` + file + `; cat ` + host.Name() + `; echo reader done`}})
	require.NoError(t, err)
	rec.waitEvents(t, api.EventProcessExited, "reader", 1)
	out := rec.output("reader")
	assert.Contains(t, out, "reader done")
	assert.NotContains(t, out, "b-secret", "team A cannot see team B's /tmp")
	assert.NotContains(t, out, "host-secret", "a decoder cannot see the host's /tmp")

	_, err = os.Stat(filepath.Join("/tmp", file))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing a decoder writes to /tmp reaches the host's /tmp")
	got, err := os.ReadFile(filepath.Join(m.cfg.WorkDir, teamB, teamTmp, file))
	require.NoError(t, err)
	assert.Equal(t, "b-secret\n", string(got), "it lands in team B's own tmp directory")
}

// TestUnisolatedRunner: a runner that cannot isolate decoders runs none, unless its owner set
// proc.allow_unisolated; then the heartbeat's cgroup_limits and an event say so.
func TestUnisolatedRunner(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{false, true} {
		cfg := testConfig(t)
		cfg.Cgroups = "off"
		cfg.OwnTeam = "team-a"
		cfg.AllowUnisolated = allow
		cfg.Programs = map[string]Program{"true": {Path: "/bin/true"}}
		m, rec := newTestManager(t, cfg, nil)
		// What probeIsolation finds on a runner that is not root.
		m.iso = isolation{reason: "not running as root (euid 1000): no team users, no network or mount namespaces", allow: allow}
		runManager(t, m)
		ev := rec.waitEvents(t, api.EventProcessUnisolated, "", 1)[0]
		assert.Equal(t, api.SeverityWarning, ev.Severity)
		if !allow {
			_, err := m.Start(context.Background(), Spec{Name: "x", Team: "team-a", Program: "true"})
			require.ErrorIs(t, err, ErrUnisolated)
			assert.Contains(t, err.Error(), "proc.allow_unisolated: true")
			assert.ErrorIs(t, m.Check(Spec{Name: "x", Team: "team-a", Program: "true"}), ErrUnisolated,
				"an observation's decoder is refused when it is scheduled")
			assert.Equal(t, "off: disabled by config (proc.cgroups: off)", m.CgroupLimits())
			assert.Contains(t, m.Isolation(), "no decoder runs")
			continue
		}
		assert.Contains(t, m.CgroupLimits(), "UNISOLATED: not running as root")
		assert.NoError(t, m.Check(Spec{Name: "x", Team: "team-a", Program: "true"}))
		assert.Contains(t, string(ev.Data), "UNISOLATED")
	}
}

func TestProgramConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Program
		want string
	}{
		{"relative path", Program{Path: "bin/dec"}, "proc.programs.dec.path"},
		{"unclean path", Program{Path: "/usr/bin/../bin/sh"}, "proc.programs.dec.path"},
		{"bad pattern", Program{Path: "/bin/x", ArgPatterns: []string{"("}}, "proc.programs.dec.arg_patterns[0]"},
		{"LD_PRELOAD allowed", Program{Path: "/bin/x", Env: []string{"LD_PRELOAD"}}, "proc.programs.dec.env[0]"},
		{"PATH allowed", Program{Path: "/bin/x", Env: []string{"PATH"}}, "proc.programs.dec.env[0]"},
		{"held and allowed", Program{Path: "/bin/x", Env: []string{"TOKEN"}, SetEnv: map[string]string{"TOKEN": "x"}}, "proc.programs.dec.env[0]"},
		{"held loader variable", Program{Path: "/bin/x", SetEnv: map[string]string{"LD_LIBRARY_PATH": "/x"}}, "proc.programs.dec.set_env.LD_LIBRARY_PATH"},
		{"network", Program{Path: "/bin/x", Network: "bridge"}, "proc.programs.dec.network"},
		{"limit above max", Program{Path: "/bin/x", Limits: Limits{MemoryMB: 4096}}, "proc.programs.dec.limits.memory_mb"},
		{"max args", Program{Path: "/bin/x", MaxArgs: -1}, "proc.programs.dec.max_args"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Programs: map[string]Program{"dec": tc.p}}.WithDefaults()
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	bad := Config{Programs: map[string]Program{"Bad Name": {Path: "/bin/x"}}}.WithDefaults()
	assert.ErrorContains(t, bad.Validate(), "proc.programs")
	ok := Config{Programs: map[string]Program{"dec": echoProgram}}.WithDefaults()
	assert.NoError(t, ok.Validate())
}

func TestWorkDirBelowTmpIsNotIsolated(t *testing.T) {
	t.Parallel()
	assert.ErrorContains(t, checkWorkDir("/tmp/x/teams"), "proc.work_dir: /tmp/x/teams is below /tmp")
	assert.Error(t, checkWorkDir("/tmp"))
	assert.NoError(t, checkWorkDir("/var/lib/talos-satellite-teams"))
	assert.NoError(t, checkWorkDir("/tmpfoo/teams"))
}
