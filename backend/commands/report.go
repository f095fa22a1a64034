package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Limits of a satellite's report on a command.
const (
	MaxResultBytes = 64 << 10
	MaxErrorBytes  = 4096
)

// Report is a satellite's report on one of its commands (api.CommandStatusUpdate).
type Report struct {
	// Status is acknowledged, running, succeeded or failed.
	Status api.CommandStatus
	// Result is the handler's output on success (any JSON value).
	Result json.RawMessage
	// Error says what went wrong, with failed.
	Error string
	// CorrelationID echoes the command's; it is checked, not stored.
	CorrelationID string
}

func (r *Report) validate() error {
	switch r.Status {
	case api.CommandAcknowledged, api.CommandRunning, api.CommandSucceeded, api.CommandFailed:
	default:
		return invalid("status", "status must be acknowledged, running, succeeded or failed")
	}
	if len(r.Result) > MaxResultBytes {
		return invalid("result", "result must be at most %d bytes of JSON", MaxResultBytes)
	}
	if len(r.Error) > MaxErrorBytes {
		return invalid("error", "error must be at most %d bytes", MaxErrorBytes)
	}
	if len(r.CorrelationID) > MaxCorrelationIDLen {
		return invalid("correlation_id", "correlation_id must be at most %d characters", MaxCorrelationIDLen)
	}
	return nil
}

// Report applies a satellite's report on its command id. Repeating the current state is a
// no-op (idempotent retries); a report from a terminal state, or backwards, is a Conflict. A
// report on a pending command is accepted: its lease lapsed, but the satellite did get it. A
// succeeded config.update makes the backend adopt the heartbeat interval the satellite applied.
// Another satellite's command, or an id that is none, is store.ErrNotFound.
func (s *Service) Report(ctx context.Context, satelliteID, id string, r Report) (*store.Command, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if !store.ValidID(id) {
		return nil, fmt.Errorf("command %q: %w", id, store.ErrNotFound)
	}
	cmd, err := s.move(ctx, satelliteID, id, r)
	if err != nil {
		return nil, err
	}
	if err := s.adoptConfig(ctx, cmd, r); err != nil {
		return nil, err
	}
	return cmd, nil
}

// move applies the transition, retrying when another report changed the command in between
// (the change is conditional on the state read, so two reports never both apply from one).
func (s *Service) move(ctx context.Context, satelliteID, id string, r Report) (*store.Command, error) {
	u := store.StatusUpdate{Status: r.Status, Error: r.Error}
	if len(r.Result) > 0 {
		res := string(r.Result)
		u.Result = &res
	}
	for range 3 {
		c, err := s.store.CommandOf(ctx, satelliteID, id)
		if err != nil {
			return nil, err
		}
		if c.Status == r.Status {
			return c, nil
		}
		if !api.ReportAllowed(c.Status, r.Status) {
			return nil, conflict("command is %s; it cannot become %s", c.Status, r.Status)
		}
		c, moved, err := s.store.MoveCommand(ctx, satelliteID, id, []api.CommandStatus{c.Status}, u)
		if err != nil || moved {
			return c, err
		}
	}
	return nil, fmt.Errorf("command %s: status changed concurrently: %w", id, store.ErrConflict)
}

// Bounds of a heartbeat interval the backend adopts from a config.update result, in seconds
// (the range api.ConfigUpdatePayload allows).
const (
	minHeartbeatSeconds = 5
	maxHeartbeatSeconds = 3600
)

// adoptConfig makes the backend follow a config.update the satellite applied: the heartbeat
// interval in its result becomes the one heartbeat answers hand out and the offline sweep
// uses. Otherwise the next heartbeat answer would undo the change.
func (s *Service) adoptConfig(ctx context.Context, cmd *store.Command, r Report) error {
	if cmd.Type != api.CommandConfigUpdate || r.Status != api.CommandSucceeded || len(r.Result) == 0 {
		return nil
	}
	var res api.ConfigUpdateResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		s.log.Warn("config.update result not understood", zap.String("command_id", cmd.ID), zap.Error(err))
		return nil
	}
	if res.HeartbeatSeconds < minHeartbeatSeconds || res.HeartbeatSeconds > maxHeartbeatSeconds {
		return nil
	}
	return s.store.SetHeartbeatInterval(ctx, cmd.SatelliteID, res.HeartbeatSeconds)
}

// unfinished are the states a user may cancel, and expiry may end: the satellite has not
// acknowledged the command yet. An acknowledged command is the satellite's to finish: ending
// it here would turn its later reports into conflicts.
var unfinished = []api.CommandStatus{api.CommandPending, api.CommandDelivered}

// Cancel cancels a pending or delivered command of a satellite; a later state is a Conflict.
func (s *Service) Cancel(ctx context.Context, satelliteID, id string) (*store.Command, error) {
	if !store.ValidID(id) {
		return nil, fmt.Errorf("command %q: %w", id, store.ErrNotFound)
	}
	c, moved, err := s.store.MoveCommand(ctx, satelliteID, id, unfinished, store.StatusUpdate{Status: api.CommandCancelled})
	if err != nil {
		return nil, err
	}
	if !moved {
		return nil, conflict("command is %s; only pending or delivered commands can be cancelled", c.Status)
	}
	return c, nil
}

// Expire marks every command past its expiry that no satellite acknowledged as expired, and
// returns how many.
func (s *Service) Expire(ctx context.Context) (int64, error) {
	return s.store.ExpireCommands(ctx, unfinished)
}

// MaxHistoryLimit is the most commands one History call lists.
const MaxHistoryLimit = 500

// HistoryQuery pages a satellite's commands, newest first.
type HistoryQuery struct {
	SatelliteID string
	// Status, when set, lists only commands in that state.
	Status api.CommandStatus
	// Before is a command id: only older commands are listed.
	Before string
	// Limit is 1 to MaxHistoryLimit.
	Limit int
}

// History lists a satellite's commands as q asks.
func (s *Service) History(ctx context.Context, q HistoryQuery) ([]store.Command, error) {
	if q.Status != "" && !q.Status.Known() {
		return nil, invalid("status", "status must be a command state")
	}
	if q.Limit < 1 || q.Limit > MaxHistoryLimit {
		return nil, invalid("limit", "limit must be an integer from 1 to %d", MaxHistoryLimit)
	}
	if q.Before != "" && !store.ValidID(q.Before) {
		return nil, invalid("before", "before must be an id")
	}
	return s.store.CommandHistory(ctx, store.CommandQuery{SatelliteID: q.SatelliteID, Status: q.Status,
		Before: q.Before, Limit: q.Limit})
}
