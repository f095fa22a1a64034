package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Rollout states.
const (
	RolloutRunning   = "running"
	RolloutCompleted = "completed"
	RolloutStopped   = "stopped" // by a user
	RolloutFailed    = "failed"  // a station failed or rolled back
)

// Rollout station states.
const (
	RolloutStationWaiting    = "waiting"     // its stage has not started
	RolloutStationQueued     = "queued"      // runner.update queued
	RolloutStationUpdated    = "updated"     // reports the release's version, online
	RolloutStationSkipped    = "skipped"     // update.mode: manual
	RolloutStationFailed     = "failed"      // the command failed
	RolloutStationRolledBack = "rolled_back" // the new version failed its trial
)

// Rollout is a staged rollout of a release (backend/rollouts, decision 0104).
type Rollout struct {
	ID        string `gorm:"primaryKey"`
	ReleaseID string
	// Stages are cumulative percentages of the stations, ending at 100.
	Stages      []int `gorm:"serializer:json"`
	SoakSeconds int
	// Stage is the index in Stages being rolled out.
	Stage        int
	State        string
	Reason       string
	ClaimedUntil *time.Time
	CreatedBy    *string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName is the rollouts' table.
func (Rollout) TableName() string { return "rollouts" }

// RolloutStation is one station of a rollout.
type RolloutStation struct {
	RolloutID   string `gorm:"primaryKey"`
	SatelliteID string `gorm:"primaryKey"`
	Stage       int
	State       string
	CommandID   *string
	Detail      string
	UpdatedAt   *time.Time
}

// TableName is the rollout stations' table.
func (RolloutStation) TableName() string { return "rollout_stations" }

// CreateRollout stores a rollout and its stations in one transaction.
func (s *Store) CreateRollout(ctx context.Context, r *Rollout, stations []RolloutStation) error {
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(r).Error; err != nil {
			return fmt.Errorf("create rollout: %w", err)
		}
		if len(stations) == 0 {
			return nil
		}
		if err := tx.Create(&stations).Error; err != nil {
			return fmt.Errorf("create rollout stations: %w", err)
		}
		return nil
	}))
}

// RolloutByID returns a rollout and its stations (by stage, then id), or ErrNotFound.
func (s *Store) RolloutByID(ctx context.Context, id string) (*Rollout, []RolloutStation, error) {
	var r Rollout
	if err := translate(s.db.WithContext(ctx).Take(&r, "id = ?", id).Error); err != nil {
		return nil, nil, fmt.Errorf("rollout %s: %w", id, err)
	}
	var st []RolloutStation
	if err := s.db.WithContext(ctx).Where("rollout_id = ?", id).Order("stage, satellite_id").Find(&st).Error; err != nil {
		return nil, nil, fmt.Errorf("rollout %s stations: %w", id, err)
	}
	return &r, st, nil
}

// Rollouts lists rollouts, newest first.
func (s *Store) Rollouts(ctx context.Context) ([]Rollout, error) {
	var out []Rollout
	if err := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list rollouts: %w", err)
	}
	return out, nil
}

// RunningRollouts lists the ids of running rollouts.
func (s *Store) RunningRollouts(ctx context.Context) ([]string, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Model(&Rollout{}).Where("state = ?", RolloutRunning).Order("created_at").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("running rollouts: %w", err)
	}
	return ids, nil
}

// ClaimRollout claims a running rollout for d, in one statement: of several replicas ticking
// at once exactly one gets it until the claim lapses or is released.
func (s *Store) ClaimRollout(ctx context.Context, id string, d time.Duration) (bool, error) {
	now := s.Now()
	res := s.db.WithContext(ctx).Model(&Rollout{}).
		Where("id = ? AND state = ? AND (claimed_until IS NULL OR claimed_until < ?)", id, RolloutRunning, now).
		Updates(map[string]any{"claimed_until": now.Add(d)})
	if res.Error != nil {
		return false, fmt.Errorf("claim rollout %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReleaseRollout ends a claim.
func (s *Store) ReleaseRollout(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Model(&Rollout{}).Where("id = ?", id).Update("claimed_until", nil).Error; err != nil {
		return fmt.Errorf("release rollout %s: %w", id, err)
	}
	return nil
}

// SaveRollout writes a rollout's stage, state and reason.
func (s *Store) SaveRollout(ctx context.Context, r *Rollout) error {
	r.UpdatedAt = s.Now()
	err := s.db.WithContext(ctx).Model(&Rollout{}).Where("id = ?", r.ID).
		Updates(map[string]any{"stage": r.Stage, "state": r.State, "reason": r.Reason, "updated_at": r.UpdatedAt}).Error
	if err != nil {
		return fmt.Errorf("save rollout %s: %w", r.ID, err)
	}
	return nil
}

// StopRollout moves a running rollout to stopped with a reason; ErrNotFound when none runs.
func (s *Store) StopRollout(ctx context.Context, id, reason string) error {
	res := s.db.WithContext(ctx).Model(&Rollout{}).Where("id = ? AND state = ?", id, RolloutRunning).
		Updates(map[string]any{"state": RolloutStopped, "reason": reason, "updated_at": s.Now()})
	if res.Error != nil {
		return fmt.Errorf("stop rollout %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("stop rollout %s: %w", id, ErrNotFound)
	}
	return nil
}

// SaveRolloutStation writes a station's state, command and detail.
func (s *Store) SaveRolloutStation(ctx context.Context, st *RolloutStation) error {
	now := s.Now()
	st.UpdatedAt = &now
	err := s.db.WithContext(ctx).Model(&RolloutStation{}).
		Where("rollout_id = ? AND satellite_id = ?", st.RolloutID, st.SatelliteID).
		Updates(map[string]any{"state": st.State, "command_id": st.CommandID, "detail": st.Detail, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("save rollout station %s: %w", st.SatelliteID, err)
	}
	return nil
}
