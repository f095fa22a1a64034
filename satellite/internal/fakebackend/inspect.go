package fakebackend

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/talos-gs/talos/backend/api"
)

// Queue adds a pending command for satellite id and wakes long-polls. It returns the command id.
func (b *Backend) Queue(satelliteID, typ string, prio api.Priority, payload any) string {
	raw, _ := json.Marshal(payload)
	if payload == nil {
		raw = nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sats[satelliteID]
	if s == nil {
		panic("fakebackend: Queue for unknown satellite " + satelliteID) // a test bug
	}
	c := &command{Command: api.Command{ID: uuid.NewString(), Type: typ, Priority: prio, Payload: raw,
		CorrelationID: "corr-" + uuid.NewString()[:8], CreatedAt: b.now().UTC()}, status: api.CommandPending}
	s.commands = append(s.commands, c)
	close(b.wake)
	b.wake = make(chan struct{})
	return c.ID
}

// CommandState is a command as the fake backend sees it.
type CommandState struct {
	api.Command
	Status  api.CommandStatus
	Updates []api.CommandStatusUpdate
}

// Command returns the state of one command.
func (b *Backend) Command(satelliteID, commandID string) CommandState {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sats[satelliteID]
	if s == nil {
		return CommandState{}
	}
	c := findCommand(s, commandID)
	if c == nil {
		return CommandState{}
	}
	return CommandState{Command: c.Command, Status: c.status, Updates: append([]api.CommandStatusUpdate(nil), c.updates...)}
}

// ExpireLeases makes every delivered, unacknowledged command pending again at once.
func (b *Backend) ExpireLeases() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sats {
		for _, c := range s.commands {
			if c.status == api.CommandDelivered {
				c.status = api.CommandPending
			}
		}
	}
}

// Redeliver forces a command back to pending whatever its state, as a backend that lost its
// state would: the satellite must still run it at most once.
func (b *Backend) Redeliver(satelliteID, commandID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sats[satelliteID]; s != nil {
		if c := findCommand(s, commandID); c != nil {
			c.status = api.CommandPending
		}
	}
}

// Events returns the events stored for a satellite, in arrival order.
func (b *Backend) Events(satelliteID string) []api.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sats[satelliteID]
	if s == nil {
		return nil
	}
	out := make([]api.Event, 0, len(s.eventOrder))
	for _, id := range s.eventOrder {
		out = append(out, s.events[id])
	}
	return out
}

// Duplicates returns how many events arrived more than once.
func (b *Backend) Duplicates(satelliteID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sats[satelliteID]; s != nil {
		return s.duplicates
	}
	return 0
}

// Heartbeats returns the heartbeats received from a satellite.
func (b *Backend) Heartbeats(satelliteID string) []api.Heartbeat {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sats[satelliteID]; s != nil {
		return append([]api.Heartbeat(nil), s.heartbeats...)
	}
	return nil
}

// LastPollHeaders returns the X-Last-Poll header of every poll, in order ("" when absent).
func (b *Backend) LastPollHeaders(satelliteID string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sats[satelliteID]; s != nil {
		return append([]string(nil), s.lastPollHdr...)
	}
	return nil
}

// Registration returns the latest registration request of a satellite.
func (b *Backend) Registration(satelliteID string) api.RegisterRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sats[satelliteID]; s != nil {
		return s.reg
	}
	return api.RegisterRequest{}
}

// RegisterDirect registers a satellite without a token and returns its id and key, for tests
// that start from a registered station.
func (b *Backend) RegisterDirect(name string) api.RegisterResponse {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.registerLocked(api.RegisterRequest{Name: name, Version: api.Version})
}

// Cancel cancels a command as a user would: later status updates for it are refused with 409.
func (b *Backend) Cancel(satelliteID, commandID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sats[satelliteID]; s != nil {
		if c := findCommand(s, commandID); c != nil {
			c.status = api.CommandCancelled
		}
	}
}
