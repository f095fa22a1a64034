package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStationSectionsValidateNamesFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Station.Lat = 91 }, "station.lat"},
		{func(c *Config) { c.Station.Lon = -181 }, "station.lon"},
		{func(c *Config) { c.Station.AltM = 1e6 }, "station.alt_m"},
		{func(c *Config) { c.Station.PrepareLead = 0 }, "station.prepare_lead"},
		{func(c *Config) { c.Station.Tags = map[string]string{"band": "u hf"} }, "station.tags.band"},
		{func(c *Config) { c.Station.Tags = map[string]string{"Band": "uhf"} }, "station.tags: tag key"},
		{func(c *Config) { c.Proc.Cgroups = "maybe" }, "proc.cgroups"},
		{func(c *Config) { c.Proc.WorkDir = "teams" }, "proc.work_dir"},
		{func(c *Config) { c.Proc.Defaults.MemoryMB = 2 }, "proc.defaults.memory_mb"},
		{func(c *Config) { c.Devices.Rotctld = "localhost" }, "devices.rotctld: want host:port"},
		{func(c *Config) { c.Devices.Limits.MaxAz = -5 }, "devices: rotator"},
		{func(c *Config) { c.Devices.Monitor.PollInterval = time.Millisecond }, "poll_interval"},
		{func(c *Config) { c.Devices.CallTimeout = -time.Second }, "devices.dial_timeout and devices.call_timeout"},
		{func(c *Config) { c.Tracker.Period = time.Millisecond }, "tracker: period"},
		{func(c *Config) { c.Devices.ElSlewRateDegS = 500 }, "devices: rotator: simulated rotator: slew rate el_slew_rate_deg_s"},
		{func(c *Config) { c.Devices.Rotctld, c.Devices.AzSlewRateDegS = "127.0.0.1:4533", -1 }, "devices: rotctld: configured slew rate az_slew_rate_deg_s"},
	}
	for _, tc := range tests {
		cfg := Default()
		tc.change(&cfg)
		err := cfg.Validate()
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "proc.proc.")
	}
}

func TestStationSectionsFromFileAndEnv(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "devices:\n  rotctld: 127.0.0.1:4533\n  limits: {min_az: 0, max_az: 450, min_el: 0, max_el: 180}\n"+
		"proc:\n  defaults: {cpu_cores: 0.2}\ntracker:\n  period: 250ms\nstation:\n  override_location: true\n  lat: 48.1\n"+
		"  tags:\n    band: uhf\n    rotator: az-el\n")
	cfg, err := Load(Sources{Path: path, Env: envOf(map[string]string{
		"TALOS_DEVICES_RIGCTLD": "127.0.0.1:4532", "TALOS_PROC_CGROUPS": "off", "TALOS_STATION_LON": "11.6"})})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:4533", cfg.Devices.Rotctld)
	assert.Equal(t, "127.0.0.1:4532", cfg.Devices.Rigctld)
	assert.InDelta(t, 450, cfg.Devices.Limits.MaxAz, 0)
	assert.InDelta(t, 0.2, cfg.Proc.Defaults.CPUCores, 0)
	assert.Equal(t, int64(100), cfg.Proc.Defaults.MemoryMB, "unset keys keep their defaults")
	assert.Equal(t, "off", cfg.Proc.Cgroups)
	assert.Equal(t, 250*time.Millisecond, cfg.Tracker.Period)
	assert.True(t, cfg.Station.OverrideLocation)
	assert.InDelta(t, 11.6, cfg.Station.Lon, 0)
	assert.Equal(t, map[string]string{"band": "uhf", "rotator": "az-el"}, cfg.Station.Tags)

	_, err = Load(Sources{Path: writeFile(t, ""), Env: envOf(map[string]string{"TALOS_PROC_GRACE_PERIOD": "soon"})})
	assert.ErrorContains(t, err, "TALOS_PROC_GRACE_PERIOD")
	_, err = Load(Sources{Path: writeFile(t, "devices:\n  rotctl: x\n")})
	assert.ErrorContains(t, err, "field rotctl not found")
}

func TestTeamsDirIsASiblingOfTheStateDir(t *testing.T) {
	t.Parallel()
	dir, err := TeamsDir("/var/lib/talos-satellite/")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/talos-satellite-teams", dir)
	rel, err := TeamsDir("data/station")
	require.NoError(t, err)
	assert.True(t, len(rel) > 0 && rel[0] == '/', "made absolute: %s", rel)
}
