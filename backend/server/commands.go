package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Poll intervals in seconds, per polling mode (ARCHITECTURE.md, "Polling guidance").
const (
	pollImmediate   = 2
	pollHigh        = 10
	pollNormal      = 30
	pollIdle        = 60
	pollMaintenance = 300
)

// Limits of a command as users create it.
const (
	maxCommandPayloadBytes = 64 << 10
	maxCommandResultBytes  = 64 << 10
	maxCommandErrorBytes   = 4096
	maxCorrelationIDLen    = 200
	maxExpiresInSeconds    = 30 * 24 * 3600
	maxHistoryLimit        = 500
)

var commandTypeRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// commandJSON is a command as users see it: the wire command plus its lifecycle.
type commandJSON struct {
	api.Command
	SatelliteID string            `json:"satellite_id"`
	Status      api.CommandStatus `json:"status"`
	CreatedBy   string            `json:"created_by,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at"`
	DeliveredAt *time.Time        `json:"delivered_at,omitempty"`
	FinishedAt  *time.Time        `json:"finished_at,omitempty"`
	Result      json.RawMessage   `json:"result,omitempty"`
	Error       string            `json:"error,omitempty"`
}

func toWireCommand(c *store.Command) api.Command {
	out := api.Command{ID: c.ID, Type: c.Type, Priority: api.Priority(c.Priority), CorrelationID: c.CorrelationID,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, LeaseExpiresAt: c.LeaseExpiresAt, Attempt: c.Attempt}
	if c.Payload != nil {
		out.Payload = json.RawMessage(*c.Payload)
	}
	return out
}

func toCommandJSON(c *store.Command) commandJSON {
	out := commandJSON{Command: toWireCommand(c), SatelliteID: c.SatelliteID, Status: api.CommandStatus(c.Status),
		CreatedBy: c.CreatedBy, UpdatedAt: c.UpdatedAt, DeliveredAt: c.DeliveredAt, FinishedAt: c.FinishedAt, Error: c.Error}
	if c.Result != nil {
		out.Result = json.RawMessage(*c.Result)
	}
	return out
}

// createCommandRequest is the body of POST .../commands.
type createCommandRequest struct {
	Type     string          `json:"type"`
	Priority api.Priority    `json:"priority"`
	Payload  json.RawMessage `json:"payload"`
	// ExpiresInSeconds: an undelivered or unacknowledged command expires after this many
	// seconds; 0 or absent: never.
	ExpiresInSeconds int    `json:"expires_in_seconds"`
	CorrelationID    string `json:"correlation_id"`
}

func (r *createCommandRequest) validate() error {
	if len(r.Type) == 0 || len(r.Type) > 64 || !commandTypeRe.MatchString(r.Type) {
		return errInvalid("type", "type must be dotted lower-case words of at most 64 characters, e.g. \"rotator.park\"")
	}
	if r.Priority == "" {
		r.Priority = api.PriorityNormal
	}
	if r.Priority.Rank() < 0 {
		return errInvalid("priority", "priority must be immediate, high, normal or low")
	}
	if len(r.Payload) > maxCommandPayloadBytes {
		return errInvalid("payload", "payload must be at most %d bytes of JSON", maxCommandPayloadBytes)
	}
	if r.ExpiresInSeconds < 0 || r.ExpiresInSeconds > maxExpiresInSeconds {
		return errInvalid("expires_in_seconds", "expires_in_seconds must be 0 (never) to %d", maxExpiresInSeconds)
	}
	return validText("correlation_id", r.CorrelationID, 0, maxCorrelationIDLen)
}

// commandPayload is a built-in command's payload type from backend/api.
type commandPayload interface{ Validate() error }

// payloadSpec says how to check one built-in command's payload.
type payloadSpec struct {
	new func() commandPayload
	// optional: the payload may be left out (maintenance.enter/exit take an optional reason).
	optional bool
}

