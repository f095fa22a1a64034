package tracker

import (
	"context"
	"time"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// tick is one firing of a monotonic schedule.
type tick struct {
	// Now is the clock's reading when the tick ran.
	Now time.Time
	// Due is the slot the tick was scheduled for (start + n·period).
	Due time.Time
	// Late is how late the tick started after the first slot it was waiting for: the
	// scheduling jitter, including any slots skipped.
	Late time.Duration
	// Skipped is the number of slots dropped before this one because the loop fell more than a
	// period behind (an overrun); 0 normally.
	Skipped int
}

// schedule runs a function on a fixed grid start, start+p, start+2p, ... The next slot is
// always the previous slot plus the period, never "now plus the period", so the time the
// function takes does not make the loop drift. A tick that starts more than a period late
// (the machine stalled, or a tick overran) skips the missed slots instead of running them back
// to back: a rotator gains nothing from stale positions.
type schedule struct {
	clk    clock.Clock
	period time.Duration
}

// run calls fn at each slot from start until fn returns done, or ctx ends. The first slot is
// start itself (run at once when start is already past).
func (s schedule) run(ctx context.Context, start time.Time, fn func(tick) (done bool)) error {
	due := start
	for {
		if err := clock.Wait(ctx, s.clk, due.Sub(s.clk.Now())); err != nil {
			return err
		}
		now := s.clk.Now()
		tk := tick{Now: now, Due: due, Late: now.Sub(due)}
		if tk.Late >= s.period {
			// Jump to the latest slot not after now: the missed ones are dropped, not queued.
			tk.Skipped = int(tk.Late / s.period)
			due = due.Add(time.Duration(tk.Skipped) * s.period)
			tk.Due = due
		}
		if fn(tk) {
			return nil
		}
		due = due.Add(s.period)
	}
}
