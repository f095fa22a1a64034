package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/store"
)

// maxCorrelationIDLen bounds the correlation ids that events echo, as commands carry them.
const maxCorrelationIDLen = commands.MaxCorrelationIDLen

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
	out := api.Command{ID: c.ID, Type: c.Type, Priority: c.Priority, CorrelationID: c.CorrelationID,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, LeaseExpiresAt: c.LeaseExpiresAt, Attempt: c.Attempt}
	if c.Payload != nil {
		out.Payload = json.RawMessage(*c.Payload)
	}
	return out
}

func toCommandJSON(c *store.Command) commandJSON {
	out := commandJSON{Command: toWireCommand(c), SatelliteID: c.SatelliteID, Status: c.Status,
		CreatedBy: c.CreatedBy, UpdatedAt: c.UpdatedAt, DeliveredAt: c.DeliveredAt, FinishedAt: c.FinishedAt, Error: c.Error}
	if c.Result != nil {
		out.Result = json.RawMessage(*c.Result)
	}
	return out
}

// createCommandRequest is the body of POST .../commands; backend/commands checks it.
type createCommandRequest struct {
	Type     string          `json:"type"`
	Priority api.Priority    `json:"priority"`
	Payload  json.RawMessage `json:"payload"`
	// ExpiresInSeconds: an undelivered or unacknowledged command expires after this many
	// seconds; 0 or absent: never.
	ExpiresInSeconds int    `json:"expires_in_seconds"`
	CorrelationID    string `json:"correlation_id"`
}

// createCommand queues a command for a satellite (members and up).
func (s *Server) createCommand(c *gin.Context) {
	var req createCommandRequest
	if !s.bind(c, &req) {
		return
	}
	sat := satelliteOf(c)
	cmd, err := s.cmds.Create(c.Request.Context(), commands.CreateInput{SatelliteID: sat.ID, Type: req.Type,
		Priority: req.Priority, Payload: req.Payload, ExpiresInSeconds: req.ExpiresInSeconds,
		CorrelationID: req.CorrelationID, CreatedBy: principalOf(c).ActorID()})
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "command.create", ObjectType: "command", ObjectID: cmd.ID, TeamID: cmd.TeamID,
		Detail: fmt.Sprintf("satellite=%s type=%s priority=%s", sat.ID, cmd.Type, cmd.Priority)})
	writeJSON(c, http.StatusCreated, toCommandJSON(cmd))
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
	sat := authSatellite(c)
	var woken <-chan struct{}
	if wait > 0 {
		ch, cancel := s.cmds.Notifier().Subscribe(sat.ID)
		defer cancel()
		woken = ch
		s.sat.metrics.held.Inc()
		defer s.sat.metrics.held.Dec()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	h := heldPoll{sat: sat, last: wait == 0}
	for {
		d, err := s.cmds.Deliver(c.Request.Context(), h.sat)
		switch {
		case err != nil:
			s.pollFailed(c, &h, err)
			return
		case len(d.Commands) > 0 || h.last:
			s.answerPoll(c, d, h.drained)
			return
		}
		s.longPollStep(sat.ID, LongPollWaiting)
		h.looked = true
		select {
		case <-woken:
			s.longPollStep(sat.ID, LongPollWoken)
			if err := s.pollingChanged(c, &h); err != nil {
				s.pollFailed(c, &h, err)
				return
			}
		case <-timer.C:
			h.last = true
		case <-s.sat.draining:
			h.last, h.drained = true, true
		case <-c.Request.Context().Done():
			return // the satellite hung up; nothing was delivered
		}
	}
}

// heldPoll is the state of one poll request while it is held.
type heldPoll struct {
	sat *store.Satellite
	// last: the next look at the queue answers, whatever it finds.
	last bool
	// looked: the queue was looked at once and the poll has waited since.
	looked bool
	// drained: the server's shutdown ended the wait.
	drained bool
}

// pollFailed answers a poll whose look at the queue or the satellite failed. On the first look
// that is an error like any other. Once the poll has waited, the failure comes from what woke
// it: typically the database connection was lost together with the PostgreSQL listener, whose
// reconnection wakes every held poll. Nothing was delivered (the delivery is one transaction),
// so the poll answers empty with its normal pacing and the satellite simply polls again.
func (s *Server) pollFailed(c *gin.Context, h *heldPoll, err error) {
	if !h.looked || c.Request.Context().Err() != nil {
		s.fail(c, err)
		return
	}
	s.log.Warn("held long-poll answered empty: the queue could not be read after waiting",
		zap.String("satellite_id", h.sat.ID), zap.Error(err))
	d := commands.Delivery{}
	d.PollingMode, d.NextPollSeconds = commands.Pacing(h.sat, -1)
	s.answerPoll(c, d, h.drained)
}

// pollingChanged re-reads the satellite after a wake-up: when a user switched its maintenance
// mode, the held poll answers at once so the satellite adopts the new interval.
func (s *Server) pollingChanged(c *gin.Context, h *heldPoll) error {
	now, err := s.store.SatelliteByID(c.Request.Context(), h.sat.ID)
	if err != nil {
		return err
	}
	h.last = now.Maintenance != h.sat.Maintenance
	h.sat = now
	return nil
}

// answerPoll writes a poll's answer. An empty answer the shutdown caused carries
// api.HeaderDraining, so the satellite does not mistake it for a proxy cutting its long-poll.
func (s *Server) answerPoll(c *gin.Context, d commands.Delivery, drained bool) {
	out := api.CommandsResponse{Commands: make([]api.Command, len(d.Commands)), ServerTime: s.store.Now(),
		PollingMode: d.PollingMode, NextPollSeconds: d.NextPollSeconds}
	for i := range d.Commands {
		out.Commands[i] = toWireCommand(&d.Commands[i])
	}
	c.Header(api.HeaderPollInterval, itoa(out.NextPollSeconds))
	if drained && len(out.Commands) == 0 {
		c.Header(api.HeaderDraining, "1")
	}
	writeJSON(c, http.StatusOK, out)
}

// commandStatus applies a satellite's report on one of its commands.
func (s *Server) commandStatus(c *gin.Context) {
	id := c.Param("commandID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	var req api.CommandStatusUpdate
	if !s.bind(c, &req) {
		return
	}
	cmd, err := s.cmds.Report(c.Request.Context(), authSatellite(c).ID, id, commands.Report(req))
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, api.CommandStatusResponse{ID: cmd.ID, Status: cmd.Status})
}

// commandHistory lists a satellite's commands, newest first (?status=, ?limit=, ?before=<id>).
func (s *Server) commandHistory(c *gin.Context) {
	q := commands.HistoryQuery{SatelliteID: satelliteOf(c).ID, Status: api.CommandStatus(c.Query("status"))}
	var err error
	if q.Limit, err = queryLimit(c, 100, commands.MaxHistoryLimit); err != nil {
		s.fail(c, err)
		return
	}
	q.Before = c.Query("before")
	cmds, err := s.cmds.History(c.Request.Context(), q)
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

// cancelCommand cancels a pending or delivered command (members and up); later states are 409.
func (s *Server) cancelCommand(c *gin.Context) {
	cmd, err := s.cmds.Cancel(c.Request.Context(), satelliteOf(c).ID, c.Param("commandID"))
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
