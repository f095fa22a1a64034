package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/tagquery"
)

// Satellite is a registered ground-station runner. APIKeyID is the public id of its current API
// key (unique, the lookup key of every authenticated call); APIKeyHash is the keyed hash of the
// key's secret (auth.KeyHasher, decision 0092), or its argon2id hash for a key not used since.
type Satellite struct {
	ID string `gorm:"primaryKey"`
	// TeamID is nil for a satellite registered with a global token and not yet given to a team.
	TeamID         *string
	Name           string
	Lat, Lon, AltM float64
	// MinElevationDeg and HorizonMask describe the station's sky for the planner: its own
	// minimum elevation, degrees, and its horizon mask (empty: flat).
	MinElevationDeg float64
	HorizonMask     []api.HorizonPoint `gorm:"serializer:json"`
	Version         string
	Capabilities    []string `gorm:"serializer:json"`
	// Tags are the station's key=value labels (api.RegisterRequest.Tags), never nil once stored.
	Tags             map[string]string `gorm:"serializer:json"`
	Status           string
	Maintenance      bool
	APIKeyID         string
	APIKeyHash       string
	HeartbeatSeconds int
	RegisteredAt     time.Time
	KeyRotatedAt     time.Time
	LastSeenAt       *time.Time
	// OfflineAfter is when the satellite counts as offline without another heartbeat.
	OfflineAfter time.Time
	UpdatedAt    time.Time
	Pause
}

// Pause is a satellite's pause: in force while PausedAt is set and PausedUntil is nil or
// later than now (Paused); it ends by itself at PausedUntil.
type Pause struct {
	PausedAt    *time.Time
	PausedUntil *time.Time
	// PauseNote says why, for everyone who sees the station.
	PauseNote string
	// PausedBy names who paused it (a user id or a token).
	PausedBy string
	// PauseRunning is what became of the work running when it was paused: PauseFinish or
	// PauseCancel.
	PauseRunning string
}

// What a pause does to the work running when it starts.
const (
	// PauseFinish lets running and queued work finish; queued commands wait for the resume.
	PauseFinish = "finish"
	// PauseCancel cancels queued commands and stops running observations and processes.
	PauseCancel = "cancel"
)

// Paused reports whether the pause is in force at now.
func (p Pause) Paused(now time.Time) bool {
	return p.PausedAt != nil && (p.PausedUntil == nil || now.Before(*p.PausedUntil))
}

// Tag returns the value of tag key and whether the satellite carries it (tagquery.Station).
func (s *Satellite) Tag(key string) (string, bool) {
	v, ok := s.Tags[key]
	return v, ok
}

// HasCapability reports whether the satellite reported capability name (tagquery.Station).
func (s *Satellite) HasCapability(name string) bool { return slices.Contains(s.Capabilities, name) }

// OfflineFactor is how many heartbeat intervals may pass without a heartbeat before a satellite
// is marked offline.
const OfflineFactor = 2.5

// offlineAfter is now plus OfflineFactor heartbeat intervals.
func offlineAfter(now time.Time, heartbeatSeconds int) time.Time {
	return now.Add(time.Duration(OfflineFactor * float64(heartbeatSeconds) * float64(time.Second)))
}

// ErrWrongScope means a registration token may not register (or re-register) that satellite:
// a team token naming a satellite of another team, or of no team; a global token naming a
// satellite of a team.
var ErrWrongScope = errors.New("the registration token's scope does not cover this satellite")

// Registration is what RegisterSatellite needs. Exactly one of TokenID (a registration token to
// consume) or KeyHolder (the satellite's id, proven by its current API key) authorises it.
type Registration struct {
	TokenID   string
	KeyHolder string
	// SatelliteID names an existing satellite to re-register; empty registers a new one.
	SatelliteID      string
	Name             string
	Lat, Lon, AltM   float64
	Version          string
	Capabilities     []string
	Tags             map[string]string
	APIKeyID         string
	APIKeyHash       string
	HeartbeatSeconds int
}

