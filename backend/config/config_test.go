package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NoError(t, fs.Parse(args))
	return Load(fs, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil)
	require.NoError(t, err)
	assert.Equal(t, "data", c.DataDir)
	assert.Equal(t, filepath.Join("data", "talos.db"), c.DatabaseURL)
	assert.Equal(t, ":8080", c.Listen)
	assert.Equal(t, int64(1<<20), c.MaxBodyBytes)
	assert.Equal(t, 24*time.Hour, c.SessionTTL)
	assert.Equal(t, "admin@talos.local", c.BootstrapEmail)
	assert.Equal(t, 10, c.RegisterBurst)
	assert.Equal(t, 6*time.Second, c.RegisterEvery)
	assert.False(t, c.TLS())
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TALOS_LISTEN": "127.0.0.1:9000", "TALOS_DATA_DIR": "/srv/talos", "TALOS_DEV": "1"}
	c, err := load(t, env, "--listen", ":7000")
	require.NoError(t, err)
	assert.Equal(t, ":7000", c.Listen)
	assert.Equal(t, "/srv/talos", c.DataDir)
	assert.Equal(t, "/srv/talos/talos.db", c.DatabaseURL)
	assert.True(t, c.Dev)
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"TALOS_LISTEN": "8080"}, nil, "TALOS_LISTEN"},
		{nil, []string{"--listen", "nope"}, "--listen"},
		{map[string]string{"TALOS_MAX_BODY_BYTES": "-1"}, nil, "TALOS_MAX_BODY_BYTES"},
		{map[string]string{"TALOS_SESSION_TTL": "forever"}, nil, "TALOS_SESSION_TTL"},
		{map[string]string{"TALOS_REGISTER_BURST": "0"}, nil, "TALOS_REGISTER_BURST"},
		{map[string]string{"TALOS_REGISTER_EVERY": "-1s"}, nil, "TALOS_REGISTER_EVERY"},
		{map[string]string{"TALOS_SECRET_KEY": "short"}, nil, "TALOS_SECRET_KEY"},
		{map[string]string{"TALOS_KEY_PEPPER": "short"}, nil, "TALOS_KEY_PEPPER"},
		{map[string]string{"TALOS_KEY_PEPPER_PREVIOUS": strings.Repeat("p", 32) + ",short"}, nil, "entry 2"},
		{map[string]string{"TALOS_LOG_LEVEL": "loud"}, nil, "TALOS_LOG_LEVEL"},
		{map[string]string{"TALOS_DEV": "perhaps"}, nil, "TALOS_DEV"},
		{map[string]string{"TALOS_TRUSTED_PROXIES": "10.0.0.0/8, bogus"}, nil, "TALOS_TRUSTED_PROXIES"},
		{map[string]string{"TALOS_PUBLIC_URL": "talos.example.org"}, nil, "TALOS_PUBLIC_URL"},
		{map[string]string{"TALOS_PUBLIC_URL": "ftp://talos.example.org"}, nil, "TALOS_PUBLIC_URL"},
		{map[string]string{"TALOS_PUBLIC_URL": "https://talos.example.org/?x=1"}, nil, "TALOS_PUBLIC_URL"},
		{map[string]string{"TALOS_TOKEN_MAX_TTL": "0s"}, nil, "TALOS_TOKEN_MAX_TTL"},
		{map[string]string{"TALOS_ARTIFACT_RETENTION": "iq=7d"}, nil, "TALOS_ARTIFACT_RETENTION"},
		{map[string]string{"TALOS_ARTIFACT_RETENTION": "movies=1h"}, nil, "TALOS_ARTIFACT_RETENTION"},
		{map[string]string{"TALOS_ARTIFACT_KINDS": "iq,video"}, nil, "TALOS_ARTIFACT_KINDS"},
		{map[string]string{"TALOS_ARTIFACT_QUOTA_BYTES": "0"}, nil, "TALOS_ARTIFACT_QUOTA_BYTES"},
		{map[string]string{"TALOS_TLS_CERT": "/c.pem"}, nil, "TALOS_TLS_KEY"},
		{map[string]string{"TALOS_BOOTSTRAP_ADMIN_EMAIL": "admin"}, nil, "TALOS_BOOTSTRAP_ADMIN_EMAIL"},
		{map[string]string{"TALOS_BOOTSTRAP_ADMIN_PASSWORD": "short"}, nil, "TALOS_BOOTSTRAP_ADMIN_PASSWORD"},
		{map[string]string{"TALOS_DB_MAX_OPEN_CONNS": "2", "TALOS_DB_MAX_IDLE_CONNS": "5"}, nil, "TALOS_DB_MAX_IDLE_CONNS"},
	}
	for _, tc := range cases {
		_, err := load(t, tc.env, tc.args...)
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestSecretKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &Config{DataDir: filepath.Join(dir, "data")}
	k1, err := c.SecretKey()
	require.NoError(t, err)
	assert.Len(t, k1, 64)
	info, err := os.Stat(filepath.Join(c.DataDir, SecretKeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	k2, err := c.SecretKey()
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "generated once, then reused")

	require.NoError(t, os.Chmod(filepath.Join(c.DataDir, SecretKeyFile), 0o640))
	_, err = c.SecretKey()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chmod 600")

	c.SecretKeyEnv = "an operator-provided key of 32+ chars"
	k3, err := c.SecretKey()
	require.NoError(t, err)
	assert.Equal(t, []byte(c.SecretKeyEnv), k3)
}

// TestKeyPepperFile: the pepper is generated once into its own 0600 file, apart from the secret
// key; a file others may read is refused; further lines are previous peppers; the environment
// replaces the file, and its previous peppers add to the file's.
func TestKeyPepperFile(t *testing.T) {
	t.Parallel()
	c := &Config{DataDir: filepath.Join(t.TempDir(), "data")}
	p1, prev, err := c.KeyPeppers()
	require.NoError(t, err)
	assert.Len(t, p1, 64)
	assert.Empty(t, prev)
	path := filepath.Join(c.DataDir, KeyPepperFile)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	key, err := c.SecretKey()
	require.NoError(t, err)
	assert.NotEqual(t, key, p1, "the pepper is not the secret key")

	p2, _, err := c.KeyPeppers()
	require.NoError(t, err)
	assert.Equal(t, p1, p2, "generated once, then reused")

	require.NoError(t, os.Chmod(path, 0o604))
	_, _, err = c.KeyPeppers()
	require.ErrorContains(t, err, "chmod 600")
	require.ErrorContains(t, err, "TALOS_KEY_PEPPER")

	rotated := strings.Repeat("n", 64)
	require.NoError(t, os.WriteFile(path, []byte(rotated+"\n"+string(p1)+"\n"), 0o600))
	require.NoError(t, os.Chmod(path, 0o600))
	cur, prev, err := c.KeyPeppers()
	require.NoError(t, err)
	assert.Equal(t, []byte(rotated), cur)
	assert.Equal(t, [][]byte{p1}, prev)

	require.NoError(t, os.WriteFile(path, []byte(rotated+"\nshort\n"), 0o600))
	_, _, err = c.KeyPeppers()
	require.ErrorContains(t, err, "line 2")

	c.KeyPepperEnv = strings.Repeat("e", 32)
	c.PreviousPeppersEnv = []string{strings.Repeat("f", 32)}
	cur, prev, err = c.KeyPeppers()
	require.NoError(t, err)
	assert.Equal(t, []byte(c.KeyPepperEnv), cur)
	assert.Equal(t, [][]byte{[]byte(c.PreviousPeppersEnv[0])}, prev)
}

// TestSecureCookiesFromPublicURL: an https public URL means browsers use HTTPS even when TLS
// ends at a proxy; an http one or none (without TLS here) does not.
func TestSecureCookiesFromPublicURL(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{"": false, "http://talos.lan:8080": false, "https://talos.example.org/": true} {
		c, err := load(t, map[string]string{"TALOS_PUBLIC_URL": url})
		require.NoError(t, err, url)
		assert.Equal(t, want, c.SecureCookies(), url)
	}
	c, err := load(t, nil)
	require.NoError(t, err)
	assert.Equal(t, 365*24*time.Hour, c.TokenMaxTTL)
}
