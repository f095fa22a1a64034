package store

import (
	"context"
	"fmt"
	"time"
)

// CatalogSource is a URL fetched on a schedule into a catalog (TeamID nil: the global one).
type CatalogSource struct {
	ID              string  `gorm:"primaryKey"`
	TeamID          *string `gorm:"column:team_id"`
	Name            string
	URL             string `gorm:"column:url"`
	Format          string
	IntervalSeconds int
	// ETag and LastModified are the validators of the last good answer, sent back as
	// If-None-Match and If-Modified-Since.
	ETag          string `gorm:"column:etag"`
	LastModified  string
	NextFetchAt   time.Time
	LastFetchAt   *time.Time
	LastSuccessAt *time.Time
	// LastStatus is "ok", "not_modified" or "failed"; LastError says why it failed.
	LastStatus string
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TableName is the sources' table.
func (CatalogSource) TableName() string { return "catalog_sources" }

// Interval is the source's fetch interval.
func (c *CatalogSource) Interval() time.Duration {
	return time.Duration(c.IntervalSeconds) * time.Second
}

// CreateCatalogSource stores src (TeamID set by the caller), due at once; a name its owner
// already uses is ErrConflict.
func (s *Store) CreateCatalogSource(ctx context.Context, src *CatalogSource) error {
	now := s.Now()
	src.ID, src.CreatedAt, src.UpdatedAt, src.NextFetchAt = NewID(), now, now, now
	if err := translate(s.db.WithContext(ctx).Create(src).Error); err != nil {
		return fmt.Errorf("create catalog source %q: %w", src.Name, err)
	}
	return nil
}

// CatalogSources lists the sources owned by teamID ("" = the global ones), by name.
func (s *Store) CatalogSources(ctx context.Context, teamID string) ([]CatalogSource, error) {
	var out []CatalogSource
	if err := ownedBy(s.db.WithContext(ctx), teamID).Order("name, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list catalog sources: %w", err)
	}
	return out, nil
}

// CatalogSourceByID returns a source owned by teamID ("" = global), or ErrNotFound.
func (s *Store) CatalogSourceByID(ctx context.Context, teamID, id string) (*CatalogSource, error) {
	var src CatalogSource
	if err := translate(ownedBy(s.db.WithContext(ctx), teamID).Take(&src, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("catalog source %s: %w", id, err)
	}
	return &src, nil
}

// DeleteCatalogSource removes a source owned by teamID ("" = global); what it imported stays.
func (s *Store) DeleteCatalogSource(ctx context.Context, teamID, id string) error {
	res := ownedBy(s.db.WithContext(ctx), teamID).Delete(&CatalogSource{}, "id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("delete catalog source %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete catalog source %s: %w", id, ErrNotFound)
	}
	return nil
}

// DueCatalogSources lists sources whose next fetch is at or before now, the most overdue first,
// at most limit.
func (s *Store) DueCatalogSources(ctx context.Context, now time.Time, limit int) ([]CatalogSource, error) {
	var out []CatalogSource
	err := s.db.WithContext(ctx).Where("next_fetch_at <= ?", now.UTC()).
		Order("next_fetch_at, id").Limit(max(limit, 1)).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("due catalog sources: %w", err)
	}
	return out, nil
}

// ClaimCatalogSource takes a due source for one fetch: its next_fetch_at moves from the value
// the caller read to until, in one conditional UPDATE. Exactly one of several replicas racing
// for the same source gets true; until also bounds how long a replica that dies mid-fetch holds
// it.
func (s *Store) ClaimCatalogSource(ctx context.Context, src *CatalogSource, until time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&CatalogSource{}).
		Where("id = ? AND next_fetch_at = ?", src.ID, src.NextFetchAt).
		Update("next_fetch_at", until.UTC().Truncate(time.Microsecond))
	if res.Error != nil {
		return false, fmt.Errorf("claim catalog source %s: %w", src.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// FetchResult is what a fetch of a source ended with.
type FetchResult struct {
	At     time.Time
	Next   time.Time
	Status string // "ok", "not_modified" or "failed"
	Error  string
	// ETag and LastModified replace the stored validators when Status is "ok".
	ETag, LastModified string
}

// FinishCatalogFetch records a fetch's outcome and schedules the next one.
func (s *Store) FinishCatalogFetch(ctx context.Context, id string, r FetchResult) error {
	updates := map[string]any{"last_fetch_at": r.At.UTC(), "next_fetch_at": r.Next.UTC().Truncate(time.Microsecond),
		"last_status": r.Status, "last_error": r.Error, "updated_at": s.Now()}
	if r.Status != "failed" {
		updates["last_success_at"] = r.At.UTC()
	}
	if r.Status == "ok" {
		updates["etag"], updates["last_modified"] = r.ETag, r.LastModified
	}
	if err := s.db.WithContext(ctx).Model(&CatalogSource{}).Where("id = ?", id).Updates(updates).Error; err != nil {
		return fmt.Errorf("record fetch of catalog source %s: %w", id, err)
	}
	return nil
}
