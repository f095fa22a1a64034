package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"gorm.io/gorm/clause"
)

// Heartbeat is one stored health report. Report is the heartbeat's JSON as received (validated);
// the columns beside it are the figures lists and charts read without decoding it.
type Heartbeat struct {
	ID            string `gorm:"primaryKey"`
	SatelliteID   string
	ReceivedAt    time.Time
	Status        string
	Version       string
	UptimeSeconds int64
	CPUPercent    float64 `gorm:"column:cpu_percent"`
	MemoryPercent float64
	DiskPercent   float64
	Report        string
	// Tags are the tags the heartbeat reported (nil: none reported). They are not a column of
	// the heartbeat: RecordHeartbeat stores them on the satellite when they changed.
	Tags map[string]string `gorm:"-"`
}

// TableName is the heartbeats' table.
func (Heartbeat) TableName() string { return "satellite_heartbeats" }

// HeartbeatResult says what a heartbeat changed.
type HeartbeatResult struct {
	// CameBack is set when the satellite was offline before this heartbeat.
	CameBack bool
	// WentOffline is set when this heartbeat, the last of a clean stop (status "stopping"),
	// marked the satellite offline.
	WentOffline bool
	// TagsChanged is set when the heartbeat's tags replaced the stored ones.
	TagsChanged bool
	Satellite   *Satellite
}

// statusStopping is the heartbeat status of a clean stop (api.StatusStopping).
const statusStopping = "stopping"

// heartbeatReadHook, when set (by tests, through export_test.go), runs inside RecordHeartbeat's
// transaction right after the satellite's status was read.
var heartbeatReadHook atomic.Pointer[func(tx *Store, satelliteID string)]

// RecordHeartbeat stores hb, moves the satellite's liveness window forward and sets its
// status. When the satellite was offline, a satellite.online event records its return. A
// heartbeat with status "stopping" (a clean stop) sets the satellite offline at once and
// records a satellite.offline event, so a stopped station does not show online until the sweep.
//
// The status is read with the row locked (FOR UPDATE on PostgreSQL; SQLite write transactions
// hold the database's write lock from their start), so the offline sweep cannot commit between
// the read and the write: otherwise the heartbeat would set the satellite online without a
// satellite.online event, and the event log would end with satellite.offline.
func (s *Store) RecordHeartbeat(ctx context.Context, hb *Heartbeat) (HeartbeatResult, error) {
	var out HeartbeatResult
	err := s.Tx(ctx, func(tx *Store) error {
		sat, err := tx.lockSatellite(ctx, hb.SatelliteID)
		if err != nil {
			return err
		}
		if hook := heartbeatReadHook.Load(); hook != nil {
			(*hook)(tx, sat.ID)
		}
		now := tx.Now()
		hb.ID, hb.ReceivedAt = NewID(), now
		if err := tx.db.WithContext(ctx).Create(hb).Error; err != nil {
			return err
		}
		out = heartbeatTransition(sat, hb)
		sat.Status, sat.Version, sat.LastSeenAt, sat.UpdatedAt = statusAfter(hb), hb.Version, &now, now
		sat.OfflineAfter = offlineAfter(now, sat.HeartbeatSeconds)
		fields := map[string]any{
			"status": sat.Status, "version": sat.Version, "last_seen_at": now, "updated_at": now,
			"offline_after": sat.OfflineAfter,
		}
		// Tags ride on the update every heartbeat makes anyway, and only when they changed.
		if hb.Tags != nil && !maps.Equal(hb.Tags, sat.Tags) {
			tags, err := json.Marshal(hb.Tags)
			if err != nil {
				return err
			}
			fields["tags"], sat.Tags = string(tags), hb.Tags
			out.TagsChanged = true
		}
		if err := tx.db.WithContext(ctx).Model(&Satellite{}).Where("id = ?", sat.ID).Updates(fields).Error; err != nil {
			return err
		}
		out.Satellite = sat
		return tx.recordTransition(ctx, sat.ID, out)
	})
	if err != nil {
		return out, fmt.Errorf("record heartbeat of %s: %w", hb.SatelliteID, err)
	}
	return out, nil
}

// heartbeatTransition says whether hb brings sat back online or takes it offline.
func heartbeatTransition(sat *Satellite, hb *Heartbeat) HeartbeatResult {
	wasOffline := sat.Status == "offline"
	if hb.Status == statusStopping {
		return HeartbeatResult{WentOffline: !wasOffline}
	}
	return HeartbeatResult{CameBack: wasOffline}
}

// statusAfter is the satellite's status once hb is recorded: what it reports, except that a
// stopping satellite is offline.
func statusAfter(hb *Heartbeat) string {
	if hb.Status == statusStopping {
		return "offline"
	}
	return hb.Status
}

func (s *Store) recordTransition(ctx context.Context, satelliteID string, r HeartbeatResult) error {
	switch {
	case r.CameBack:
		return s.AddSystemEvent(ctx, satelliteID, "satellite.online", "info", "heartbeat received: back online")
	case r.WentOffline:
		return s.AddSystemEvent(ctx, satelliteID, "satellite.offline", "info", "stopped cleanly (final heartbeat): marked offline")
	}
	return nil
}

// lockSatellite reads a satellite inside a transaction, locking its row until the commit.
func (s *Store) lockSatellite(ctx context.Context, id string) (*Satellite, error) {
	q := s.db.WithContext(ctx)
	if s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var sat Satellite
	if err := translate(q.Take(&sat, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("satellite %s: %w", id, err)
	}
	return &sat, nil
}

// HeartbeatQuery selects a satellite's heartbeats received in [From, To), newest first.
type HeartbeatQuery struct {
	SatelliteID string
	From, To    time.Time
	Limit       int
}

// Heartbeats lists heartbeats as q asks.
func (s *Store) Heartbeats(ctx context.Context, q HeartbeatQuery) ([]Heartbeat, error) {
	db := s.db.WithContext(ctx).Where("satellite_id = ?", q.SatelliteID).
		Order("received_at DESC, id DESC").Limit(max(q.Limit, 1))
	if !q.From.IsZero() {
		db = db.Where("received_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		db = db.Where("received_at < ?", q.To.UTC())
	}
	var out []Heartbeat
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("heartbeats of %s: %w", q.SatelliteID, err)
	}
	return out, nil
}

// PruneBefore deletes heartbeats and events received before cutoff and returns how many of
// each went.
func (s *Store) PruneBefore(ctx context.Context, cutoff time.Time) (heartbeats, events int64, err error) {
	res := s.db.WithContext(ctx).Where("received_at < ?", cutoff.UTC()).Delete(&Heartbeat{})
	if res.Error != nil {
		return 0, 0, fmt.Errorf("prune heartbeats: %w", res.Error)
	}
	heartbeats = res.RowsAffected
	res = s.db.WithContext(ctx).Where("received_at < ?", cutoff.UTC()).Delete(&Event{})
	if res.Error != nil {
		return heartbeats, 0, fmt.Errorf("prune events: %w", res.Error)
	}
	return heartbeats, res.RowsAffected, nil
}
