package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/state"
)

// envRunChild names the state directory of TestRunChild's `run`; unset in a normal test run.
const envRunChild = "TALOS_CLI_RUN_CHILD_STATE"

// TestRunChild is the body of TestClosedStdoutStillStopsGracefully's child process: the real
// `talos-satellite run` writing its logs to the pipes the parent closes.
func TestRunChild(t *testing.T) {
	dir := os.Getenv(envRunChild)
	if dir == "" {
		t.Skip("helper of TestClosedStdoutStillStopsGracefully; runs only as its child process")
	}
	code := Main([]string{"run", "--state-dir", dir, "--config", os.Getenv(envRunChild + "_CONFIG"),
		"--status-listen", "127.0.0.1:0", "--log-level", "info"}, bytes.NewReader(nil), os.Stdout, os.Stderr)
	os.Exit(code)
}

// TestClosedStdoutStillStopsGracefully runs `run` in a child process whose stdout and stderr
// are pipes, closes their read ends (as Ctrl-C does to `| tee`), then sends SIGTERM: the next
// log write must not kill the runner with SIGPIPE; it stops gracefully, sends its final
// heartbeat and flushes its satellite.offline event, and exits 0.
func TestClosedStdoutStillStopsGracefully(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.AddToken("tok")
	dir := t.TempDir() + "/state"
	_, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", "tok", "--name", "gs", "--state-dir", dir, "--config", emptyConfig(t))
	require.Equal(t, 0, code, errOut)
	id, err := state.ReadIdentity(dir)
	require.NoError(t, err)

	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunChild$", "-test.count=1") // #nosec G204 -- this test binary
	cmd.Env = append(os.Environ(), envRunChild+"="+dir, envRunChild+"_CONFIG="+uniqueCgroupConfig(t))
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(t, cmd.Start())
	_ = w.Close()
	var logs bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&logs, r); close(copied) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	require.Eventually(t, func() bool { return len(fb.Heartbeats(id.SatelliteID)) >= 1 }, 30*time.Second, 10*time.Millisecond,
		"the child runner's first heartbeat")
	_ = r.Close() // the reader is gone: every later write by the child meets a broken pipe
	<-copied
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			require.Failf(t, "the runner did not stop gracefully", "%v (%s); its logs until the pipe closed:\n%s", err, ee.ProcessState, logs.String())
		}
		require.NoError(t, err)
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		require.FailNow(t, "the runner did not stop within a minute of SIGTERM")
	}
	hbs := fb.Heartbeats(id.SatelliteID)
	assert.Equal(t, api.StatusStopping, hbs[len(hbs)-1].Status, "the final heartbeat went out")
	evs := fb.Events(id.SatelliteID)
	require.NotEmpty(t, evs)
	assert.Equal(t, api.EventSatelliteOffline, evs[len(evs)-1].Type, "the final flush sent the stop event")
}
