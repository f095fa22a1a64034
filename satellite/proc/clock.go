package proc

import "time"

// Clock is the time source of the supervision logic (backoff, crash-loop window, idle timeout,
// grace period), injected so tests run in milliseconds.
type Clock interface {
	Now() time.Time
	// After fires once, d after now.
	After(d time.Duration) <-chan time.Time
	// NewTicker ticks every d; the caller stops it.
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of *time.Ticker the manager uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewTicker returns a real ticker.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
