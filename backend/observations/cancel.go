package observations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/store"
)

// Cancel cancels a team's observation before or during its pass. One that was dispatched is
// withdrawn from the queue if the station has not taken it yet, and observation.cancel is
// queued at immediate priority: the station forgets it, or stops a running pass and parks the
// rotator. Cancelling a cancelled observation queues observation.cancel again (a lost cancel
// can be repeated); a finished one is a Conflict.
func (s *Service) Cancel(ctx context.Context, teamID, id, by string) (*store.Observation, error) {
	o, err := s.st.TeamObservation(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	if o.State != store.ObsCancelled {
		live := []string{store.ObsScheduled, store.ObsDispatched, store.ObsPrepared, store.ObsRunning}
		if !slices.Contains(live, o.State) {
			return nil, &Error{Kind: Conflict, Rule: RuleState, Field: "id",
				Message: fmt.Sprintf("observation %s is %s: only a scheduled, dispatched, prepared or running observation can be cancelled", o.ID, o.State)}
		}
		ok, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: live, To: store.ObsCancelled,
			Reason: "cancelled (was " + o.State + ")", Actor: by, Set: map[string]any{"claimed_until": nil}})
		if err != nil {
			return nil, err
		}
		if !ok {
			return s.Cancel(ctx, teamID, id, by) // it moved meanwhile: decide again on its new state
		}
		s.metrics.transitions.WithLabelValues(store.ObsCancelled).Inc()
	}
	if err := s.cancelOnStation(ctx, o); err != nil {
		return nil, err
	}
	return s.st.TeamObservation(ctx, teamID, id)
}

// cancelOnStation withdraws o's observation.schedule if the station has not acknowledged it,
// and queues observation.cancel when the station may have it (or a dispatch is under way).
func (s *Service) cancelOnStation(ctx context.Context, o *store.Observation) error {
	if o.CommandID != "" {
		_, err := s.cmds.Cancel(ctx, o.SatelliteID, o.CommandID)
		var ce *commands.Error
		if err != nil && !errors.As(err, &ce) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	claimed := o.ClaimedUntil != nil && o.ClaimedUntil.After(s.now())
	if o.CommandID == "" && !claimed {
		return nil // never sent, and no dispatch is sending it
	}
	raw, err := json.Marshal(api.ObservationCancelPayload{ObservationID: o.ID})
	if err != nil {
		return err
	}
	cmd, err := s.cmds.Create(ctx, commands.CreateInput{SatelliteID: o.SatelliteID, Type: api.CommandObservationCancel,
		Priority: api.PriorityImmediate, Payload: raw, CorrelationID: o.ID, CreatedBy: dispatcherName})
	if err != nil {
		return fmt.Errorf("queue observation.cancel for %s: %w", o.ID, err)
	}
	s.log.Info("observation cancelled", zap.String("observation_id", o.ID), zap.String("satellite_id", o.SatelliteID),
		zap.String("command_id", cmd.ID))
	return nil
}
