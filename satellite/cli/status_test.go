package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/state"
)

func TestStatusFromRunnerAndFromStateDir(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("gs-status")
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, state.SaveIdentity(dir, state.Identity{SatelliteID: reg.SatelliteID, BackendURL: fb.URL(),
		Name: "gs-status", Intervals: reg.Intervals}, reg.APIKey))

	// Not registered yet elsewhere: a clear error.
	_, errOut, code := runCLI(t, "status", "--state-dir", t.TempDir(), "--config", emptyConfig(t), "--status-listen", "127.0.0.1:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not registered")

	cfg := config.Default()
	cfg.StateDir = dir
	cfg.Status.Listen = "127.0.0.1:0"
	r, err := runner.New(cfg, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-r.StatusReady()
	require.Eventually(t, func() bool { return len(fb.Heartbeats(reg.SatelliteID)) > 0 }, 10*time.Second, time.Millisecond)

	out, errOut, code := runCLI(t, "status", "--state-dir", dir, "--config", emptyConfig(t), "--status-listen", r.StatusAddr())
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "running")
	assert.Contains(t, out, "connected")
	assert.Contains(t, out, "gs-status")

	cancel()
	require.NoError(t, <-done)
	out, errOut, code = runCLI(t, "status", "--state-dir", dir, "--config", emptyConfig(t), "--status-listen", r.StatusAddr(), "--json")
	require.Equal(t, 0, code, errOut)
	var got struct {
		Running bool `json:"runner_running"`
		Status  struct {
			SatelliteID string `json:"satellite_id"`
			Outbox      struct {
				Depth int `json:"depth"`
			} `json:"outbox"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.False(t, got.Running)
	assert.Equal(t, reg.SatelliteID, got.Status.SatelliteID)
}
