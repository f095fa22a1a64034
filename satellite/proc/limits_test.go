package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// A payload's team_id is chosen by whoever queued the command: a team the station does not
// run processes for is refused before any system user or directory is made for it.
func TestTeamNotAllowedIsRefusedWithoutAUser(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	cfg.OwnTeam = unique("own")
	cfg.Teams = []string{unique("guest")}
	m, _ := newTestManager(t, cfg, nil)
	intruder := unique("x")
	t.Cleanup(func() { removeTeamUser(t, intruder) }) // only if the refusal failed

	_, err := m.Start(context.Background(), Spec{Name: "spy", Team: intruder, Command: []string{"true"}})
	require.ErrorIs(t, err, ErrTeamNotAllowed)
	assert.ErrorContains(t, err, "payload.team_id")
	assert.ErrorContains(t, err, intruder)

	payload, err := json.Marshal(api.ProcessStartPayload{Name: "spy2", TeamID: intruder, Program: "true"})
	require.NoError(t, err)
	_, err = m.Handlers()[api.CommandProcessStart](context.Background(),
		api.Command{ID: "c1", Type: api.CommandProcessStart, Payload: payload})
	require.ErrorIs(t, err, ErrTeamNotAllowed)

	_, lookupErr := user.Lookup(teamUserName(intruder))
	var unknown user.UnknownUserError
	assert.True(t, errors.As(lookupErr, &unknown), "no system user made for %s: %v", intruder, lookupErr)
	_, statErr := os.Stat(filepath.Join(cfg.WorkDir, intruder))
	assert.ErrorIs(t, statErr, os.ErrNotExist, "no team directory made")
	assert.Empty(t, m.Processes(), "the refused start left no entry")

	for _, team := range []string{cfg.OwnTeam, cfg.Teams[0]} {
		assert.NoError(t, m.teams.check(team), "team %s is allowed", team)
	}
}

// The station's own team (set by the runner from identity.json) can run processes.
func TestOwnTeamRunsProcesses(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	cfg.OwnTeam = unique("t")
	t.Cleanup(func() { removeTeamUser(t, cfg.OwnTeam) })
	m, _ := newTestManager(t, cfg, nil)
	runManager(t, m)
	info, err := m.Start(context.Background(), Spec{Name: "own", Team: cfg.OwnTeam, Command: []string{"sleep", "600"}})
	require.NoError(t, err)
	assert.Equal(t, api.ProcessRunning, info.State)
}

func TestTeamsAndMaxProcessesValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"teams ok", func(c *Config) { c.Teams = []string{"team-a", "B_2"} }, ""},
		{"bad team", func(c *Config) { c.Teams = []string{"ok", "../etc"} }, "proc.teams[1]"},
		{"bad own team", func(c *Config) { c.OwnTeam = "a b" }, "own team id"},
		{"max processes at the heartbeat cap", func(c *Config) { c.MaxProcesses = api.MaxHeartbeatProcesses }, ""},
		{"max processes over the heartbeat cap", func(c *Config) { c.MaxProcesses = api.MaxHeartbeatProcesses + 1 }, "proc.max_processes"},
		{"batch bytes over the event limit", func(c *Config) { c.Output.BatchBytes = 16 << 10 }, "proc.output.batch_bytes"},
		{"batch bytes at the cap", func(c *Config) { c.Output.BatchBytes = MaxOutputBatchBytes }, ""},
		{"batch bytes below max line bytes is fine", func(c *Config) { c.Output.BatchBytes, c.Output.MaxLineBytes, c.Output.BurstBytes = 2048, 1<<20, 1<<20 }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{}
			tc.change(&cfg)
			err := cfg.WithDefaults().Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// A heartbeat carries at most api.MaxHeartbeatProcesses processes: every live one, then the
// most recently finished.
func TestProcessesCappedLiveFirstThenMostRecent(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cgroups = "off"
	m, _ := newTestManager(t, cfg, nil)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const nLive, nDone = 20, 400
	m.mu.Lock()
	for i := range nLive {
		name := fmt.Sprintf("live-%03d", i)
		m.procs[name] = &process{spec: Spec{Name: name, Team: "a"}, state: api.ProcessBackoff}
	}
	for i := range nDone { // done-399 finished last
		name := fmt.Sprintf("done-%03d", i)
		m.procs[name] = &process{spec: Spec{Name: name, Team: "a"}, state: api.ProcessExited, finishedAt: t0.Add(time.Duration(i) * time.Second)}
	}
	m.mu.Unlock()

	got := m.Processes()
	require.Len(t, got, api.MaxHeartbeatProcesses)
	for i := range nLive {
		assert.Equal(t, fmt.Sprintf("live-%03d", i), got[i].Name)
	}
	for i, pi := range got[nLive:] {
		assert.Equal(t, fmt.Sprintf("done-%03d", nDone-1-i), pi.Name, "most recently finished first")
	}
}

func TestCgroupLimitsIsOneShortLine(t *testing.T) {
	t.Parallel()
	long := errors.Join(
		errors.New("cgroup v2: open /sys/fs/cgroup/cgroup.subtree_control: permission denied"),
		errors.New("cgroup v1: mkdir /sys/fs/cgroup/memory/talos: read-only file system\twith\x00nul"),
		errors.New(strings.Repeat("ä very long reason ", 20)),
	).Error()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "v2", "v2"},
		{"joined error", "off: a\nb\r\n\nc", "off: a; b; c"},
		{"control characters", "off:\tx\x00\x1by  z", "off: x y z"},
		{"invalid utf-8", "off: \xff", "off: \uFFFD"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, api.FitLine(tc.in, api.MaxCgroupLimitsLen), tc.name)
	}

	cfg := testConfig(t)
	cfg.Cgroups = "off"
	m, _ := newTestManager(t, cfg, nil)
	m.lim = &rlimitLimiter{reason: long}
	got := m.CgroupLimits()
	assert.Equal(t, api.MaxCgroupLimitsLen, utf8.RuneCountInString(got))
	assert.False(t, strings.ContainsFunc(got, unicode.IsControl), "%q", got)
	assert.True(t, strings.HasPrefix(got, "off: cgroup v2: open /sys/fs/cgroup/cgroup.subtree_control: permission denied; cgroup v1"), got)
	assert.True(t, strings.HasSuffix(got, "…"), got)
}