// payloadSpecs check the payloads of the built-in commands that carry one, so a bad payload is
// refused here with the field named instead of failing at the station.
var payloadSpecs = map[string]payloadSpec{
	api.CommandObservationSchedule: {new: func() commandPayload { return &api.ObservationSchedulePayload{} }},
	api.CommandObservationCancel:   {new: func() commandPayload { return &api.ObservationCancelPayload{} }},
	api.CommandProcessStart:        {new: func() commandPayload { return &api.ProcessStartPayload{} }},
	api.CommandProcessStop:         {new: func() commandPayload { return &api.ProcessStopPayload{} }},
	api.CommandProcessRestart:      {new: func() commandPayload { return &api.ProcessRestartPayload{} }},
	api.CommandConfigUpdate:        {new: func() commandPayload { return &api.ConfigUpdatePayload{} }},
	api.CommandMaintenanceEnter:    {new: func() commandPayload { return &api.MaintenancePayload{} }, optional: true},
	api.CommandMaintenanceExit:     {new: func() commandPayload { return &api.MaintenancePayload{} }, optional: true},
}

func absentPayload(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// checkPayload decodes a built-in command's payload strictly into its api type, binds the team
// of a process to the satellite's team (teamID, nil: none) and validates it. It returns the
// payload to store: for a built-in type, the checked value re-encoded, so the station runs
// exactly what was checked; for any other type, raw as given; nil when there is none.
func checkPayload(typ string, raw json.RawMessage, teamID *string) (json.RawMessage, error) {
	spec, typed := payloadSpecs[typ]
	if absentPayload(raw) {
		if typed && !spec.optional {
			return nil, errInvalid("payload", "%s needs a payload", typ)
		}
		return nil, bindTeam(typ, nil, teamID)
	}
	if !typed {
		return raw, nil
	}
	p := spec.new()
	if err := decodeJSON(bytes.NewReader(raw), p); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, errInvalid(prefixField("payload", e.Field), "payload: %s", e.Message)
		}
		return nil, errInvalid("payload", "payload: %v", err)
	}
	if err := bindTeam(typ, p, teamID); err != nil {
		return nil, err
	}
	if err := validateTyped(p); err != nil {
		return nil, err
	}
	return encodePayload(p)
}

// bindTeam enforces that a station runs processes only for the team that owns it: a
// process.start (or the process of an observation.schedule) runs as the system user and in the
// directory of its team_id, so a caller-chosen team would let a member of one team read
// another's files on a shared or moved station. An absent team_id becomes the satellite's team;
// another team is refused; a satellite in no team runs no team processes.
func bindTeam(typ string, p commandPayload, teamID *string) error {
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
		return errInvalid(field, "%s must be the satellite's team %s (or left out): a station runs processes only for its own team", field, *teamID)
	}
	return nil
}

func errNoTeam(field string) *Error {
	return errInvalid(field, "the satellite belongs to no team, so it cannot run team processes: assign it to a team first")
}

// validateTyped runs p's Validate and names the bad field under "payload.". The process of an
// observation is checked on its own first, so its errors name the field inside it.
func validateTyped(p commandPayload) error {
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
	return errInvalid(field, "%s: %s", field, msg)
}

// encodePayload re-encodes a checked payload (without HTML escaping, which would only bloat it).
func encodePayload(p commandPayload) (json.RawMessage, error) {
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

// createCommand queues a command for a satellite (members and up) and wakes its long-polls.
func (s *Server) createCommand(c *gin.Context) {
	var req createCommandRequest
	if !s.bind(c, &req) {
		return
	}
	sat := satelliteOf(c)
	payload, err := checkPayload(req.Type, req.Payload, sat.TeamID)
	if err != nil {
		s.fail(c, err)
		return
	}
	cmd := &store.Command{SatelliteID: sat.ID, Type: req.Type, Priority: string(req.Priority),
		PriorityRank: req.Priority.Rank(), CorrelationID: req.CorrelationID, CreatedBy: principalOf(c).ActorID()}
	if sat.TeamID != nil {
		cmd.TeamID = *sat.TeamID
	}
	if payload != nil {
		p := string(payload)
		cmd.Payload = &p
	}
	if req.ExpiresInSeconds > 0 {
		at := s.store.Now().Add(time.Duration(req.ExpiresInSeconds) * time.Second)
		cmd.ExpiresAt = &at
	}
	if err := s.store.CreateCommand(c.Request.Context(), cmd); err != nil {
		s.fail(c, err)
		return
	}
	s.wake(c, sat.ID)
	setAudit(c, auditInfo{Action: "command.create", ObjectType: "command", ObjectID: cmd.ID, TeamID: cmd.TeamID,
		Detail: fmt.Sprintf("satellite=%s type=%s priority=%s", sat.ID, cmd.Type, cmd.Priority)})
	writeJSON(c, http.StatusCreated, toCommandJSON(cmd))
}

// wakeTimeout bounds the NOTIFY sent after a command is committed.
const wakeTimeout = 5 * time.Second

// wake tells long-polls of satelliteID to look again; a failure only delays delivery to the
// next poll, so it is logged and counted, not returned. The change it announces is already
// committed, so the wake-up must not die with the request: a client hanging up right after
// the commit would otherwise cancel the NOTIFY and leave other replicas' long-polls waiting.
func (s *Server) wake(c *gin.Context, satelliteID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), wakeTimeout)
	defer cancel()
	if err := s.sat.notifier.Notify(ctx, satelliteID); err != nil {
		s.sat.metrics.wakeFailures.Inc()
		s.log.Warn("wake long-polls", zap.String("satellite_id", satelliteID), zap.Error(err))
	}
}

