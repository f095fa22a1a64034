package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/update"
)

// TestSelfUpdate runs real talos-satellite binaries, built twice in the test's directory with
// different versions (-ldflags -X api.Version=...). systemd is not available to a test, so a
// small supervisor loop stands in for it: it starts the binary at the installed path again
// whenever it exits with update.ExitRestart (75), as the unit's RestartForceExitStatus=75 does.
// The fake backend holds long-polls 2 s, so a 15 s trial can see a poll answered (the real
// backend answers an idle long-poll after its 30 s wait; the default 120 s trial covers it).
func TestSelfUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two talos-satellite binaries")
	}
	bins := t.TempDir()
	v1, v2 := "1.0.0-test", "2.0.0-test"
	v1Bin, v2Bin := buildRunner(t, bins, v1), buildRunner(t, bins, v2)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	t.Run("updated to a second build of itself", func(t *testing.T) {
		st := startStation(t, v1Bin, pub, "")
		cmdID := st.queueUpdate(t, v2Bin, v2, priv)
		ev := st.waitEvent(t, api.EventRunnerUpdated)
		assert.Equal(t, api.RunnerUpdateEventData{From: v1, To: v2, ReleaseID: st.releaseID}, decodeUpdateData(t, ev))
		require.Equal(t, api.CommandSucceeded, st.fb.Command(st.id, cmdID).Status)
		assertSameFile(t, v2Bin, st.bin)
		assertSameFile(t, v1Bin, st.bin+".previous")
		require.Eventually(t, func() bool { return st.lastHeartbeatVersion() == v2 }, 3*time.Minute, 20*time.Millisecond)
		assert.Equal(t, 2, st.sup.starts())
		assert.NoFileExists(t, filepath.Join(st.dir, update.MarkerFile))
	})

	t.Run("a build that fails its first poll is rolled back", func(t *testing.T) {
		st := startStation(t, v1Bin, pub, "")
		st.fb.RefusePollsFromVersion(v2)
		st.queueUpdate(t, v2Bin, v2, priv)
		ev := st.waitEvent(t, api.EventRunnerRolledBack)
		data := decodeUpdateData(t, ev)
		assert.Equal(t, v2, data.From)
		assert.Equal(t, v1, data.To)
		assert.Contains(t, data.Reason, "did not complete a successful poll and heartbeat within 15s")
		assertSameFile(t, v1Bin, st.bin)
		assertSameFile(t, v2Bin, st.bin+".failed")
		assert.Equal(t, 3, st.sup.starts(), "v1, v2 on trial, v1 again")
		assert.NoFileExists(t, filepath.Join(st.dir, update.MarkerFile))
		assert.False(t, st.hasEvent(api.EventRunnerUpdated))
	})

	t.Run("a bad signature is refused", func(t *testing.T) {
		st := startStation(t, v1Bin, pub, "")
		cmdID := st.queueUpdate(t, v2Bin, v2, otherKey)
		c := st.waitCommand(t, cmdID)
		require.Equal(t, api.CommandFailed, c.Status)
		assert.Contains(t, c.Updates[len(c.Updates)-1].Error, "the signature does not verify")
		ev := st.waitEvent(t, api.EventRunnerUpdateRefused)
		assert.Contains(t, decodeUpdateData(t, ev).Reason, "signature does not verify")
		assertSameFile(t, v1Bin, st.bin)
		assert.Equal(t, 0, st.fb.Requests("release"), "nothing is downloaded for a release that does not verify")
		assert.Equal(t, 1, st.sup.starts())
	})

	t.Run("deferred by an imminent pass, applied after it", func(t *testing.T) {
		st := startStation(t, v1Bin, pub, "station:\n  prepare_lead: 1s\n")
		aos := time.Now().Add(20 * time.Second).Truncate(time.Second)
		obs := observationPayload("obs-update", "", aos, aos.Add(5*time.Second))
		obs.Process = nil
		obsCmd := st.fb.Queue(st.id, api.CommandObservationSchedule, api.PriorityHigh, obs)
		require.Equal(t, api.CommandSucceeded, st.waitCommand(t, obsCmd).Status)
		st.queueUpdate(t, v2Bin, v2, priv)
		ev := st.waitEvent(t, api.EventRunnerUpdateDeferred)
		assert.Contains(t, decodeUpdateData(t, ev).Reason, "observation obs-update")
		assertSameFile(t, v1Bin, st.bin)
		assert.Equal(t, 0, st.fb.Requests("release"), "nothing is downloaded while deferred")
		upd := st.waitEvent(t, api.EventRunnerUpdated)
		assert.False(t, upd.Time.Before(aos.Add(5*time.Second)), "applied only after the pass's LOS")
		assertSameFile(t, v2Bin, st.bin)
	})
}

func buildRunner(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "talos-satellite-"+version)
	cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X github.com/talos-gs/talos/backend/api.Version="+version,
		"github.com/talos-gs/talos/satellite/cmd/talos-satellite") // #nosec G204 -- fixed arguments
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", b)
	return out
}

type updateStation struct {
	fb  *fakebackend.Backend
	id  string
	dir string
	bin string
	sup *supervisor
	// releaseID is the latest release queued.
	releaseID string
}

