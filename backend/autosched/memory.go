package autosched

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrOverlap is Memory's refusal of a pass that overlaps one already booked.
var ErrOverlap = errors.New("overlaps a booked observation")

// Memory is a Booker that keeps bookings in memory: what the auto-scheduler's tests and a
// backend without the observations service book into. It refuses a pass that overlaps one
// already booked on the station (slew time is the scheduler's business, not checked here).
type Memory struct {
	mu       sync.Mutex
	bookings map[string][]Booking
	n        int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{bookings: map[string][]Booking{}} }

// Busy implements Booker: the bookings of satelliteID that overlap [from, to), by AOS.
func (m *Memory) Busy(_ context.Context, satelliteID string, from, to time.Time) ([]Booking, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Booking
	for _, b := range m.bookings[satelliteID] {
		if b.AOS.Before(to) && b.LOS.After(from) {
			out = append(out, b)
		}
	}
	return out, nil
}

// Book implements Booker.
func (m *Memory) Book(_ context.Context, c Choice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.bookings[c.StationID] {
		if b.AOS.Before(c.Pass.LOS) && c.Pass.AOS.Before(b.LOS) {
			return fmt.Errorf("%w %s", ErrOverlap, b.ID)
		}
	}
	m.n++
	m.add(c.StationID, Booking{ID: fmt.Sprintf("booking-%d", m.n), TeamID: c.TeamID, AOS: c.Pass.AOS, LOS: c.Pass.LOS,
		Start: c.Start, End: c.End})
	return nil
}

// Add records a booking made elsewhere (by hand, say).
func (m *Memory) Add(satelliteID string, b Booking) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.add(satelliteID, b)
}

func (m *Memory) add(satelliteID string, b Booking) {
	list := append(m.bookings[satelliteID], b)
	slices.SortFunc(list, func(a, b Booking) int { return a.AOS.Compare(b.AOS) })
	m.bookings[satelliteID] = list
}

// Bookings returns every booking of satelliteID, by AOS.
func (m *Memory) Bookings(satelliteID string) []Booking {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.bookings[satelliteID])
}
