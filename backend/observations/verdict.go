package observations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Verdicts.
const (
	VerdictGood     = "good"
	VerdictDegraded = "degraded"
	VerdictFailed   = "failed"
)

// Verdict thresholds (decision 0090).
const (
	// GoodPointingDeg is the mean pointing error up to which tracking was good: the station's
	// default pointing threshold.
	GoodPointingDeg = api.DefaultPointingThresholdDeg
	// LostPointingDeg is the mean pointing error beyond which the antenna did not follow.
	LostPointingDeg = 10.0
	// PeakPointingDeg is the largest pointing error a good pass may show.
	PeakPointingDeg = 10.0
	// MinAcceptedShare is the share of pointing commands the rotator must accept for a good pass.
	MinAcceptedShare = 0.9
)

// passReport is what the station's summary of a pass (observation.completed's data, or
// observation.failed's partial) says; see satellite/tracker.Summary.
type passReport struct {
	TrackedTicks         int     `json:"tracked_ticks"`
	MaxPointingErrorDeg  float64 `json:"max_pointing_error_deg"`
	MeanPointingErrorDeg float64 `json:"mean_pointing_error_deg"`
	MaxDopplerErrorHz    float64 `json:"max_doppler_error_hz"`
	RotatorErrors        int     `json:"rotator_errors"`
	RadioErrors          int     `json:"radio_errors"`
	PointingCommands     int     `json:"pointing_commands"`
	PointingAccepted     int     `json:"pointing_accepted"`
	Retunes              int     `json:"retunes"`
	AfterLOSError        string  `json:"after_los_error"`
	ProcessError         string  `json:"process_error"`
}

// Judgement is a verdict with its reasons.
type Judgement struct {
	Verdict string
	Reasons []string
}

// judge computes the verdict of an observation ending in state to: failed when the station
// reported a failure or the antenna did not follow; degraded for partial tracking, device
// faults or a decoder in trouble; good otherwise. ev is the final report (nil: judge again
// from what is stored).
func judge(o *store.Observation, to string, ev *api.Event) Judgement {
	var failed, degraded []string
	if to == store.ObsFailed {
		why := "the station reported the pass failed"
		if ev != nil && ev.Message != "" {
			why = ev.Message
		}
		failed = append(failed, why)
	}
	var r passReport
	haveReport := o.Summary != nil && json.Unmarshal([]byte(*o.Summary), &r) == nil
	switch {
	case !haveReport && to == store.ObsCompleted:
		degraded = append(degraded, "the station sent no tracking summary")
	case haveReport:
		f, d := r.judge()
		failed, degraded = append(failed, f...), append(degraded, d...)
	}
	var problems []string
	if err := json.Unmarshal([]byte(o.DecoderProblems), &problems); err == nil {
		degraded = append(degraded, problems...)
	}
	switch {
	case len(failed) > 0:
		return Judgement{VerdictFailed, append(failed, degraded...)}
	case len(degraded) > 0:
		return Judgement{VerdictDegraded, degraded}
	}
	return Judgement{VerdictGood, []string{fmt.Sprintf("tracked the pass: mean pointing error %.2f°, largest %.2f°, %d of %d pointing commands accepted",
		r.MeanPointingErrorDeg, r.MaxPointingErrorDeg, r.PointingAccepted, r.PointingCommands)}}
}

// judge sorts what a summary shows into reasons for failed and for degraded.
func (r *passReport) judge() (failed, degraded []string) {
	switch {
	case r.TrackedTicks == 0:
		failed = append(failed, "the station tracked no part of the pass")
	case r.PointingCommands > 0 && r.PointingAccepted == 0:
		failed = append(failed, fmt.Sprintf("the rotator accepted none of %d pointing commands", r.PointingCommands))
	case r.MeanPointingErrorDeg > LostPointingDeg:
		failed = append(failed, fmt.Sprintf("mean pointing error %.1f° is above %.0f°: the antenna did not follow", r.MeanPointingErrorDeg, LostPointingDeg))
	case r.MeanPointingErrorDeg > GoodPointingDeg:
		degraded = append(degraded, fmt.Sprintf("mean pointing error %.1f° is above %.0f°", r.MeanPointingErrorDeg, GoodPointingDeg))
	}
	if r.MaxPointingErrorDeg > PeakPointingDeg {
		degraded = append(degraded, fmt.Sprintf("pointing error peaked at %.1f°", r.MaxPointingErrorDeg))
	}
	if r.PointingCommands > 0 && r.PointingAccepted > 0 && float64(r.PointingAccepted) < MinAcceptedShare*float64(r.PointingCommands) {
		degraded = append(degraded, fmt.Sprintf("the rotator accepted only %d of %d pointing commands", r.PointingAccepted, r.PointingCommands))
	}
	if r.RotatorErrors > 0 {
		degraded = append(degraded, fmt.Sprintf("%d rotator faults", r.RotatorErrors))
	}
	if r.RadioErrors > 0 {
		degraded = append(degraded, fmt.Sprintf("%d radio faults", r.RadioErrors))
	}
	if r.ProcessError != "" {
		degraded = append(degraded, "decoder did not start: "+r.ProcessError)
	}
	if r.AfterLOSError != "" {
		degraded = append(degraded, "after LOS: "+r.AfterLOSError)
	}
	return failed, degraded
}

// MaxOverrideNote bounds an override's note, in characters.
const MaxOverrideNote = 1000

// OverrideVerdict replaces the automatic verdict of a team's finished observation with a
// member's, with a note saying why. Only completed, failed and missed observations have a
// verdict to override.
func (s *Service) OverrideVerdict(ctx context.Context, teamID, id, verdict, note, by string) (*store.Observation, error) {
	switch {
	case verdict != VerdictGood && verdict != VerdictDegraded && verdict != VerdictFailed:
		return nil, invalid("verdict", "verdict must be %q, %q or %q", VerdictGood, VerdictDegraded, VerdictFailed)
	case strings.TrimSpace(note) == "":
		return nil, invalid("note", "note is required: say why the verdict is overridden")
	case !utf8.ValidString(note) || utf8.RuneCountInString(note) > MaxOverrideNote:
		return nil, invalid("note", "note must be UTF-8 text of at most %d characters", MaxOverrideNote)
	}
	o, err := s.st.TeamObservation(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	done := []string{store.ObsCompleted, store.ObsFailed, store.ObsMissed}
	ok, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: done, Note: true,
		Reason: fmt.Sprintf("verdict overridden: %s -> %s: %s", o.Verdict, verdict, note), Actor: by,
		Set: map[string]any{"verdict": verdict, "override_note": note, "override_by": by, "verdict_at": s.now()}})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &Error{Kind: Conflict, Rule: RuleState, Field: "verdict",
			Message: fmt.Sprintf("observation %s is %s: only a finished observation has a verdict to override", o.ID, o.State)}
	}
	return s.st.TeamObservation(ctx, teamID, id)
}
