package update

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

func TestParsePublicKeyPEMAndBase64(t *testing.T) {
	t.Parallel()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for _, s := range []string{pemText, base64.StdEncoding.EncodeToString(pub), "  " + base64.StdEncoding.EncodeToString(pub) + "\n"} {
		got, err := ParsePublicKey(s)
		require.NoError(t, err)
		assert.Equal(t, pub, got)
	}
	for _, bad := range []string{"", "abc", base64.StdEncoding.EncodeToString(pub[:31]),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))} {
		_, err := ParsePublicKey(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	t.Parallel()
	require.NoError(t, DefaultConfig().Validate())
	cases := map[string]func(*Config){
		"mode":             func(c *Config) { c.Mode = "sometimes" },
		"defer_margin":     func(c *Config) { c.DeferMargin = -time.Second },
		"trial":            func(c *Config) { c.Trial = time.Second },
		"max_trial_starts": func(c *Config) { c.MaxTrialStarts = 0 },
		"public_key":       func(c *Config) { c.PublicKey = "not a key" },
	}
	for key, mutate := range cases {
		c := DefaultConfig()
		mutate(&c)
		err := c.Validate()
		require.Error(t, err, key)
		assert.Contains(t, err.Error(), key+":")
	}
}

// A new binary that keeps crashing before its trial ends is rolled back at the start after
// MaxTrialStarts, before anything else runs.
func TestStartupRollsBackACrashLoop(t *testing.T) {
	t.Parallel()
	stateDir, binDir := t.TempDir(), t.TempDir()
	bin := filepath.Join(binDir, "talos-satellite")
	require.NoError(t, os.WriteFile(bin, []byte("new"), 0o700))
	require.NoError(t, os.WriteFile(bin+".previous", []byte("old"), 0o700))
	require.NoError(t, writeMarker(stateDir, marker{State: stateTrial, From: "1", To: "2", Binary: bin, Previous: bin + ".previous"}))
	cfg := DefaultConfig()
	cfg.MaxTrialStarts = 2

	for start := 1; start <= 2; start++ {
		require.NoError(t, Startup(stateDir, cfg, "2"), "start %d", start)
		m, ok, err := readMarker(stateDir)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, start, m.Starts)
	}
	require.ErrorIs(t, Startup(stateDir, cfg, "2"), ErrRestart)
	raw, err := os.ReadFile(bin)
	require.NoError(t, err)
	assert.Equal(t, "old", string(raw))
	raw, err = os.ReadFile(bin + ".failed")
	require.NoError(t, err)
	assert.Equal(t, "new", string(raw))
	assert.NoFileExists(t, bin+".previous")
	m, ok, err := readMarker(stateDir)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, stateRolledBack, m.State)
	assert.Contains(t, m.Reason, "started 2 times")
	// The previous binary starting next is not judged: the rollback waits for it to report.
	require.NoError(t, Startup(stateDir, cfg, "1"))
}

func TestStartupForgetsATrialOfAnotherVersion(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	require.NoError(t, writeMarker(stateDir, marker{State: stateTrial, From: "1", To: "2"}))
	require.NoError(t, Startup(stateDir, DefaultConfig(), "3"))
	_, ok, err := readMarker(stateDir)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestDamagedMarkerNamesTheRemedy(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, MarkerFile), []byte("{"), 0o600))
	err := Startup(stateDir, DefaultConfig(), "1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "delete it")
}

// The signing commands of docs/operations.md ("Releasing an update") make a signature and a
// public key the station accepts.
func TestOpenSSLSignatureFromTheDocsVerifies(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "talos-satellite")
	require.NoError(t, os.WriteFile(bin, []byte("a binary"), 0o600))
	script := `set -e
cd "$1"
openssl genpkey -algorithm ed25519 -out release.key
openssl pkey -in release.key -pubout -out release.pub
SHA=$(sha256sum talos-satellite | cut -d' ' -f1)
printf 'talos-satellite-release-v1\n%s\n%s/%s\n%s\n' 1.4.0 linux arm64 "$SHA" > release.msg
openssl pkeyutl -sign -inkey release.key -rawin -in release.msg | base64 -w0 > release.sig
echo "$SHA" > release.sha256`
	out, err := exec.Command("sh", "-c", script, "sh", dir).CombinedOutput() // #nosec G204 -- fixed script
	require.NoError(t, err, "%s", out)
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return strings.TrimSpace(string(raw))
	}
	pub, err := ParsePublicKey(read("release.pub"))
	require.NoError(t, err)
	sha, sig := read("release.sha256"), read("release.sig")
	require.NoError(t, api.VerifyRelease(pub, "1.4.0", "linux", "arm64", sha, sig))
	assert.Error(t, api.VerifyRelease(pub, "1.4.1", "linux", "arm64", sha, sig), "the version is signed too")
	assert.Error(t, api.VerifyRelease(pub, "1.4.0", "linux", "arm", sha, sig), "the platform is signed too")
}

type recordEmitter struct {
	mu  sync.Mutex
	evs []api.Event
}

func (r *recordEmitter) Emit(ev api.Event) { r.mu.Lock(); r.evs = append(r.evs, ev); r.mu.Unlock() }

// Manual mode and a missing key refuse before anything is downloaded, with an event saying why.
func TestRefusedWithoutDownloading(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "talos-satellite")
	require.NoError(t, os.WriteFile(bin, []byte("old"), 0o700))
	p := api.RunnerUpdatePayload{ReleaseID: "0190f0f0-0000-7000-8000-000000000000", Version: "2.0.0", OS: runtime.GOOS,
		Arch: runtime.GOARCH, Size: 3, SHA256: strings.Repeat("ab", 32)}
	p.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, api.ReleaseMessage(p.Version, p.OS, p.Arch, p.SHA256)))
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	cases := map[string]struct {
		mode, key, want string
	}{
		"manual": {ModeManual, base64.StdEncoding.EncodeToString(pub), api.UpdateManualReason},
		"no key": {ModeAuto, "", "no update.public_key"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			em := &recordEmitter{}
			cfg := DefaultConfig()
			cfg.Mode, cfg.PublicKey, cfg.Binary = c.mode, c.key, bin
			downloads := 0
			u, err := New(Options{Config: cfg, StateDir: t.TempDir(), Version: "1.0.0", Emitter: em,
				Download: func(context.Context, string, io.Writer) error { downloads++; return nil },
				Progress: func() (time.Time, time.Time) { return time.Time{}, time.Time{} }})
			require.NoError(t, err)
			_, err = u.Handlers()[api.CommandRunnerUpdate](context.Background(), api.Command{Type: api.CommandRunnerUpdate, Payload: raw})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Zero(t, downloads)
			require.Len(t, em.evs, 1)
			assert.Equal(t, api.EventRunnerUpdateRefused, em.evs[0].Type)
		})
	}
}
