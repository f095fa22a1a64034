package tracker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

func TestScheduleKeepsTheGridAndSkipsOverruns(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := clock.NewFake(start)
	const period = 500 * time.Millisecond
	var ticks []tick
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		defer cancel()
		done <- schedule{clk: f, period: period}.run(context.Background(), start, func(tk tick) bool {
			ticks = append(ticks, tk)
			switch len(ticks) {
			case 2:
				f.Advance(120 * time.Millisecond) // a slow tick: the next one must not drift
			case 4:
				f.Advance(1300 * time.Millisecond) // an overrun: the 2000 ms slot is missed
			}
			return len(ticks) == 7
		})
	}()
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			want := []time.Duration{0, 500, 1000, 1500, 2500, 3000, 3500}
			require.Len(t, ticks, len(want))
			for i, ms := range want {
				assert.Equal(t, start.Add(ms*time.Millisecond), ticks[i].Due, "tick %d slot", i)
			}
			assert.Equal(t, 1, ticks[4].Skipped, "the overrun skipped one slot")
			assert.Equal(t, 800*time.Millisecond, ticks[4].Late, "late against the slot it waited for")
			for i, tk := range ticks {
				if i != 4 {
					assert.Zero(t, tk.Skipped, "tick %d", i)
				}
			}
			return
		default:
		}
		if f.BlockUntil(ctx, 1) != nil {
			continue
		}
		f.AdvanceToNext()
	}
}

func TestScheduleStopsWithContext(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	n := 0
	go func() {
		done <- schedule{clk: f, period: time.Second}.run(ctx, f.Now(), func(tick) bool { n++; return false })
	}()
	require.NoError(t, f.BlockUntil(ctx, 1))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Equal(t, 1, n, "the first slot runs at once")
}
