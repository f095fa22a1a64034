// Package stationtest holds what the tests of an assembled station share: the decoder
// allow-list they run and a team directory base that leaves no system user behind.
package stationtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/proc"
)

// Programs is the allow-list of the station tests: a decoder that prints and waits, and a
// process that ignores SIGTERM.
func Programs() map[string]proc.Program {
	return map[string]proc.Program{
		"decoder-sim": {Path: "/bin/sh", Args: []string{"-c", "echo decoding; exec sleep 600"}},
		"stubborn":    {Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; echo up; while :; do sleep 1; done"}},
	}
}

// DecoderWorkDir is a team directory base every team user can traverse, outside /tmp (which an
// isolated decoder gets as its team's own directory); removed when the test ends.
func DecoderWorkDir(t testing.TB) string {
	t.Helper()
	base := ""
	if os.Geteuid() == 0 {
		base = "/var/lib"
	}
	work, err := os.MkdirTemp(base, "talos-cli-decoders-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if os.Geteuid() == 0 {
			removeTeamUsers(t, work)
		}
		_ = os.RemoveAll(work)
	})
	require.NoError(t, os.Chmod(work, 0o711)) //nolint:gosec // traversable by the team users
	return filepath.Join(work, "teams")
}

// removeTeamUsers deletes the talos-<team> users the station made for teams below work (their
// home is their team directory), so the test leaves no system user behind. It runs after the
// station stopped (cleanups run last-registered first). useradd/userdel of parallel tests hold
// the passwd lock for a moment, hence the retries.
func removeTeamUsers(t testing.TB, work string) {
	t.Helper()
	raw, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Errorf("read /etc/passwd: %v", err)
		return
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || !strings.HasPrefix(f[0], "talos-") || !strings.HasPrefix(f[5], work+"/") {
			continue
		}
		var out []byte
		for range 20 {
			// #nosec G204 -- a talos- user this test's station made, read from /etc/passwd.
			if out, err = exec.CommandContext(context.Background(), "userdel", "--force", f[0]).CombinedOutput(); err == nil {
				break
			}
			<-time.After(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("remove test user %s: %v: %s", f[0], err, out)
		}
	}
}
