// Package artifacts holds the rules of observation data products: which uploads a satellite may
// make (bound to an observation or process it was sent, of an allowed kind, within its team's
// quota), how a finished upload becomes an artifact (its SHA-256 checked while it is copied into
// the Storage, frames indexed), and retention per kind and per team. It knows no HTTP: the
// server's tus endpoint and download routes call it, the sweeper runs its retention.
package artifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Errors of the upload rules; the server maps each to its api error code.
var (
	// ErrNotBound: the observation or process is not one the satellite was sent.
	ErrNotBound = errors.New("not an observation or process this satellite was sent")
	// ErrKindNotAllowed: the backend does not take this kind.
	ErrKindNotAllowed = errors.New("artifact kind not allowed")
	// ErrQuota: the team's quota would be exceeded.
	ErrQuota = errors.New("team artifact quota exceeded")
	// ErrHashMismatch: the bytes do not have the announced SHA-256.
	ErrHashMismatch = errors.New("SHA-256 of the bytes received differs from the one announced")
	// ErrTooLarge: over api.MaxArtifactBytes.
	ErrTooLarge = errors.New("artifact too large")
)

// Default policy values.
const (
	DefaultQuotaBytes = 50 << 30
	day               = 24 * time.Hour
)

// DefaultRetention is how long each kind is kept (0: for ever).
var DefaultRetention = map[string]time.Duration{
	api.ArtifactIQ: 7 * day, api.ArtifactAudio: 90 * day, api.ArtifactWaterfall: 365 * day,
	api.ArtifactFrames: 0, api.ArtifactLog: 30 * day, api.ArtifactOther: 30 * day,
}

// Policy is the backend-wide default of quota, retention and allowed kinds; a team's own
// settings (store.ArtifactTeamSettings) override quota and retention.
type Policy struct {
	// QuotaBytes is each team's quota (default DefaultQuotaBytes).
	QuotaBytes int64
	// Retention per kind; a kind left out takes DefaultRetention's, 0 keeps for ever.
	Retention map[string]time.Duration
	// Kinds are the kinds accepted (empty: all).
	Kinds []string
}

// Grants tells which team an observation or process was sent to a satellite for. The lead will
// back it by the observations table; CommandGrants reads the command history meanwhile.
type Grants interface {
	// Granted returns the team of the observation (source api.SourceObservation) or process
	// (api.SourceProcess) sourceID sent to satellite, or ErrNotBound.
	Granted(ctx context.Context, satellite *store.Satellite, source, sourceID string) (teamID string, err error)
}

// Service applies the rules.
type Service struct {
	Store   *store.Store
	Storage Storage
	Grants  Grants
	Policy  Policy
	Log     *zap.Logger
}

// New fills the defaults.
func New(s Service) *Service {
	if s.Grants == nil {
		s.Grants = CommandGrants{Store: s.Store}
	}
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
	if s.Policy.QuotaBytes <= 0 {
		s.Policy.QuotaBytes = DefaultQuotaBytes
	}
	ret := map[string]time.Duration{}
	for k, v := range DefaultRetention {
		ret[k] = v
	}
	for k, v := range s.Policy.Retention {
		ret[k] = v
	}
	s.Policy.Retention = ret
	return &s
}

// Admit checks a new upload: bound to an observation or process the satellite was sent, a
// kind the backend takes, a size within the limits and the team's quota. It returns the team
// the artifact will belong to.
func (s *Service) Admit(ctx context.Context, sat *store.Satellite, meta api.UploadMeta, size int64) (string, error) {
	if size < 0 || size > api.MaxArtifactBytes {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, size, int64(api.MaxArtifactBytes))
	}
	if !s.kindAllowed(meta.Kind) {
		return "", fmt.Errorf("%w: %s", ErrKindNotAllowed, meta.Kind)
	}
	team, err := s.Grants.Granted(ctx, sat, meta.Source, meta.SourceID)
	if err != nil {
		return "", err
	}
	return team, s.checkQuota(ctx, team, size)
}

func (s *Service) kindAllowed(kind string) bool {
	if len(s.Policy.Kinds) == 0 {
		return api.ValidArtifactKind(kind)
	}
	for _, k := range s.Policy.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Quota returns the team's quota in bytes.
func (s *Service) Quota(ctx context.Context, team string) (int64, error) {
	ts, err := s.Store.ArtifactSettings(ctx, team)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.Policy.QuotaBytes, nil
	case err != nil:
		return 0, err
	case ts.QuotaBytes != nil:
		return *ts.QuotaBytes, nil
	}
	return s.Policy.QuotaBytes, nil
}

func (s *Service) checkQuota(ctx context.Context, team string, size int64) error {
	quota, err := s.Quota(ctx, team)
	if err != nil {
		return err
	}
	used, err := s.Store.TeamArtifactBytes(ctx, team)
	if err != nil {
		return err
	}
	if used+size > quota {
		return fmt.Errorf("%w: the team stores %d bytes of %d, this file is %d", ErrQuota, used, quota, size)
	}
	return nil
}

// Upload is a finished tus upload to record.
type Upload struct {
	ID        string
	Satellite *store.Satellite
	Meta      api.UploadMeta
	Size      int64
	// Open reads the uploaded bytes.
	Open func() (io.ReadCloser, error)
}

