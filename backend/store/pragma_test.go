package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestSQLitePragmas checks the settings every SQLite connection of the pool must carry.
func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	// Hold several connections at once so the checks are not all answered by one of them.
	var conns []interface{ Close() error }
	for range 3 {
		c, err := st.SQL().Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
		var mode string
		var fk, busy int
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
		assert.Equal(t, "wal", mode)
		assert.Equal(t, 1, fk)
		assert.Equal(t, 5000, busy)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}
