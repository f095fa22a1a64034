package upload_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/upload"
)

// childEnv carries the state directory and the backend URL to TestChildUploader.
const childEnv = "TALOS_UPLOAD_CHILD"

// TestChildUploader is the upload loop run in a child process by TestSIGKILLMidUpload; on its
// own it does nothing.
func TestChildUploader(t *testing.T) {
	stateDir, url := os.Getenv(childEnv+"_STATE"), os.Getenv(childEnv+"_URL")
	if stateDir == "" {
		t.Skip("run by TestSIGKILLMidUpload in a child process")
	}
	c, err := client.New(client.Options{BaseURL: url, APIKey: "tsk_test_key"})
	require.NoError(t, err)
	u, err := upload.Open(upload.Options{Dir: stateDir, Backend: client.Satellite{Client: c, ID: "sat-1"},
		Settings: upload.Settings{ChunkBytes: chunk, RateBytes: 4 * chunk}, Logger: zap.NewNop()})
	require.NoError(t, err)
	_ = u.Run(context.Background()) // until SIGKILL
}

// TestSIGKILLMidUpload: the upload loop runs in a child process paced at 4 chunks a second and
// is killed with SIGKILL after a few chunks, likely in the middle of one; a new loop on the same
// state directory finishes the upload. The backend receives the whole file, and no byte twice
// beyond the chunk in flight at the kill.
func TestSIGKILLMidUpload(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	st, srv := newStation(t), newTusServer(t)
	body := st.write(t, "pass.cf32", 24*chunk)
	u := st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, nil)
	require.NoError(t, u.CloseDir(st.dir()))
	require.NoError(t, u.Close())

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildUploader$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"_STATE="+st.state, childEnv+"_URL="+srv.srv.URL)
	out, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("child-%d.out", time.Now().UnixNano())))
	require.NoError(t, err)
	defer func() { _ = out.Close() }()
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	require.Eventually(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.patches >= 5
	}, 30*time.Second, 5*time.Millisecond, "the child sends chunks")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_, _ = cmd.Process.Wait()
	before, _ := srv.stats()
	t.Logf("bytes received before the kill: %d of %d", before, len(body))

	u = st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, nil)
	_, wait := run(t, u)
	require.Eventually(t, func() bool { return entry(t, u, "pass.cf32").State == upload.StateUploaded }, 30*time.Second, 5*time.Millisecond)
	wait()
	received, arts := srv.stats()
	assert.Equal(t, body, arts["pass.cf32"], "the file arrived whole")
	assert.Less(t, before, int64(len(body)), "the kill came before the end")
	assert.LessOrEqual(t, received, int64(len(body)+chunk), "no byte sent twice beyond the chunk in flight at the kill")
}