// Finish turns a whole upload into an artifact: the bytes are copied into the Storage while
// their SHA-256 is computed, compared with the one announced (ErrHashMismatch: nothing kept),
// frames are indexed, and the row recorded. Finishing the same upload again returns the
// artifact recorded the first time.
func (s *Service) Finish(ctx context.Context, u Upload) (*store.Artifact, error) {
	if prev, err := s.Store.ArtifactByUpload(ctx, u.ID); err == nil {
		return prev, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	team, err := s.Grants.Granted(ctx, u.Satellite, u.Meta.Source, u.Meta.SourceID)
	if err != nil {
		return nil, err
	}
	if err := s.checkQuota(ctx, team, u.Size); err != nil {
		return nil, err
	}
	a := &store.Artifact{ID: store.NewID(), TeamID: team, SatelliteID: u.Satellite.ID, Source: u.Meta.Source,
		SourceID: u.Meta.SourceID, Kind: u.Meta.Kind, Name: u.Meta.Name, Size: u.Size, SHA256: u.Meta.SHA256,
		ContentType: u.Meta.ContentType, UploadID: u.ID}
	a.StorageKey = fmt.Sprintf("%s/%s/%s/%s", team, a.Source, a.SourceID, a.ID)
	if err := s.store(ctx, u, a.StorageKey); err != nil {
		return nil, err
	}
	frames, err := s.indexFrames(ctx, a)
	if err != nil {
		s.deleteObject(ctx, a.StorageKey)
		return nil, err
	}
	rec, created, err := s.Store.CreateArtifact(ctx, a, frames)
	if err != nil || !created {
		s.deleteObject(ctx, a.StorageKey)
	}
	if err == nil && created {
		s.Log.Info("artifact stored", zap.String("artifact_id", a.ID), zap.String("team_id", team),
			zap.String("satellite_id", a.SatelliteID), zap.String("kind", a.Kind), zap.Int64("size", a.Size))
	}
	return rec, err
}

// store copies the upload into the storage, hashing it on the way.
func (s *Service) store(ctx context.Context, u Upload, key string) error {
	rc, err := u.Open()
	if err != nil {
		return fmt.Errorf("open upload %s: %w", u.ID, err)
	}
	defer func() { _ = rc.Close() }()
	h := sha256.New()
	if err := s.Storage.Put(ctx, key, io.TeeReader(rc, h), u.Size); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != u.Meta.SHA256 {
		s.deleteObject(ctx, key)
		return fmt.Errorf("%w: announced %s, received %s", ErrHashMismatch, u.Meta.SHA256, got)
	}
	return nil
}

func (s *Service) indexFrames(ctx context.Context, a *store.Artifact) ([]store.ArtifactFrame, error) {
	if a.Kind != api.ArtifactFrames {
		return nil, nil
	}
	rc, err := s.Storage.OpenRange(ctx, a.StorageKey, 0, -1)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	res, err := ParseFrames(rc)
	if err != nil {
		return nil, err
	}
	a.FramesSkipped = res.Skipped
	if res.Skipped > 0 {
		s.Log.Warn("frames file has lines that are not frames", zap.String("artifact_id", a.ID),
			zap.Int("skipped", res.Skipped), zap.String("first", res.FirstError))
	}
	return res.Frames, nil
}

func (s *Service) deleteObject(ctx context.Context, key string) {
	if err := s.Storage.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.Log.Warn("delete artifact object", zap.String("key", key), zap.Error(err))
	}
}

// CommandGrants finds the binding in the command history: an observation.schedule whose
// observation_id is the id, or a process.start with output on whose command id is the id,
// delivered to this satellite.
type CommandGrants struct {
	Store *store.Store
}

// Granted implements Grants.
func (g CommandGrants) Granted(ctx context.Context, sat *store.Satellite, source, sourceID string) (string, error) {
	switch source {
	case api.SourceObservation:
		return g.observation(ctx, sat, sourceID)
	case api.SourceProcess:
		return g.process(ctx, sat, sourceID)
	}
	return "", fmt.Errorf("%w: source %q", ErrNotBound, source)
}

func (g CommandGrants) observation(ctx context.Context, sat *store.Satellite, id string) (string, error) {
	cmds, err := g.Store.DeliveredCommands(ctx, sat.ID, api.CommandObservationSchedule, "", id)
	if err != nil {
		return "", err
	}
	for _, c := range cmds {
		var p api.ObservationSchedulePayload
		if c.Payload == nil || json.Unmarshal([]byte(*c.Payload), &p) != nil || p.ObservationID != id {
			continue
		}
		if p.Process != nil && p.Process.TeamID != "" {
			return p.Process.TeamID, nil
		}
		return c.TeamID, nil
	}
	return "", fmt.Errorf("%w: observation %s", ErrNotBound, id)
}

func (g CommandGrants) process(ctx context.Context, sat *store.Satellite, id string) (string, error) {
	if !store.ValidID(id) {
		return "", fmt.Errorf("%w: process %s", ErrNotBound, id)
	}
	cmds, err := g.Store.DeliveredCommands(ctx, sat.ID, api.CommandProcessStart, id, "")
	if err != nil {
		return "", err
	}
	for _, c := range cmds {
		var p api.ProcessStartPayload
		if c.Payload == nil || json.Unmarshal([]byte(*c.Payload), &p) != nil || p.Output == nil || !p.Output.Enabled {
			continue
		}
		return p.TeamID, nil
	}
	return "", fmt.Errorf("%w: process.start %s (with output enabled)", ErrNotBound, id)
}
