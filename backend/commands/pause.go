package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// PausedTypes are the command types a paused satellite still takes (and is handed): the ones
// that only read its state or stop or park what it does. Everything that starts work
// (observation.schedule, process.start, process.restart) or changes the station
// (config.update, maintenance.enter/exit) waits for the resume: a pause is an operator's
// promise that nothing new happens at the antenna (docs/decisions/0102-pausing-stations.md).
var PausedTypes = []string{
	api.CommandPing, api.CommandDiagnosticsCollect, api.CommandProcessList,
	api.CommandObservationCancel, api.CommandProcessStop, api.CommandRotatorPark,
}

// AllowedWhilePaused reports whether a paused satellite takes commands of type typ.
func AllowedWhilePaused(typ string) bool { return slices.Contains(PausedTypes, typ) }

// Limits of a pause.
const (
	// MaxPauseNoteLen is the longest pause note, in characters.
	MaxPauseNoteLen = 500
	// MaxPause is the furthest a pause's end may lie ahead.
	MaxPause = 366 * 24 * time.Hour
)

// PauseInput pauses a satellite.
type PauseInput struct {
	TeamID, SatelliteID string
	// Note says why (required): everyone who sees the station reads it.
	Note string
	// Until ends the pause by itself; nil: until resumed.
	Until *time.Time
	// Running is store.PauseFinish (default) or store.PauseCancel.
	Running string
	// By names who paused it.
	By string
}

func (in *PauseInput) validate(now time.Time) error {
	in.Note = strings.TrimSpace(in.Note)
	switch {
	case in.Note == "":
		return invalid("note", "note is required: say why the station is paused")
	case !utf8.ValidString(in.Note) || utf8.RuneCountInString(in.Note) > MaxPauseNoteLen:
		return invalid("note", "note must be UTF-8 text of at most %d characters", MaxPauseNoteLen)
	case strings.ContainsFunc(in.Note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
		return invalid("note", "note must not contain control characters")
	case in.Until != nil && !in.Until.After(now):
		return invalid("until", "until must be in the future")
	case in.Until != nil && in.Until.Sub(now) > MaxPause:
		return invalid("until", "until must be at most %d days ahead", int(MaxPause/(24*time.Hour)))
	}
	switch in.Running {
	case "":
		in.Running = store.PauseFinish
	case store.PauseFinish, store.PauseCancel:
	default:
		return invalid("running", "running must be finish or cancel")
	}
	return nil
}

// PauseResult is a paused satellite and what the pause did to its work.
type PauseResult struct {
	Satellite *store.Satellite
	// Cancelled counts the queued commands cancelled (running "cancel").
	Cancelled int64
	// Stops are the observation.cancel commands queued for observations not over yet
	// (running "cancel").
	Stops []store.Command
}

// Pause pauses a satellite of in.TeamID: from now on it is handed, and may be sent, only
// PausedTypes, until Resume or in.Until. With running "finish" its queued commands wait and
// what it holds or runs finishes; with "cancel" the queued commands of other types are
// cancelled and every observation it was given that is not over yet is cancelled on the
// station (an observation.cancel at immediate priority). It wakes the satellite's long-polls.
func (s *Service) Pause(ctx context.Context, in PauseInput) (*PauseResult, error) {
	if err := in.validate(s.store.Now()); err != nil {
		return nil, err
	}
	sat, err := s.store.PauseSatellite(ctx, in.TeamID, in.SatelliteID, store.Pause{PausedUntil: in.Until,
		PauseNote: in.Note, PausedBy: in.By, PauseRunning: in.Running})
	if err != nil {
		return nil, err
	}
	out := &PauseResult{Satellite: sat}
	if in.Running == store.PauseCancel {
		if err := s.cancelForPause(ctx, sat, in.By, out); err != nil {
			return nil, err
		}
	}
	s.Wake(ctx, sat.ID)
	return out, nil
}

// cancelForPause cancels a pausing satellite's queued work and stops its observations.
func (s *Service) cancelForPause(ctx context.Context, sat *store.Satellite, by string, out *PauseResult) error {
	reason := "cancelled: the station was paused (" + sat.PauseNote + ")"
	var err error
	if out.Cancelled, err = s.store.CancelQueued(ctx, sat.ID, unfinished, PausedTypes, reason); err != nil {
		return err
	}
	// Observations the station holds: their schedule commands were acknowledged, are running
	// or succeeded (stored on the station). Those whose pass is not over are cancelled there.
	held := []api.CommandStatus{api.CommandAcknowledged, api.CommandRunning, api.CommandSucceeded}
	obs, err := s.store.CommandsInState(ctx, sat.ID, []string{api.CommandObservationSchedule}, held)
	if err != nil {
		return err
	}
	now := s.store.Now()
	for i := range obs {
		var p api.ObservationSchedulePayload
		if obs[i].Payload == nil || json.Unmarshal([]byte(*obs[i].Payload), &p) != nil || !p.LOS.After(now) {
			continue
		}
		stop, err := s.stopObservation(ctx, sat, p.ObservationID, by)
		if err != nil {
			return err
		}
		out.Stops = append(out.Stops, *stop)
	}
	return nil
}

func (s *Service) stopObservation(ctx context.Context, sat *store.Satellite, observationID, by string) (*store.Command, error) {
	payload, err := json.Marshal(api.ObservationCancelPayload{ObservationID: observationID})
	if err != nil {
		return nil, err
	}
	in := CreateInput{Type: api.CommandObservationCancel, Priority: api.PriorityImmediate, Payload: payload,
		CorrelationID: "pause", CreatedBy: by}
	cmd, err := s.commandFor(&in, sat)
	if err != nil {
		return nil, fmt.Errorf("cancel observation %s for the pause: %w", observationID, err)
	}
	if err := s.store.CreateCommand(ctx, cmd); err != nil {
		return nil, err
	}
	s.log.Info("pause: observation cancelled on the station", zap.String("satellite_id", sat.ID),
		zap.String("command_id", cmd.ID))
	return cmd, nil
}

// Resume ends a satellite's pause; its queued commands are handed out again from the next poll
// (its long-polls are woken). wasPaused is false when no pause was in force.
func (s *Service) Resume(ctx context.Context, teamID, satelliteID string) (sat *store.Satellite, wasPaused bool, err error) {
	sat, wasPaused, err = s.store.ResumeSatellite(ctx, teamID, satelliteID)
	if err != nil {
		return nil, false, err
	}
	s.Wake(ctx, sat.ID)
	return sat, wasPaused, nil
}
