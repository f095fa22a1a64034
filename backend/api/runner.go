package api

import "time"

// Payloads and results of the runner's built-in commands (ping, config.update,
// maintenance.enter/exit, diagnostics.collect).

// PingResult is the result of a ping command.
type PingResult struct {
	// Pong is always true: the command reached the runner and it answered.
	Pong bool `json:"pong"`
	// Time is the satellite's clock when it ran the command (UTC).
	Time time.Time `json:"time"`
	// Version is the talos-satellite version.
	Version string `json:"version"`
}

// ConfigUpdatePayload is the payload of config.update. Fields left out keep their value; the
// satellite persists the intervals in its state directory, so they survive a restart.
type ConfigUpdatePayload struct {
	// HeartbeatSeconds is the new heartbeat interval, in seconds (5 to 3600).
	HeartbeatSeconds *int `json:"heartbeat_seconds,omitempty"`
	// EventsSeconds is the new longest wait of an event in the outbox, in seconds (1 to 300).
	EventsSeconds *int `json:"events_seconds,omitempty"`
	// LongPollSeconds is the longest ?wait= the satellite asks for, in seconds (0 to
	// MaxLongPollSeconds); 0 switches the satellite to short polling.
	LongPollSeconds *int `json:"long_poll_seconds,omitempty"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level,omitempty"`
}

// ConfigUpdateResult is the result of config.update: the settings in force after it.
type ConfigUpdateResult struct {
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
	EventsSeconds    int    `json:"events_seconds"`
	LongPollSeconds  int    `json:"long_poll_seconds"`
	LogLevel         string `json:"log_level"`
}

// MaintenancePayload is the optional payload of maintenance.enter and maintenance.exit.
type MaintenancePayload struct {
	// Reason is shown to operators; at most 500 characters.
	Reason string `json:"reason,omitempty"`
}

// MaintenanceResult is the result of maintenance.enter and maintenance.exit.
type MaintenanceResult struct {
	// Status is the satellite status after the command (maintenance or online).
	Status SatelliteStatus `json:"status"`
}

// DiagnosticsResult is the result of diagnostics.collect. It never contains secrets.
type DiagnosticsResult struct {
	Version   string    `json:"version"`
	GoVersion string    `json:"go_version"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	Hostname  string    `json:"hostname"`
	Time      time.Time `json:"time"`
	// UptimeSeconds is how long the runner has been running, in seconds.
	UptimeSeconds int64           `json:"uptime_seconds"`
	Status        SatelliteStatus `json:"status"`
	// Config is the runner's configuration without secrets.
	Config map[string]any `json:"config"`
	// State summarises the state directory: satellite id, team id, recorded commands.
	State map[string]any `json:"state"`
	// OutboxDepth and EventsDropped are the outbox's queue length and drop counter.
	OutboxDepth   int   `json:"outbox_depth"`
	EventsDropped int64 `json:"events_dropped"`
	// RecentErrors are the latest error-level log lines, newest last.
	RecentErrors []string      `json:"recent_errors"`
	System       SystemMetrics `json:"system"`
	// Backend is the connection state as the local status endpoint reports it.
	Backend any `json:"backend,omitempty"`
}
