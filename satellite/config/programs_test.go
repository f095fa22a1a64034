package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgramsExampleLoads: the shipped allow-list example is a valid configuration and says
// what it promises.
func TestProgramsExampleLoads(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Sources{Path: filepath.Join("..", "..", "deploy", "talos-satellite.programs.example.yaml"), Env: noEnv})
	require.NoError(t, err)
	progs := cfg.Proc.Programs
	require.Len(t, progs, 3)
	assert.Equal(t, "/usr/local/bin/noaa-apt", progs["noaa-apt"].Path)
	assert.Equal(t, []string{"-o", `[A-Za-z0-9_-]{1,64}\.png`, "--rate", "[0-9]{4,6}"}, progs["noaa-apt"].ArgPatterns)
	assert.Equal(t, []string{"APRS_CALLSIGN"}, progs["direwolf-aprs"].Env)
	assert.Equal(t, "host", progs["satnogs-upload"].Network)
	assert.Empty(t, progs["noaa-apt"].Network, "no network unless a program says host")
	assert.False(t, cfg.Proc.AllowUnisolated)
}

func TestProgramsErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct{ yaml, want string }{
		{"proc:\n  programs:\n    sh:\n      path: /bin/sh\n      argv: [-c]\n", "field argv not found"},
		{"proc:\n  programs:\n    sh:\n      path: sh\n", "proc.programs.sh.path"},
		{"proc:\n  programs:\n    dec:\n      path: /bin/dec\n      env: [LD_PRELOAD]\n", "proc.programs.dec.env[0]"},
		{"proc:\n  programs:\n    dec:\n      path: /bin/dec\n      network: bridge\n", "proc.programs.dec.network"},
		{"proc:\n  allow_unisolated: maybe\n", "line 2"},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), "satellite.yaml")
		require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
		_, err := Load(Sources{Path: path, Env: noEnv})
		require.Error(t, err, tc.yaml)
		assert.Contains(t, err.Error(), tc.want)
	}
}
