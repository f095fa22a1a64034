package store

import (
	"context"
	"fmt"
	"time"
)

// Release is a talos-satellite artifact for runner.update; its bytes are kept by
// backend/releases in the data directory, under the release's id.
type Release struct {
	ID      string `gorm:"primaryKey"`
	Version string
	OS      string `gorm:"column:os"`
	Arch    string
	// Size in bytes and SHA-256 (hex) as verified at upload.
	Size   int64
	SHA256 string `gorm:"column:sha256"`
	// Signature is the operator's base64 ed25519 signature of api.ReleaseMessage.
	Signature string
	CreatedBy *string
	CreatedAt time.Time
}

// TableName is the releases' table.
func (Release) TableName() string { return "releases" }

// CreateRelease stores rel (ID and CreatedAt set by the caller); the same version, os and arch
// twice is ErrConflict.
func (s *Store) CreateRelease(ctx context.Context, rel *Release) error {
	if err := translate(s.db.WithContext(ctx).Create(rel).Error); err != nil {
		return fmt.Errorf("create release %s %s/%s: %w", rel.Version, rel.OS, rel.Arch, err)
	}
	return nil
}

// Releases lists every release, newest first.
func (s *Store) Releases(ctx context.Context) ([]Release, error) {
	var out []Release
	if err := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return out, nil
}

// ReleaseByID returns a release or ErrNotFound.
func (s *Store) ReleaseByID(ctx context.Context, id string) (*Release, error) {
	var rel Release
	if err := translate(s.db.WithContext(ctx).Take(&rel, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("release %s: %w", id, err)
	}
	return &rel, nil
}

// DeleteRelease removes a release's row, or answers ErrNotFound.
func (s *Store) DeleteRelease(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Delete(&Release{}, "id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("delete release %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete release %s: %w", id, ErrNotFound)
	}
	return nil
}
