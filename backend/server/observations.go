package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/store"
)

// maxObservationList bounds one list of observations.
const maxObservationList = 1000

func (s *Server) observationRoutes() {
	s.obs = observations.New(observations.Options{Store: s.store, Commands: s.cmds, Catalog: s.catalog,
		Logger: s.log.Named("observations"), Settings: s.opts.Observations, Now: s.opts.Now,
		SharedWith: func(ctx context.Context, teamID string, station *store.Satellite) (bool, error) {
			return s.store.SharedWith(ctx, teamID, station.ID)
		}})
	if s.autosched.Runner.Booker == nil {
		s.autosched.Runner.Booker = observationBooker{s.obs}
	}
	s.metrics.registry.MustRegister(s.obs.Collectors()...)
	s.operate(s.teamAPI, http.MethodPost, "/observations", s.createObservation)
	s.teamAPI.GET("/observations", s.listObservations)
	s.teamAPI.GET("/observations/stats", s.observationStats)
	s.teamAPI.GET("/observations/:observationID", s.getObservation)
	s.operate(s.teamAPI, http.MethodPost, "/observations/:observationID/cancel", s.cancelObservation)
	s.operate(s.teamAPI, http.MethodPost, "/observations/:observationID/verdict", s.overrideVerdict)
}

// Observations is the observation service the routes use (and serve's job runs).
func (s *Server) Observations() *observations.Service { return s.obs }

// observationJSON is an observation as users see it; satellite_id is the station.
type observationJSON struct {
	ID              string          `json:"id,omitempty"`
	TeamID          string          `json:"team_id"`
	SatelliteID     string          `json:"satellite_id"`
	SpacecraftID    string          `json:"spacecraft_id"`
	NORAD           int             `json:"norad"`
	TransmitterID   string          `json:"transmitter_id"`
	AOS             time.Time       `json:"aos"`
	TCA             time.Time       `json:"tca"`
	LOS             time.Time       `json:"los"`
	MaxEl           float64         `json:"max_el"`
	AOSAz           float64         `json:"aos_az"`
	LOSAz           float64         `json:"los_az"`
	ElementSetID    string          `json:"element_set_id"`
	ElementSetEpoch time.Time       `json:"element_set_epoch"`
	Decoder         string          `json:"decoder,omitempty"`
	CreatedBy       string          `json:"created_by"`
	Source          string          `json:"source"`
	State           string          `json:"state"`
	CommandID       string          `json:"command_id,omitempty"`
	DispatchedAt    *time.Time      `json:"dispatched_at,omitempty"`
	Verdict         string          `json:"verdict,omitempty"`
	VerdictReasons  []string        `json:"verdict_reasons"`
	VerdictAt       *time.Time      `json:"verdict_at,omitempty"`
	OverrideNote    string          `json:"override_note,omitempty"`
	OverrideBy      string          `json:"override_by,omitempty"`
	Summary         json.RawMessage `json:"summary,omitempty"`
	DecoderProblems []string        `json:"decoder_problems"`
	CreatedAt       time.Time       `json:"created_at,omitempty"`
	UpdatedAt       time.Time       `json:"updated_at,omitempty"`
	History         []historyJSON   `json:"history,omitempty"`
}

type historyJSON struct {
	At     time.Time `json:"at"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor,omitempty"`
}

func toObservationJSON(o *store.Observation) observationJSON {
	out := observationJSON{ID: o.ID, TeamID: o.TeamID, SatelliteID: o.SatelliteID, SpacecraftID: o.SpacecraftID,
		NORAD: o.NORADID, TransmitterID: o.TransmitterID, AOS: o.AOS, TCA: o.TCA, LOS: o.LOS, MaxEl: round2(o.MaxEl),
		AOSAz: round2(o.AOSAz), LOSAz: round2(o.LOSAz), ElementSetID: o.ElementSetID, ElementSetEpoch: o.ElementSetEpoch,
		Decoder: o.Decoder, CreatedBy: o.CreatedBy, Source: o.Source, State: o.State, CommandID: o.CommandID,
		DispatchedAt: o.DispatchedAt, Verdict: o.Verdict, VerdictAt: o.VerdictAt, OverrideNote: o.OverrideNote,
		OverrideBy: o.OverrideBy, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		VerdictReasons: jsonStrings(o.VerdictReasons), DecoderProblems: jsonStrings(o.DecoderProblems)}
	if o.Summary != nil && json.Valid([]byte(*o.Summary)) {
		out.Summary = json.RawMessage(*o.Summary)
	}
	return out
}

