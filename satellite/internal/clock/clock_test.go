package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFakeTimersFireInOrder(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	a, b := f.NewTimer(2*time.Second), f.NewTimer(5*time.Second)
	require.Equal(t, 2, f.Waiters())

	f.Advance(time.Second)
	assertNotFired(t, a)
	f.Advance(time.Second)
	assert.Equal(t, start.Add(2*time.Second), <-a.C())
	assertNotFired(t, b)

	require.True(t, f.AdvanceToNext())
	assert.Equal(t, start.Add(5*time.Second), <-b.C())
	assert.False(t, f.AdvanceToNext())
}

func TestFakeStopRemovesTimer(t *testing.T) {
	t.Parallel()
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(time.Second)
	assert.True(t, tm.Stop())
	assert.False(t, tm.Stop())
	assert.Zero(t, f.Waiters())
}

func TestWaitHonoursContextAndClock(t *testing.T) {
	t.Parallel()
	f := NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, f, time.Minute) }()
	require.NoError(t, f.BlockUntil(ctx, 1))
	f.Advance(time.Minute)
	require.NoError(t, <-done)

	go func() { done <- Wait(ctx, f, time.Minute) }()
	require.NoError(t, f.BlockUntil(ctx, 1))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.ErrorIs(t, Wait(ctx, f, 0), context.Canceled)
}

func assertNotFired(t *testing.T, tm Timer) {
	t.Helper()
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
}
