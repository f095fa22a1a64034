// Package api holds the wire types of the contract between talos-satellite (the runner at a
// ground station) and talos-backend. Both sides import this package and nothing else crosses
// between them, so every change here is a protocol change: keep it backwards compatible and
// document it in docs/protocol.md.
//
// All satellite calls carry "Authorization: Bearer <api key>", except registration, which
// carries a registration token instead. Times are RFC 3339 in UTC. Identifiers are UUID strings.
//
// This package imports nothing from the project.
package api

import (
	"encoding/json"
	"time"
)

// Header names used by the polling protocol.
const (
	// HeaderPollInterval is set by the backend on every command poll response: the number of
	// seconds the satellite should wait before its next poll (the same value as
	// CommandsResponse.NextPollSeconds).
	HeaderPollInterval = "X-Poll-Interval"
	// HeaderLastPoll is sent by the satellite on every poll: the ServerTime of the previous poll
	// response (RFC 3339), so the backend can tell how stale the satellite's view is.
	HeaderLastPoll = "X-Last-Poll"
	// HeaderDraining is set to "1" by a backend that is shutting down on the command poll
	// response it answers early (empty) because of the shutdown. The satellite must not count
	// such an answer as a proxy cutting its long-poll: the backend will be back, and the
	// satellite retries with a short jittered backoff instead of slowing down.
	HeaderDraining = "X-Talos-Draining"
)

// Protocol limits shared by both sides.
const (
	// MaxLongPollSeconds is the longest ?wait= a command poll may ask for, in seconds.
	MaxLongPollSeconds = 30
	// MaxEventBatch is the largest number of events one POST .../events may carry.
	MaxEventBatch = 500
	// MaxEventBatchBytes is the largest body of one POST .../events a satellite sends, in bytes
	// of encoded JSON. The backend accepts at least this much on the events route; a satellite
	// that gets 413 anyway splits the batch in halves.
	MaxEventBatchBytes = 1 << 20
	// MaxCommandsPerPoll is the largest number of commands one poll response carries. A
	// satellite takes at most this many from one response (and ignores the rest, which the
	// backend delivers again when their lease runs out).
	MaxCommandsPerPoll = 50
)

// Location is a ground station's position on the WGS-84 ellipsoid.
type Location struct {
	// Lat is the geodetic latitude in degrees, -90 to 90, north positive.
	Lat float64 `json:"lat"`
	// Lon is the longitude in degrees, -180 to 180, east positive.
	Lon float64 `json:"lon"`
	// AltM is the height above the ellipsoid in metres.
	AltM float64 `json:"alt_m"`
}

// Intervals are the cadences the backend asks a satellite to keep. The satellite obeys them.
type Intervals struct {
	// PollSeconds is the short-poll interval for commands, in seconds (2 to 300).
	PollSeconds int `json:"poll"`
	// HeartbeatSeconds is the heartbeat interval, in seconds.
	HeartbeatSeconds int `json:"heartbeat"`
	// EventsSeconds is the longest time an event may wait in the outbox before a flush, in seconds.
	EventsSeconds int `json:"events"`
	// LongPollSeconds is the longest ?wait= the backend honours, in seconds; 0 means the backend
	// does not support long-polling and the satellite must short-poll.
	LongPollSeconds int `json:"long_poll"`
}

// RegisterRequest is the body of POST /api/satellites/register. The request carries the
// registration token as "Authorization: Bearer <token>".
type RegisterRequest struct {
	// Name is the station's display name, 1 to 100 characters.
	Name string `json:"name"`
	// Location is where the antenna stands.
	Location Location `json:"location"`
	// Version is the talos-satellite version string.
	Version string `json:"version"`
	// Capabilities lists what this station can do, e.g. "rotator", "radio", "proc".
	Capabilities []string `json:"capabilities,omitempty"`
	// Tags are the station's key=value labels from its configuration (station.tags), e.g.
	// {"band": "uhf", "rotator": "az-el"}: what tag queries select stations by. See
	// ValidateTags for the limits.
	Tags map[string]string `json:"tags,omitempty"`
	// SatelliteID, when set, re-registers an existing satellite: its API key is rotated and the
	// old key stops working at once.
	SatelliteID string `json:"satellite_id,omitempty"`
}

// RegisterResponse is returned by a successful registration.
type RegisterResponse struct {
	SatelliteID string `json:"satellite_id"`
	// APIKey is shown once and never again; the backend keeps only its argon2id hash.
	APIKey    string    `json:"api_key"`
	TeamID    string    `json:"team_id,omitempty"`
	Intervals Intervals `json:"intervals"`
}

// Priority orders pending commands: immediate first, then high, normal, low; within one
// priority, oldest first.
type Priority string

