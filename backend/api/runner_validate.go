package api

import "fmt"

// Validation of the runner's built-in command payloads (runner.go), shared by the backend, which
// refuses a bad payload when the command is created, and the satellite, which checks it again
// before applying it.

// Bounds of ConfigUpdatePayload, in seconds.
const (
	MinHeartbeatSeconds = 5
	MaxHeartbeatSeconds = 3600
	MinEventsSeconds    = 1
	MaxEventsSeconds    = 300
)

// MaxMaintenanceReasonBytes is the longest MaintenancePayload.Reason, in bytes.
const MaxMaintenanceReasonBytes = 500

// RunnerPayloadError is a validation error of a built-in command's payload; Field names the
// offending JSON field (e.g. "heartbeat_seconds"), "" the payload as a whole.
type RunnerPayloadError struct {
	// Field is the JSON path of the bad field.
	Field string
	// Message says what is wrong with it.
	Message string
}

// Error says which field is wrong and why.
func (e *RunnerPayloadError) Error() string {
	if e.Field == "" {
		return "invalid payload: " + e.Message
	}
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Message)
}

func runnerErr(field, format string, args ...any) error {
	return &RunnerPayloadError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a config.update payload: each given interval within its bounds, a known log
// level, and at least one setting to change.
func (p *ConfigUpdatePayload) Validate() error {
	bounds := []struct {
		field    string
		v        *int
		min, max int
	}{
		{"heartbeat_seconds", p.HeartbeatSeconds, MinHeartbeatSeconds, MaxHeartbeatSeconds},
		{"events_seconds", p.EventsSeconds, MinEventsSeconds, MaxEventsSeconds},
		{"long_poll_seconds", p.LongPollSeconds, 0, MaxLongPollSeconds},
	}
	for _, b := range bounds {
		if b.v != nil && (*b.v < b.min || *b.v > b.max) {
			return runnerErr(b.field, "must be %d to %d seconds, got %d", b.min, b.max, *b.v)
		}
	}
	switch p.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return runnerErr("log_level", "must be debug, info, warn or error, got %q", p.LogLevel)
	}
	if p.HeartbeatSeconds == nil && p.EventsSeconds == nil && p.LongPollSeconds == nil && p.LogLevel == "" {
		return runnerErr("", "nothing to change: give heartbeat_seconds, events_seconds, long_poll_seconds or log_level")
	}
	return nil
}

// Validate checks a maintenance.enter or maintenance.exit payload.
func (p *MaintenancePayload) Validate() error {
	if len(p.Reason) > MaxMaintenanceReasonBytes {
		return runnerErr("reason", "is %d bytes, at most %d allowed", len(p.Reason), MaxMaintenanceReasonBytes)
	}
	return nil
}
