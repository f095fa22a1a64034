package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Event is something a satellite reported (or the backend recorded about it, such as going
// offline). EventID is the reporter's UUID, unique per satellite; ID is the server's UUIDv7,
// which orders events by arrival for paging.
type Event struct {
	ID            string `gorm:"primaryKey"`
	SatelliteID   string
	EventID       string
	Type          string
	Severity      string
	Time          time.Time
	ReceivedAt    time.Time
	Message       string
	Data          *string
	CommandID     string
	CorrelationID string
}

// TableName is the events' table.
func (Event) TableName() string { return "satellite_events" }

// AddEvents stores a batch of a satellite's (already validated) events, skipping any whose
// EventID the satellite already sent: INSERT ... ON CONFLICT DO NOTHING on both dialects, so a
// retried batch, even racing its first attempt, stores nothing twice. It returns how many rows
// were new; the rest were duplicates.
func (s *Store) AddEvents(ctx context.Context, satelliteID string, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	now := s.Now()
	for i := range events {
		events[i].ID, events[i].SatelliteID, events[i].ReceivedAt = NewID(), satelliteID, now
		events[i].Time = events[i].Time.UTC()
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "satellite_id"}, {Name: "event_id"}}, DoNothing: true,
	}).Create(&events)
	if res.Error != nil {
		return 0, fmt.Errorf("store events of %s: %w", satelliteID, res.Error)
	}
	return int(res.RowsAffected), nil
}

// AddSystemEvent records an event the backend observed about a satellite.
func (s *Store) AddSystemEvent(ctx context.Context, satelliteID, typ, severity, message string) error {
	now := s.Now()
	e := []Event{{EventID: NewID(), Type: typ, Severity: severity, Time: now, Message: message}}
	_, err := s.AddEvents(ctx, satelliteID, e)
	return err
}

// EventQuery pages a satellite's events, newest first.
type EventQuery struct {
	SatelliteID string
	Type        string
	Severity    string
	// Before is an event's server id: only events that arrived earlier are listed.
	Before string
	Limit  int
}

// Events lists events as q asks.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	db := s.newestFirst(ctx, q.SatelliteID, q.Before, q.Limit, column{"type", q.Type}, column{"severity", q.Severity})
	var out []Event
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("events of %s: %w", q.SatelliteID, err)
	}
	return out, nil
}
