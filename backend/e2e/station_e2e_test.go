package e2e

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/satellite/cli"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/state"
)

// jitterScale shrinks the runner's backoff: full jitter stays, but every delay is a twentieth
// of the production one (at most 15 s instead of 5 min), so a test outage of a few seconds
// is over in a few seconds more. This is the runner's own test seam (runner.Options.Rand).
const jitterScale = 0.05

func shortJitter() float64 { return rand.Float64() * jitterScale }

// register runs the real `talos-satellite register` command against backendURL with token and
// returns the state directory and the satellite id it stored.
func register(t testing.TB, backendURL, token, name string) (stateDir, satelliteID string) {
	t.Helper()
	stateDir = filepath.Join(t.TempDir(), "state")
	return stateDir, registerDir(t, stateDir, backendURL, token, name)
}

// registerDir runs `talos-satellite register` on stateDir (a key rotation when stateDir is
// already registered with the same backend) and returns the satellite id it stored.
func registerDir(t testing.TB, stateDir, backendURL, token, name string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main([]string{"register", "--backend", backendURL, "--token", token, "--name", name,
		"--state-dir", stateDir, "--lat", "48.1", "--lon", "11.6", "--alt-m", "520", "--capabilities", "rotator,radio"},
		strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("e2e: talos-satellite register exited %d: %s%s", code, out.String(), errOut.String())
	}
	id, err := state.ReadIdentity(stateDir)
	if err != nil {
		t.Fatalf("e2e: read the registered identity: %v", err)
	}
	return id.SatelliteID
}

// runnerConfig is the production default with the test's state directory, a free status
// port, and shutdown timeouts short enough for a test.
func runnerConfig(stateDir string) config.Config {
	cfg := config.Default()
	cfg.StateDir = stateDir
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Backend.Timeout = 15 * time.Second
	cfg.Outbox.FlushTimeout = 5 * time.Second
	cfg.Executor.DrainTimeout = 5 * time.Second
	cfg.Log.Level = "info"
	return cfg
}

// station is a real runner, in this process, with its traffic recorded.
type station struct {
	id       string
	stateDir string
	wire     *wire
	r        *runner.Runner
	cancel   context.CancelFunc
	done     chan error
}

// startStation registers a station with token through backendURL and runs it until the test
// ends.
func startStation(t testing.TB, backendURL, token, name string, extras ...runner.Extras) *station {
	t.Helper()
	dir, id := register(t, backendURL, token, name)
	return runStation(t, dir, id, extras...)
}

// runStation runs a runner (with extras plugged in, see runner.Plug) on the registered state
// directory dir until the test ends (or stop).
func runStation(t testing.TB, dir, id string, extras ...runner.Extras) *station {
	t.Helper()
	s := &station{id: id, stateDir: dir, wire: newWire(), done: make(chan error, 1)}
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named("runner")
	r, err := runner.NewWithOptions(runnerConfig(dir), log, runner.Options{Rand: shortJitter, Transport: s.wire})
	if err != nil {
		t.Fatalf("e2e: new runner: %v", err)
	}
	for _, x := range extras {
		if err := r.Plug(x); err != nil {
			t.Fatalf("e2e: plug into the runner: %v", err)
		}
	}
	s.r = r
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- r.Run(ctx) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-r.StatusReady():
	case err := <-s.done:
		t.Fatalf("e2e: runner stopped at start: %v", err)
	}
	return s
}

// stop shuts the runner down gracefully and checks it stopped cleanly.
func (s *station) stop(t testing.TB) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("e2e: runner stopped with: %v", err)
		}
	case <-time.After(time.Minute):
		t.Errorf("e2e: runner did not stop within a minute")
	}
}
