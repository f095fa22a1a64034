// Package backoff computes retry delays: capped exponential growth with full jitter, reset on
// success. Full jitter (a uniform draw between zero and the cap of the current step) spreads a
// fleet of stations that lost the backend at the same moment, so they do not return in step.
package backoff

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults used by the runner's loops.
const (
	DefaultBase = time.Second
	DefaultMax  = 5 * time.Minute
)

// Rand draws a uniform float64 in [0, 1). Tests inject a fixed source.
type Rand func() float64

// Backoff hands out successive delays. It is safe for concurrent use.
type Backoff struct {
	Base time.Duration // the cap of the first step
	Max  time.Duration // the cap of every step
	Rand Rand          // nil: math/rand/v2

	mu       sync.Mutex
	attempts int
}

// New returns a Backoff with the runner's defaults (1 s growing to 5 min).
func New(r Rand) *Backoff { return &Backoff{Base: DefaultBase, Max: DefaultMax, Rand: r} }

// Next returns the delay before the next attempt: uniform in [0, min(Max, Base·2^n)) where n is
// the number of failures so far.
func (b *Backoff) Next() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	ceiling := b.ceilingLocked()
	b.attempts++
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(ceiling))
}

// NextWithin is Next with the step's cap lowered to limit when limit is smaller: still a
// uniform draw (full jitter), still counted as an attempt, so the growth resumes where the
// limit no longer binds. The poller bounds retries by the length of the outage with it.
func (b *Backoff) NextWithin(limit time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	ceiling := min(b.ceilingLocked(), max(limit, 0))
	b.attempts++
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(ceiling))
}

// Ceiling returns the cap of the current step without consuming it.
func (b *Backoff) Ceiling() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ceilingLocked()
}

// Attempts returns the number of failures since the last Reset.
func (b *Backoff) Attempts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.attempts
}

// Reset starts over after a success.
func (b *Backoff) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempts = 0
}

func (b *Backoff) ceilingLocked() time.Duration {
	ceiling := b.Base
	for i := 0; i < b.attempts && ceiling < b.Max; i++ {
		ceiling *= 2
	}
	if ceiling > b.Max || ceiling <= 0 {
		ceiling = b.Max
	}
	return ceiling
}
