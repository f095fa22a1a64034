package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Artifact is one file a station uploaded whole, with its SHA-256 checked (backend/artifacts
// holds the rules). Source is "observation" or "process"; SourceID the observation id or the
// process.start command id.
type Artifact struct {
	ID            string `gorm:"primaryKey"`
	TeamID        string
	SatelliteID   string
	Source        string
	SourceID      string
	Kind          string
	Name          string
	Size          int64
	SHA256        string `gorm:"column:sha256"`
	ContentType   string
	UploadID      string
	StorageKey    string
	FramesSkipped int
	CreatedAt     time.Time
}

// TableName is the artifacts table.
func (Artifact) TableName() string { return "artifacts" }

// ArtifactFrame is one line of a frames artifact.
type ArtifactFrame struct {
	ArtifactID string `gorm:"primaryKey"`
	Seq        int    `gorm:"primaryKey"`
	TeamID     string
	Source     string
	SourceID   string
	Time       time.Time
	Data       string
	Fields     string
}

// TableName is the frames index.
func (ArtifactFrame) TableName() string { return "artifact_frames" }

// ArtifactTeamSettings is a team's own quota and retention over the backend's defaults.
type ArtifactTeamSettings struct {
	TeamID     string `gorm:"primaryKey"`
	QuotaBytes *int64
	// Retention is a JSON object of kind to seconds, "" for none.
	Retention string
	UpdatedAt time.Time
}

// TableName is the team settings table.
func (ArtifactTeamSettings) TableName() string { return "artifact_team_settings" }

// frameInsertBatch bounds the rows of one INSERT (PostgreSQL allows 65535 parameters; a frame
// row has 8).
const frameInsertBatch = 1000

// CreateArtifact records a, and its frames, in one transaction. A second call for the same
// upload id records nothing and returns the artifact recorded first (created false), so a
// retried finish is harmless.
func (s *Store) CreateArtifact(ctx context.Context, a *Artifact, frames []ArtifactFrame) (*Artifact, bool, error) {
	if a.ID == "" {
		a.ID = NewID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.Now()
	}
	err := s.Tx(ctx, func(tx *Store) error {
		res := tx.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "upload_id"}}, DoNothing: true}).Create(a)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errAlreadyRecorded
		}
		for i := range frames {
			frames[i].ArtifactID, frames[i].TeamID, frames[i].Source, frames[i].SourceID = a.ID, a.TeamID, a.Source, a.SourceID
		}
		if len(frames) == 0 {
			return nil
		}
		return tx.db.WithContext(ctx).CreateInBatches(frames, frameInsertBatch).Error
	})
	if errors.Is(err, errAlreadyRecorded) {
		prev, err := s.ArtifactByUpload(ctx, a.UploadID)
		return prev, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("record artifact: %w", translate(err))
	}
	return a, true, nil
}

var errAlreadyRecorded = errors.New("upload already recorded")

// ArtifactByUpload returns the artifact recorded for a tus upload id (ErrNotFound if none).
func (s *Store) ArtifactByUpload(ctx context.Context, uploadID string) (*Artifact, error) {
	var a Artifact
	if err := s.db.WithContext(ctx).Where("upload_id = ?", uploadID).Take(&a).Error; err != nil {
		return nil, translate(err)
	}
	return &a, nil
}

// ArtifactInTeam returns one of the team's artifacts (ErrNotFound outside the team).
func (s *Store) ArtifactInTeam(ctx context.Context, teamID, id string) (*Artifact, error) {
	var a Artifact
	if err := s.db.WithContext(ctx).Where("team_id = ? AND id = ?", teamID, id).Take(&a).Error; err != nil {
		return nil, translate(err)
	}
	return &a, nil
}

// ListArtifacts returns the team's artifacts of one observation or process, oldest first.
func (s *Store) ListArtifacts(ctx context.Context, teamID, source, sourceID string) ([]Artifact, error) {
	var out []Artifact
	err := s.db.WithContext(ctx).Where("team_id = ? AND source = ? AND source_id = ?", teamID, source, sourceID).
		Order("created_at, id").Find(&out).Error
	return out, translate(err)
}

// TeamArtifactBytes is the stored size of all of a team's artifacts, in bytes.
func (s *Store) TeamArtifactBytes(ctx context.Context, teamID string) (int64, error) {
	var total int64
	err := s.db.WithContext(ctx).Model(&Artifact{}).Where("team_id = ?", teamID).
		Select("COALESCE(SUM(size), 0)").Scan(&total).Error
	return total, translate(err)
}

