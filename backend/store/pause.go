package store

import (
	"context"
	"fmt"
	"time"
)

// PauseSatellite pauses a satellite of teamID as p says (p.PausedAt is set to now) and returns
// it. Pausing a paused satellite replaces its pause: the newest note, end and author count.
func (s *Store) PauseSatellite(ctx context.Context, teamID, id string, p Pause) (*Satellite, error) {
	now := s.Now()
	p.PausedAt = &now
	return s.setPause(ctx, teamID, id, p, now)
}

// ResumeSatellite ends a satellite's pause and returns the satellite, and whether it was
// paused (in force) at that moment.
func (s *Store) ResumeSatellite(ctx context.Context, teamID, id string) (*Satellite, bool, error) {
	now := s.Now()
	before, err := s.TeamSatellite(ctx, teamID, id)
	if err != nil {
		return nil, false, err
	}
	sat, err := s.setPause(ctx, teamID, id, Pause{}, now)
	if err != nil {
		return nil, false, err
	}
	return sat, before.Paused(now), nil
}

func (s *Store) setPause(ctx context.Context, teamID, id string, p Pause, now time.Time) (*Satellite, error) {
	res := s.db.WithContext(ctx).Model(&Satellite{}).Where("id = ? AND team_id = ?", id, teamID).Updates(map[string]any{
		"paused_at": p.PausedAt, "paused_until": p.PausedUntil, "pause_note": p.PauseNote,
		"paused_by": p.PausedBy, "pause_running": p.PauseRunning, "updated_at": now,
	})
	if res.Error != nil {
		return nil, fmt.Errorf("pause satellite %s: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("pause satellite %s: %w", id, ErrNotFound)
	}
	return s.SatelliteByID(ctx, id)
}
