package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry records one state-changing call: who did what to which object.
type AuditEntry struct {
	ID         string `gorm:"primaryKey"`
	At         time.Time
	ActorType  string // "user", "token" (a user's API token), "satellite", "system", "anonymous"
	ActorID    string // user or satellite id
	TokenID    string // the API token or session used, when any
	Action     string // dotted verb, e.g. "team.rename"
	ObjectType string
	ObjectID   string
	TeamID     string // empty for global objects
	RequestID  string
	ClientAddr string
	Status     int    // HTTP status of the call
	Detail     string // short free text, never a secret
}

// TableName keeps the table name singular, as in the migration.
func (AuditEntry) TableName() string { return "audit_log" }

// AddAudit stores e, filling ID and At.
func (s *Store) AddAudit(ctx context.Context, e *AuditEntry) error {
	e.ID, e.At = NewID(), s.Now()
	if err := s.db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("write audit entry %s: %w", e.Action, err)
	}
	return nil
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	// TeamID limits the result to one team; empty means every entry (global administrators).
	TeamID string
	// Before is an entry id: only older entries are returned (ids are UUIDv7, so they sort by
	// time). Empty starts at the newest.
	Before string
	// Limit caps the number of entries (1 to 1000, default 100).
	Limit int
}

// ListAudit returns the entries selected by q.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	db := s.db.WithContext(ctx).Order("id DESC").Limit(q.Limit)
	if q.TeamID != "" {
		db = db.Where("team_id = ?", q.TeamID)
	}
	if q.Before != "" {
		db = db.Where("id < ?", q.Before)
	}
	var out []AuditEntry
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
