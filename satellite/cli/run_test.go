package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

func TestSecondSignalForcesExit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	forced := make(chan int, 1)
	var errOut bytes.Buffer
	done := make(chan struct{})
	go func() {
		watchSignalsWith(ctx, sigs, cancel, stdio{err: &errOut}, func(code int) { forced <- code })
		close(done)
	}()
	sigs <- syscall.SIGTERM
	<-ctx.Done()
	sigs <- syscall.SIGTERM
	assert.Equal(t, 130, <-forced)
	<-done
	assert.Contains(t, errOut.String(), "stopping gracefully")
}

func TestRunRefusesUnregisteredStation(t *testing.T) {
	t.Parallel()
	_, errOut, code := runCLI(t, "run", "--state-dir", t.TempDir(), "--config", emptyConfig(t))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not registered")
}

func TestRunExitsWith78WhenKeyRevoked(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.AddToken("tok")
	dir := t.TempDir()
	_, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", "tok", "--name", "gs", "--state-dir", dir, "--config", emptyConfig(t))
	require.Equal(t, 0, code, errOut)
	fb.RevokeKeys()
	done := make(chan int, 1)
	go func() {
		_, _, code := runCLI(t, "run", "--state-dir", dir, "--config", uniqueCgroupConfig(t), "--status-listen", "127.0.0.1:0", "--log-level", "error")
		done <- code
	}()
	select {
	case code := <-done:
		assert.Equal(t, exitKeyRevoked, code)
	case <-time.After(30 * time.Second):
		require.FailNow(t, "run did not stop on a revoked key")
	}
}

// uniqueCgroupConfig is a config whose decoder cgroups sit under a parent of this test's own:
// as root, `run` reaps whatever it finds under its cgroup parent at start, and the default
// parent is shared with any station on the machine and with other test binaries.
func uniqueCgroupConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "satellite.yaml")
	cfg := fmt.Sprintf("proc:\n  cgroup_parent: talos-cli-run-test-%d-%s\n", os.Getpid(), uuid.NewString()[:8])
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}
