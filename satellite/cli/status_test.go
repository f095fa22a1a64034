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
	"github.com/talos-gs/talos/satellite/statusapi"
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
	// Wait for the state the test asserts: the runner itself says "connected" (it sets that
	// after reading the backend's answer, later than the fake backend sees the request).
	require.Eventually(t, func() bool {
		st, err := statusapi.Fetch(context.Background(), r.StatusAddr())
		return err == nil && st.Backend.State == "connected"
	}, time.Minute, 10*time.Millisecond, "the runner reports connected")

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

// Issue 12: `status --state-dir B` must not print the status of station A, whose runner happens
// to answer on the status address.
func TestStatusOfAnotherStationsStateDir(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	regA, regB := fb.RegisterDirect("gs-a"), fb.RegisterDirect("gs-b")
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	require.NoError(t, state.SaveIdentity(dirA, state.Identity{SatelliteID: regA.SatelliteID, BackendURL: fb.URL(),
		Name: "gs-a", Intervals: regA.Intervals}, regA.APIKey))
	require.NoError(t, state.SaveIdentity(dirB, state.Identity{SatelliteID: regB.SatelliteID, BackendURL: fb.URL(),
		Name: "gs-b", Intervals: regB.Intervals}, regB.APIKey))

	cfg := config.Default()
	cfg.StateDir = dirA
	cfg.Status.Listen = "127.0.0.1:0"
	r, err := runner.New(cfg, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	<-r.StatusReady()

	out, errOut, code := runCLI(t, "status", "--state-dir", dirB, "--config", emptyConfig(t), "--status-listen", r.StatusAddr())
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "warning: the runner answering on "+r.StatusAddr()+" is station \"gs-a\"")
	assert.Contains(t, out, "station        gs-b (satellite "+regB.SatelliteID)
	assert.Contains(t, out, "not running")
	assert.NotContains(t, out, "station        gs-a")

	out, errOut, code = runCLI(t, "status", "--state-dir", dirB, "--config", emptyConfig(t), "--status-listen", r.StatusAddr(), "--json")
	require.Equal(t, 0, code, errOut)
	var got struct {
		Running  bool   `json:"runner_running"`
		Mismatch string `json:"status_endpoint_mismatch"`
		Status   struct {
			SatelliteID string `json:"satellite_id"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.False(t, got.Running)
	assert.Equal(t, regB.SatelliteID, got.Status.SatelliteID)
	assert.Contains(t, got.Mismatch, regA.SatelliteID)

	// Its own state directory still gets the live answer.
	out, errOut, code = runCLI(t, "status", "--state-dir", dirA, "--config", emptyConfig(t), "--status-listen", r.StatusAddr())
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "station        gs-a")
	assert.NotContains(t, out, "warning")
}
