package store

import (
	"context"
	"fmt"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// CommandFanout is the parent of a command sent to every satellite a tag query selected: one
// child Command per satellite (Command.ParentID), each with its own lifecycle.
type CommandFanout struct {
	ID     string `gorm:"primaryKey"`
	TeamID string
	// Target is the tag query as the user wrote it.
	Target        string
	Type          string
	Priority      api.Priority
	Payload       *string
	CorrelationID string
	CreatedBy     string
	CreatedAt     time.Time
	// CancelledAt is when a user cancelled the fan-out (its unfinished children with it).
	CancelledAt *time.Time
}

// TableName is the fan-outs' table.
func (CommandFanout) TableName() string { return "command_fanouts" }

// CreateFanout stores f and queues its children, all in one transaction: either every matching
// satellite gets its command or none does. The caller filled f (but its id and time) and the
// children as for CreateCommand.
func (s *Store) CreateFanout(ctx context.Context, f *CommandFanout, children []*Command) error {
	if f.Priority.Rank() < 0 {
		return fmt.Errorf("fan out %s: priority %q: %w", f.Type, f.Priority, ErrUnknownPriority)
	}
	err := s.Tx(ctx, func(tx *Store) error {
		f.ID, f.CreatedAt = NewID(), tx.Now()
		if err := tx.db.WithContext(ctx).Create(f).Error; err != nil {
			return translate(err)
		}
		for _, c := range children {
			c.ParentID = &f.ID
			if err := tx.CreateCommand(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fan out %s to %d satellites: %w", f.Type, len(children), err)
	}
	return nil
}

// TeamFanout returns a fan-out of teamID; another team's is ErrNotFound.
func (s *Store) TeamFanout(ctx context.Context, teamID, id string) (*CommandFanout, error) {
	var f CommandFanout
	if err := translate(s.db.WithContext(ctx).Take(&f, "id = ? AND team_id = ?", id, teamID).Error); err != nil {
		return nil, fmt.Errorf("fan-out %s: %w", id, err)
	}
	return &f, nil
}

// FanoutChildren lists a fan-out's commands, oldest first.
func (s *Store) FanoutChildren(ctx context.Context, parentID string) ([]Command, error) {
	var out []Command
	if err := s.db.WithContext(ctx).Where("parent_id = ?", parentID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("commands of fan-out %s: %w", parentID, err)
	}
	return out, nil
}

// CancelFanout marks a fan-out of teamID cancelled and cancels its children whose state is one
// of from, in one transaction; it returns how many children it cancelled. Each child's change
// is the conditional UPDATE MoveCommand makes, so a child a satellite acknowledged meanwhile
// is left to finish.
func (s *Store) CancelFanout(ctx context.Context, teamID, id string, from []api.CommandStatus) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		res := tx.db.WithContext(ctx).Model(&CommandFanout{}).Where("id = ? AND team_id = ?", id, teamID).
			Where("cancelled_at IS NULL").Update("cancelled_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			if _, err := tx.TeamFanout(ctx, teamID, id); err != nil {
				return err
			}
		}
		res = tx.db.WithContext(ctx).Model(&Command{}).Where("parent_id = ? AND status IN ?", id, from).
			Updates(map[string]any{"status": api.CommandCancelled, "updated_at": now, "finished_at": now,
				"lease_expires_at": nil, "error": "cancelled with its fan-out"})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("cancel fan-out %s: %w", id, err)
	}
	return n, nil
}

// CancelQueued cancels a satellite's commands whose state is one of from, except those of the
// types in keep, recording reason as their error; it returns how many it cancelled.
func (s *Store) CancelQueued(ctx context.Context, satelliteID string, from []api.CommandStatus, keep []string, reason string) (int64, error) {
	now := s.Now()
	q := s.db.WithContext(ctx).Model(&Command{}).Where("satellite_id = ? AND status IN ?", satelliteID, from)
	if len(keep) > 0 {
		q = q.Where("type NOT IN ?", keep)
	}
	res := q.Updates(map[string]any{"status": api.CommandCancelled, "updated_at": now, "finished_at": now,
		"lease_expires_at": nil, "error": reason})
	if res.Error != nil {
		return 0, fmt.Errorf("cancel queued commands of %s: %w", satelliteID, res.Error)
	}
	return res.RowsAffected, nil
}

// CommandsInState lists a satellite's commands of the given types whose state is one of in,
// oldest first.
func (s *Store) CommandsInState(ctx context.Context, satelliteID string, types []string, in []api.CommandStatus) ([]Command, error) {
	var out []Command
	err := s.db.WithContext(ctx).Where("satellite_id = ? AND type IN ? AND status IN ?", satelliteID, types, in).
		Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("commands of %s: %w", satelliteID, err)
	}
	return out, nil
}