// jsonStrings reads a stored JSON array of strings; what the store holds is always one.
func jsonStrings(raw string) []string {
	out := []string{}
	if raw != "" {
		_ = json.Unmarshal([]byte(raw), &out) // written by the service as a []string
	}
	return out
}

// createObservationRequest is the body of POST /api/teams/{team}/observations.
type createObservationRequest struct {
	SatelliteID   string    `json:"satellite_id"`
	NORAD         int       `json:"norad"`
	AOS           time.Time `json:"aos"`
	LOS           time.Time `json:"los"`
	TransmitterID string    `json:"transmitter_id"`
	Decoder       string    `json:"decoder"`
	// MinEl is the min_el the pass was listed with by GET /passes (default 0).
	MinEl  float64 `json:"min_el"`
	DryRun bool    `json:"dry_run"`
}

// refusalJSON is one rule that refuses a previewed booking.
type refusalJSON struct {
	Rule       string `json:"rule"`
	Field      string `json:"field,omitempty"`
	Message    string `json:"message"`
	ConflictID string `json:"conflict_id,omitempty"`
}

// createObservation books a pass (members; operate scope for tokens). With dry_run it answers
// 200 with the observation it would book and every rule that refuses it.
func (s *Server) createObservation(c *gin.Context) {
	var req createObservationRequest
	if !s.bind(c, &req) {
		return
	}
	in := observations.ScheduleInput{TeamID: teamOf(c).ID, SatelliteID: req.SatelliteID, NORAD: req.NORAD, AOS: req.AOS,
		LOS: req.LOS, TransmitterID: req.TransmitterID, Decoder: req.Decoder, CreatedBy: principalOf(c).ActorID(),
		MinElevationDeg: req.MinEl, DryRun: req.DryRun, Source: observations.SourceUser}
	ctx := c.Request.Context()
	if req.DryRun {
		o, refusals, err := s.obs.Preview(ctx, in)
		if err != nil {
			s.fail(c, err)
			return
		}
		out := gin.H{"dry_run": true, "would_schedule": len(refusals) == 0, "observation": toObservationJSON(o),
			"refusals": toRefusals(refusals)}
		writeJSON(c, http.StatusOK, out)
		return
	}
	o, err := s.obs.Schedule(ctx, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, toObservationJSON(o))
}

func toRefusals(rs []*observations.Error) []refusalJSON {
	out := make([]refusalJSON, len(rs))
	for i, r := range rs {
		out[i] = refusalJSON{Rule: r.Rule, Field: r.Field, Message: r.Message, ConflictID: r.ConflictID}
	}
	return out
}

// listObservations lists the team's observations by AOS (?state=, ?satellite_id=, ?from=, ?to=,
// ?limit=); any member, viewers included.
func (s *Server) listObservations(c *gin.Context) {
	q := store.ObservationQuery{TeamID: teamOf(c).ID, Limit: maxObservationList}
	for _, st := range c.QueryArray("state") {
		if !knownObservationState(st) {
			s.fail(c, errInvalid("state", "state must be scheduled, dispatched, prepared, running, completed, failed, cancelled or missed"))
			return
		}
		q.States = append(q.States, st)
	}
	if v := c.Query("satellite_id"); v != "" {
		if !store.ValidID(v) {
			s.fail(c, errInvalid("satellite_id", "%q is not a satellite id", v))
			return
		}
		q.SatelliteID = v
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				s.fail(c, errInvalid(p.name, "%s must be an RFC 3339 time", p.name))
				return
			}
			*p.dst = &t
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxObservationList {
			s.fail(c, errInvalid("limit", "limit must be 1 to %d", maxObservationList))
			return
		}
		q.Limit = n
	}
	obs, err := s.store.Observations(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]observationJSON, len(obs))
	for i := range obs {
		out[i] = toObservationJSON(&obs[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"observations": out})
}

