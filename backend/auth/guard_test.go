package auth

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// value reads a counter's or gauge's current value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	require.NoError(t, m.Write(&out))
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

// fakeClock is a settable clock for the failure windows.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestGuardBoundsConcurrency: with every slot and the queue taken, a verification is refused at
// once with ErrBusy instead of waiting; once a slot frees, verifications run again.
func TestGuardBoundsConcurrency(t *testing.T) {
	t.Parallel()
	g := NewGuard(VerifyLimits{Concurrent: 2, Queue: -1}, nil)
	hold := make(chan struct{})
	var started sync.WaitGroup
	var done sync.WaitGroup
	for i := range 2 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			err := g.Verify(t.Context(), KindSatelliteKey, "held"+string(rune('a'+i)), func() error {
				started.Done()
				<-hold
				return nil
			})
			assert.NoError(t, err)
		}()
	}
	started.Wait()
	ran := false
	err := g.Verify(t.Context(), KindSatelliteKey, "third", func() error { ran = true; return nil })
	require.ErrorIs(t, err, ErrBusy)
	assert.False(t, ran, "a refused verification does not hash")
	assert.InDelta(t, 1, value(t, g.refused.WithLabelValues(KindSatelliteKey, "busy")), 0)
	assert.InDelta(t, 2, value(t, g.running), 0)

	close(hold)
	done.Wait()
	require.NoError(t, g.Verify(t.Context(), KindSatelliteKey, "third", func() error { return nil }))
	assert.InDelta(t, 0, value(t, g.running), 0)
}

// TestGuardQueueWaits: a verification finding the slots taken but the queue free waits for a
// slot and then runs; never more than Concurrent run at once.
func TestGuardQueueWaits(t *testing.T) {
	t.Parallel()
	g := NewGuard(VerifyLimits{Concurrent: 2, Queue: 30, MaxWait: time.Minute}, nil)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, g.Verify(t.Context(), KindPassword, "p", func() error {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond) // hold the slot long enough for others to queue
				running.Add(-1)
				return nil
			}))
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, most.Load(), int32(2))
	assert.InDelta(t, 0, value(t, g.refused.WithLabelValues(KindPassword, "busy")), 0)
}

// TestGuardLimitsFailures: after MaxFailures mismatches of one credential within the window,
// further attempts on it are refused without hashing until the window passes; other credentials
// are unaffected and a success clears the count.
func TestGuardLimitsFailures(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := NewGuard(VerifyLimits{MaxFailures: 3, Window: time.Minute}, clk.Now)
	hashed := 0
	wrong := func() error { hashed++; return ErrMismatch }
	for range 3 {
		require.ErrorIs(t, g.Verify(t.Context(), KindPersonalToken, "a", wrong), ErrMismatch)
	}
	err := g.Verify(t.Context(), KindPersonalToken, "a", wrong)
	var limited *LimitedError
	require.ErrorAs(t, err, &limited)
	assert.Equal(t, time.Minute, limited.RetryAfter)
	assert.Equal(t, 3, hashed, "the limited attempt did not hash")
	assert.InDelta(t, 1, value(t, g.refused.WithLabelValues(KindPersonalToken, "limited")), 0)

	require.ErrorIs(t, g.Verify(t.Context(), KindPersonalToken, "b", wrong), ErrMismatch, "another credential still hashes")

	clk.Advance(59 * time.Second)
	require.ErrorAs(t, g.Verify(t.Context(), KindPersonalToken, "a", wrong), &limited)
	assert.Equal(t, time.Second, limited.RetryAfter)
	clk.Advance(time.Second)
	require.ErrorIs(t, g.Verify(t.Context(), KindPersonalToken, "a", wrong), ErrMismatch, "the window passed")

	require.NoError(t, g.Verify(t.Context(), KindPersonalToken, "a", func() error { return nil }))
	for range 2 {
		require.ErrorIs(t, g.Verify(t.Context(), KindPersonalToken, "a", wrong), ErrMismatch, "a success cleared the count")
	}
	other := errors.New("malformed hash")
	for range 5 {
		require.ErrorIs(t, g.Verify(t.Context(), KindPersonalToken, "c", func() error { return other }), other)
	}
	require.ErrorIs(t, g.Verify(t.Context(), KindPersonalToken, "c", wrong), ErrMismatch, "only mismatches count")
}

// TestGuardForgetsBeyondMaxTracked: the failure table is bounded.
func TestGuardForgetsBeyondMaxTracked(t *testing.T) {
	t.Parallel()
	g := NewGuard(VerifyLimits{MaxFailures: 1, MaxTracked: 4}, nil)
	for i := range 100 {
		_ = g.Verify(t.Context(), KindSatelliteKey, string(rune('a'+i)), func() error { return ErrMismatch })
	}
	assert.Equal(t, 4, g.failed.Len())
}

// TestGuardClientLimitRefusesOnlyFailedClients: once a subject is over its failure limit, an
// attempt from a client that failed on it is refused without hashing, but a client that has not
// failed is still checked, so the owner's right password works; the owner's success does not
// reset the subject's count, and a client's refusal ends with the window.
func TestGuardClientLimitRefusesOnlyFailedClients(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	g := NewGuard(VerifyLimits{MaxFailures: 3, Window: time.Minute}, clock.Now)
	attempt := func(client string, right bool) error {
		return g.Check(t.Context(), Attempt{Kind: KindPassword, Subject: "password:ada", Client: client}, func() error {
			if right {
				return nil
			}
			return ErrMismatch
		})
	}
	for _, client := range []string{"a", "b", "c"} {
		require.ErrorIs(t, attempt(client, false), ErrMismatch, client)
	}
	var limited *LimitedError
	require.ErrorAs(t, attempt("a", true), &limited, "a failed client is refused even with the right password")
	assert.Equal(t, time.Minute, limited.RetryAfter)
	require.NoError(t, attempt("owner", true), "a client that never failed is checked")
	require.ErrorIs(t, attempt("d", false), ErrMismatch, "a new client still gets its guess checked...")
	require.ErrorAs(t, attempt("d", false), &limited, "...and only one while the subject is limited")
	clock.Advance(time.Minute)
	require.NoError(t, attempt("a", true), "the window ended")
	assert.InDelta(t, 2, value(t, g.refused.WithLabelValues(KindPassword, "limited")), 0)
}

// holdSlot takes one of g's slots until the returned release is called (which waits for the
// slot to be given back).
func holdSlot(t *testing.T, g *Guard) (release func()) {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		assert.NoError(t, g.Run(t.Context(), KindPassword, func() error { close(held); <-hold; return nil }))
	}()
	<-held
	return func() { close(hold); done.Wait() }
}

// TestGuardRunIsBounded: hashing a new secret takes a slot like a verification, so it is
// refused with ErrBusy when every slot and the queue are taken, and counts no failure.
func TestGuardRunIsBounded(t *testing.T) {
	t.Parallel()
	g := NewGuard(VerifyLimits{Concurrent: 1, Queue: -1}, nil)
	release := holdSlot(t, g)
	ran := false
	require.ErrorIs(t, g.Run(t.Context(), KindPassword, func() error { ran = true; return nil }), ErrBusy)
	assert.False(t, ran)
	release()
	require.NoError(t, g.Run(t.Context(), KindPassword, func() error { ran = true; return nil }))
	assert.True(t, ran)
}
