package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// Settings applies a validated config.update (the runner: intervals, log level).
type Settings interface {
	ApplyConfig(api.ConfigUpdatePayload) (api.ConfigUpdateResult, error)
}

// Maintenance switches maintenance mode; the heartbeat then reports status maintenance and the
// backend answers polls with its maintenance interval (300 s).
type Maintenance interface {
	SetMaintenance(on bool, reason string) error
	Status() api.SatelliteStatus
}

// Builtins are the handlers every runner has: ping, config.update, maintenance.enter/exit and
// diagnostics.collect.
type Builtins struct {
	Clock       clock.Clock
	Settings    Settings
	Maintenance Maintenance
	Diagnostics func(context.Context) (api.DiagnosticsResult, error)
}

// Handlers returns the built-in handlers.
func (b Builtins) Handlers() command.Handlers {
	return command.Handlers{
		api.CommandPing:               b.ping,
		api.CommandConfigUpdate:       b.configUpdate,
		api.CommandMaintenanceEnter:   b.maintenance(true),
		api.CommandMaintenanceExit:    b.maintenance(false),
		api.CommandDiagnosticsCollect: b.diagnostics,
	}
}

func (b Builtins) ping(context.Context, api.Command) (json.RawMessage, error) {
	return json.Marshal(api.PingResult{Pong: true, Time: b.Clock.Now().UTC(), Version: api.Version})
}

func (b Builtins) configUpdate(_ context.Context, cmd api.Command) (json.RawMessage, error) {
	p, err := ParseConfigUpdate(cmd.Payload)
	if err != nil {
		return nil, err
	}
	res, err := b.Settings.ApplyConfig(p)
	if err != nil {
		return nil, fmt.Errorf("apply config.update: %w", err)
	}
	return json.Marshal(res)
}

func (b Builtins) maintenance(on bool) command.Handler {
	return func(_ context.Context, cmd api.Command) (json.RawMessage, error) {
		var p api.MaintenancePayload
		if err := command.DecodeOptionalPayload(cmd.Payload, &p); err != nil {
			return nil, err
		}
		if len(p.Reason) > 500 {
			return nil, errors.New("payload.reason: at most 500 characters")
		}
		if err := b.Maintenance.SetMaintenance(on, p.Reason); err != nil {
			return nil, err
		}
		return json.Marshal(api.MaintenanceResult{Status: b.Maintenance.Status()})
	}
}

func (b Builtins) diagnostics(ctx context.Context, _ api.Command) (json.RawMessage, error) {
	d, err := b.Diagnostics(ctx)
	if err != nil {
		return nil, fmt.Errorf("collect diagnostics: %w", err)
	}
	return json.Marshal(d)
}

// ParseConfigUpdate decodes and validates a config.update payload; errors name the field.
func ParseConfigUpdate(raw json.RawMessage) (api.ConfigUpdatePayload, error) {
	var p api.ConfigUpdatePayload
	if err := command.DecodeOptionalPayload(raw, &p); err != nil {
		return p, err
	}
	checks := []struct {
		name     string
		v        *int
		min, max int
	}{
		{"heartbeat_seconds", p.HeartbeatSeconds, 5, 3600},
		{"events_seconds", p.EventsSeconds, 1, 300},
		{"long_poll_seconds", p.LongPollSeconds, 0, api.MaxLongPollSeconds},
	}
	for _, c := range checks {
		if c.v != nil && (*c.v < c.min || *c.v > c.max) {
			return p, fmt.Errorf("payload.%s: must be %d to %d, got %d", c.name, c.min, c.max, *c.v)
		}
	}
	switch p.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return p, fmt.Errorf("payload.log_level: must be debug, info, warn or error, got %q", p.LogLevel)
	}
	if p == (api.ConfigUpdatePayload{}) {
		return p, errors.New("payload: nothing to change (give heartbeat_seconds, events_seconds, long_poll_seconds or log_level)")
	}
	return p, nil
}
