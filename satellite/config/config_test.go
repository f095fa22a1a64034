package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "satellite.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, Default().Validate())
}

func TestExampleFileMatchesDefaultsAndCoversEveryField(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "deploy", "talos-satellite.example.yaml")
	cfg, err := Load(Sources{Path: path, Env: noEnv})
	require.NoError(t, err)
	assert.Equal(t, Default(), cfg, "the example shows every default")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, key := range yamlKeys(reflect.TypeOf(Config{}), "") {
		leaf := key[strings.LastIndex(key, ".")+1:]
		assert.Contains(t, string(raw), leaf+":", "example lacks %s", key)
	}
}

func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("yaml") == "-" {
			continue // not read from YAML (proc.Config.OwnTeam comes from the identity)
		}
		name := prefix + yamlName(f)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			out = append(out, yamlKeys(f.Type, name+".")...)
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestPrecedenceFileEnvFlags(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "state_dir: /from/file\nlog:\n  level: warn\noutbox:\n  batch_size: 50\n")
	cfg, err := Load(Sources{Path: path,
		Env:   envOf(map[string]string{"TALOS_LOG_LEVEL": "debug", "TALOS_EXECUTOR_DRAIN_TIMEOUT": "45s", "TALOS_POLL_LONG_POLL": "false"}),
		Flags: func(c *Config) { c.Log.Level = "error" }})
	require.NoError(t, err)
	assert.Equal(t, "/from/file", cfg.StateDir)
	assert.Equal(t, 50, cfg.Outbox.BatchSize)
	assert.Equal(t, "error", cfg.Log.Level, "flags win over env and file")
	assert.Equal(t, 45*time.Second, cfg.Executor.DrainTimeout)
	assert.False(t, cfg.Poll.LongPoll)
}

func TestMissingDefaultFileIsFine(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(DefaultPath); err == nil {
		t.Skip(DefaultPath + " exists on this machine")
	}
	_, err := Load(Sources{Env: noEnv})
	require.NoError(t, err)
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"unknown key", "state_dir: /x\nbackend:\n  urll: https://x\n", "line 3: field urll not found"},
		{"wrong type", "outbox:\n  max_events: lots\n", "line 2: cannot unmarshal"},
		{"bad duration", "backend:\n  timeout: forever\n", "line 2"},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: warn\n", "more than one YAML document"},
		{"invalid value", "outbox:\n  batch_size: 501\n", "outbox.batch_size: must be 1 to 500"},
		{"not loopback", "status:\n  listen: 0.0.0.0:7373\n", "status.listen: must be a loopback address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tc.body)
			_, err := Load(Sources{Path: path, Env: noEnv})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if !strings.Contains(tc.want, ".") {
				assert.Contains(t, err.Error(), path)
			}
		})
	}
	_, err := Load(Sources{Path: filepath.Join(t.TempDir(), "absent.yaml"), Env: noEnv})
	assert.ErrorContains(t, err, "absent.yaml")
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"TALOS_OUTBOX_MAX_EVENTS":      "many",
		"TALOS_BACKEND_INSECURE":       "perhaps",
		"TALOS_EXECUTOR_DRAIN_TIMEOUT": "10",
	}
	for name, val := range tests {
		_, err := Load(Sources{Env: envOf(map[string]string{name: val}), Path: writeFile(t, "")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), name)
	}
}

func TestValidateNamesFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.StateDir = "" }, "state_dir"},
		{func(c *Config) { c.Uploads.DuringPass = "sometimes" }, "uploads.during_pass"},
		{func(c *Config) { c.Uploads.DuringPass = "throttle" }, "uploads.pass_rate_bytes"},
		{func(c *Config) { c.Uploads.ChunkBytes = 1 }, "uploads.chunk_bytes"},
		{func(c *Config) { c.Uploads.RateBytes = -1 }, "uploads.rate_bytes"},
		{func(c *Config) { c.Uploads.DiskBudgetBytes = 10 }, "uploads.disk_budget_bytes"},
		{func(c *Config) { c.Backend.URL = "talos.example.org" }, "backend.url"},
		{func(c *Config) { c.Backend.CertFile = "c.pem" }, "backend.cert_file and backend.key_file"},
		{func(c *Config) { c.Backend.Timeout = 0 }, "backend.timeout"},
		{func(c *Config) { c.Log.Level = "verbose" }, "log.level"},
		{func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{func(c *Config) { c.Status.Listen = "127.0.0.1" }, "status.listen"},
		{func(c *Config) { c.Status.Listen = "127.0.0.1:99999" }, "status.listen: bad port"},
		{func(c *Config) { c.Outbox.MaxEvents = 10 }, "outbox.max_events"},
		{func(c *Config) { c.Outbox.MaxBytes = 10 }, "outbox.max_bytes"},
		{func(c *Config) { c.Outbox.FlushTimeout = 0 }, "outbox.flush_timeout"},
		{func(c *Config) { c.Executor.Workers = 0 }, "executor.workers"},
		{func(c *Config) { c.Executor.DrainTimeout = time.Hour * 2 }, "executor.drain_timeout"},
		{func(c *Config) { c.Executor.Retain = time.Minute }, "executor.retain"},
	}
	for _, tc := range tests {
		cfg := Default()
		tc.change(&cfg)
		assert.ErrorContains(t, cfg.Validate(), tc.want)
	}
}

func FuzzParse(f *testing.F) {
	raw, _ := os.ReadFile(filepath.Join("..", "..", "deploy", "talos-satellite.example.yaml"))
	f.Add(raw)
	f.Add([]byte("outbox: {max_events: 5}"))
	f.Add([]byte("- a\n- b"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default()
		if err := Parse(data, &cfg); err != nil {
			return
		}
		_ = cfg.Validate() // must not panic, whatever was decoded
	})
}
