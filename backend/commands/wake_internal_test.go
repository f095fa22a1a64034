package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// hungUp is the context of a caller that has already gone, as an HTTP client hanging up right
// after a command's commit.
func hungUp() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestWakeOutlivesTheCaller: the caller going away right after the commit must not cancel the
// NOTIFY, or a long-poll held by another replica waits up to 30 s for the command.
func TestWakeOutlivesTheCaller(t *testing.T) {
	t.Parallel()
	u := storetest.NewURL(t, store.Postgres) // skips, or fails under TALOS_REQUIRE_INTEGRATION=1
	pg := storetest.OpenURL(t, u)
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	channel := "talos_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	mk := func() *notify.Postgres {
		n := notify.NewPostgres(u, pg.SQL(), zaptest.NewLogger(t))
		n.Channel = channel
		go func() { _ = n.Run(ctx) }()
		return n
	}
	sender, other := mk(), mk()
	require.Eventually(t, func() bool { return sender.Listening() && other.Listening() },
		15*time.Second, 5*time.Millisecond, "listeners did not start")
	woken, unsub := other.Subscribe("sat-1")
	defer unsub()
	drain(woken) // the listener's start-up wake-up

	s := New(Options{Store: pg, Notifier: sender, Logger: zaptest.NewLogger(t)})
	s.Wake(hungUp(), "sat-1")
	select {
	case <-woken:
	case <-time.After(15 * time.Second):
		t.Fatal("the other replica's long-poll was not woken")
	}
	assert.Zero(t, counterValue(t, s.metrics.wakeFailures))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
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

// failingNotifier refuses every notification.
type failingNotifier struct{ *notify.Local }

func (failingNotifier) Notify(context.Context, string) error { return errors.New("connection refused") }

func TestWakeFailureIsCounted(t *testing.T) {
	t.Parallel()
	s := New(Options{Store: storetest.Open(t, store.SQLite), Notifier: failingNotifier{notify.NewLocal()}, Logger: zaptest.NewLogger(t)})
	s.Wake(hungUp(), "sat-1")
	s.Wake(hungUp(), "sat-1")
	assert.Equal(t, 2.0, counterValue(t, s.metrics.wakeFailures))
}
