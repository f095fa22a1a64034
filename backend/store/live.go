package store

import (
	"context"
	"fmt"
	"time"
)

// The queries of the web UI's live feed (server/live.go): what changed in a team since a
// moment. Each takes a window start rather than a cursor, because rows are stamped before their
// transaction commits: a row stamped just before a scan may become visible only after it, so the
// feed asks again with some overlap and drops what it already sent.

// maxIDsPerQuery bounds the ids bound into one IN (...) list (SQLite allows 32,766 variables).
const maxIDsPerQuery = 500

// TeamSatellitesChangedSince lists the team's satellites whose row changed at or after since
// (a heartbeat, a status change, a rename, maintenance), oldest change first. A zero since lists
// them all.
func (s *Store) TeamSatellitesChangedSince(ctx context.Context, teamID string, since time.Time) ([]Satellite, error) {
	db := s.db.WithContext(ctx).Where("team_id = ?", teamID).Order("updated_at, id")
	if !since.IsZero() {
		db = db.Where("updated_at >= ?", since.UTC())
	}
	var out []Satellite
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("satellites of team %s changed since %s: %w", teamID, since, err)
	}
	return out, nil
}

// LatestHeartbeats returns the newest heartbeat of each of the satellites, by satellite id
// (satellites without a heartbeat are absent).
func (s *Store) LatestHeartbeats(ctx context.Context, satelliteIDs []string) (map[string]Heartbeat, error) {
	out := make(map[string]Heartbeat, len(satelliteIDs))
	for start := 0; start < len(satelliteIDs); start += maxIDsPerQuery {
		ids := satelliteIDs[start:min(start+maxIDsPerQuery, len(satelliteIDs))]
		var rows []Heartbeat
		// The newest received_at per satellite comes from the (satellite_id, received_at) index
		// alone; the join then reads only those rows.
		err := s.db.WithContext(ctx).Raw(`SELECT h.* FROM satellite_heartbeats h JOIN (
			SELECT satellite_id, max(received_at) AS newest FROM satellite_heartbeats
			WHERE satellite_id IN ? GROUP BY satellite_id) n
			ON h.satellite_id = n.satellite_id AND h.received_at = n.newest`, ids).Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("latest heartbeats: %w", err)
		}
		for _, h := range rows {
			// Two heartbeats received in the same instant: keep the later insert (ids are UUIDv7).
			if prev, ok := out[h.SatelliteID]; !ok || h.ID > prev.ID {
				out[h.SatelliteID] = h
			}
		}
	}
	return out, nil
}

// TeamEventsSince lists the events of the team's satellites received at or after since, oldest
// first, at most limit of them.
func (s *Store) TeamEventsSince(ctx context.Context, teamID string, since time.Time, limit int) ([]Event, error) {
	var out []Event
	err := s.db.WithContext(ctx).
		Where("received_at >= ? AND satellite_id IN (SELECT id FROM satellites WHERE team_id = ?)", since.UTC(), teamID).
		Order("received_at, id").Limit(max(limit, 1)).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("events of team %s since %s: %w", teamID, since, err)
	}
	return out, nil
}

// TeamCommandsChangedSince lists the team's commands created or moved at or after since, oldest
// change first, at most limit of them.
func (s *Store) TeamCommandsChangedSince(ctx context.Context, teamID string, since time.Time, limit int) ([]Command, error) {
	var out []Command
	err := s.db.WithContext(ctx).Where("team_id = ? AND updated_at >= ?", teamID, since.UTC()).
		Order("updated_at, id").Limit(max(limit, 1)).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("commands of team %s changed since %s: %w", teamID, since, err)
	}
	return out, nil
}