// startStation installs v1 at a path of its own, registers it with a fake backend and runs it
// under the supervisor.
func startStation(t *testing.T, v1Bin string, pub ed25519.PublicKey, extraConfig string) *updateStation {
	t.Helper()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.SetIntervals(api.Intervals{PollSeconds: api.PollingNormal.Seconds(), HeartbeatSeconds: 30, EventsSeconds: 1, LongPollSeconds: 2})
	fb.AddToken("tok")
	root := t.TempDir()
	st := &updateStation{fb: fb, dir: filepath.Join(root, "state"), bin: filepath.Join(root, "bin", "talos-satellite")}
	require.NoError(t, os.MkdirAll(filepath.Dir(st.bin), 0o755))
	raw, err := os.ReadFile(v1Bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(st.bin, raw, 0o755)) // #nosec G306 -- an executable
	cfgPath := filepath.Join(root, "satellite.yaml")
	cfg := fmt.Sprintf("proc:\n  cgroup_parent: talos-cli-update-test-%d-%s\nupdate:\n  public_key: %s\n  trial: 15s\n  binary: %s\n%s",
		os.Getpid(), uuid.NewString()[:8], base64.StdEncoding.EncodeToString(pub), st.bin, extraConfig)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	_, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", "tok", "--name", "gs", "--lat", "48.15",
		"--lon", "11.57", "--state-dir", st.dir, "--config", cfgPath)
	require.Equal(t, 0, code, errOut)
	id, err := state.ReadIdentity(st.dir)
	require.NoError(t, err)
	st.id = id.SatelliteID
	st.sup = supervise(t, st.bin, "run", "--state-dir", st.dir, "--config", cfgPath, "--status-listen", "127.0.0.1:0")
	require.Eventually(t, func() bool { return len(fb.Heartbeats(st.id)) > 0 }, 3*time.Minute, 10*time.Millisecond,
		"the first heartbeat; runner logs:\n%s", st.sup)
	return st
}

func (st *updateStation) queueUpdate(t *testing.T, artifact, version string, key ed25519.PrivateKey) string {
	t.Helper()
	data, err := os.ReadFile(artifact)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	st.releaseID = uuid.NewString()
	p := api.RunnerUpdatePayload{ReleaseID: st.releaseID, Version: version, OS: runtime.GOOS, Arch: runtime.GOARCH,
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	p.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, api.ReleaseMessage(p.Version, p.OS, p.Arch, p.SHA256)))
	require.NoError(t, p.Validate())
	st.fb.AddRelease(p.ReleaseID, data)
	return st.fb.Queue(st.id, api.CommandRunnerUpdate, api.PriorityNormal, p)
}

// waitCommand waits for a command to finish (succeeded or failed).
func (st *updateStation) waitCommand(t *testing.T, id string) fakebackend.CommandState {
	t.Helper()
	require.Eventually(t, func() bool {
		s := st.fb.Command(st.id, id).Status
		return s == api.CommandSucceeded || s == api.CommandFailed
	}, 3*time.Minute, 20*time.Millisecond, "command %s; runner logs:\n%s", id, st.sup)
	return st.fb.Command(st.id, id)
}

func (st *updateStation) hasEvent(typ string) bool {
	for _, ev := range st.fb.Events(st.id) {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

func (st *updateStation) waitEvent(t *testing.T, typ string) api.Event {
	t.Helper()
	var found api.Event
	require.Eventually(t, func() bool {
		for _, ev := range st.fb.Events(st.id) {
			if ev.Type == typ {
				found = ev
				return true
			}
		}
		return false
	}, 4*time.Minute, 20*time.Millisecond, "event %s; runner logs:\n%s", typ, st.sup)
	return found
}

func (st *updateStation) lastHeartbeatVersion() string {
	hbs := st.fb.Heartbeats(st.id)
	if len(hbs) == 0 {
		return ""
	}
	return hbs[len(hbs)-1].Version
}

func decodeUpdateData(t *testing.T, ev api.Event) api.RunnerUpdateEventData {
	t.Helper()
	var d api.RunnerUpdateEventData
	require.NoError(t, json.Unmarshal(ev.Data, &d))
	return d
}

func assertSameFile(t *testing.T, want, got string) {
	t.Helper()
	a, err := os.ReadFile(want)
	require.NoError(t, err)
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(a, b), "%s is not %s", got, filepath.Base(want))
}

// supervisor stands in for systemd: it runs the binary at path and starts it again when it
// exits with update.ExitRestart; it stops it with SIGTERM at the test's end.
type supervisor struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	n       int
	stop    bool
	logs    bytes.Buffer
	stopped chan struct{}
}

func supervise(t *testing.T, path string, args ...string) *supervisor {
	t.Helper()
	s := &supervisor{stopped: make(chan struct{})}
	started := make(chan error, 1)
	go s.loop(path, args, started)
	require.NoError(t, <-started)
	t.Cleanup(func() {
		s.mu.Lock()
		s.stop = true
		if s.cmd != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
		}
		s.mu.Unlock()
		select {
		case <-s.stopped:
		case <-time.After(2 * time.Minute):
			t.Errorf("the runner did not stop; logs:\n%s", s)
		}
	})
	return s
}

func (s *supervisor) loop(path string, args []string, started chan<- error) {
	defer close(s.stopped)
	for {
		s.mu.Lock()
		if s.stop {
			s.mu.Unlock()
			return
		}
		cmd := exec.Command(path, args...) // #nosec G204 -- the binary under test
		cmd.Stdout, cmd.Stderr = &lockedWriter{s}, &lockedWriter{s}
		err := cmd.Start()
		if err == nil {
			s.cmd, s.n = cmd, s.n+1
		}
		s.mu.Unlock()
		if started != nil {
			started <- err
			started = nil
		}
		if err != nil {
			return
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != update.ExitRestart {
			return
		}
	}
}

func (s *supervisor) starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *supervisor) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(s.logs.String())
}

type lockedWriter struct{ s *supervisor }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.logs.Write(b)
}
