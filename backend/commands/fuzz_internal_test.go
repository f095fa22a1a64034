package commands

import (
	"bytes"
	"errors"
	"testing"

	"github.com/talos-gs/talos/backend/api"
)

// FuzzCheckPayload: whatever the payload of a built-in command, checking it answers a 400
// naming a field under "payload" (or "type") or a payload that decodes strictly into its type,
// validates, and carries the satellite's team wherever a process is named.
func FuzzCheckPayload(f *testing.F) {
	seeds := []struct{ typ, raw string }{
		{api.CommandProcessStart, `{"name":"d","program":"true"}`},
		{api.CommandProcessStart, `{"name":"d","team_id":"other","program":"true"}`},
		{api.CommandProcessStart, `{"name":"d","team_id":"team-1","team_id":"other","program":"x"}`},
		{api.CommandProcessRestart, `{"name":"d"}`},
		{api.CommandConfigUpdate, `{"heartbeat_seconds":30}`},
		{api.CommandConfigUpdate, `{}`},
		{api.CommandMaintenanceEnter, `null`},
		{api.CommandMaintenanceExit, `{"reason":"<b>"}`},
		{api.CommandObservationSchedule, `{"observation_id":"o","process":{"name":"d","program":"x"}}`},
		{"rotator.park", `[1,2]`},
	}
	for _, s := range seeds {
		f.Add(s.typ, []byte(s.raw), true)
		f.Add(s.typ, []byte(s.raw), false)
	}
	f.Fuzz(func(t *testing.T, typ string, raw []byte, inTeam bool) {
		var team *string
		if inTeam {
			id := "team-1"
			team = &id
		}
		out, err := checkPayload(typ, raw, team)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != Invalid || e.Field == "" {
				t.Fatalf("%s %q: not a 400 naming a field: %v", typ, raw, err)
			}
			return
		}
		spec, typed := payloadSpecs[typ]
		if !typed || out == nil {
			return
		}
		p := spec.new()
		if err := api.DecodeStrict(bytes.NewReader(out), p); err != nil {
			t.Fatalf("%s: stored payload %s does not decode: %v", typ, out, err)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: stored payload %s does not validate: %v", typ, out, err)
		}
		var proc *api.ProcessStartPayload
		switch v := p.(type) {
		case *api.ProcessStartPayload:
			proc = v
		case *api.ObservationSchedulePayload:
			proc = v.Process
		}
		if proc != nil && (team == nil || proc.TeamID != *team) {
			t.Fatalf("%s: a process for team %q was accepted on a satellite of team %v", typ, proc.TeamID, team)
		}
	})
}

// FuzzReportValidate: whatever a satellite's status body, decoding and validating it accepts
// only the four states a satellite may report, and refuses anything else with an Invalid error
// naming a field.
func FuzzReportValidate(f *testing.F) {
	for _, s := range []string{`{"status":"acknowledged"}`, `{"status":"succeeded","result":{"pong":true}}`,
		`{"status":"failed","error":"boom","correlation_id":"c"}`, `{"status":"pending"}`, `{"result":[1,2]}`, `{"status":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var u api.CommandStatusUpdate
		if api.DecodeStrict(bytes.NewReader(body), &u) != nil {
			return
		}
		r := Report(u)
		err := r.validate()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != Invalid || e.Field == "" {
				t.Fatalf("%q: not an Invalid error naming a field: %v", body, err)
			}
			return
		}
		switch r.Status {
		case api.CommandAcknowledged, api.CommandRunning, api.CommandSucceeded, api.CommandFailed:
		default:
			t.Fatalf("accepted status %q", r.Status)
		}
	})
}