// LongPollStep is a step of a held long-poll, reported to Options.OnLongPoll.
type LongPollStep string

// Steps of a held long-poll.
const (
	// LongPollWaiting: a look at the queue found nothing; the poll now waits.
	LongPollWaiting LongPollStep = "waiting"
	// LongPollWoken: a notification woke the poll; it looks again.
	LongPollWoken LongPollStep = "woken"
)

func (s *Server) longPollStep(satelliteID string, step LongPollStep) {
	if s.opts.OnLongPoll != nil {
		s.opts.OnLongPoll(satelliteID, step)
	}
}

// parseWait reads ?wait=N (0 to api.MaxLongPollSeconds, capped by the configured long-poll).
func (s *Server) parseWait(c *gin.Context) (time.Duration, error) {
	raw := c.Query("wait")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > api.MaxLongPollSeconds {
		return 0, errInvalid("wait", "wait must be 0 to %d seconds", api.MaxLongPollSeconds)
	}
	return time.Duration(min(n, s.opts.Satellites.LongPollSeconds)) * time.Second, nil
}

// poll is the satellite's command poll: deliver what is waiting; with ?wait=N and nothing
// waiting, hold the request until a command is queued for this satellite or N seconds pass.
// The subscription starts before the first look, so a command queued in between still wakes it.
func (s *Server) poll(c *gin.Context) {
	wait, err := s.parseWait(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	sat := satelliteOf(c)
	var woken <-chan struct{}
	if wait > 0 {
		ch, cancel := s.sat.notifier.Subscribe(sat.ID)
		defer cancel()
		woken = ch
		s.sat.metrics.held.Inc()
		defer s.sat.metrics.held.Dec()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for last := wait == 0; ; {
		cmds, waiting, err := s.store.Deliver(c.Request.Context(), sat.ID, s.opts.Satellites.Lease)
		if err != nil {
			s.fail(c, err)
			return
		}
		if len(cmds) > 0 {
			cmds = s.withholdForeignProcesses(c, sat, cmds)
		}
		if len(cmds) > 0 || last {
			s.answerPoll(c, sat, cmds, waiting)
			return
		}
		s.longPollStep(sat.ID, LongPollWaiting)
		select {
		case <-woken:
			s.longPollStep(sat.ID, LongPollWoken)
			if sat, last, err = s.pollingChanged(c, sat); err != nil {
				s.fail(c, err)
				return
			}
		case <-timer.C:
			last = true
		case <-s.sat.draining:
			last = true
		case <-c.Request.Context().Done():
			return // the satellite hung up; nothing was delivered
		}
	}
}

// withholdForeignProcesses fails, instead of delivering, each process command whose team is
// not the satellite's team now: it was queued before an administrator moved the satellite to
// another team, and must not run as its former team's user on what is now another team's
// station. The failure, with its reason, shows in the command's history.
func (s *Server) withholdForeignProcesses(c *gin.Context, sat *store.Satellite, cmds []store.Command) []store.Command {
	kept := cmds[:0]
	for i := range cmds {
		team, isProcess := processTeam(&cmds[i])
		if !isProcess || (sat.TeamID != nil && team == *sat.TeamID) {
			kept = append(kept, cmds[i])
			continue
		}
		now := "no team"
		if sat.TeamID != nil {
			now = "team " + *sat.TeamID
		}
		msg := fmt.Sprintf("not delivered: the process is for team %s, but the satellite now belongs to %s", team, now)
		if _, err := s.store.UpdateCommandStatus(c.Request.Context(), sat.ID, cmds[i].ID,
			store.StatusUpdate{Status: string(api.CommandFailed), Error: msg}); err != nil {
			s.log.Warn("fail a command of another team", zap.String("command_id", cmds[i].ID), zap.Error(err))
		}
	}
	return kept
}

// processTeam returns the team_id of a command that starts a process (process.start, or an
// observation with a process); isProcess is false for any other command.
func processTeam(cmd *store.Command) (team string, isProcess bool) {
	if cmd.Payload == nil {
		return "", false
	}
	raw := []byte(*cmd.Payload)
	switch cmd.Type {
	case api.CommandProcessStart:
		var p api.ProcessStartPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", false // not a payload the station can run either; it reports the failure
		}
		return p.TeamID, true
	case api.CommandObservationSchedule:
		var p api.ObservationSchedulePayload
		if err := json.Unmarshal(raw, &p); err != nil || p.Process == nil {
			return "", false
		}
		return p.Process.TeamID, true
	}
	return "", false
}

// pollingChanged re-reads the satellite after a wake-up: when a user switched its maintenance
// mode, the held poll answers at once so the satellite adopts the new interval.
func (s *Server) pollingChanged(c *gin.Context, sat *store.Satellite) (*store.Satellite, bool, error) {
	now, err := s.store.SatelliteByID(c.Request.Context(), sat.ID)
	if err != nil {
		return sat, false, err
	}
	return now, now.Maintenance != sat.Maintenance, nil
}

func (s *Server) answerPoll(c *gin.Context, sat *store.Satellite, cmds []store.Command, waiting int) {
	rank := waiting
	out := api.CommandsResponse{Commands: make([]api.Command, len(cmds)), ServerTime: s.store.Now()}
	for i := range cmds {
		out.Commands[i] = toWireCommand(&cmds[i])
		s.sat.metrics.delivered.WithLabelValues(cmds[i].Priority, strconv.FormatBool(cmds[i].Attempt > 1)).Inc()
		if rank < 0 || cmds[i].PriorityRank < rank {
			rank = cmds[i].PriorityRank
		}
	}
	out.PollingMode, out.NextPollSeconds = pollingMode(sat, rank)
	c.Header(api.HeaderPollInterval, itoa(out.NextPollSeconds))
	writeJSON(c, http.StatusOK, out)
}

// pollingMode picks the next poll interval from the most urgent command just delivered or
// still waiting (rank, -1: none), or maintenance mode, which overrides it.
func pollingMode(sat *store.Satellite, rank int) (api.PollingMode, int) {
	switch {
	case sat.Maintenance || sat.Status == string(api.StatusMaintenance):
		return api.PollingMaintenance, pollMaintenance
	case rank == api.PriorityImmediate.Rank():
		return api.PollingImmediate, pollImmediate
	case rank == api.PriorityHigh.Rank():
		return api.PollingHigh, pollHigh
	case rank >= 0:
		return api.PollingNormal, pollNormal
	}
	return api.PollingIdle, pollIdle
}

// statusRequest is api.CommandStatusUpdate with its validation.
type statusRequest api.CommandStatusUpdate

func (r *statusRequest) validate() error {
	switch r.Status {
	case api.CommandAcknowledged, api.CommandRunning, api.CommandSucceeded, api.CommandFailed:
	default:
		return errInvalid("status", "status must be acknowledged, running, succeeded or failed")
	}
	if len(r.Result) > maxCommandResultBytes {
		return errInvalid("result", "result must be at most %d bytes of JSON", maxCommandResultBytes)
	}
	if len(r.Error) > maxCommandErrorBytes {
		return errInvalid("error", "error must be at most %d bytes", maxCommandErrorBytes)
	}
	if len(r.CorrelationID) > maxCorrelationIDLen {
		return errInvalid("correlation_id", "correlation_id must be at most %d characters", maxCorrelationIDLen)
	}
	return nil
}

var errIllegalTransition = &Error{http.StatusConflict, api.ErrConflict, "", ""}

// commandStatus applies a satellite's report on one of its commands.
func (s *Server) commandStatus(c *gin.Context) {
	id := c.Param("commandID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	var req statusRequest
	if !s.bind(c, &req) {
		return
	}
	u := store.StatusUpdate{Status: string(req.Status), Error: req.Error}
	if len(req.Result) > 0 {
		r := string(req.Result)
		u.Result = &r
	}
	cmd, err := s.store.UpdateCommandStatus(c.Request.Context(), satelliteOf(c).ID, id, u)
	if errors.Is(err, store.ErrIllegalTransition) {
		e := *errIllegalTransition
		e.Message = fmt.Sprintf("command is %s; it cannot become %s", cmd.Status, req.Status)
		s.fail(c, &e)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.adoptConfig(c, cmd, req.Status, req.Result); err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, api.CommandStatusResponse{ID: cmd.ID, Status: api.CommandStatus(cmd.Status)})
}

// Bounds of a heartbeat interval the backend adopts from a config.update result, in seconds
// (the range api.ConfigUpdatePayload allows).
const (
	minHeartbeatSeconds = 5
	maxHeartbeatSeconds = 3600
)

// adoptConfig makes the backend follow a config.update the satellite applied: the heartbeat
// interval in its result becomes the one heartbeat answers hand out and the offline sweep
// uses. Otherwise the next heartbeat answer would undo the change.
func (s *Server) adoptConfig(c *gin.Context, cmd *store.Command, status api.CommandStatus, result json.RawMessage) error {
	if cmd.Type != api.CommandConfigUpdate || status != api.CommandSucceeded || len(result) == 0 {
		return nil
	}
	var res api.ConfigUpdateResult
	if err := json.Unmarshal(result, &res); err != nil {
		s.log.Warn("config.update result not understood", zap.String("command_id", cmd.ID), zap.Error(err))
		return nil
	}
	if res.HeartbeatSeconds < minHeartbeatSeconds || res.HeartbeatSeconds > maxHeartbeatSeconds {
		return nil
	}
	return s.store.SetHeartbeatInterval(c.Request.Context(), cmd.SatelliteID, res.HeartbeatSeconds)
}

// commandHistory lists a satellite's commands, newest first (?status=, ?limit=, ?before=<id>).
func (s *Server) commandHistory(c *gin.Context) {
	q := store.CommandQuery{SatelliteID: satelliteOf(c).ID, Status: c.Query("status")}
	var err error
	if q.Limit, err = queryLimit(c, 100, maxHistoryLimit); err != nil {
		s.fail(c, err)
		return
	}
	if q.Status != "" && !knownCommandStatus(api.CommandStatus(q.Status)) {
		s.fail(c, errInvalid("status", "status must be a command state"))
		return
	}
	if q.Before, err = queryID(c, "before"); err != nil {
		s.fail(c, err)
		return
	}
	cmds, err := s.store.CommandHistory(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]commandJSON, len(cmds))
	for i := range cmds {
		out[i] = toCommandJSON(&cmds[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"commands": out})
}

func knownCommandStatus(st api.CommandStatus) bool {
	switch st {
	case api.CommandPending, api.CommandDelivered, api.CommandAcknowledged, api.CommandRunning:
		return true
	}
	return st.Terminal()
}

// cancelCommand cancels a pending or delivered command (members and up); later states are 409.
func (s *Server) cancelCommand(c *gin.Context) {
	id := c.Param("commandID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	cmd, err := s.store.CancelCommand(c.Request.Context(), satelliteOf(c).ID, id)
	if errors.Is(err, store.ErrIllegalTransition) {
		e := *errIllegalTransition
		e.Message = fmt.Sprintf("command is %s; only pending or delivered commands can be cancelled", cmd.Status)
		s.fail(c, &e)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "command.cancel", ObjectType: "command", ObjectID: cmd.ID, TeamID: cmd.TeamID})
	writeJSON(c, http.StatusOK, toCommandJSON(cmd))
}

// queryLimit reads ?limit= (default def, 1 to max).
func queryLimit(c *gin.Context, def, maxN int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxN {
		return 0, errInvalid("limit", "limit must be an integer from 1 to %d", maxN)
	}
	return n, nil
}

// queryID reads an optional id query parameter.
func queryID(c *gin.Context, name string) (string, error) {
	v := c.Query(name)
	if v != "" && !store.ValidID(v) {
		return "", errInvalid(name, "%s must be an id", name)
	}
	return v, nil
}