func knownObservationState(st string) bool {
	switch st {
	case store.ObsScheduled, store.ObsDispatched, store.ObsPrepared, store.ObsRunning,
		store.ObsCompleted, store.ObsFailed, store.ObsCancelled, store.ObsMissed:
		return true
	}
	return false
}

// getObservation answers one observation with its history.
func (s *Server) getObservation(c *gin.Context) {
	id, ok := s.observationID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	team := teamOf(c).ID
	o, err := s.store.TeamObservation(ctx, team, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	hist, err := s.obs.History(ctx, team, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := toObservationJSON(o)
	for _, h := range hist {
		out.History = append(out.History, historyJSON{At: h.At, From: h.FromState, To: h.ToState, Reason: h.Reason, Actor: h.Actor})
	}
	writeJSON(c, http.StatusOK, out)
}

func (s *Server) observationID(c *gin.Context) (string, bool) {
	id := c.Param("observationID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return "", false
	}
	return id, true
}

// cancelObservation cancels an observation before or during its pass (members).
func (s *Server) cancelObservation(c *gin.Context) {
	id, ok := s.observationID(c)
	if !ok {
		return
	}
	o, err := s.obs.Cancel(c.Request.Context(), teamOf(c).ID, id, principalOf(c).ActorID())
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toObservationJSON(o))
}

// verdictRequest is the body of POST .../observations/{id}/verdict.
type verdictRequest struct {
	Verdict string `json:"verdict"`
	Note    string `json:"note"`
}

// overrideVerdict replaces a finished observation's verdict with a member's, with a note.
func (s *Server) overrideVerdict(c *gin.Context) {
	id, ok := s.observationID(c)
	if !ok {
		return
	}
	var req verdictRequest
	if !s.bind(c, &req) {
		return
	}
	o, err := s.obs.OverrideVerdict(c.Request.Context(), teamOf(c).ID, id, req.Verdict, req.Note, principalOf(c).ActorID())
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toObservationJSON(o))
}

// observationStats answers the team's success rates per station and per spacecraft over 7 and
// 30 days (?days= picks one).
func (s *Server) observationStats(c *gin.Context) {
	windows := observations.RateWindows
	if v := c.Query("days"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 1 || d > 366 {
			s.fail(c, errInvalid("days", "days must be 1 to 366"))
			return
		}
		windows = []int{d}
	}
	out := make([]*observations.Rates, 0, len(windows))
	for _, d := range windows {
		r, err := s.obs.SuccessRates(c.Request.Context(), teamOf(c).ID, d)
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, r)
	}
	writeJSON(c, http.StatusOK, gin.H{"windows": out})
}

// conflictID is the observation a refusal conflicts with, if any.
func conflictID(err error) string {
	var oe *observations.Error
	if errors.As(err, &oe) {
		return oe.ConflictID
	}
	return ""
}

// observationError maps a refusal of the observation rules to its answer.
func observationError(err error) (*Error, bool) {
	var oe *observations.Error
	if !errors.As(err, &oe) {
		return nil, false
	}
	switch oe.Kind {
	case observations.Invalid:
		return errInvalid(oe.Field, "%s", oe.Message), true
	case observations.Conflict:
		return &Error{Status: http.StatusConflict, Code: oe.Rule, Message: oe.Message, Field: oe.Field}, true
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: oe.Rule, Message: oe.Message, Field: oe.Field}, true
}
