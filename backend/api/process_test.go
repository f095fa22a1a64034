package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validStart() ProcessStartPayload {
	return ProcessStartPayload{Name: "noaa19-apt", TeamID: "7f3c2a10-1234-4abc-9def-0123456789ab", Command: []string{"/usr/bin/noaa-apt", "-o", "out.png"}}
}

func TestProcessStartPayloadValidate(t *testing.T) {
	t.Parallel()
	secs := func(n int) *int { return &n }
	tests := []struct {
		name  string
		tweak func(*ProcessStartPayload)
		field string
	}{
		{"valid", func(*ProcessStartPayload) {}, ""},
		{"bare program", func(p *ProcessStartPayload) { p.Command = []string{"rtl_fm", "-f", "137.1M"} }, ""},
		{"full", func(p *ProcessStartPayload) {
			p.Env = map[string]string{"GAIN": "40", "PATH": "/opt/bin"}
			p.WorkingDir = "passes/2026-11-23"
			p.Limits = &ProcessLimits{CPUCores: 0.5, MemoryMB: 200, Pids: 64}
			p.Restart = RestartOnFailure
			p.IdleTimeoutSeconds = secs(0)
		}, ""},
		{"empty name", func(p *ProcessStartPayload) { p.Name = "" }, "name"},
		{"upper name", func(p *ProcessStartPayload) { p.Name = "Decoder" }, "name"},
		{"slash name", func(p *ProcessStartPayload) { p.Name = "a/b" }, "name"},
		{"long name", func(p *ProcessStartPayload) { p.Name = strings.Repeat("a", 64) }, "name"},
		{"team", func(p *ProcessStartPayload) { p.TeamID = "../root" }, "team_id"},
		{"no command", func(p *ProcessStartPayload) { p.Command = nil }, "command"},
		{"empty program", func(p *ProcessStartPayload) { p.Command = []string{""} }, "command[0]"},
		{"relative program", func(p *ProcessStartPayload) { p.Command = []string{"bin/dec"} }, "command[0]"},
		{"nul arg", func(p *ProcessStartPayload) { p.Command = []string{"/bin/x", "a\x00b"} }, "command[1]"},
		{"too many args", func(p *ProcessStartPayload) { p.Command = make([]string, MaxProcessArgs+1) }, "command"},
		{"env name", func(p *ProcessStartPayload) { p.Env = map[string]string{"1BAD": "x"} }, "env"},
		{"env key", func(p *ProcessStartPayload) { p.Env = map[string]string{"TALOS_API_KEY": "x"} }, "env.TALOS_API_KEY"},
		{"env lower talos", func(p *ProcessStartPayload) { p.Env = map[string]string{"talos_config": "x"} }, "env.talos_config"},
		{"env home", func(p *ProcessStartPayload) { p.Env = map[string]string{"HOME": "/root"} }, "env.HOME"},
		{"env nul", func(p *ProcessStartPayload) { p.Env = map[string]string{"A": "\x00"} }, "env.A"},
		{"abs dir", func(p *ProcessStartPayload) { p.WorkingDir = "/etc" }, "working_dir"},
		{"dotdot dir", func(p *ProcessStartPayload) { p.WorkingDir = "a/../../b" }, "working_dir"},
		{"cpu", func(p *ProcessStartPayload) { p.Limits = &ProcessLimits{CPUCores: 65} }, "limits.cpu_cores"},
		{"tiny cpu", func(p *ProcessStartPayload) { p.Limits = &ProcessLimits{CPUCores: 0.001} }, "limits.cpu_cores"},
		{"memory", func(p *ProcessStartPayload) { p.Limits = &ProcessLimits{MemoryMB: 1} }, "limits.memory_mb"},
		{"pids", func(p *ProcessStartPayload) { p.Limits = &ProcessLimits{Pids: 1} }, "limits.pids"},
		{"restart", func(p *ProcessStartPayload) { p.Restart = "always" }, "restart"},
		{"idle", func(p *ProcessStartPayload) { p.IdleTimeoutSeconds = secs(-1) }, "idle_timeout_seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := validStart()
			tc.tweak(&p)
			err := p.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var pe *ProcessPayloadError
			require.True(t, errors.As(err, &pe), "want a ProcessPayloadError, got %v", err)
			assert.Equal(t, tc.field, pe.Field)
			assert.Contains(t, err.Error(), "invalid "+tc.field)
		})
	}
}

func TestProcessStopPayloadValidate(t *testing.T) {
	t.Parallel()
	assert.NoError(t, (&ProcessStopPayload{Name: "dec"}).Validate())
	assert.Error(t, (&ProcessStopPayload{}).Validate())
	assert.Error(t, (&ProcessRestartPayload{Name: "x y"}).Validate())
}

// FuzzProcessStartPayload feeds arbitrary JSON to decoding and validation: nothing may panic,
// and whatever validates must keep its promises (a safe name, a relative working dir).
func FuzzProcessStartPayload(f *testing.F) {
	seed, _ := json.Marshal(validStart())
	f.Add(string(seed))
	f.Add(`{"name":"a","team_id":"t","command":["x"],"working_dir":"../..","env":{"TALOS_X":"1"}}`)
	f.Add(`{"name":"a","team_id":"t","command":["/bin/sh"],"limits":{"cpu_cores":1e308,"memory_mb":-1}}`)
	f.Add(`{"name":"a","team_id":"t","command":["/x"],"idle_timeout_seconds":99999999999}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var p ProcessStartPayload
		if json.Unmarshal([]byte(raw), &p) != nil {
			return
		}
		if p.Validate() != nil {
			return
		}
		if strings.ContainsAny(p.Name, "/\x00") || strings.HasPrefix(p.WorkingDir, "/") {
			t.Fatalf("accepted unsafe payload %+v", p)
		}
		for _, part := range strings.Split(p.WorkingDir, "/") {
			if part == ".." {
				t.Fatalf("accepted working dir %q", p.WorkingDir)
			}
		}
	})
}
