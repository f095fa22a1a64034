package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AutoschedTarget is one spacecraft on a team's auto-scheduler list (docs/autoscheduler.md).
type AutoschedTarget struct {
	ID            string `gorm:"primaryKey"`
	TeamID        string
	NORADID       int `gorm:"column:norad_id"`
	Priority      int
	TransmitterID string
	Decoder       string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName is the targets' table.
func (AutoschedTarget) TableName() string { return "autosched_targets" }

// AutoschedStation is how the auto-scheduler may use a station: its rotator's slew rates
// (degrees per second), the lowest elevation worth a pass (degrees), and its shares.
type AutoschedStation struct {
	SatelliteID     string `gorm:"primaryKey"`
	SlewAzDegS      float64
	SlewElDegS      float64
	MinElevationDeg float64
	UpdatedAt       time.Time
	Shares          []AutoschedShare `gorm:"-"`
}

// TableName is the station settings' table.
func (AutoschedStation) TableName() string { return "autosched_stations" }

// AutoschedShare is a team's weight on a station.
type AutoschedShare struct {
	SatelliteID string `gorm:"primaryKey"`
	TeamID      string `gorm:"primaryKey"`
	Weight      int
}

// TableName is the shares' table.
func (AutoschedShare) TableName() string { return "autosched_shares" }

// AutoschedTargets lists teamID's targets by NORAD id.
func (s *Store) AutoschedTargets(ctx context.Context, teamID string) ([]AutoschedTarget, error) {
	var out []AutoschedTarget
	if err := s.db.WithContext(ctx).Where("team_id = ?", teamID).Order("norad_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("auto-scheduler targets of %s: %w", teamID, err)
	}
	return out, nil
}

// CreateAutoschedTarget adds a target to its team's list; a NORAD id already on it is
// ErrConflict.
func (s *Store) CreateAutoschedTarget(ctx context.Context, t *AutoschedTarget) error {
	t.ID = NewID()
	t.CreatedAt = s.Now()
	t.UpdatedAt = t.CreatedAt
	if err := translate(s.db.WithContext(ctx).Create(t).Error); err != nil {
		return fmt.Errorf("create auto-scheduler target: %w", err)
	}
	return nil
}

// AutoschedTargetUpdate changes a target; nil fields stay.
type AutoschedTargetUpdate struct {
	Priority      *int
	TransmitterID *string
	Decoder       *string
}

// UpdateAutoschedTarget changes teamID's target id (ErrNotFound for another team's).
func (s *Store) UpdateAutoschedTarget(ctx context.Context, teamID, id string, u AutoschedTargetUpdate) (*AutoschedTarget, error) {
	updates := map[string]any{"updated_at": s.Now()}
	if u.Priority != nil {
		updates["priority"] = *u.Priority
	}
	if u.TransmitterID != nil {
		updates["transmitter_id"] = *u.TransmitterID
	}
	if u.Decoder != nil {
		updates["decoder"] = *u.Decoder
	}
	res := s.db.WithContext(ctx).Model(&AutoschedTarget{}).Where("id = ? AND team_id = ?", id, teamID).Updates(updates)
	if res.Error != nil {
		return nil, fmt.Errorf("update auto-scheduler target %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	return s.AutoschedTarget(ctx, teamID, id)
}

// AutoschedTarget returns teamID's target id.
func (s *Store) AutoschedTarget(ctx context.Context, teamID, id string) (*AutoschedTarget, error) {
	var t AutoschedTarget
	if err := translate(s.db.WithContext(ctx).Where("id = ? AND team_id = ?", id, teamID).Take(&t).Error); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteAutoschedTarget removes teamID's target id.
func (s *Store) DeleteAutoschedTarget(ctx context.Context, teamID, id string) error {
	res := s.db.WithContext(ctx).Where("id = ? AND team_id = ?", id, teamID).Delete(&AutoschedTarget{})
	if res.Error != nil {
		return fmt.Errorf("delete auto-scheduler target %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// AutoschedStations returns the settings of the given stations that have any, with their
// shares ordered by team id, keyed by satellite id.
func (s *Store) AutoschedStations(ctx context.Context, satelliteIDs []string) (map[string]*AutoschedStation, error) {
	out := map[string]*AutoschedStation{}
	if len(satelliteIDs) == 0 {
		return out, nil
	}
	var rows []AutoschedStation
	if err := s.db.WithContext(ctx).Where("satellite_id IN ?", satelliteIDs).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("auto-scheduler stations: %w", err)
	}
	for i := range rows {
		out[rows[i].SatelliteID] = &rows[i]
	}
	var shares []AutoschedShare
	err := s.db.WithContext(ctx).Where("satellite_id IN ?", satelliteIDs).Order("satellite_id, team_id").Find(&shares).Error
	if err != nil {
		return nil, fmt.Errorf("auto-scheduler shares: %w", err)
	}
	for _, sh := range shares {
		if st := out[sh.SatelliteID]; st != nil {
			st.Shares = append(st.Shares, sh)
		}
	}
	return out, nil
}

// PutAutoschedStation replaces a station's settings and shares (the caller checked the station
// is its team's and the share teams exist).
func (s *Store) PutAutoschedStation(ctx context.Context, st *AutoschedStation) error {
	st.UpdatedAt = s.Now()
	err := s.Tx(ctx, func(tx *Store) error {
		db := tx.db.WithContext(ctx)
		err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "satellite_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"slew_az_deg_s", "slew_el_deg_s", "min_elevation_deg", "updated_at"})}).
			Create(st).Error
		if err != nil {
			return err
		}
		if err := db.Where("satellite_id = ?", st.SatelliteID).Delete(&AutoschedShare{}).Error; err != nil {
			return err
		}
		for i := range st.Shares {
			st.Shares[i].SatelliteID = st.SatelliteID
		}
		if len(st.Shares) == 0 {
			return nil
		}
		return db.Create(&st.Shares).Error
	})
	if err != nil {
		return fmt.Errorf("store auto-scheduler settings of %s: %w", st.SatelliteID, translate(err))
	}
	return nil
}

// AutoschedOwnerTeams lists the teams that own a station with at least one share: the teams
// the auto-scheduler runs for.
func (s *Store) AutoschedOwnerTeams(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Table("satellites").Distinct("satellites.team_id").
		Joins("JOIN autosched_shares ON autosched_shares.satellite_id = satellites.id").
		Where("satellites.team_id IS NOT NULL").Order("satellites.team_id").Pluck("satellites.team_id", &out).Error
	if err != nil {
		return nil, fmt.Errorf("auto-scheduler teams: %w", err)
	}
	return out, nil
}

// TransmitterSpacecraft maps each of the transmitter ids that exists to its spacecraft id.
func (s *Store) TransmitterSpacecraft(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Transmitter
	if err := s.db.WithContext(ctx).Select("id, spacecraft_id").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("transmitters: %w", err)
	}
	for _, t := range rows {
		out[t.ID] = t.SpacecraftID
	}
	return out, nil
}

// AutoschedFingerprint sums up what a run's input depends on besides the clock: the catalog
// (spacecraft and their current sets, transmitters) and the auto-scheduler's settings. It
// changes whenever one of them does, on any replica.
func (s *Store) AutoschedFingerprint(ctx context.Context) (string, error) {
	var parts []string
	for _, table := range []string{"spacecraft", "transmitters", "autosched_targets", "autosched_stations"} {
		var n int64
		var latest sql.NullString
		row := s.db.WithContext(ctx).Raw("SELECT COUNT(*), CAST(MAX(updated_at) AS TEXT) FROM " + table).Row()
		if err := row.Scan(&n, &latest); err != nil {
			return "", fmt.Errorf("auto-scheduler fingerprint (%s): %w", table, err)
		}
		parts = append(parts, fmt.Sprintf("%s:%d:%s", table, n, latest.String))
	}
	var shares int64
	var weights sql.NullInt64
	if err := s.db.WithContext(ctx).Raw("SELECT COUNT(*), SUM(weight) FROM autosched_shares").Row().Scan(&shares, &weights); err != nil {
		return "", fmt.Errorf("auto-scheduler fingerprint (shares): %w", err)
	}
	parts = append(parts, fmt.Sprintf("shares:%d:%d", shares, weights.Int64))
	return strings.Join(parts, "|"), nil
}

// AutoschedRun is a team's run record: who holds it and what the last run did.
type AutoschedRun struct {
	TeamID      string `gorm:"primaryKey"`
	Holder      string
	LeaseUntil  *time.Time
	LastRunAt   *time.Time
	Fingerprint string
	LastStatus  string
	LastError   string
	LastBooked  int
}

// TableName is the runs' table.
func (AutoschedRun) TableName() string { return "autosched_runs" }

// AutoschedClaim asks for one run of a team.
type AutoschedClaim struct {
	TeamID, Holder string
	// Fingerprint is the current AutoschedFingerprint; a run is due when it differs from the
	// last run's, or when the last run is older than DueBefore. Force claims it regardless
	// (a manual run).
	Fingerprint string
	DueBefore   time.Time
	Force       bool
	// Now is the claimer's clock; Until bounds the lease: a replica that dies mid-run holds it
	// no longer. (Every replica must use the same clock for both: the store's by default.)
	Now, Until time.Time
}

// ClaimAutoschedRun takes the team's run lease when the run is due (or forced) and nobody holds
// it, in one conditional UPDATE: of several replicas racing, exactly one gets true.
func (s *Store) ClaimAutoschedRun(ctx context.Context, c AutoschedClaim) (bool, error) {
	db := s.db.WithContext(ctx)
	err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&AutoschedRun{TeamID: c.TeamID}).Error
	if err != nil {
		return false, fmt.Errorf("claim auto-scheduler run of %s: %w", c.TeamID, err)
	}
	q := db.Model(&AutoschedRun{}).Where("team_id = ? AND (lease_until IS NULL OR lease_until < ?)", c.TeamID, c.Now.UTC())
	if !c.Force {
		q = q.Where("last_run_at IS NULL OR last_run_at <= ? OR fingerprint <> ?", c.DueBefore.UTC(), c.Fingerprint)
	}
	res := q.Updates(map[string]any{"lease_until": c.Until.UTC().Truncate(time.Microsecond), "holder": c.Holder})
	if res.Error != nil {
		return false, fmt.Errorf("claim auto-scheduler run of %s: %w", c.TeamID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// AutoschedOutcome is how a claimed run ended.
type AutoschedOutcome struct {
	Fingerprint string
	// At is when it ended (the claimer's clock).
	At     time.Time
	Status string // "ok" or "failed"
	Error  string
	Booked int
}

// FinishAutoschedRun records the end of holder's run of teamID and frees the lease.
func (s *Store) FinishAutoschedRun(ctx context.Context, teamID, holder string, o AutoschedOutcome) error {
	res := s.db.WithContext(ctx).Model(&AutoschedRun{}).Where("team_id = ? AND holder = ?", teamID, holder).
		Updates(map[string]any{"lease_until": gorm.Expr("NULL"), "last_run_at": o.At.UTC().Truncate(time.Microsecond), "fingerprint": o.Fingerprint,
			"last_status": o.Status, "last_error": o.Error, "last_booked": o.Booked})
	if res.Error != nil {
		return fmt.Errorf("finish auto-scheduler run of %s: %w", teamID, res.Error)
	}
	return nil
}

// AutoschedRunOf returns teamID's run record (ErrNotFound before its first claim).
func (s *Store) AutoschedRunOf(ctx context.Context, teamID string) (*AutoschedRun, error) {
	var r AutoschedRun
	if err := translate(s.db.WithContext(ctx).Where("team_id = ?", teamID).Take(&r).Error); err != nil {
		return nil, err
	}
	return &r, nil
}

// SatellitesSharedWith lists the stations of other teams whose auto-scheduler shares give teamID
// a part of their time, by name: the stations the team may plan and book on besides its own.
func (s *Store) SatellitesSharedWith(ctx context.Context, teamID string) ([]Satellite, error) {
	var out []Satellite
	err := s.db.WithContext(ctx).Model(&Satellite{}).
		Joins("JOIN autosched_shares ON autosched_shares.satellite_id = satellites.id").
		Where("autosched_shares.team_id = ? AND (satellites.team_id IS NULL OR satellites.team_id <> ?)", teamID, teamID).
		Order("satellites.name, satellites.id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("satellites shared with team %s: %w", teamID, err)
	}
	return out, nil
}

// SharedWith reports whether a station's auto-scheduler shares give teamID a part of its time.
func (s *Store) SharedWith(ctx context.Context, teamID, satelliteID string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Table("autosched_shares").
		Where("satellite_id = ? AND team_id = ?", satelliteID, teamID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("is satellite %s shared with team %s: %w", satelliteID, teamID, err)
	}
	return n > 0, nil
}
