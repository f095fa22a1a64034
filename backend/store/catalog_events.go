package store

import (
	"context"
	"fmt"
	"time"
)

// CatalogEvent is something the catalog tells operators: a stale element set, a failed fetch,
// an import with rejected records. TeamID "" is the global catalog, whose events every team sees.
type CatalogEvent struct {
	ID           string `gorm:"primaryKey"`
	At           time.Time
	TeamID       string `gorm:"column:team_id"`
	Type         string
	Severity     string
	SpacecraftID string `gorm:"column:spacecraft_id"`
	NORADID      int    `gorm:"column:norad_id"`
	SourceID     string `gorm:"column:source_id"`
	Message      string
}

// TableName is the events' table.
func (CatalogEvent) TableName() string { return "catalog_events" }

// AddCatalogEvent stores e, filling ID and At.
func (s *Store) AddCatalogEvent(ctx context.Context, e *CatalogEvent) error {
	e.ID, e.At = NewID(), s.Now()
	if err := s.db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("write catalog event %s: %w", e.Type, err)
	}
	return nil
}

// CatalogEvents lists the events teamID sees (its own and the global catalog's), newest first,
// at most limit (at least 1), older than the event id before when set.
func (s *Store) CatalogEvents(ctx context.Context, teamID, before string, limit int) ([]CatalogEvent, error) {
	db := s.db.WithContext(ctx).Where("team_id IN ?", []string{"", teamID}).Order("id DESC").Limit(max(limit, 1))
	if before != "" {
		db = db.Where("id < ?", before)
	}
	var out []CatalogEvent
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("catalog events of %s: %w", teamID, err)
	}
	return out, nil
}

// StaleThresholds decide when a current element set is stale: older than LEO for a spacecraft
// in low Earth orbit (mean motion at or above LEOMeanMotion rev/day), older than Other for the
// rest.
type StaleThresholds struct {
	LEO, Other    time.Duration
	LEOMeanMotion float64
}

// staleWhere selects spacecraft whose current set is stale at now.
func staleWhere(t StaleThresholds, now time.Time) (string, []any) {
	return "current_epoch IS NOT NULL AND ((current_mean_motion >= ? AND current_epoch < ?) OR current_epoch < ?)",
		[]any{t.LEOMeanMotion, now.Add(-t.LEO).UTC(), now.Add(-t.Other).UTC()}
}

// CountStaleSets counts the spacecraft (of every catalog) whose current set is stale at now.
func (s *Store) CountStaleSets(ctx context.Context, t StaleThresholds, now time.Time) (int64, error) {
	where, args := staleWhere(t, now)
	var n int64
	if err := s.db.WithContext(ctx).Model(&Spacecraft{}).Where(where, args...).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count stale element sets: %w", err)
	}
	return n, nil
}

// UnwarnedStaleSets lists spacecraft whose current set is stale at now and not yet reported,
// at most limit.
func (s *Store) UnwarnedStaleSets(ctx context.Context, t StaleThresholds, now time.Time, limit int) ([]Spacecraft, error) {
	where, args := staleWhere(t, now)
	var out []Spacecraft
	err := s.db.WithContext(ctx).Where("stale_warned_at IS NULL").Where(where, args...).
		Order("current_epoch, id").Limit(max(limit, 1)).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("stale element sets: %w", err)
	}
	return out, nil
}

// WarnStaleSet records the stale warning of sc's current set together with its event, once:
// the conditional UPDATE lets exactly one replica win (and a newer set arriving in between,
// which clears the mark and changes the current set, makes it a no-op). It reports whether
// this call wrote the event.
func (s *Store) WarnStaleSet(ctx context.Context, sc *Spacecraft, e *CatalogEvent) (bool, error) {
	won := false
	err := s.Tx(ctx, func(tx *Store) error {
		res := tx.db.WithContext(ctx).Model(&Spacecraft{}).
			Where("id = ? AND current_set_id = ? AND stale_warned_at IS NULL", sc.ID, sc.CurrentSetID).
			Update("stale_warned_at", tx.Now())
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		won = true
		return tx.AddCatalogEvent(ctx, e)
	})
	if err != nil {
		return false, fmt.Errorf("warn stale set of %s: %w", sc.ID, err)
	}
	return won, nil
}

// PruneCatalogEvents deletes events older than before and returns how many.
func (s *Store) PruneCatalogEvents(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("at < ?", before.UTC()).Delete(&CatalogEvent{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune catalog events: %w", res.Error)
	}
	return res.RowsAffected, nil
}
