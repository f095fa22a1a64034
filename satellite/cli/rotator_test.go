package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/talos-gs/talos/satellite/config"
)

// calibratedRates decodes calibrate's output as a station configuration file does (strict):
// the printed lines are ready to paste.
func calibratedRates(t *testing.T, out string) (az, el float64) {
	t.Helper()
	cfg := config.Default()
	dec := yaml.NewDecoder(strings.NewReader(out))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg), out)
	require.NoError(t, cfg.Validate())
	return cfg.Devices.AzSlewRateDegS, cfg.Devices.ElSlewRateDegS
}

func TestRotatorCalibrateSimulated(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "rotator", "calibrate", "--degrees", "10", "--az-slew-rate", "20", "--el-slew-rate", "10")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "# measured with rotator calibrate: azimuth")
	az, el := calibratedRates(t, out)
	// The simulator's position is exact at each readback's time.
	assert.InEpsilon(t, 20, az, 0.01, out)
	assert.InEpsilon(t, 10, el, 0.01, out)
}

// TestRotatorCalibrateAgainstHamlib times Debian's real rotctld -m 1, whose dummy rotator
// turns 6°/s on each axis.
func TestRotatorCalibrateAgainstHamlib(t *testing.T) {
	t.Parallel()
	rot := startDaemonForTrack(t, "rotctld")
	code, out, errOut := run(t, "rotator", "calibrate", "--rotctld", rot, "--degrees", "6")
	require.Equal(t, 0, code, errOut)
	t.Log(out)
	az, el := calibratedRates(t, out)
	assert.InEpsilon(t, 6, az, 0.2, out)
	assert.InEpsilon(t, 6, el, 0.2, out)
}

func TestRotatorCalibrateFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--degrees", "0.5"}, "--degrees"},
		{[]string{"--degrees", "NaN"}, "--degrees"},
		{[]string{"--timeout", "0s"}, "--timeout"},
		{[]string{"--az-slew-rate", "-1"}, "--az-slew-rate"},
		{[]string{"--rotctld", "127.0.0.1:1"}, "--rotctld 127.0.0.1:1"},
	} {
		code, _, errOut := run(t, append([]string{"rotator", "calibrate"}, tc.args...)...)
		assert.NotEqual(t, 0, code)
		assert.Contains(t, errOut, tc.want)
	}
}
