package cli

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/state"
)

// TestRunSaysWhenTheStatusPortIsTaken: a second station on the machine finds the status port
// in use. `run` stops before it starts anything (the backend never hears of it), exits non-zero
// and names the setting to change, on one line, without a stack trace.
func TestRunSaysWhenTheStatusPortIsTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.AddToken("tok")
	dir := t.TempDir() + "/state"
	_, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", "tok", "--name", "gs", "--state-dir", dir, "--config", emptyConfig(t))
	require.Equal(t, 0, code, errOut)
	id, err := state.ReadIdentity(dir)
	require.NoError(t, err)

	_, errOut, code = runCLI(t, "run", "--state-dir", dir, "--config", uniqueCgroupConfig(t),
		"--status-listen", taken.Addr().String(), "--log-level", "error")
	assert.Equal(t, 1, code)
	for _, want := range []string{"--status-listen", "status.listen", taken.Addr().String(), "address already in use"} {
		assert.Contains(t, errOut, want)
	}
	assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line, no stack trace: %s", errOut)
	assert.Empty(t, fb.Heartbeats(id.SatelliteID), "the station never announced itself")
	assert.Empty(t, fb.Events(id.SatelliteID))
}
