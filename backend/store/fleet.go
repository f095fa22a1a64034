package store

import (
	"context"
	"fmt"
	"time"
)

// FleetCount is how many satellites share a status and a version.
type FleetCount struct {
	Status  string
	Version string
	Count   int64
}

// pausedNow is the status users see: "paused" while a pause is in force, else the stored one.
const pausedNow = "CASE WHEN paused_at IS NOT NULL AND (paused_until IS NULL OR paused_until > ?) THEN 'paused' ELSE status END"

// FleetCounts counts the satellites of every team by the status users see (paused included)
// and version.
func (s *Store) FleetCounts(ctx context.Context) ([]FleetCount, error) {
	var out []FleetCount
	err := s.db.WithContext(ctx).Raw("SELECT "+pausedNow+" AS status, version, count(*) AS count FROM satellites "+
		"GROUP BY 1, 2 ORDER BY 1, 2", s.Now()).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("count satellites by status and version: %w", err)
	}
	return out, nil
}

// SilentSatellites counts the satellites that are offline, neither in maintenance nor paused, and
// have not been heard from since before: the ones an operator should be told about.
func (s *Store) SilentSatellites(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Satellite{}).
		Where("status = ? AND maintenance = ? AND (last_seen_at IS NULL OR last_seen_at < ?)", "offline", false, before.UTC()).
		Where("NOT (paused_at IS NOT NULL AND (paused_until IS NULL OR paused_until > ?))", s.Now()).
		Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count silent satellites: %w", err)
	}
	return n, nil
}
