// Package ratelimit limits how often one client (by address, or any other key) may do something
// expensive or guessable: log in, register a satellite. Each key gets a token bucket; the set of
// buckets is a bounded LRU, so a flood of distinct addresses costs bounded memory (an evicted
// bucket restarts full, which only ever errs towards letting a request through).
package ratelimit

import (
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Limiter hands out a token bucket per key.
type Limiter struct {
	mu      sync.Mutex
	buckets *lru.Cache[string, *rate.Limiter]
	every   time.Duration
	burst   int
	now     func() time.Time
}

// New returns a limiter that allows burst events at once per key and then one event per every,
// remembering at most maxKeys keys. now is the clock (nil: time.Now).
func New(every time.Duration, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	cache, err := lru.New[string, *rate.Limiter](max(maxKeys, 1))
	if err != nil {
		// lru.New fails only for a non-positive size, which max() rules out.
		panic(err)
	}
	return &Limiter{buckets: cache, every: every, burst: max(burst, 1), now: now}
}

// Allow takes one token from key's bucket. When none is left it returns false and how long
// until one will be.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	return l.AllowAt(key, l.every, l.burst)
}

// AllowAt is Allow for a key with its own rate: burst events at once, then one per every. The
// rate is fixed when the key's bucket is made, so a key must always come with the same rate.
func (l *Limiter) AllowAt(key string, every time.Duration, burst int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets.Get(key)
	if !ok {
		b = rate.NewLimiter(rate.Every(every), max(burst, 1))
		l.buckets.Add(key, b)
	}
	now := l.now()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, every
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// RetryAfterSeconds rounds a wait up to whole seconds for a Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