// ArtifactsOlderThan returns up to limit artifacts of kind created before cutoff, oldest first:
// of teamID only when it is set, else of every team except those listed in exceptTeams (teams
// with their own retention for the kind).
func (s *Store) ArtifactsOlderThan(ctx context.Context, kind, teamID string, exceptTeams []string, cutoff time.Time, limit int) ([]Artifact, error) {
	db := s.db.WithContext(ctx).Where("kind = ? AND created_at < ?", kind, cutoff.UTC()).Order("created_at, id").Limit(max(limit, 1))
	if teamID != "" {
		db = db.Where("team_id = ?", teamID)
	} else if len(exceptTeams) > 0 {
		db = db.Where("team_id NOT IN ?", exceptTeams)
	}
	var out []Artifact
	return out, translate(db.Find(&out).Error)
}

// DeleteArtifact deletes an artifact's row and its frames (the caller deletes its bytes).
func (s *Store) DeleteArtifact(ctx context.Context, id string) error {
	return translate(s.Tx(ctx, func(tx *Store) error {
		if err := tx.db.WithContext(ctx).Where("artifact_id = ?", id).Delete(&ArtifactFrame{}).Error; err != nil {
			return err
		}
		return tx.db.WithContext(ctx).Where("id = ?", id).Delete(&Artifact{}).Error
	}))
}

// FrameSummary counts the frames of one observation or process and gives the first and last
// frame times (nil when there is none).
type FrameSummary struct {
	Count int64
	First *time.Time
	Last  *time.Time
}

// SummarizeFrames returns the frame summary of the team's observation or process. The first
// and last times are read as rows (ORDER BY time LIMIT 1, on the index), not MIN/MAX, which
// SQLite returns as text.
func (s *Store) SummarizeFrames(ctx context.Context, teamID, source, sourceID string) (FrameSummary, error) {
	var sum FrameSummary
	if err := s.framesOf(ctx, teamID, source, sourceID).Count(&sum.Count).Error; err != nil || sum.Count == 0 {
		return FrameSummary{}, translate(err)
	}
	for _, end := range []struct {
		order string
		into  **time.Time
	}{{"time ASC", &sum.First}, {"time DESC", &sum.Last}} {
		var f ArtifactFrame
		if err := s.framesOf(ctx, teamID, source, sourceID).Order(end.order).Take(&f).Error; err != nil {
			return FrameSummary{}, translate(err)
		}
		t := f.Time.UTC()
		*end.into = &t
	}
	return sum, nil
}

// ListFrames returns up to limit frames of the team's observation or process in time order,
// skipping the first offset.
func (s *Store) ListFrames(ctx context.Context, teamID, source, sourceID string, offset, limit int) ([]ArtifactFrame, error) {
	var out []ArtifactFrame
	err := s.framesOf(ctx, teamID, source, sourceID).Order("time, artifact_id, seq").
		Offset(max(offset, 0)).Limit(max(limit, 1)).Find(&out).Error
	for i := range out {
		out[i].Time = out[i].Time.UTC()
	}
	return out, translate(err)
}

func (s *Store) framesOf(ctx context.Context, teamID, source, sourceID string) *gorm.DB {
	return s.db.WithContext(ctx).Model(&ArtifactFrame{}).
		Where("team_id = ? AND source = ? AND source_id = ?", teamID, source, sourceID)
}

// ArtifactSettings returns the team's own artifact settings (ErrNotFound when it has none).
func (s *Store) ArtifactSettings(ctx context.Context, teamID string) (*ArtifactTeamSettings, error) {
	var a ArtifactTeamSettings
	if err := s.db.WithContext(ctx).Where("team_id = ?", teamID).Take(&a).Error; err != nil {
		return nil, translate(err)
	}
	return &a, nil
}

// AllArtifactSettings returns every team's own settings.
func (s *Store) AllArtifactSettings(ctx context.Context) ([]ArtifactTeamSettings, error) {
	var out []ArtifactTeamSettings
	return out, translate(s.db.WithContext(ctx).Order("team_id").Find(&out).Error)
}

// PutArtifactSettings creates or replaces the team's own settings.
func (s *Store) PutArtifactSettings(ctx context.Context, a *ArtifactTeamSettings) error {
	a.UpdatedAt = s.Now()
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "team_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"quota_bytes", "retention", "updated_at"})}).Create(a).Error
	return translate(err)
}

// DeliveredCommands returns up to 50 commands of cmdType sent to the satellite (delivered at
// least once), newest first: the one with commandID when it is set, else those whose payload
// contains the text payloadContains (the caller parses each payload to be sure).
func (s *Store) DeliveredCommands(ctx context.Context, satelliteID, cmdType, commandID, payloadContains string) ([]Command, error) {
	db := s.db.WithContext(ctx).Where("satellite_id = ? AND type = ? AND delivered_at IS NOT NULL", satelliteID, cmdType)
	if commandID != "" {
		db = db.Where("id = ?", commandID)
	}
	if payloadContains != "" {
		db = db.Where(`payload LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(payloadContains)+"%")
	}
	var out []Command
	return out, translate(db.Order("created_at DESC").Limit(50).Find(&out).Error)
}
