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
	return ProcessStartPayload{Name: "noaa19-apt", TeamID: "7f3c2a10-1234-4abc-9def-0123456789ab", Program: "noaa-apt", Args: []string{"-o", "out.png"}}
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
		{"no args", func(p *ProcessStartPayload) { p.Args = nil }, ""},
		{"full", func(p *ProcessStartPayload) {
			p.Env = map[string]string{"GAIN": "40", "LANG": "de_DE.UTF-8"}
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
		{"raw argv", func(p *ProcessStartPayload) { p.Command = []string{"/bin/bash", "-c", "id"} }, "command"},
		{"raw argv beside program", func(p *ProcessStartPayload) { p.Command = []string{} }, "command"},
		{"no program", func(p *ProcessStartPayload) { p.Program = "" }, "program"},
		{"program path", func(p *ProcessStartPayload) { p.Program = "/bin/bash" }, "program"},
		{"program upper", func(p *ProcessStartPayload) { p.Program = "Noaa" }, "program"},
		{"nul arg", func(p *ProcessStartPayload) { p.Args = []string{"-o", "a\x00b"} }, "args[1]"},
		{"long arg", func(p *ProcessStartPayload) { p.Args = []string{strings.Repeat("a", MaxProcessArgBytes+1)} }, "args[0]"},
		{"too many args", func(p *ProcessStartPayload) { p.Args = make([]string, MaxProcessArgs+1) }, "args"},
		{"env LD_PRELOAD", func(p *ProcessStartPayload) { p.Env = map[string]string{"LD_PRELOAD": "/tmp/x.so"} }, "env.LD_PRELOAD"},
		{"env ld_library_path", func(p *ProcessStartPayload) { p.Env = map[string]string{"ld_library_path": "/tmp"} }, "env.ld_library_path"},
		{"env PATH", func(p *ProcessStartPayload) { p.Env = map[string]string{"PATH": "/tmp"} }, "env.PATH"},
		{"env GCONV_PATH", func(p *ProcessStartPayload) { p.Env = map[string]string{"GCONV_PATH": "/tmp"} }, "env.GCONV_PATH"},
		{"env PYTHONPATH", func(p *ProcessStartPayload) { p.Env = map[string]string{"PYTHONPATH": "/tmp"} }, "env.PYTHONPATH"},
		{"env NODE_OPTIONS", func(p *ProcessStartPayload) { p.Env = map[string]string{"NODE_OPTIONS": "--require=/tmp/x"} }, "env.NODE_OPTIONS"},
		{"env BASH_ENV", func(p *ProcessStartPayload) { p.Env = map[string]string{"BASH_ENV": "/tmp/x"} }, "env.BASH_ENV"},
		{"env MALLOC", func(p *ProcessStartPayload) { p.Env = map[string]string{"MALLOC_CHECK_": "3"} }, "env.MALLOC_CHECK_"},
		{"env GLIBC_TUNABLES", func(p *ProcessStartPayload) { p.Env = map[string]string{"GLIBC_TUNABLES": "x"} }, "env.GLIBC_TUNABLES"},
		{"env TMPDIR", func(p *ProcessStartPayload) { p.Env = map[string]string{"TMPDIR": "/tmp"} }, "env.TMPDIR"},
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
	f.Add(`{"name":"a","team_id":"t","program":"x","working_dir":"../..","env":{"TALOS_X":"1"}}`)
	f.Add(`{"name":"a","team_id":"t","program":"sh","limits":{"cpu_cores":1e308,"memory_mb":-1}}`)
	f.Add(`{"name":"a","team_id":"t","program":"x","idle_timeout_seconds":99999999999}`)
	f.Add(`{"name":"a","team_id":"t","program":"x","command":["/bin/sh"],"env":{"LD_PRELOAD":"/x"}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var p ProcessStartPayload
		if json.Unmarshal([]byte(raw), &p) != nil {
			return
		}
		if p.Validate() != nil {
			return
		}
		if strings.ContainsAny(p.Name+p.Program, "/\x00") || strings.HasPrefix(p.WorkingDir, "/") || p.Command != nil {
			t.Fatalf("accepted unsafe payload %+v", p)
		}
		for _, part := range strings.Split(p.WorkingDir, "/") {
			if part == ".." {
				t.Fatalf("accepted working dir %q", p.WorkingDir)
			}
		}
		for name := range p.Env {
			if DeniedEnvName(name) != "" {
				t.Fatalf("accepted denied variable %q", name)
			}
		}
	})
}
