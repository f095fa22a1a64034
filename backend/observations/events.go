package observations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// stationEventData is what the observation.* events carry that the lifecycle needs.
type stationEventData struct {
	ObservationID string `json:"observation_id"`
	Reason        string `json:"reason"`
	// Partial is the tracker's summary of a failed pass, if it got that far.
	Partial json.RawMessage `json:"partial"`
}

// cancelledReason is how the station reports an observation stopped by observation.cancel.
const cancelledReason = "cancelled"

// Ingest moves the station's observations along with its events (observation.prepared, aos,
// completed, failed; the decoder's process events): a report only ever moves an observation
// forward, so a batch sent twice changes nothing the second time. Events about observations
// the backend did not book, or of another station, are ignored. Call it after the batch is
// stored and before answering the station: an error makes the station send the batch again.
func (s *Service) Ingest(ctx context.Context, satelliteID string, events []api.Event) error {
	var errs []error
	for i := range events {
		errs = append(errs, s.ingest(ctx, satelliteID, &events[i]))
	}
	return errors.Join(errs...)
}

func (s *Service) ingest(ctx context.Context, satelliteID string, ev *api.Event) error {
	switch ev.Type {
	case api.EventProcessExited, api.EventProcessOOMKilled, api.EventProcessFailed:
		return s.decoderEvent(ctx, satelliteID, ev)
	case api.EventObservationPrepared, api.EventAOS, api.EventObservationCompleted, api.EventObservationFailed:
	default:
		return nil
	}
	var d stationEventData
	if len(ev.Data) == 0 || json.Unmarshal(ev.Data, &d) != nil || api.ValidateObservationID(d.ObservationID) != nil || !store.ValidID(d.ObservationID) {
		return nil // not one of ours: a hand-made observation.schedule may use any id
	}
	o, err := s.st.StationObservation(ctx, satelliteID, d.ObservationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch ev.Type {
	case api.EventObservationPrepared:
		return s.move(ctx, o, []string{store.ObsScheduled, store.ObsDispatched}, store.ObsPrepared, "the station prepared the pass", nil)
	case api.EventAOS:
		return s.move(ctx, o, []string{store.ObsScheduled, store.ObsDispatched, store.ObsPrepared}, store.ObsRunning, "AOS: tracking", nil)
	case api.EventObservationCompleted:
		return s.finish(ctx, o, store.ObsCompleted, ev, string(ev.Data))
	}
	if d.Reason == cancelledReason {
		return s.recordSummary(ctx, o, d.Partial) // the cancel already ended it
	}
	return s.finish(ctx, o, store.ObsFailed, ev, string(d.Partial))
}

// finishFrom are the states a final report may end: every live one, and missed (a station that
// ran the pass while the backend could not hear it reports late).
var finishFrom = []string{store.ObsScheduled, store.ObsDispatched, store.ObsPrepared, store.ObsRunning, store.ObsMissed}

// finish ends o with the station's final report and judges it.
func (s *Service) finish(ctx context.Context, o *store.Observation, to string, ev *api.Event, summary string) error {
	set := map[string]any{"claimed_until": nil}
	if summary != "" && summary != "null" {
		set["summary"] = summary
		o.Summary = &summary
	}
	v := judge(o, to, ev)
	if o.OverrideBy == "" {
		reasons, _ := json.Marshal(v.Reasons) // a []string always marshals
		set["verdict"], set["verdict_reasons"], set["verdict_at"] = v.Verdict, string(reasons), s.now()
	}
	reason := "the station reported " + ev.Type
	if ev.Message != "" {
		reason += ": " + ev.Message
	}
	ok, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: finishFrom, To: to, Reason: reason,
		Actor: "station", Set: set})
	if err != nil || !ok {
		return err
	}
	s.metrics.transitions.WithLabelValues(to).Inc()
	if o.OverrideBy == "" {
		s.metrics.verdicts.WithLabelValues(v.Verdict).Inc()
	}
	return nil
}

func (s *Service) move(ctx context.Context, o *store.Observation, from []string, to, reason string, set map[string]any) error {
	ok, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: from, To: to, Reason: reason, Actor: "station", Set: set})
	if err == nil && ok {
		s.metrics.transitions.WithLabelValues(to).Inc()
	}
	return err
}

// recordSummary ends an observation the station reports cancelled (by this service's cancel,
// or an observation.cancel queued by hand) and keeps what the pass did before it was stopped.
func (s *Service) recordSummary(ctx context.Context, o *store.Observation, partial json.RawMessage) error {
	set := map[string]any{"claimed_until": nil}
	if len(partial) > 0 && string(partial) != "null" {
		set["summary"] = string(partial)
	}
	live := []string{store.ObsScheduled, store.ObsDispatched, store.ObsPrepared, store.ObsRunning}
	if slices.Contains(live, o.State) {
		return s.move(ctx, o, live, store.ObsCancelled, "the station reported the observation cancelled", set)
	}
	_, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{store.ObsCancelled}, Set: set})
	return err
}

// decoderEvent records a decoder that exited in trouble (severity warning or worse: a crash, a
// failure, an OOM kill; a decoder stopped at LOS exits at info) and judges its observation
// again if it already has a verdict.
func (s *Service) decoderEvent(ctx context.Context, satelliteID string, ev *api.Event) error {
	if !store.ValidID(ev.CorrelationID) || (ev.Severity != api.SeverityWarning && ev.Severity != api.SeverityError && ev.Severity != api.SeverityCritical) {
		return nil
	}
	o, err := s.st.StationObservation(ctx, satelliteID, ev.CorrelationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var problems []string
	if err := json.Unmarshal([]byte(o.DecoderProblems), &problems); err != nil {
		problems = nil
	}
	problem := fmt.Sprintf("decoder %s: %s", strings.TrimPrefix(ev.Type, "process."), ev.Message)
	for _, p := range problems {
		if p == problem {
			return nil // the same report again
		}
	}
	problems = append(problems, problem)
	raw, _ := json.Marshal(problems) // a []string always marshals
	o.DecoderProblems = string(raw)
	set := map[string]any{"decoder_problems": o.DecoderProblems}
	if o.Verdict != "" && o.OverrideBy == "" && (o.State == store.ObsCompleted || o.State == store.ObsFailed) {
		v := judge(o, o.State, nil)
		reasons, _ := json.Marshal(v.Reasons) // a []string always marshals
		set["verdict"], set["verdict_reasons"] = v.Verdict, string(reasons)
	}
	_, err = s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{o.State}, Set: set})
	return err
}
