package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
)

// The SQLite database and its -wal and -shm files are 0600 wherever they live: in a fresh file
// in a 0755 directory (SQLite's own default would be 0644), and when an older run left them
// readable by everyone.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	ctx := context.Background()

	fresh := filepath.Join(dir, "fresh.db")
	st := openAndWrite(ctx, t, fresh)
	assertOwnerOnly(t, fresh)
	require.NoError(t, st.Close())

	old := filepath.Join(dir, "old.db")
	st = openAndWrite(ctx, t, old)
	for _, p := range []string{old, old + "-wal", old + "-shm"} {
		require.NoError(t, os.Chmod(p, 0o644))
	}
	st2 := openAndWrite(ctx, t, old)
	assertOwnerOnly(t, old)
	require.NoError(t, st2.Close())
	require.NoError(t, st.Close())
}

// openAndWrite opens and migrates path, which writes, so SQLite has made its -wal and -shm files.
func openAndWrite(ctx context.Context, t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, store.Options{URL: path})
	require.NoError(t, err)
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	return st
}

func assertOwnerOnly(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), p)
	}
}
