package store

import (
	"context"
	"fmt"
	"time"
)

// Observation states (docs/observations.md). The store keeps them; backend/observations owns the
// rules of moving between them.
const (
	ObsScheduled  = "scheduled"
	ObsDispatched = "dispatched"
	ObsPrepared   = "prepared"
	ObsRunning    = "running"
	ObsCompleted  = "completed"
	ObsFailed     = "failed"
	ObsCancelled  = "cancelled"
	ObsMissed     = "missed"
)

// ActiveObservationStates are the states of an observation that still holds its station's time.
var ActiveObservationStates = []string{ObsScheduled, ObsDispatched, ObsPrepared, ObsRunning}

// Observation is one booked pass of a spacecraft over a station (SatelliteID) for a team.
type Observation struct {
	ID            string `gorm:"primaryKey"`
	TeamID        string
	SatelliteID   string
	SpacecraftID  string
	NORADID       int `gorm:"column:norad_id"`
	TransmitterID string
	// AOS, TCA and LOS are the planner's pass; MaxEl, AOSAz, LOSAz in degrees; HorizonEl is the
	// elevation the pass starts and ends at (the minimum elevation it was planned with).
	AOS, TCA, LOS     time.Time
	MaxEl             float64
	AOSAz, LOSAz      float64
	HorizonEl         float64
	ElementSetID      string
	ElementSetEpoch   time.Time
	CheckedSetID      string
	Decoder           string
	CreatedBy, Source string
	State             string
	CommandID         string
	DispatchedAt      *time.Time
	ClaimedUntil      *time.Time
	Verdict           string
	// VerdictReasons is a JSON array of strings.
	VerdictReasons string
	VerdictAt      *time.Time
	OverrideNote   string
	OverrideBy     string
	// Summary is the station's report of the pass (JSON), if it sent one.
	Summary *string
	// DecoderProblems is a JSON array of what the decoder's process events reported as wrong.
	DecoderProblems string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName is the observations' table.
func (Observation) TableName() string { return "observations" }

// ObservationChange is one line of an observation's history: a transition, or a note (From ==
// To) such as a re-dispatch.
type ObservationChange struct {
	ID            string `gorm:"primaryKey"`
	ObservationID string
	At            time.Time
	FromState     string
	ToState       string
	Reason        string
	Actor         string
}

// TableName is the history's table.
func (ObservationChange) TableName() string { return "observation_history" }

// BookObservation inserts o (state scheduled) unless check refuses it. check sees every
// observation of o's station that still holds time (ActiveObservationStates) and ends after
// o.AOS−margin and starts before o.LOS+margin. The station's row is locked for the whole
// transaction (FOR UPDATE on PostgreSQL; SQLite write transactions hold the write lock from
// their start), so two overlapping bookings racing each other are decided one after the other
// and exactly one can win. check's error is returned as it is.
func (s *Store) BookObservation(ctx context.Context, o *Observation, margin time.Duration, check func(near []Observation) error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.lockSatellite(ctx, o.SatelliteID); err != nil {
			return err
		}
		near, err := tx.BusyObservations(ctx, o.SatelliteID, o.AOS.Add(-margin), o.LOS.Add(margin))
		if err != nil {
			return err
		}
		if err := check(near); err != nil {
			return err
		}
		now := tx.Now()
		o.ID, o.State, o.CreatedAt, o.UpdatedAt = NewID(), ObsScheduled, now, now
		if o.VerdictReasons == "" {
			o.VerdictReasons = "[]"
		}
		if o.DecoderProblems == "" {
			o.DecoderProblems = "[]"
		}
		if err := tx.db.WithContext(ctx).Create(o).Error; err != nil {
			return fmt.Errorf("book observation: %w", translate(err))
		}
		return tx.addChange(ctx, o.ID, "", ObsScheduled, "booked ("+o.Source+")", o.CreatedBy)
	})
}

// BusyObservations lists the observations of a station that still hold its time and overlap
// [from, to), by AOS.
func (s *Store) BusyObservations(ctx context.Context, satelliteID string, from, to time.Time) ([]Observation, error) {
	var out []Observation
	err := s.db.WithContext(ctx).Where("satellite_id = ? AND state IN ? AND los > ? AND aos < ?",
		satelliteID, ActiveObservationStates, from.UTC(), to.UTC()).Order("aos, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("observations of station %s: %w", satelliteID, err)
	}
	return out, nil
}

// ObservationQuery selects a team's observations. Empty fields filter nothing.
type ObservationQuery struct {
	TeamID      string
	States      []string
	SatelliteID string
	// From and To keep observations whose pass ends after From and starts before To.
	From, To *time.Time
	Limit    int
}

// Observations lists a team's observations by AOS.
func (s *Store) Observations(ctx context.Context, q ObservationQuery) ([]Observation, error) {
	db := s.db.WithContext(ctx).Where("team_id = ?", q.TeamID)
	if len(q.States) > 0 {
		db = db.Where("state IN ?", q.States)
	}
	if q.SatelliteID != "" {
		db = db.Where("satellite_id = ?", q.SatelliteID)
	}
	if q.From != nil {
		db = db.Where("los > ?", q.From.UTC())
	}
	if q.To != nil {
		db = db.Where("aos < ?", q.To.UTC())
	}
	if q.Limit > 0 {
		db = db.Limit(q.Limit)
	}
	var out []Observation
	if err := db.Order("aos, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("observations of team %s: %w", q.TeamID, err)
	}
	return out, nil
}

