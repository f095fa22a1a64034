package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/talos-gs/talos/backend/api"
)

// Command is one queued unit of work for a satellite. The store knows how to keep and find
// commands; the queue's rules (what may be queued, which transitions are legal) are
// backend/commands'.
type Command struct {
	ID          string `gorm:"primaryKey"`
	SatelliteID string
	TeamID      string
	Type        string
	Priority    api.Priority
	// PriorityRank is Priority.Rank(), stored for the queue's ORDER BY. CreateCommand derives
	// it; whatever a caller sets is overwritten.
	PriorityRank   int
	Payload        *string
	CorrelationID  string
	Status         api.CommandStatus
	Attempt        int
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpiresAt      *time.Time
	DeliveredAt    *time.Time
	LeaseExpiresAt *time.Time
	FinishedAt     *time.Time
	Result         *string
	Error          string
	// ParentID is the fan-out (CommandFanout) this command is one child of; nil for a command
	// sent to one satellite.
	ParentID *string
}

// TableName is the queue's table.
func (Command) TableName() string { return "satellite_commands" }

// Shorter names for the states the queue's statements use.
const (
	cmdPending   = api.CommandPending
	cmdDelivered = api.CommandDelivered
)

// ErrUnknownPriority is returned by CreateCommand for a priority api.Priority does not know.
var ErrUnknownPriority = errors.New("unknown command priority")

// CreateCommand queues c as pending; the caller filled its fields except id, status, rank and
// times. The rank is derived from c.Priority, which must be one of api's priorities.
func (s *Store) CreateCommand(ctx context.Context, c *Command) error {
	if c.Priority.Rank() < 0 {
		return fmt.Errorf("queue command for %s: priority %q: %w", c.SatelliteID, c.Priority, ErrUnknownPriority)
	}
	now := s.Now()
	c.ID, c.Status, c.Attempt, c.CreatedAt, c.UpdatedAt = NewID(), cmdPending, 0, now, now
	c.PriorityRank = c.Priority.Rank()
	if err := translate(s.db.WithContext(ctx).Create(c).Error); err != nil {
		return fmt.Errorf("queue command for %s: %w", c.SatelliteID, err)
	}
	return nil
}

// deliverable selects a satellite's commands a poll may hand out at now: pending ones, and
// delivered ones whose lease lapsed unacknowledged; never expired ones. While the satellite is
// paused at now, only commands of the pausedTypes (when any are given) are deliverable: the
// pause is read in the same statement, so a pause committed before the poll's read holds back
// everything else.
func (s *Store) deliverable(ctx context.Context, satelliteID string, now time.Time, pausedTypes []string) *gorm.DB {
	q := s.db.WithContext(ctx).Model(&Command{}).
		Where("satellite_id = ?", satelliteID).
		Where("(status = ? OR (status = ? AND lease_expires_at <= ?))", cmdPending, cmdDelivered, now).
		Where("(expires_at IS NULL OR expires_at > ?)", now)
	if len(pausedTypes) > 0 {
		q = q.Where("(type IN ? OR NOT EXISTS (SELECT 1 FROM satellites p WHERE p.id = satellite_commands.satellite_id"+
			" AND p.paused_at IS NOT NULL AND (p.paused_until IS NULL OR p.paused_until > ?)))", pausedTypes, now)
	}
	return q
}

// Deliver hands out a satellite's deliverable commands, at most api.MaxCommandsPerPoll,
// highest priority first, then oldest: each is marked delivered with a lease ending at now+lease and its attempt counted. It also
// returns the rank of the most urgent command left waiting (-1: none), for the poll interval.
// While the satellite is paused, only commands of pausedTypes are handed out (and count as
// waiting); the others stay queued for the resume.
//
// On PostgreSQL the candidates are locked with FOR UPDATE SKIP LOCKED, so two replicas serving
// two polls of one satellite at once never hand out the same command twice; SQLite has a single
// writer and needs no more.
func (s *Store) Deliver(ctx context.Context, satelliteID string, lease time.Duration, pausedTypes ...string) ([]Command, int, error) {
	// Most polls find nothing: answer those with one read, without the write transaction (on
	// SQLite that would take the database's single write lock for every poll). A command queued
	// just after this read wakes the long-poll, which then looks again.
	if first, err := s.mostUrgentLeft(ctx, satelliteID, s.Now(), pausedTypes); err != nil || first < 0 {
		if err != nil {
			err = fmt.Errorf("deliver commands to %s: %w", satelliteID, err)
		}
		return nil, -1, err
	}
	var out []Command
	waiting := -1
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		q := tx.deliverable(ctx, satelliteID, now, pausedTypes).Order("priority_rank, created_at, id").Limit(api.MaxCommandsPerPoll)
		if tx.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var ids []string
		if err := q.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := tx.markDelivered(ctx, ids, now, lease); err != nil {
				return err
			}
			if err := tx.db.WithContext(ctx).Where("id IN ?", ids).Find(&out).Error; err != nil {
				return err
			}
		}
		var err error
		waiting, err = tx.mostUrgentLeft(ctx, satelliteID, now, pausedTypes)
		return err
	})
	if err != nil {
		return nil, -1, fmt.Errorf("deliver commands to %s: %w", satelliteID, err)
	}
	sortQueue(out)
	return out, waiting, nil
}

