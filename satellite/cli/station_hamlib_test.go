package cli

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

// startHamlib starts Hamlib's dummy daemon (rotctld or rigctld -m 1) on a free loopback port and
// returns its address; it is killed when the test ends.
func startHamlib(t *testing.T, daemon string) string {
	t.Helper()
	path, err := exec.LookPath(daemon)
	if err != nil {
		if os.Getenv("TALOS_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("TALOS_REQUIRE_INTEGRATION=1 but %s is missing (apt-get install libhamlib-utils)", daemon)
		}
		t.Skipf("%s not installed (libhamlib-utils)", daemon)
	}
	port := freePort(t)
	cmd := exec.Command(path, "-m", "1", "-T", "127.0.0.1", "-t", strconv.Itoa(port)) // #nosec G204 -- a test's fixed daemon
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "%s listens on %s", daemon, addr)
	return addr
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// TestStationWithHamlibDaemons assembles the station on Debian's real rotctld -m 1 and
// rigctld -m 1: rotator.park succeeds through rotctld and an observation's pass is tracked and
// completed with the radio tuned through rigctld.
func TestStationWithHamlibDaemons(t *testing.T) {
	t.Parallel()
	rot, rig := startHamlib(t, "rotctld"), startHamlib(t, "rigctld")
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	ident, _ := startTestStation(t, fb, func(c *config.Config) { c.Devices.Rotctld, c.Devices.Rigctld = rot, rig })
	sat := ident.SatelliteID

	park := fb.Queue(sat, api.CommandRotatorPark, api.PriorityNormal, nil)
	st := waitCommand(t, fb, sat, park)
	require.Equal(t, api.CommandSucceeded, st.Status, "%+v", st.Updates)

	aos := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	p := observationPayload("obs-hamlib", ident.TeamID, aos, aos.Add(6*time.Second))
	p.Process = nil
	obs := fb.Queue(sat, api.CommandObservationSchedule, api.PriorityNormal, p)
	require.Equal(t, api.CommandSucceeded, waitCommand(t, fb, sat, obs).Status)
	evs := waitEvents(t, fb, sat, []string{api.EventAOS, api.EventObservationCompleted}, 60*time.Second)
	var sum struct {
		Retunes      int `json:"retunes"`
		RotatorError int `json:"rotator_errors"`
	}
	require.NoError(t, json.Unmarshal(evs[api.EventObservationCompleted].Data, &sum))
	assert.Positive(t, sum.Retunes, "the radio was tuned through rigctld")
	assert.Zero(t, sum.RotatorError)
}
