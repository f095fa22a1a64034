package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/talos-gs/talos/backend/store"
)

// Clock is an injectable clock for a store (and a server) under test: it stands still until
// Advance moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at 2026-06-26 12:00 UTC, the epoch of the shared test data.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ForEachClocked is ForEach with a store whose clock is a fresh Clock, handed to fn.
func ForEachClocked(t *testing.T, fn func(t *testing.T, s *store.Store, clk *Clock)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			clk := NewClock()
			fn(t, OpenClocked(t, NewURL(t, d), clk.Now), clk)
		})
	}
}

// OpenClocked opens and migrates the database at u with the clock now (nil: real time),
// closing it at cleanup.
func OpenClocked(t testing.TB, u string, now func() time.Time) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, store.Options{URL: u, Now: now})
	if err != nil {
		t.Fatalf("storetest: open %s: %v", redact(u), err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate: %v", err)
	}
	return s
}
