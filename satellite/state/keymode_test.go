package state

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 11 item 10: the runner refuses an api_key other users can read, naming the file, its
// mode and the fix.
func TestAPIKeyOpenToOthersIsRefused(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o602} {
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, SaveIdentity(dir, testIdentity(), "tsk_key"))
		path := filepath.Join(dir, APIKeyFile)
		require.NoError(t, os.Chmod(path, mode))
		_, _, err := LoadIdentity(dir)
		require.ErrorIs(t, err, ErrKeyFileExposed, "mode %04o", mode)
		assert.ErrorContains(t, err, path)
		assert.ErrorContains(t, err, "chmod 600 "+path)
		assert.NotContains(t, err.Error(), "tsk_key", "the key itself never appears in the message")
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, SaveIdentity(dir, testIdentity(), "tsk_key"))
		require.NoError(t, os.Chmod(filepath.Join(dir, APIKeyFile), mode))
		_, key, err := LoadIdentity(dir)
		require.NoError(t, err, "mode %04o", mode)
		assert.Equal(t, "tsk_key", key)
	}
}