// TeamObservation returns one of a team's observations (ErrNotFound for another team's).
func (s *Store) TeamObservation(ctx context.Context, teamID, id string) (*Observation, error) {
	var o Observation
	if err := translate(s.db.WithContext(ctx).Take(&o, "id = ? AND team_id = ?", id, teamID).Error); err != nil {
		return nil, fmt.Errorf("observation %s: %w", id, err)
	}
	return &o, nil
}

// StationObservation returns an observation of a station (ErrNotFound for another station's):
// what a station's events may touch.
func (s *Store) StationObservation(ctx context.Context, satelliteID, id string) (*Observation, error) {
	var o Observation
	if err := translate(s.db.WithContext(ctx).Take(&o, "id = ? AND satellite_id = ?", id, satelliteID).Error); err != nil {
		return nil, fmt.Errorf("observation %s: %w", id, err)
	}
	return &o, nil
}

// ObservationsInStates lists every observation in one of states whose AOS is before aosBefore
// and whose LOS is before losBefore (zero times filter nothing), by AOS: the dispatcher's
// work lists.
func (s *Store) ObservationsInStates(ctx context.Context, states []string, aosBefore, losBefore time.Time, limit int) ([]Observation, error) {
	db := s.db.WithContext(ctx).Where("state IN ?", states)
	if !aosBefore.IsZero() {
		db = db.Where("aos < ?", aosBefore.UTC())
	}
	if !losBefore.IsZero() {
		db = db.Where("los < ?", losBefore.UTC())
	}
	if limit > 0 {
		db = db.Limit(limit)
	}
	var out []Observation
	if err := db.Order("aos, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("observations in %v: %w", states, err)
	}
	return out, nil
}

// ClaimObservation claims an observation for one replica's work until until (now is the
// caller's clock, which the claims are compared on): a conditional
// UPDATE that succeeds only when the observation is still in state and nobody holds an unexpired
// claim, so of several replicas exactly one gets it. It reports whether this caller won.
func (s *Store) ClaimObservation(ctx context.Context, id, state string, now, until time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Observation{}).
		Where("id = ? AND state = ? AND (claimed_until IS NULL OR claimed_until < ?)", id, state, now.UTC()).
		Updates(map[string]any{"claimed_until": until.UTC(), "updated_at": s.Now()})
	if res.Error != nil {
		return false, fmt.Errorf("claim observation %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ObservationUpdate is a transition (or, with To == "", a change of fields alone) applied only
// while the observation is in one of From.
type ObservationUpdate struct {
	From []string
	// To is the new state; "" keeps it. Reason and Actor go to the history.
	To            string
	Reason, Actor string
	// Note records Reason in the history even without a change of state (a re-dispatch).
	Note bool
	// Set are further columns to write.
	Set map[string]any
}

// UpdateObservation applies u to observation id in one transaction and reports whether it
// applied (false: the observation was no longer in any of u.From).
func (s *Store) UpdateObservation(ctx context.Context, id string, u ObservationUpdate) (bool, error) {
	applied := false
	err := s.Tx(ctx, func(tx *Store) error {
		var cur Observation
		if err := translate(tx.db.WithContext(ctx).Select("state").Take(&cur, "id = ?", id).Error); err != nil {
			return err
		}
		set := map[string]any{"updated_at": tx.Now()}
		for k, v := range u.Set {
			set[k] = v
		}
		to := cur.State
		if u.To != "" {
			set["state"], to = u.To, u.To
		}
		res := tx.db.WithContext(ctx).Model(&Observation{}).Where("id = ? AND state IN ?", id, u.From).Updates(set)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		applied = true
		if to == cur.State && !u.Note {
			return nil
		}
		return tx.addChange(ctx, id, cur.State, to, u.Reason, u.Actor)
	})
	if err != nil {
		return false, fmt.Errorf("update observation %s: %w", id, err)
	}
	return applied, nil
}

func (s *Store) addChange(ctx context.Context, id, from, to, reason, actor string) error {
	c := ObservationChange{ID: NewID(), ObservationID: id, At: s.Now(), FromState: from, ToState: to,
		Reason: reason, Actor: actor}
	if err := s.db.WithContext(ctx).Create(&c).Error; err != nil {
		return fmt.Errorf("record history of observation %s: %w", id, err)
	}
	return nil
}

// ObservationHistory lists an observation's history, oldest first.
func (s *Store) ObservationHistory(ctx context.Context, id string) ([]ObservationChange, error) {
	var out []ObservationChange
	if err := s.db.WithContext(ctx).Where("observation_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("history of observation %s: %w", id, err)
	}
	return out, nil
}

// VerdictCount counts observations with one verdict, by station and spacecraft.
type VerdictCount struct {
	SatelliteID string
	NORADID     int `gorm:"column:norad_id"`
	Verdict     string
	N           int
}

// VerdictCounts counts the verdicts of observations whose pass ended in [since, until), by
// station, spacecraft and verdict; teamID "" counts every team's.
func (s *Store) VerdictCounts(ctx context.Context, teamID string, since, until time.Time) ([]VerdictCount, error) {
	db := s.db.WithContext(ctx).Model(&Observation{}).
		Select("satellite_id, norad_id, verdict, COUNT(*) AS n").
		Where("verdict <> '' AND los >= ? AND los < ?", since.UTC(), until.UTC())
	if teamID != "" {
		db = db.Where("team_id = ?", teamID)
	}
	var out []VerdictCount
	if err := db.Group("satellite_id, norad_id, verdict").Order("satellite_id, norad_id, verdict").
		Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("count verdicts: %w", err)
	}
	return out, nil
}

// ElementSetByID returns one stored element set.
func (s *Store) ElementSetByID(ctx context.Context, id string) (*ElementSet, error) {
	var es ElementSet
	if err := translate(s.db.WithContext(ctx).Take(&es, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("element set %s: %w", id, err)
	}
	return &es, nil
}