// Command priorities.
const (
	PriorityImmediate Priority = "immediate"
	PriorityHigh      Priority = "high"
	PriorityNormal    Priority = "normal"
	PriorityLow       Priority = "low"
)

// Rank returns 0 for immediate up to 3 for low, and -1 for an unknown priority.
func (p Priority) Rank() int {
	switch p {
	case PriorityImmediate:
		return 0
	case PriorityHigh:
		return 1
	case PriorityNormal:
		return 2
	case PriorityLow:
		return 3
	}
	return -1
}

// CommandStatus is the lifecycle state of a command.
//
//	pending → delivered → acknowledged → running → succeeded | failed
//	pending | delivered → cancelled (by a user) | expired (past expires_at)
//
// A delivered command whose lease runs out unacknowledged becomes pending again.
type CommandStatus string

// Command states.
const (
	CommandPending      CommandStatus = "pending"
	CommandDelivered    CommandStatus = "delivered"
	CommandAcknowledged CommandStatus = "acknowledged"
	CommandRunning      CommandStatus = "running"
	CommandSucceeded    CommandStatus = "succeeded"
	CommandFailed       CommandStatus = "failed"
	CommandCancelled    CommandStatus = "cancelled"
	CommandExpired      CommandStatus = "expired"
)

// Terminal reports whether no further transition is possible from s.
func (s CommandStatus) Terminal() bool {
	switch s {
	case CommandSucceeded, CommandFailed, CommandCancelled, CommandExpired:
		return true
	}
	return false
}

// Known reports whether s is one of the command states above.
func (s CommandStatus) Known() bool {
	_, forward := reportOrder[s]
	return forward || s.Terminal()
}

// reportOrder ranks the forward path a satellite reports along. Cancelled and expired are not
// on it: they are not the satellite's to report, nor to leave.
var reportOrder = map[CommandStatus]int{
	CommandPending: 0, CommandDelivered: 1, CommandAcknowledged: 2, CommandRunning: 3,
	CommandSucceeded: 4, CommandFailed: 4,
}

// ReportAllowed reports whether a satellite may report to on a command that is from: only
// acknowledged, running, succeeded or failed, only forward (a report may skip states: a fast
// command goes from delivered straight to succeeded), never out of a terminal state. A report
// on a pending command is allowed: its lease lapsed, but the satellite did get it. Repeating
// the current state is not a transition; the backend accepts it as a no-op (idempotent retry).
func ReportAllowed(from, to CommandStatus) bool {
	switch to {
	case CommandAcknowledged, CommandRunning, CommandSucceeded, CommandFailed:
	default:
		return false
	}
	f, ok := reportOrder[from]
	return ok && reportOrder[to] > f
}

// Command types understood by talos-satellite.
const (
	CommandPing                = "ping"
	CommandConfigUpdate        = "config.update"
	CommandMaintenanceEnter    = "maintenance.enter"
	CommandMaintenanceExit     = "maintenance.exit"
	CommandDiagnosticsCollect  = "diagnostics.collect"
	CommandObservationSchedule = "observation.schedule"
	CommandObservationCancel   = "observation.cancel"
	CommandRotatorPark         = "rotator.park"
	CommandProcessStart        = "process.start"
	CommandProcessStop         = "process.stop"
	CommandProcessRestart      = "process.restart"
	CommandProcessList         = "process.list"
)

