// Package notify wakes command long-polls when a command is queued for their satellite. Local
// fans a wake-up out to the subscribers of one process (enough for SQLite, which serves a single
// backend); Postgres adds PostgreSQL LISTEN/NOTIFY so a command queued on one replica wakes a
// long-poll held by another.
//
// A wake-up carries no data: it only says "look again". Subscribers re-read the queue, so a
// lost or doubled wake-up costs at most one extra query or the rest of one long-poll, never a
// lost command.
package notify

import (
	"context"
	"sync"
)

// Notifier wakes the long-polls of a satellite.
type Notifier interface {
	// Subscribe returns a channel that receives a value after each Notify for satelliteID
	// (wake-ups coalesce: one buffered value at most), and a function that ends the subscription.
	Subscribe(satelliteID string) (<-chan struct{}, func())
	// Notify wakes every subscriber of satelliteID, on every replica for Postgres.
	Notify(ctx context.Context, satelliteID string) error
}

// Local is an in-process Notifier. The zero value is not usable; call NewLocal.
type Local struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// NewLocal returns an empty in-process notifier.
func NewLocal() *Local { return &Local{subs: map[string]map[chan struct{}]struct{}{}} }

// Subscribe implements Notifier.
func (l *Local) Subscribe(satelliteID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	set := l.subs[satelliteID]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		l.subs[satelliteID] = set
	}
	set[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			delete(l.subs[satelliteID], ch)
			if len(l.subs[satelliteID]) == 0 {
				delete(l.subs, satelliteID)
			}
		})
	}
}

// Notify implements Notifier; it never fails.
func (l *Local) Notify(_ context.Context, satelliteID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[satelliteID] {
		wake(ch)
	}
	return nil
}

// wakeAll wakes every subscriber of every satellite: after the PostgreSQL listener lost its
// connection, notifications sent meanwhile are gone, so everyone looks again.
func (l *Local) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, set := range l.subs {
		for ch := range set {
			wake(ch)
		}
	}
}

// Subscribers counts the open subscriptions (for metrics and tests).
func (l *Local) Subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, set := range l.subs {
		n += len(set)
	}
	return n
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a wake-up is already pending; one is enough
	}
}
