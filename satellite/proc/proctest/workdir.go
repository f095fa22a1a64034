package proctest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// DecoderWorkDir returns a team directory base for a station under test: traversable by the
// team users and not below /tmp, which an isolated decoder gets as its team's own directory.
// As root it lives in /var/lib (the name starts with prefix); when the test ends it is removed
// with the talos- users whose home the station made below it. The station must be stopped by
// then: call this before starting it (cleanups run last-registered first).
func DecoderWorkDir(t testing.TB, prefix string) string {
	t.Helper()
	base := ""
	if os.Geteuid() == 0 {
		base = "/var/lib"
	}
	work, err := os.MkdirTemp(base, prefix)
	require.NoError(t, err)
	t.Cleanup(func() {
		if os.Geteuid() == 0 {
			removeUsersWithHomeBelow(t, work)
		}
		_ = os.RemoveAll(work)
	})
	require.NoError(t, os.Chmod(work, 0o711)) //nolint:gosec // traversable by the team users
	return filepath.Join(work, "teams")
}

// removeUsersWithHomeBelow deletes the talos- users whose home is below work. useradd/userdel
// of parallel tests hold the passwd lock for a moment, hence the retries.
func removeUsersWithHomeBelow(t testing.TB, work string) {
	t.Helper()
	raw, err := os.ReadFile(passwdFile)
	if err != nil {
		t.Errorf("read %s: %v", passwdFile, err)
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