// Command is one unit of work for a satellite.
type Command struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Priority Priority `json:"priority"`
	// Payload is the type-specific body; see the *Payload types in this package.
	Payload json.RawMessage `json:"payload,omitempty"`
	// CorrelationID is an opaque value chosen by whoever created the command, echoed in events.
	CorrelationID string    `json:"correlation_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	// ExpiresAt is when an undelivered or unacknowledged command becomes expired; nil: never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// LeaseExpiresAt is when this delivery lapses: unacknowledged by then, it is delivered again.
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	// Attempt counts deliveries of this command, starting at 1.
	Attempt int `json:"attempt"`
}

// PollingMode names the reason for the poll interval the backend chose.
type PollingMode string

// Polling modes; PollingMode.Seconds gives the interval the backend pairs with each (pacing.go).
const (
	PollingImmediate   PollingMode = "immediate"   // an immediate command is pending
	PollingHigh        PollingMode = "high"        // a high-priority command is pending
	PollingNormal      PollingMode = "normal"      // normal or low commands are pending
	PollingIdle        PollingMode = "idle"        // nothing is pending
	PollingMaintenance PollingMode = "maintenance" // the satellite is in maintenance mode
)

// CommandsResponse answers GET /api/satellites/{id}/commands.
type CommandsResponse struct {
	// Commands are the delivered commands, highest priority first, then oldest.
	Commands    []Command   `json:"commands"`
	PollingMode PollingMode `json:"polling_mode"`
	// NextPollSeconds is how long the satellite should wait before polling again, in seconds.
	NextPollSeconds int `json:"next_poll_seconds"`
	// ServerTime is the backend's clock when it answered; send it back as X-Last-Poll.
	ServerTime time.Time `json:"server_time"`
}

// CommandStatusUpdate is the body of POST /api/satellites/{id}/commands/{cid}/status.
// Repeating an update already applied is accepted (idempotent); an illegal transition is 409.
type CommandStatusUpdate struct {
	// Status is acknowledged, running, succeeded or failed.
	Status CommandStatus `json:"status"`
	// Result is the handler's output on success (any JSON value).
	Result json.RawMessage `json:"result,omitempty"`
	// Error says what went wrong, with status failed.
	Error string `json:"error,omitempty"`
	// CorrelationID echoes the command's correlation id.
	CorrelationID string `json:"correlation_id,omitempty"`
}

// CommandStatusResponse answers a status update with the command's state after it.
type CommandStatusResponse struct {
	ID     string        `json:"id"`
	Status CommandStatus `json:"status"`
}

// SatelliteStatus is the health state a satellite reports, or offline when it stops reporting.
type SatelliteStatus string

// Satellite states.
const (
	StatusOnline      SatelliteStatus = "online"
	StatusDegraded    SatelliteStatus = "degraded"
	StatusMaintenance SatelliteStatus = "maintenance"
	StatusOffline     SatelliteStatus = "offline"
	// StatusStopping is sent by a satellite in the last heartbeat of a clean stop: the backend
	// marks it offline at once (with a satellite.offline event) instead of waiting 2.5
	// heartbeat intervals for the sweep. A satellite never sends offline, the backend's verdict.
	StatusStopping SatelliteStatus = "stopping"
)

// Memory is a memory or disk usage report, in bytes.
type Memory struct {
	TotalBytes uint64  `json:"total_bytes"`
	UsedBytes  uint64  `json:"used_bytes"`
	Percent    float64 `json:"percent"`
}

// Load is the system load average over 1, 5 and 15 minutes.
type Load struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// SystemMetrics are the host's health figures.
type SystemMetrics struct {
	// CPUPercent is the whole-machine CPU use since the previous heartbeat, 0 to 100.
	CPUPercent float64 `json:"cpu_percent"`
	Memory     Memory  `json:"memory"`
	// Disk is the usage of the filesystem holding the runner's state directory.
	Disk Memory `json:"disk"`
	Load Load   `json:"load"`
	// TemperatureC is the board temperature in degrees Celsius, nil where none is exposed.
	TemperatureC *float64 `json:"temperature_c,omitempty"`
}

// ProcessInfo describes one managed decoder or helper process.
type ProcessInfo struct {
	Name   string `json:"name"`
	TeamID string `json:"team_id,omitempty"`
	// State is starting, running, stopping, exited, failed or backoff.
	State string `json:"state"`
	PID   int    `json:"pid,omitempty"`
	// CPUPercent is the process group's CPU use, where 100 is one core.
	CPUPercent  float64 `json:"cpu_percent"`
	MemoryBytes uint64  `json:"memory_bytes"`
	Restarts    int     `json:"restarts"`
	ExitCode    *int    `json:"exit_code,omitempty"`
	Signal      string  `json:"signal,omitempty"`
	OOMKilled   bool    `json:"oom_killed,omitempty"`
	// Limited reports whether cgroup limits are in force for this process.
	Limited bool `json:"limited"`
}

// TrackingState is what the station's tracker is doing.
type TrackingState struct {
	// State is idle, preparing, tracking or parking.
	State         string `json:"state"`
	ObservationID string `json:"observation_id,omitempty"`
	NoradID       int    `json:"norad_id,omitempty"`
	// AzimuthDeg and ElevationDeg are the commanded pointing, in degrees.
	AzimuthDeg   float64 `json:"azimuth_deg"`
	ElevationDeg float64 `json:"elevation_deg"`
	// PointingErrorDeg is the latest difference between commanded and reported position.
	PointingErrorDeg float64 `json:"pointing_error_deg"`
	// DownlinkHz is the frequency the radio is tuned to, after Doppler correction.
	DownlinkHz float64 `json:"downlink_hz,omitempty"`
}

// Heartbeat is the body of POST /api/satellites/{id}/heartbeat.
type Heartbeat struct {
	Status        SatelliteStatus `json:"status"`
	Version       string          `json:"version"`
	UptimeSeconds int64           `json:"uptime_seconds"`
	System        SystemMetrics   `json:"system"`
	Processes     []ProcessInfo   `json:"processes,omitempty"`
	Tracking      *TrackingState  `json:"tracking,omitempty"`
	// CgroupLimits says whether decoder processes run under cgroup limits ("v1", "v2") or not
	// ("off: <reason>").
	CgroupLimits string `json:"cgroup_limits,omitempty"`
	// OutboxDepth is the number of events waiting to be sent.
	OutboxDepth int `json:"outbox_depth"`
	// EventsDropped counts events the outbox discarded because it was full.
	EventsDropped int64 `json:"events_dropped"`
	// Tags are the station's tags as configured now (RegisterRequest.Tags). A heartbeat that
	// carries them replaces the stored ones when they differ, so a changed station.tags takes
	// effect without registering again; nil (absent) leaves the stored tags as they are, an
	// empty object clears them. (Not omitempty: an empty object must reach the backend.)
	Tags map[string]string `json:"tags"`
}

// HeartbeatResponse answers a heartbeat.
type HeartbeatResponse struct {
	// NextHeartbeatSeconds is when the satellite should send its next heartbeat, in seconds.
	NextHeartbeatSeconds int       `json:"next_heartbeat_seconds"`
	ServerTime           time.Time `json:"server_time"`
}

// Severity ranks an event.
type Severity string

// Event severities, least severe first.
const (
	SeverityDebug    Severity = "debug"
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// Event types reported by talos-satellite. Types are dotted lower-case words; a satellite may
// send others, which are stored as they are.
const (
	EventObservationPrepared  = "observation.prepared"
	EventAOS                  = "observation.aos"
	EventLOS                  = "observation.los"
	EventObservationCompleted = "observation.completed"
	EventObservationFailed    = "observation.failed"
	EventRotatorFault         = "rotator.fault"
	EventRotatorRecovered     = "rotator.recovered"
	EventRotatorStuck         = "rotator.stuck"
	EventProcessStarted       = "process.started"
	EventProcessExited        = "process.exited"
	EventProcessOutput        = "process.output"
	EventSatelliteOffline     = "satellite.offline"
	EventSatelliteOnline      = "satellite.online"
	EventLog                  = "log"
)

// Event is something a satellite reports.
type Event struct {
	// ID is a UUID made by the satellite when the event happened; the backend stores each id
	// once per satellite, so a retried batch never doubles anything.
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Severity Severity  `json:"severity"`
	Time     time.Time `json:"time"`
	Message  string    `json:"message,omitempty"`
	// Data is type-specific detail (any JSON object).
	Data json.RawMessage `json:"data,omitempty"`
	// CommandID and CorrelationID tie the event to a command, where it has one.
	CommandID     string `json:"command_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// EventBatch is the body of POST /api/satellites/{id}/events: at most MaxEventBatch events.
