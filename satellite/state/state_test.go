package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testIdentity() Identity {
	return Identity{SatelliteID: "sat-1", TeamID: "team-1", BackendURL: "https://talos.example.org", Name: "gs",
		Intervals: api.Intervals{PollSeconds: 30, HeartbeatSeconds: 30, EventsSeconds: 3, LongPollSeconds: 30}, RegisteredAt: t0}
}

func TestIdentityRoundTripAndModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, SaveIdentity(dir, testIdentity(), "tsk_secret"))

	id, key, err := LoadIdentity(dir)
	require.NoError(t, err)
	assert.Equal(t, testIdentity(), id)
	assert.Equal(t, "tsk_secret", key)

	for name, want := range map[string]os.FileMode{"": 0o700, IdentityFile: 0o600, APIKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), name)
	}
	raw, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "tsk_secret")

	iv := api.Intervals{PollSeconds: 10, HeartbeatSeconds: 15, EventsSeconds: 2}
	require.NoError(t, SaveIntervals(dir, iv))
	id, err = ReadIdentity(dir)
	require.NoError(t, err)
	assert.Equal(t, iv, id.Intervals)
}

func TestIdentityErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		identity string // "" = absent
		key      string // "" = absent
		want     string
	}{
		{"not registered", "", "", "not registered"},
		{"corrupt json", "{not json", "k", "identity.json is corrupt"},
		{"unknown field", `{"satellite_id":"s","backend_url":"u","bogus":1}`, "k", "identity.json is corrupt"},
		{"empty id", `{"backend_url":"u"}`, "k", "satellite_id is empty"},
		{"missing key", `{"satellite_id":"s","backend_url":"u"}`, "", "api_key is missing"},
		{"bad key", `{"satellite_id":"s","backend_url":"u"}`, "two words\n", "api_key is corrupt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.identity != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, IdentityFile), []byte(tc.identity), 0o600))
			}
			if tc.key != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, APIKeyFile), []byte(tc.key), 0o600))
			}
			_, _, err := LoadIdentity(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestUnreadableIdentity(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		// root reads any file: use a directory in place of the file to make the read fail.
		dir := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(dir, IdentityFile), 0o700))
		_, _, err := LoadIdentity(dir)
		require.ErrorContains(t, err, "read state file")
		return
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, IdentityFile), []byte("{}"), 0o000))
	_, _, err := LoadIdentity(dir)
	require.ErrorContains(t, err, "read state file")
}

func TestCommandsAcceptOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := OpenCommands(dir)
	require.NoError(t, err)
	cmd := api.Command{ID: "c1", Type: api.CommandPing, CorrelationID: "corr"}

	rec, created, err := c.Accept(cmd, t0)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, PhaseAccepted, rec.Phase)

	_, created, err = c.Accept(cmd, t0)
	require.NoError(t, err)
	assert.False(t, created)

	done, err := c.Finish("c1", api.CommandStatusUpdate{Status: api.CommandSucceeded, Result: json.RawMessage(`{"ok":true}`)}, t0)
	require.NoError(t, err)
	assert.Equal(t, "corr", done.Final().CorrelationID)
	un, err := c.Unreported()
	require.NoError(t, err)
	require.Len(t, un, 1)
	require.NoError(t, c.MarkReported("c1"))
	require.NoError(t, c.Close())

	// A restart sees the same record.
	c, err = OpenCommands(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	rec, found, err := c.Get("c1")
	require.NoError(t, err)
	require.True(t, found)
	assert.True(t, rec.Reported)
	assert.JSONEq(t, `{"ok":true}`, string(rec.Result))
	un, err = c.Unreported()
	require.NoError(t, err)
	assert.Empty(t, un)

	n, err := c.Prune(t0)
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = c.Prune(t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.ErrorContains(t, c.MarkReported("nope"), "unknown command")
}

func TestMaintenanceFlagPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := OpenCommands(dir)
	require.NoError(t, err)
	require.NoError(t, c.SetMaintenance(true))
	require.NoError(t, c.Close())
	c, err = OpenCommands(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	on, err := c.Maintenance()
	require.NoError(t, err)
	assert.True(t, on)
}

func TestCorruptAndLockedDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, CommandsFile)
	require.NoError(t, os.WriteFile(path, []byte("this is not a bbolt file, just junk bytes......"), 0o600))
	_, err := OpenCommands(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "move the file aside")

	dir2 := t.TempDir()
	c, err := OpenCommands(dir2)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = OpenCommands(dir2)
	require.ErrorContains(t, err, "another talos-satellite is running")
}

func TestSafeTurnsPanicIntoError(t *testing.T) {
	t.Parallel()
	err := Safe(func() error { panic("page 7 out of range") })
	assert.ErrorContains(t, err, "page 7")
}

func FuzzParseIdentity(f *testing.F) {
	raw, _ := json.Marshal(testIdentity())
	f.Add(raw)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"satellite_id":"s","backend_url":"u","intervals":{"poll":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseIdentity(data)
		if err == nil {
			require.NoError(t, id.Validate())
		}
	})
}

func TestCountCommandsReadOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n, err := CountCommands(dir)
	require.NoError(t, err)
	assert.Zero(t, n)
	c, err := OpenCommands(dir)
	require.NoError(t, err)
	_, _, err = c.Accept(api.Command{ID: "x"}, t0)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	n, err = CountCommands(dir)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
