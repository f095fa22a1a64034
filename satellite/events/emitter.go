// Package events is how every part of talos-satellite reports what happened: it builds
// api.Event values and hands them to an Emitter (in the runner, the durable outbox).
package events

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/talos-gs/talos/backend/api"
)

// Emitter accepts events for delivery to the backend. Emit never blocks for long and never
// fails the caller: the outbox logs and counts what it cannot keep.
type Emitter interface {
	Emit(ev api.Event)
}

// New builds an event with a fresh UUID and the given time. data is marshalled to JSON; a value
// that cannot be marshalled is replaced by {"marshal_error": "..."} so nothing is silently lost.
func New(now time.Time, typ string, sev api.Severity, msg string, data any) api.Event {
	ev := api.Event{ID: uuid.NewString(), Type: typ, Severity: sev, Time: now.UTC(), Message: msg}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			raw, _ = json.Marshal(map[string]string{"marshal_error": err.Error()})
		}
		ev.Data = raw
	}
	return ev
}

// EmitterFunc adapts a function to the Emitter interface.
type EmitterFunc func(api.Event)

// Emit calls f(ev).
func (f EmitterFunc) Emit(ev api.Event) { f(ev) }