// RegisterSatellite consumes the registration token (if any) and creates the satellite or
// rotates the key of an existing one, all in one transaction: a failure returns the token's
// use. The old key's row no longer matches, so the old key stops working at once everywhere.
func (s *Store) RegisterSatellite(ctx context.Context, r Registration) (*Satellite, error) {
	if (r.TokenID == "") == (r.KeyHolder == "") {
		return nil, errors.New("register satellite: exactly one of a registration token or the satellite's key must authorise it")
	}
	if r.KeyHolder != "" && r.SatelliteID == "" {
		return nil, fmt.Errorf("register satellite: %w", ErrWrongScope)
	}
	var out *Satellite
	err := s.Tx(ctx, func(tx *Store) error {
		var scope *string
		global := false
		if r.TokenID != "" {
			t, err := tx.ConsumeRegistrationToken(ctx, r.TokenID)
			if err != nil {
				return err
			}
			scope, global = t.TeamID, t.TeamID == nil
		}
		var err error
		if r.SatelliteID == "" {
			out, err = tx.createSatellite(ctx, r, scope)
		} else {
			out, err = tx.reRegister(ctx, r, scope, global)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("register satellite: %w", err)
	}
	return out, nil
}

func (s *Store) createSatellite(ctx context.Context, r Registration, team *string) (*Satellite, error) {
	now := s.Now()
	sat := &Satellite{ID: NewID(), TeamID: team, Status: "online", RegisteredAt: now}
	r.apply(sat, now)
	if err := translate(s.db.WithContext(ctx).Create(sat).Error); err != nil {
		return nil, err
	}
	return sat, nil
}

func (s *Store) reRegister(ctx context.Context, r Registration, scope *string, global bool) (*Satellite, error) {
	if !ValidID(r.SatelliteID) {
		return nil, ErrNotFound
	}
	sat, err := s.SatelliteByID(ctx, r.SatelliteID)
	if err != nil {
		return nil, err
	}
	// A global token may adopt only a satellite of no team: letting it re-register a team's
	// satellite would hand its holder that team's station (key rotated, commands delivered to
	// the holder). A team's satellite needs its own key or a token of its team.
	switch {
	case r.KeyHolder != "" && r.KeyHolder != sat.ID:
		return nil, ErrWrongScope
	case r.TokenID != "" && global && sat.TeamID != nil:
		return nil, ErrWrongScope
	case r.TokenID != "" && !global && (sat.TeamID == nil || *sat.TeamID != *scope):
		return nil, ErrWrongScope
	}
	r.apply(sat, s.Now())
	if err := translate(s.db.WithContext(ctx).Save(sat).Error); err != nil {
		return nil, err
	}
	return sat, nil
}

// apply copies the registration onto sat and starts a fresh liveness window.
func (r Registration) apply(sat *Satellite, now time.Time) {
	sat.Name, sat.Lat, sat.Lon, sat.AltM = r.Name, r.Lat, r.Lon, r.AltM
	sat.Version, sat.Capabilities = r.Version, r.Capabilities
	if sat.HorizonMask == nil {
		sat.HorizonMask = []api.HorizonPoint{}
	}
	if sat.Capabilities == nil {
		sat.Capabilities = []string{}
	}
	sat.Tags = r.Tags
	if sat.Tags == nil {
		sat.Tags = map[string]string{}
	}
	sat.APIKeyID, sat.APIKeyHash = r.APIKeyID, r.APIKeyHash
	sat.HeartbeatSeconds = r.HeartbeatSeconds
	sat.KeyRotatedAt, sat.UpdatedAt, sat.LastSeenAt = now, now, &now
	sat.OfflineAfter = offlineAfter(now, r.HeartbeatSeconds)
	if sat.Status == "offline" {
		sat.Status = "online"
	}
}

// SatelliteByID returns a satellite or ErrNotFound.
func (s *Store) SatelliteByID(ctx context.Context, id string) (*Satellite, error) {
	var sat Satellite
	if err := translate(s.db.WithContext(ctx).Take(&sat, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("satellite %s: %w", id, err)
	}
	return &sat, nil
}

// SatelliteByKeyID returns the satellite whose current API key has the public id keyID, or
// ErrNotFound (a rotated key's id matches nothing).
func (s *Store) SatelliteByKeyID(ctx context.Context, keyID string) (*Satellite, error) {
	var sat Satellite
	if err := translate(s.db.WithContext(ctx).Take(&sat, "api_key_id = ?", keyID).Error); err != nil {
		return nil, fmt.Errorf("satellite by key %s: %w", keyID, err)
	}
	return &sat, nil
}

// TeamSatellite returns a satellite of teamID; any other is ErrNotFound.
func (s *Store) TeamSatellite(ctx context.Context, teamID, id string) (*Satellite, error) {
	var sat Satellite
	if err := translate(s.db.WithContext(ctx).Take(&sat, "id = ? AND team_id = ?", id, teamID).Error); err != nil {
		return nil, fmt.Errorf("satellite %s of team %s: %w", id, teamID, err)
	}
	return &sat, nil
}

// Satellites lists satellites by name: a team's, or every one when teamID is nil.
func (s *Store) Satellites(ctx context.Context, teamID *string) ([]Satellite, error) {
	q := s.db.WithContext(ctx).Order("name, id")
	if teamID != nil {
		q = q.Where("team_id = ?", *teamID)
	}
	var out []Satellite
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list satellites: %w", err)
	}
	return out, nil
}

// SatellitesMatching lists the satellites of teamID that q selects, by name. The query is
// evaluated in Go over the team's satellites (docs/decisions/0101-tag-query-language.md): a team
// has at most a few hundred stations, and one evaluator serves both databases exactly alike.
func (s *Store) SatellitesMatching(ctx context.Context, teamID string, q *tagquery.Query) ([]Satellite, error) {
	all, err := s.Satellites(ctx, &teamID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for i := range all {
		if q.Match(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// SatelliteUpdate changes a satellite's user-editable fields; nil leaves one as it is.
type SatelliteUpdate struct {
	Name            *string
	Maintenance     *bool
	MinElevationDeg *float64
	// HorizonMask replaces the mask when not nil; an empty slice makes the horizon flat.
	HorizonMask *[]api.HorizonPoint
}

// UpdateSatellite applies u to a satellite of teamID and returns it.
func (s *Store) UpdateSatellite(ctx context.Context, teamID, id string, u SatelliteUpdate) (*Satellite, error) {
	fields := map[string]any{"updated_at": s.Now()}
	if u.Name != nil {
		fields["name"] = *u.Name
	}
	if u.Maintenance != nil {
		fields["maintenance"] = *u.Maintenance
	}
	if u.MinElevationDeg != nil {
		fields["min_elevation_deg"] = *u.MinElevationDeg
	}
	if u.HorizonMask != nil {
		mask, err := json.Marshal(*u.HorizonMask)
		if err != nil {
			return nil, fmt.Errorf("update satellite %s: horizon mask: %w", id, err)
		}
		fields["horizon_mask"] = string(mask)
	}
	res := s.db.WithContext(ctx).Model(&Satellite{}).Where("id = ? AND team_id = ?", id, teamID).Updates(fields)
	if res.Error != nil {
		return nil, fmt.Errorf("update satellite %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("update satellite %s: %w", id, ErrNotFound)
	}
	return s.SatelliteByID(ctx, id)
}

// AssignSatellite moves a satellite into teamID (a satellite registered with a global token
// starts in no team). Its queued commands move with it.
func (s *Store) AssignSatellite(ctx context.Context, id, teamID string) (*Satellite, error) {
	err := s.Tx(ctx, func(tx *Store) error {
		res := tx.db.WithContext(ctx).Model(&Satellite{}).Where("id = ?", id).
			Updates(map[string]any{"team_id": teamID, "updated_at": tx.Now()})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.db.WithContext(ctx).Model(&Command{}).Where("satellite_id = ?", id).Update("team_id", teamID).Error
	})
	if err != nil {
		return nil, fmt.Errorf("assign satellite %s to team %s: %w", id, teamID, err)
	}
	return s.SatelliteByID(ctx, id)
}

// DeleteSatellite removes a satellite of teamID with its commands, heartbeats and events; its
// key stops working with the row.
func (s *Store) DeleteSatellite(ctx context.Context, teamID, id string) error {
	res := s.db.WithContext(ctx).Where("id = ? AND team_id = ?", id, teamID).Delete(&Satellite{})
	if res.Error != nil {
		return fmt.Errorf("delete satellite %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete satellite %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetHeartbeatInterval records the heartbeat interval a satellite now keeps (after it applied a
// config.update) and moves its liveness window to match, so a longer interval does not flap it
// offline.
func (s *Store) SetHeartbeatInterval(ctx context.Context, id string, seconds int) error {
	now := s.Now()
	err := s.db.WithContext(ctx).Model(&Satellite{}).Where("id = ?", id).Updates(map[string]any{
		"heartbeat_seconds": seconds, "offline_after": offlineAfter(now, seconds), "updated_at": now,
	}).Error
	if err != nil {
		return fmt.Errorf("set heartbeat interval of %s: %w", id, err)
	}
	return nil
}

// MarkOffline marks every satellite whose liveness window has passed as offline and records a
// satellite.offline event for each. Each transition is a conditional UPDATE of one row, so when
// several replicas sweep at once exactly one of them records it. It returns the satellites it
// marked.
func (s *Store) MarkOffline(ctx context.Context) ([]string, error) {
	now := s.Now()
	var ids []string
	err := s.db.WithContext(ctx).Model(&Satellite{}).
		Where("status <> ? AND offline_after < ?", "offline", now).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find satellites gone silent: %w", err)
	}
	var marked []string
	for _, id := range ids {
		ok, err := s.markOffline(ctx, id, now)
		if err != nil {
			return marked, err
		}
		if ok {
			marked = append(marked, id)
		}
	}
	return marked, nil
}

func (s *Store) markOffline(ctx context.Context, id string, now time.Time) (bool, error) {
	won := false
	err := s.Tx(ctx, func(tx *Store) error {
		res := tx.db.WithContext(ctx).Model(&Satellite{}).
			Where("id = ? AND status <> ? AND offline_after < ?", id, "offline", now).
			Updates(map[string]any{"status": "offline", "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		won = true
		return tx.AddSystemEvent(ctx, id, "satellite.offline", "warning",
			"no heartbeat for 2.5 heartbeat intervals: marked offline")
	})
	if err != nil {
		return false, fmt.Errorf("mark satellite %s offline: %w", id, err)
	}
	return won, nil
}

// ReplaceSatelliteKeyHash stores newHash as the hash of the satellite's key keyID, but only while
// oldHash is still stored: a key migrated to a new hash form (decision 0092) must not overwrite a
// rotation that happened meanwhile. It reports whether it replaced the hash. UpdatedAt stays: the
// key is the same.
func (s *Store) ReplaceSatelliteKeyHash(ctx context.Context, keyID, oldHash, newHash string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Satellite{}).Where("api_key_id = ? AND api_key_hash = ?", keyID, oldHash).
		UpdateColumn("api_key_hash", newHash)
	if res.Error != nil {
		return false, fmt.Errorf("replace key hash of %s: %w", keyID, res.Error)
	}
	return res.RowsAffected == 1, nil
}
