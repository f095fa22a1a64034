package notify_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the NOTIFY pool
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

func received(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

func empty(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	n := notify.NewLocal()
	a, cancelA := n.Subscribe("sat-a")
	a2, cancelA2 := n.Subscribe("sat-a")
	b, cancelB := n.Subscribe("sat-b")
	defer cancelB()
	assert.Equal(t, 3, n.Subscribers())

	require.NoError(t, n.Notify(t.Context(), "sat-a"))
	require.NoError(t, n.Notify(t.Context(), "sat-a")) // coalesces with the first
	assert.True(t, received(a))
	assert.True(t, received(a2))
	assert.True(t, empty(a), "wake-ups coalesce")
	assert.True(t, empty(b), "another satellite is not woken")

	cancelA()
	cancelA() // idempotent
	cancelA2()
	assert.Equal(t, 1, n.Subscribers())
	require.NoError(t, n.Notify(t.Context(), "sat-a"))
	assert.True(t, empty(a))
}

func channel(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "talos_test_" + hex.EncodeToString(b)
}

// TestPostgresAcrossConnections: a Notify on one notifier wakes a subscriber of another (two
// replicas), and the listener comes back after its connection is killed.
func TestPostgresAcrossConnections(t *testing.T) {
	t.Parallel()
	u := storetest.NewURL(t, store.Postgres) // skips, or fails under TALOS_REQUIRE_INTEGRATION=1
	db, err := sql.Open("pgx", u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ch := channel(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	mk := func() *notify.Postgres {
		n := notify.NewPostgres(u, db, zaptest.NewLogger(t))
		n.Channel = ch
		go func() { done <- n.Run(ctx) }()
		return n
	}
	a, b := mk(), mk()
	waitFor(t, func() bool { return a.Listening() && b.Listening() })

	sub, unsub := a.Subscribe("sat-1")
	defer unsub()
	drain(sub) // the (re)connect wake-up
	require.NoError(t, b.Notify(t.Context(), "sat-1"))
	assert.True(t, received(sub), "replica B's NOTIFY wakes replica A's subscriber")

	// Kill A's listening connection: A reconnects, wakes everyone (notifications may have been
	// lost meanwhile) and hears B again.
	var killed int
	require.NoError(t, db.QueryRowContext(t.Context(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1`,
		`LISTEN "`+ch+`"`).Scan(&killed))
	require.Equal(t, 2, killed, "both listeners found")
	assert.True(t, received(sub), "a reconnect wakes subscribers")
	waitFor(t, func() bool { return a.Listening() && b.Listening() })
	drain(sub)
	require.NoError(t, b.Notify(t.Context(), "sat-1"))
	assert.True(t, received(sub), "after reconnecting, notifications flow again")

	cancel()
	for range 2 {
		assert.NoError(t, <-done, "Run returns nil when its context ends")
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 15 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