func (s *Store) markDelivered(ctx context.Context, ids []string, now time.Time, lease time.Duration) error {
	return s.db.WithContext(ctx).Model(&Command{}).Where("id IN ?", ids).Updates(map[string]any{
		"status": cmdDelivered, "attempt": gorm.Expr("attempt + 1"), "delivered_at": now,
		"lease_expires_at": now.Add(lease), "updated_at": now,
	}).Error
}

// mostUrgentLeft is the smallest priority rank among commands still waiting for delivery.
func (s *Store) mostUrgentLeft(ctx context.Context, satelliteID string, now time.Time, pausedTypes []string) (int, error) {
	var ranks []int
	err := s.deliverable(ctx, satelliteID, now, pausedTypes).Order("priority_rank").Limit(1).Pluck("priority_rank", &ranks).Error
	if err != nil || len(ranks) == 0 {
		return -1, err
	}
	return ranks[0], nil
}

func sortQueue(cs []Command) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.PriorityRank != b.PriorityRank {
			return a.PriorityRank < b.PriorityRank
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
}

// CommandOf returns a command of a satellite; another satellite's command is ErrNotFound.
func (s *Store) CommandOf(ctx context.Context, satelliteID, id string) (*Command, error) {
	var c Command
	if err := translate(s.db.WithContext(ctx).Take(&c, "id = ? AND satellite_id = ?", id, satelliteID).Error); err != nil {
		return nil, fmt.Errorf("command %s: %w", id, err)
	}
	return &c, nil
}

// StatusUpdate is a change of a command's status, with the outcome when it ends the command.
type StatusUpdate struct {
	Status api.CommandStatus
	Result *string
	Error  string
}

// MoveCommand sets a command of a satellite to u.Status, but only while its status is one of
// from: the change is a conditional UPDATE, so of two concurrent changes from one state only
// one applies. It returns the command as it is afterwards and whether this call changed it.
// A terminal status also records the finish time, result and error; every move ends a lease.
// Another satellite's command is ErrNotFound.
func (s *Store) MoveCommand(ctx context.Context, satelliteID, id string, from []api.CommandStatus, u StatusUpdate) (*Command, bool, error) {
	now := s.Now()
	fields := map[string]any{"status": u.Status, "updated_at": now, "lease_expires_at": nil}
	if u.Status.Terminal() {
		fields["finished_at"], fields["result"], fields["error"] = now, u.Result, u.Error
	}
	res := s.db.WithContext(ctx).Model(&Command{}).
		Where("id = ? AND satellite_id = ? AND status IN ?", id, satelliteID, from).Updates(fields)
	if res.Error != nil {
		return nil, false, fmt.Errorf("command %s → %s: %w", id, u.Status, translate(res.Error))
	}
	c, err := s.CommandOf(ctx, satelliteID, id)
	if err != nil {
		return nil, false, err
	}
	return c, res.RowsAffected > 0, nil
}

// CommandQuery pages a satellite's command history, newest first.
type CommandQuery struct {
	SatelliteID string
	// Status, when not empty, lists only commands in this state.
	Status api.CommandStatus
	// Before is a command id: only older commands are listed.
	Before string
	Limit  int
}

// CommandHistory lists commands as q asks.
func (s *Store) CommandHistory(ctx context.Context, q CommandQuery) ([]Command, error) {
	db := s.newestFirst(ctx, q.SatelliteID, q.Before, q.Limit, column{"status", string(q.Status)})
	var out []Command
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("command history of %s: %w", q.SatelliteID, err)
	}
	return out, nil
}

// ExpireCommands marks commands in one of the states from that are past their expiry as
// expired, and returns how many.
func (s *Store) ExpireCommands(ctx context.Context, from []api.CommandStatus) (int64, error) {
	now := s.Now()
	res := s.db.WithContext(ctx).Model(&Command{}).
		Where("status IN ? AND expires_at IS NOT NULL AND expires_at <= ?", from, now).
		Updates(map[string]any{"status": api.CommandExpired, "updated_at": now, "finished_at": now, "lease_expires_at": nil})
	if res.Error != nil {
		return 0, fmt.Errorf("expire commands: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ReleaseLapsedLeases returns delivered commands whose lease ran out unacknowledged to pending,
// so users see them waiting again (a poll re-delivers them either way). It returns how many it
// released and the satellites they belong to, whose held long-polls should look again.
func (s *Store) ReleaseLapsedLeases(ctx context.Context) (int64, []string, error) {
	now := s.Now()
	lapsed := func() *gorm.DB {
		return s.db.WithContext(ctx).Model(&Command{}).Where("status = ? AND lease_expires_at <= ?", cmdDelivered, now)
	}
	// Read the satellites first: a command re-delivered or released by another replica in
	// between costs at most one needless wake-up.
	var sats []string
	if err := lapsed().Distinct("satellite_id").Order("satellite_id").Pluck("satellite_id", &sats).Error; err != nil {
		return 0, nil, fmt.Errorf("find lapsed leases: %w", err)
	}
	if len(sats) == 0 {
		return 0, nil, nil
	}
	res := lapsed().Updates(map[string]any{"status": cmdPending, "updated_at": now})
	if res.Error != nil {
		return 0, nil, fmt.Errorf("release lapsed leases: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return 0, nil, nil
	}
	return res.RowsAffected, sats, nil
}
