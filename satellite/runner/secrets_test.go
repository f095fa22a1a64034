package runner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/talos-gs/talos/satellite/client"
)

// TestNoSecretInLogs runs the runner through a failing backend and a revoked key at debug level
// and checks that no log line or field carries the API key.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.Poll.LongPoll = false
	core, logs := observer.New(zapcore.DebugLevel)
	lvl := zap.NewAtomicLevelAt(zapcore.DebugLevel)
	r, err := NewWithOptions(e.cfg, zap.New(core), Options{Clock: e.clk, Rand: func() float64 { return 1 }, Level: &lvl})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	e.fb.SetDown(true)
	for range 20 {
		e.settle(10 * time.Second)
	}
	e.fb.SetDown(false)
	e.fb.RevokeKeys()
	for i := 0; i < 200; i++ {
		select {
		case err := <-done:
			require.ErrorIs(t, err, client.ErrUnauthorized)
			assertNoKey(t, logs.All(), e.key)
			return
		default:
			e.settle(10 * time.Second)
		}
	}
	t.Fatal("runner did not stop on the revoked key")
}

func assertNoKey(t *testing.T, entries []observer.LoggedEntry, key string) {
	t.Helper()
	require.NotEmpty(t, entries)
	for _, en := range entries {
		assert.NotContains(t, en.Message, key)
		for k, v := range en.ContextMap() {
			assert.False(t, strings.Contains(toString(v), key), "field %s of %q carries the key", k, en.Message)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " "))
}

func fmtAny(v any) string { return fmt.Sprint(v) }
