package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/command"
)

// ErrOverlap is wrapped by the error refusing an observation whose window overlaps another's.
var ErrOverlap = errors.New("overlaps another observation")

// Handlers serves observation.schedule, observation.cancel and rotator.park.
func (s *Scheduler) Handlers() command.Handlers {
	return command.Handlers{
		api.CommandObservationSchedule: s.handleSchedule,
		api.CommandObservationCancel:   s.handleCancel,
		api.CommandRotatorPark:         s.handlePark,
	}
}

func (s *Scheduler) handleSchedule(_ context.Context, cmd api.Command) (json.RawMessage, error) {
	var p api.ObservationSchedulePayload
	if err := command.DecodePayload(cmd, &p); err != nil {
		return nil, err
	}
	res, err := s.Schedule(Record{Payload: p, CommandID: cmd.ID, CorrelationID: cmd.CorrelationID})
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// Schedule validates and stores an observation. It is refused when its window has ended, when
// it overlaps another stored observation (the error names it), or when an observation with the
// same id is running; a stored, not yet running one with the same id is replaced.
func (s *Scheduler) Schedule(rec Record) (api.ObservationScheduleResult, error) {
	p := rec.Payload
	if err := p.Validate(); err != nil {
		return api.ObservationScheduleResult{}, err
	}
	if _, err := s.targets(p); err != nil {
		return api.ObservationScheduleResult{}, err
	}
	if p.Process != nil && s.procs == nil {
		return api.ObservationScheduleResult{}, &api.ObservationFieldError{Field: "process", Message: "this station runs no decoder processes"}
	}
	if p.Process != nil {
		if err := s.procs.Check(*p.Process); err != nil {
			return api.ObservationScheduleResult{}, &api.ObservationFieldError{Field: "process", Message: err.Error()}
		}
	}
	if !s.clk.Now().Before(p.LOS) {
		return api.ObservationScheduleResult{}, &api.ObservationFieldError{Field: "los",
			Message: fmt.Sprintf("%s has passed (station time %s)", p.LOS.Format(time.RFC3339), s.clk.Now().UTC().Format(time.RFC3339))}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	replaced, err := s.checkConflicts(p)
	if err != nil {
		return api.ObservationScheduleResult{}, err
	}
	rec.State, rec.StoredAt = Scheduled, s.clk.Now().UTC()
	if err := s.store.Put(rec); err != nil {
		return api.ObservationScheduleResult{}, err
	}
	s.poke()
	return api.ObservationScheduleResult{ObservationID: p.ObservationID, Replaced: replaced}, nil
}

// checkConflicts refuses p if it overlaps a stored observation or replaces a running one. It
// reports whether p replaces a stored observation. Called with s.mu held.
func (s *Scheduler) checkConflicts(p api.ObservationSchedulePayload) (bool, error) {
	if s.running != nil && s.running.id == p.ObservationID {
		return false, fmt.Errorf("observation %s is running: cancel it before scheduling it again", p.ObservationID)
	}
	all, err := s.store.All()
	if err != nil {
		return false, err
	}
	replaced := false
	for _, o := range all {
		if o.ID() == p.ObservationID {
			replaced = true
			continue
		}
		if p.AOS.Before(o.Payload.LOS) && o.Payload.AOS.Before(p.LOS) {
			return false, fmt.Errorf("observation %s (%s to %s) %w: %s (NORAD %d, %s to %s)", p.ObservationID,
				p.AOS.UTC().Format(time.RFC3339), p.LOS.UTC().Format(time.RFC3339), ErrOverlap, o.ID(), o.Payload.NoradID,
				o.Payload.AOS.UTC().Format(time.RFC3339), o.Payload.LOS.UTC().Format(time.RFC3339))
		}
	}
	return replaced, nil
}

func (s *Scheduler) handleCancel(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
	var p api.ObservationCancelPayload
	if err := command.DecodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	res, err := s.Cancel(ctx, p.ObservationID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// Cancel forgets an observation; a running one is stopped first (its rotator parked as its
// settings say) and reported as observation.failed with reason "cancelled".
func (s *Scheduler) Cancel(ctx context.Context, id string) (api.ObservationCancelResult, error) {
	s.mu.Lock()
	act := s.running
	if act != nil && act.id == id {
		act.cancel(errCancelled)
	}
	s.mu.Unlock()
	res := api.ObservationCancelResult{ObservationID: id}
	if act != nil && act.id == id {
		res.WasRunning = true
		select {
		case <-act.done:
		case <-ctx.Done():
			return res, fmt.Errorf("cancel observation %s: waiting for it to stop: %w", id, ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok, err := s.store.Get(id)
	if err != nil {
		return res, err
	}
	if !ok && !res.WasRunning {
		return res, fmt.Errorf("cancel observation %s: %w", id, errNotFound)
	}
	if err := s.store.Delete(id); err != nil {
		return res, err
	}
	s.poke()
	return res, nil
}

func (s *Scheduler) handlePark(ctx context.Context, _ api.Command) (json.RawMessage, error) {
	s.mu.Lock()
	act := s.running
	s.mu.Unlock()
	if act != nil {
		return nil, fmt.Errorf("rotator.park: observation %s is running: cancel it first (it parks after cancellation)", act.id)
	}
	if err := s.rot.Park(ctx); err != nil {
		return nil, fmt.Errorf("rotator.park: %w", err)
	}
	return nil, nil
}
