package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/talos-gs/talos/backend/api"
)

// typedPayload is a built-in command's payload type from backend/api.
type typedPayload interface{ Validate() error }

// payloadSpec says how to check one built-in command's payload.
type payloadSpec struct {
	new func() typedPayload
	// optional: the payload may be left out (maintenance.enter/exit, and the commands that take
	// no parameters, take an optional reason).
	optional bool
}

// payloadSpecs check the payload of every built-in command, so a bad payload is refused at
// queueing with the field named instead of failing at the station.
var payloadSpecs = map[string]payloadSpec{
	api.CommandObservationSchedule: {new: func() typedPayload { return &api.ObservationSchedulePayload{} }},
	api.CommandObservationCancel:   {new: func() typedPayload { return &api.ObservationCancelPayload{} }},
	api.CommandProcessStart:        {new: func() typedPayload { return &api.ProcessStartPayload{} }},
	api.CommandProcessStop:         {new: func() typedPayload { return &api.ProcessStopPayload{} }},
	api.CommandProcessRestart:      {new: func() typedPayload { return &api.ProcessRestartPayload{} }},
	api.CommandConfigUpdate:        {new: func() typedPayload { return &api.ConfigUpdatePayload{} }},
	api.CommandRunnerUpdate:        {new: func() typedPayload { return &api.RunnerUpdatePayload{} }},
	api.CommandMaintenanceEnter:    {new: func() typedPayload { return &api.MaintenancePayload{} }, optional: true},
	api.CommandMaintenanceExit:     {new: func() typedPayload { return &api.MaintenancePayload{} }, optional: true},
	// The commands without parameters: at most a reason for the history (the shape of
	// MaintenancePayload), so "str" or [1,2] is refused rather than stored.
	api.CommandPing:               {new: reasonOnly, optional: true},
	api.CommandDiagnosticsCollect: {new: reasonOnly, optional: true},
	api.CommandRotatorPark:        {new: reasonOnly, optional: true},
	api.CommandProcessList:        {new: reasonOnly, optional: true},
}

func reasonOnly() typedPayload { return &api.MaintenancePayload{} }

func absentPayload(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// checkPayload decodes a command's payload strictly, binds the team of a process to the
// satellite's team (teamID, nil: none) and validates it. It returns the payload to store: for a
// built-in type, the checked value re-encoded, so the station runs exactly what was checked;
// for another type (one a station's plugins may know), the JSON object as given; nil when there
// is none.
func checkPayload(typ string, raw json.RawMessage, teamID *string) (json.RawMessage, error) {
	spec, typed := payloadSpecs[typ]
	if absentPayload(raw) {
		if typed && !spec.optional {
			return nil, invalid("payload", "%s needs a payload", typ)
		}
		return nil, bindTeam(typ, nil, teamID)
	}
	if !typed {
		return otherPayload(raw)
	}
	p := spec.new()
	if err := api.DecodeStrict(bytes.NewReader(raw), p); err != nil {
		return nil, payloadDecodeError(err)
	}
	if err := bindTeam(typ, p, teamID); err != nil {
		return nil, err
	}
	if err := validateTyped(p); err != nil {
		return nil, err
	}
	return encodePayload(p)
}

// otherPayload accepts the payload of a type Talos does not know if it is one JSON object:
// the protocol's payloads are objects, so a station never has to guess what a bare string
// or array means.
func otherPayload(raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := api.DecodeStrict(bytes.NewReader(raw), &obj); err != nil {
		return nil, invalid("payload", "payload must be a JSON object")
	}
	return raw, nil
}

// payloadDecodeError names the field a strict decode tripped over, under "payload".
func payloadDecodeError(err error) error {
	var (
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
	)
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		field := prefixField("payload", typeErr.Field)
		return invalid(field, "payload: %s must be %s, not %s", typeErr.Field, typeName(typeErr), typeErr.Value)
	case errors.As(err, &typeErr):
		return invalid("payload", "payload must be a JSON object, not %s", typeErr.Value)
	case errors.Is(err, api.ErrTrailingData), errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("payload", "payload must be a single JSON object")
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field = strings.Trim(field, `"`)
		return invalid(prefixField("payload", field), "payload: unknown field %q", field)
	}
	return invalid("payload", "payload: %v", err)
}

func typeName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	return "a " + e.Type.String()
}

// bindTeam enforces that a station runs processes only for the team that owns it: a
// process.start (or the process of an observation.schedule) runs as the system user and in the
// directory of its team_id, so a caller-chosen team would let a member of one team read
// another's files on a shared or moved station. An absent team_id becomes the satellite's team;
// another team is refused; a satellite in no team runs no team processes.
func bindTeam(typ string, p typedPayload, teamID *string) error {
	switch v := p.(type) {
	case *api.ProcessStartPayload:
		return bindProcessTeam(&v.TeamID, "payload.team_id", teamID)
	case *api.ObservationSchedulePayload:
		if v.Process != nil {
			return bindProcessTeam(&v.Process.TeamID, "payload.process.team_id", teamID)
		}
	}
	if typ == api.CommandProcessRestart && teamID == nil {
		return errNoTeam("type")
	}
	return nil
}

func bindProcessTeam(id *string, field string, teamID *string) error {
	switch {
	case teamID == nil:
		return errNoTeam(field)
	case *id == "":
		*id = *teamID
	case *id != *teamID:
		return invalid(field, "%s must be the satellite's team %s (or left out): a station runs processes only for its own team", field, *teamID)
	}
	return nil
}

func errNoTeam(field string) *Error {
	return invalid(field, "the satellite belongs to no team, so it cannot run team processes: assign it to a team first")
}

// validateTyped runs p's Validate and names the bad field under "payload.". The process of an
// observation is checked on its own first, so its errors name the field inside it.
func validateTyped(p typedPayload) error {
	if o, ok := p.(*api.ObservationSchedulePayload); ok && o.Process != nil {
		if err := fieldError("payload.process", o.Process.Validate()); err != nil {
			return err
		}
	}
	return fieldError("payload", p.Validate())
}

func fieldError(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var (
		oe *api.ObservationFieldError
		pe *api.ProcessPayloadError
		re *api.RunnerPayloadError
	)
	field, msg := "", err.Error()
	switch {
	case errors.As(err, &oe):
		field, msg = oe.Field, oe.Message
	case errors.As(err, &pe):
		field, msg = pe.Field, pe.Message
	case errors.As(err, &re):
		field, msg = re.Field, re.Message
	}
	field = prefixField(prefix, field)
	return invalid(field, "%s: %s", field, msg)
}

// encodePayload re-encodes a checked payload (without HTML escaping, which would only bloat it).
func encodePayload(p typedPayload) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode checked payload: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func prefixField(prefix, field string) string {
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}
