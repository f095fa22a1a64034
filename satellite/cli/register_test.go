package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/state"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, bytes.NewReader(nil), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestRegisterStoresIdentityAndRotates(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.AddToken("tok-1")
	fb.AddToken("tok-2")
	dir := filepath.Join(t.TempDir(), "state")

	out, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", "tok-1", "--name", "gs-alpha",
		"--lat", "48.1", "--lon", "11.6", "--alt-m", "520", "--state-dir", dir, "--config", emptyConfig(t))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `registered station "gs-alpha"`)
	id, key, err := state.LoadIdentity(dir)
	require.NoError(t, err)
	assert.NotContains(t, out, key, "the key is never printed")
	assert.InDelta(t, 48.1, id.Location.Lat, 1e-9)
	assert.Equal(t, 30, id.Intervals.HeartbeatSeconds)
	reg := fb.Registration(id.SatelliteID)
	assert.Equal(t, "gs-alpha", reg.Name)
	assert.Empty(t, reg.SatelliteID)
	for name, want := range map[string]os.FileMode{"": 0o700, state.IdentityFile: 0o600, state.APIKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), name)
	}

	out, errOut, code = runCLI(t, "register", "--backend", fb.URL(), "--token", "tok-2", "--name", "gs-alpha",
		"--state-dir", dir, "--config", emptyConfig(t))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "rotated")
	id2, key2, err := state.LoadIdentity(dir)
	require.NoError(t, err)
	assert.Equal(t, id.SatelliteID, id2.SatelliteID, "rotation keeps the satellite id")
	assert.NotEqual(t, key, key2)
	assert.Equal(t, id.SatelliteID, fb.Registration(id.SatelliteID).SatelliteID, "rotation sends satellite_id")
}

func TestRegisterExplainsErrorCodes(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.AddFailingToken("expired", api.ErrTokenExpired)
	fb.AddFailingToken("used", api.ErrTokenAlreadyUsed)
	fb.AddFailingToken("scope", api.ErrTokenInvalidScope)
	tests := []struct{ token, want string }{
		{"expired", "has expired"},
		{"used", "already been used"},
		{"scope", "does not allow this registration"},
		{"unknown", "not valid for this backend"},
	}
	for _, tc := range tests {
		_, errOut, code := runCLI(t, "register", "--backend", fb.URL(), "--token", tc.token, "--name", "gs",
			"--state-dir", t.TempDir(), "--config", emptyConfig(t))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, tc.want, tc.token)
	}
}

func TestRegisterValidatesInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--token", "t", "--name", "n"}, "--backend: required"},
		{[]string{"--backend", "https://x", "--name", "n"}, "--token: required"},
		{[]string{"--backend", "https://x", "--token", "t"}, "--name: required"},
		{[]string{"--backend", "https://x", "--token", "t", "--name", "n", "--lat", "91"}, "--lat"},
		{[]string{"--backend", "https://x", "--token", "t", "--name", "n", "--lon", "-181"}, "--lon"},
		{[]string{"--backend", "https://x", "--token", "t", "--name", "n", "--alt-m", "1e6"}, "--alt-m"},
		{[]string{"--backend", "ftp://x", "--token", "t", "--name", "n"}, "scheme"},
		{[]string{"--backend", "http://talos.example.org", "--token", "t", "--name", "n"}, "--insecure"},
	}
	for _, tc := range tests {
		args := append([]string{"register", "--state-dir", dir, "--config", emptyConfig(t)}, tc.args...)
		_, errOut, code := runCLI(t, args...)
		assert.Equal(t, 1, code, tc.args)
		assert.Contains(t, errOut, tc.want, tc.args)
	}
}

// emptyConfig points --config at an empty file, so a config on the test machine is not read.
func emptyConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "satellite.yaml")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	return path
}
