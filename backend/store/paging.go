package store

import (
	"context"

	"gorm.io/gorm"
)

// column is an equality filter on a listing; an empty value filters nothing. The name is
// always a constant of this package, never user input.
type column struct {
	name, value string
}

// newestFirst starts a keyset-paged listing of one satellite's rows, newest first: ids are
// UUIDv7, so they sort by creation, and "id < before" pages without the cost or the drift of an
// offset. At most limit rows (at least 1).
func (s *Store) newestFirst(ctx context.Context, satelliteID, before string, limit int, filters ...column) *gorm.DB {
	db := s.db.WithContext(ctx).Where("satellite_id = ?", satelliteID).Order("id DESC").Limit(max(limit, 1))
	for _, f := range filters {
		if f.value != "" {
			db = db.Where(f.name+" = ?", f.value)
		}
	}
	if before != "" {
		db = db.Where("id < ?", before)
	}
	return db
}