// Every process.output event's data fits the backend's per-event limit, whatever the lines
// hold, and no line is lost: a line too long for one event is cut and says how much was cut.
func TestOutputEventsFitTheEventDataLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		maxLine int
		lines   []string
	}{
		{"100 lines of 150 bytes", 0, repeat(strings.Repeat("a", 150), 100)},
		{"lines of HTML characters", 0, repeat(strings.Repeat("<&>", 341), 100)},
		{"control characters", 0, repeat(strings.Repeat("\x01\x02", 500), 100)},
		{"quotes and backslashes", 0, repeat(strings.Repeat(`"\`, 500), 100)},
		{"invalid UTF-8", 0, repeat(strings.Repeat("\xff", 1000), 50)},
		{"one huge line of escapes", 1 << 20, []string{strings.Repeat("<", 1<<20)}},
		{"huge multi-byte line", 1 << 20, []string{strings.Repeat("ä€𝄞", 40000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{}.WithDefaults().Output
			cfg.RateBytesPerSecond, cfg.BurstBytes = 1<<30, 1<<30
			if tc.maxLine > 0 {
				cfg.MaxLineBytes = tc.maxLine
			}
			var sent []outputBatch
			o := newOutput(cfg, newFakeClock(), func(b outputBatch) { sent = append(sent, b) })
			for _, l := range tc.lines {
				o.add("stderr", l, 0)
			}
			o.flush()
			n := 0
			for _, b := range sent {
				data, err := json.Marshal(outputEvent{Name: strings.Repeat("n", 63), TeamID: strings.Repeat("T", 64), outputBatch: b})
				require.NoError(t, err)
				assert.LessOrEqual(t, len(data), api.MaxEventDataBytes, "event data of %d lines", len(b.Lines))
				lines, err := json.Marshal(b.Lines)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(lines), MaxOutputBatchBytes)
				for _, l := range b.Lines {
					orig := tc.lines[n]
					assert.Equal(t, len(orig), len(l.Text)+l.DroppedBytes, "kept + dropped = the line")
					assert.Equal(t, l.DroppedBytes > 0, l.Truncated)
					assert.True(t, strings.HasPrefix(orig, l.Text))
					n++
				}
			}
			assert.Equal(t, len(tc.lines), n, "every line sent")
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func FuzzJSONStringLen(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\x00\x1f\b\f\n\r\t", `"\`, "\xff\xfe", "\uFFFD", "\u2028\u2029", "ä€𝄞"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, len(raw)-2, jsonStringLen(s), "%q", s)
		l := fitLine(outputLine{Stream: "stdout", Text: s}, 1024)
		lraw, err := json.Marshal(l)
		require.NoError(t, err)
		require.LessOrEqual(t, len(lraw)+1, max(1024, lineSize(outputLine{Stream: "stdout"})))
		require.Equal(t, len(s), len(l.Text)+l.DroppedBytes)
	})
}
