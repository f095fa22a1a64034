package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Limits of a command as it is queued.
const (
	MaxPayloadBytes       = 64 << 10
	MaxCorrelationIDLen   = 200
	MaxTypeLen            = 64
	MaxExpiresInSeconds   = 30 * 24 * 3600
	defaultCreatePriority = api.PriorityNormal
)

var typeRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// CreateInput is a command to queue.
type CreateInput struct {
	// SatelliteID is the satellite to run it; its team (read at queueing) binds processes.
	SatelliteID string
	// Type is dotted lower-case words, e.g. api.CommandRotatorPark.
	Type string
	// Priority orders the queue; empty means normal.
	Priority api.Priority
	// Payload is the type's JSON body; nil or null when it takes none.
	Payload json.RawMessage
	// ExpiresInSeconds: an undelivered or unacknowledged command expires this many seconds
	// after queueing; 0: never. At most MaxExpiresInSeconds.
	ExpiresInSeconds int
	// CorrelationID is an opaque value of the creator's, echoed in the satellite's events.
	CorrelationID string
	// CreatedBy names the creator (a user id, a token, "planner") for the history.
	CreatedBy string
}

// validate checks the fields that do not need the satellite and fills the default priority.
func (in *CreateInput) validate() error {
	if len(in.Type) == 0 || len(in.Type) > MaxTypeLen || !typeRe.MatchString(in.Type) {
		return invalid("type", "type must be dotted lower-case words of at most %d characters, e.g. \"rotator.park\"", MaxTypeLen)
	}
	if in.Priority == "" {
		in.Priority = defaultCreatePriority
	}
	if in.Priority.Rank() < 0 {
		return invalid("priority", "priority must be immediate, high, normal or low")
	}
	if len(in.Payload) > MaxPayloadBytes {
		return invalid("payload", "payload must be at most %d bytes of JSON", MaxPayloadBytes)
	}
	if in.ExpiresInSeconds < 0 || in.ExpiresInSeconds > MaxExpiresInSeconds {
		return invalid("expires_in_seconds", "expires_in_seconds must be 0 (never) to %d", MaxExpiresInSeconds)
	}
	return validCorrelationID(in.CorrelationID)
}

func validCorrelationID(id string) error {
	switch {
	case !utf8.ValidString(id):
		return invalid("correlation_id", "correlation_id must be UTF-8 text")
	case utf8.RuneCountInString(strings.TrimSpace(id)) > MaxCorrelationIDLen:
		return invalid("correlation_id", "correlation_id must be at most %d characters", MaxCorrelationIDLen)
	case strings.ContainsFunc(id, unicode.IsControl):
		return invalid("correlation_id", "correlation_id must not contain control characters")
	}
	return nil
}

// Create queues a command for a satellite after checking it: its type and priority, its payload
// strictly against the type's, and any process it starts bound to the satellite's team. It
// wakes the satellite's long-polls. An unknown satellite is store.ErrNotFound.
func (s *Service) Create(ctx context.Context, in CreateInput) (*store.Command, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	sat, err := s.store.SatelliteByID(ctx, in.SatelliteID)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", in.Type, err)
	}
	cmd, err := s.commandFor(&in, sat)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateCommand(ctx, cmd); err != nil {
		return nil, err
	}
	s.Wake(ctx, sat.ID)
	return cmd, nil
}

// commandFor builds the command in (validated) asks of sat: its payload checked against the
// type and bound to sat's team, refused while sat is paused unless the type is one a paused
// satellite takes. Create and FanOut both build their commands here.
func (s *Service) commandFor(in *CreateInput, sat *store.Satellite) (*store.Command, error) {
	if sat.Paused(s.store.Now()) && !AllowedWhilePaused(in.Type) {
		return nil, &Error{Kind: Conflict, Field: "type", Message: fmt.Sprintf(
			"the satellite is paused (%s); while paused it takes only %s", sat.PauseNote, strings.Join(PausedTypes, ", "))}
	}
	payload, err := checkPayload(in.Type, in.Payload, sat.TeamID)
	if err != nil {
		return nil, err
	}
	cmd := &store.Command{SatelliteID: sat.ID, Type: in.Type, Priority: in.Priority,
		CorrelationID: in.CorrelationID, CreatedBy: in.CreatedBy}
	if sat.TeamID != nil {
		cmd.TeamID = *sat.TeamID
	}
	if payload != nil {
		p := string(payload)
		cmd.Payload = &p
	}
	if in.ExpiresInSeconds > 0 {
		at := s.store.Now().Add(time.Duration(in.ExpiresInSeconds) * time.Second)
		cmd.ExpiresAt = &at
	}
	return cmd, nil
}