type EventBatch struct {
	Events []Event `json:"events"`
}

// RejectedEvent says why one event of a batch was not stored.
type RejectedEvent struct {
	// Index is the event's position in the batch, from 0.
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// EventBatchResponse answers an event batch. Accepted + Duplicates + len(Rejected) equals the
// batch size. A rejected event will never be accepted: the satellite does not resend it (it
// keeps it in a local quarantine).
type EventBatchResponse struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Rejected   []RejectedEvent `json:"rejected"`
}

// ErrorBody is the JSON shape of every error response: {"error": {"code": ..., "message": ...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a stable machine-readable code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the offending input field for validation errors.
	Field string `json:"field,omitempty"`
	// ConflictID names the other object a conflict is with (the observation a booking
	// overlaps, for one).
	ConflictID string `json:"conflict_id,omitempty"`
}

// Stable error codes of the satellite protocol.
const (
	ErrRegistrationTokenRequired = "registration_token_required"
	ErrInvalidRegistrationToken  = "invalid_registration_token"
	ErrTokenExpired              = "token_expired"
	ErrTokenAlreadyUsed          = "token_already_used"
	ErrTokenInvalidScope         = "token_invalid_scope"
	ErrUnauthorized              = "unauthorized"
	ErrNotFound                  = "not_found"
	ErrInvalidRequest            = "invalid_request"
	ErrBodyTooLarge              = "body_too_large"
	ErrConflict                  = "conflict"
	ErrRateLimited               = "rate_limited"
)

// MaxHorizonPoints is the most points a station's horizon mask may have.
const MaxHorizonPoints = 360

// HorizonPoint is one point of a station's horizon mask: the lowest elevation at which the
// station sees the sky at one azimuth. Between points the mask is linear in azimuth, wrapping
// through north.
type HorizonPoint struct {
	// AzimuthDeg is degrees from north, 0 to 360 (exclusive).
	AzimuthDeg float64 `json:"az_deg"`
	// ElevationDeg is degrees above the horizon, −90 to 90 (exclusive).
	ElevationDeg float64 `json:"el_deg"`
}
