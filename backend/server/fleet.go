package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/store"
)

// fleetRoutes are the team's fleet operations: commands fanned out to a tag query, and the
// parent's report. Pausing sits with the other satellite routes (satelliteRoutes).
func (s *Server) fleetRoutes() {
	s.operate(s.teamAPI, http.MethodPost, "/commands", s.createFanout)
	s.teamAPI.GET("/commands/:fanoutID", s.getFanout)
	s.operate(s.teamAPI, http.MethodPost, "/commands/:fanoutID/cancel", s.cancelFanout)
}

// createFanoutRequest is the body of POST /api/teams/{team}/commands: createCommandRequest with
// a tag query instead of a satellite.
type createFanoutRequest struct {
	// Target is the tag query selecting the team's stations (backend/tagquery).
	Target string `json:"target"`
	createCommandRequest
}

// fanoutJSON is a fan-out as users see it: the parent, each child and a summary.
type fanoutJSON struct {
	ID            string           `json:"id"`
	TeamID        string           `json:"team_id"`
	Target        string           `json:"target"`
	Type          string           `json:"type"`
	Priority      string           `json:"priority"`
	Payload       json.RawMessage  `json:"payload,omitempty"`
	CorrelationID string           `json:"correlation_id,omitempty"`
	CreatedBy     string           `json:"created_by,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	CancelledAt   *time.Time       `json:"cancelled_at,omitempty"`
	Summary       commands.Summary `json:"summary"`
	Commands      []commandJSON    `json:"commands"`
	// Skipped are the selected stations left out (paused), only in the answer to the creation.
	Skipped []skippedJSON `json:"skipped,omitempty"`
}

type skippedJSON struct {
	SatelliteID string `json:"satellite_id"`
	Reason      string `json:"reason"`
}

func toFanoutJSON(f *commands.FanOut) fanoutJSON {
	p := f.Parent
	out := fanoutJSON{ID: p.ID, TeamID: p.TeamID, Target: p.Target, Type: p.Type, Priority: string(p.Priority),
		CorrelationID: p.CorrelationID, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, CancelledAt: p.CancelledAt,
		Summary: f.Summary(), Commands: make([]commandJSON, len(f.Children))}
	if p.Payload != nil {
		out.Payload = json.RawMessage(*p.Payload)
	}
	for i := range f.Children {
		out.Commands[i] = toCommandJSON(&f.Children[i])
	}
	for _, sk := range f.Skipped {
		out.Skipped = append(out.Skipped, skippedJSON(sk))
	}
	return out
}

// createFanout sends a command to every station of the team a tag query selects (members and
// up): 201 with the parent and its children; a query selecting none is 422.
func (s *Server) createFanout(c *gin.Context) {
	var req createFanoutRequest
	if !s.bind(c, &req) {
		return
	}
	team := teamOf(c)
	f, err := s.cmds.FanOut(c.Request.Context(), commands.FanOutInput{TeamID: team.ID, Target: req.Target,
		Command: commands.CreateInput{Type: req.Type, Priority: req.Priority, Payload: req.Payload,
			ExpiresInSeconds: req.ExpiresInSeconds, CorrelationID: req.CorrelationID, CreatedBy: principalOf(c).ActorID()}})
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "command.fanout", ObjectType: "command_fanout", ObjectID: f.Parent.ID, TeamID: team.ID,
		Detail: fmt.Sprintf("target=%q type=%s priority=%s satellites=%d skipped=%d", f.Parent.Target, f.Parent.Type,
			f.Parent.Priority, len(f.Children), len(f.Skipped))})
	writeJSON(c, http.StatusCreated, toFanoutJSON(f))
}

// getFanout reports a fan-out: each child's state and the summary.
func (s *Server) getFanout(c *gin.Context) {
	f, err := s.cmds.Fanout(c.Request.Context(), teamOf(c).ID, c.Param("fanoutID"))
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toFanoutJSON(f))
}

// cancelFanout cancels a fan-out's children not yet acknowledged (members and up).
func (s *Server) cancelFanout(c *gin.Context) {
	team := teamOf(c)
	f, n, err := s.cmds.CancelFanout(c.Request.Context(), team.ID, c.Param("fanoutID"))
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "command.fanout_cancel", ObjectType: "command_fanout", ObjectID: f.Parent.ID,
		TeamID: team.ID, Detail: fmt.Sprintf("cancelled=%d", n)})
	writeJSON(c, http.StatusOK, toFanoutJSON(f))
}

// pauseRequest is the body of POST .../satellites/{id}/pause.
type pauseRequest struct {
	Note string `json:"note"`
	// Until ends the pause by itself (RFC 3339); absent: until resumed.
	Until *time.Time `json:"until"`
	// Running is "finish" (default) or "cancel".
	Running string `json:"running"`
}

// pauseSatellite pauses a station (members and up): it takes no new commands but those
// commands.PausedTypes lists until resumed or until the pause's end.
func (s *Server) pauseSatellite(c *gin.Context) {
	var req pauseRequest
	if !s.bind(c, &req) {
		return
	}
	sat := satelliteOf(c)
	if sat.TeamID == nil {
		s.fail(c, errInvalid("", "a satellite of no team cannot be paused: assign it to a team first"))
		return
	}
	res, err := s.cmds.Pause(c.Request.Context(), commands.PauseInput{TeamID: *sat.TeamID, SatelliteID: sat.ID,
		Note: req.Note, Until: req.Until, Running: req.Running, By: principalOf(c).ActorID()})
	if err != nil {
		s.fail(c, err)
		return
	}
	until := "resume"
	if req.Until != nil {
		until = req.Until.UTC().Format(time.RFC3339)
	}
	setAudit(c, auditInfo{Action: "satellite.pause", ObjectType: "satellite", ObjectID: sat.ID, TeamID: *sat.TeamID,
		Detail: fmt.Sprintf("note=%q until=%s running=%s cancelled=%d observations_stopped=%d",
			res.Satellite.PauseNote, until, res.Satellite.PauseRunning, res.Cancelled, len(res.Stops))})
	writeJSON(c, http.StatusOK, s.toSatelliteJSON(res.Satellite))
}

// resumeSatellite ends a station's pause (members and up); resuming a running station is a
// no-op answered alike.
func (s *Server) resumeSatellite(c *gin.Context) {
	sat := satelliteOf(c)
	if sat.TeamID == nil {
		s.fail(c, errNotFound)
		return
	}
	now, was, err := s.cmds.Resume(c.Request.Context(), *sat.TeamID, sat.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "satellite.resume", ObjectType: "satellite", ObjectID: sat.ID, TeamID: *sat.TeamID,
		Detail: fmt.Sprintf("was_paused=%t", was)})
	writeJSON(c, http.StatusOK, s.toSatelliteJSON(now))
}

// pauseJSON is a station's pause as users see it.
type pauseJSON struct {
	Note     string     `json:"note"`
	Since    time.Time  `json:"since"`
	Until    *time.Time `json:"until,omitempty"`
	By       string     `json:"by"`
	Running  string     `json:"running"`
	Commands []string   `json:"commands_allowed"`
}

// pauseOf is sat's pause in force at now, or nil.
func pauseOf(sat *store.Satellite, now time.Time) *pauseJSON {
	if !sat.Paused(now) {
		return nil
	}
	return &pauseJSON{Note: sat.PauseNote, Since: *sat.PausedAt, Until: sat.PausedUntil, By: sat.PausedBy,
		Running: sat.PauseRunning, Commands: commands.PausedTypes}
}

// statusPaused is the status users see for a paused station, whatever it reports.
const statusPaused = "paused"

// satelliteStatus is the status users see: paused while a pause is in force, else the reported
// (or offline) one.
func satelliteStatus(sat *store.Satellite, now time.Time) string {
	if sat.Paused(now) {
		return statusPaused
	}
	return sat.Status
}
