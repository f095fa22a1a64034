package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/rollouts"
	"github.com/talos-gs/talos/backend/store"
)

// rolloutRoutes: global administrators start, watch and stop staged rollouts of a release.
func (s *Server) rolloutRoutes() {
	s.rollouts = &rollouts.Service{Store: s.store, Commands: s.cmds, Log: s.log.Named("rollouts")}
	s.userAPI.POST("/rollouts", s.requireAdmin, s.createRollout)
	s.userAPI.GET("/rollouts", s.requireAdmin, s.listRollouts)
	s.userAPI.GET("/rollouts/:rolloutID", s.requireAdmin, s.getRollout)
	s.userAPI.POST("/rollouts/:rolloutID/stop", s.requireAdmin, s.stopRollout)
}

// RunRollouts advances running rollouts every interval until ctx ends; safe on every replica
// (each rollout is claimed by one at a time).
func (s *Server) RunRollouts(ctx context.Context, every time.Duration) error {
	return s.rollouts.Run(ctx, every)
}

// RolloutTick advances running rollouts once (tests; RunRollouts in production).
func (s *Server) RolloutTick(ctx context.Context) error { return s.rollouts.Tick(ctx) }

type createRolloutRequest struct {
	ReleaseID    string   `json:"release_id"`
	SatelliteIDs []string `json:"satellite_ids"`
	TeamID       string   `json:"team_id"`
	Stages       []int    `json:"stages"`
	SoakSeconds  *int     `json:"soak_seconds"`
}

type rolloutJSON struct {
	ID          string               `json:"id"`
	ReleaseID   string               `json:"release_id"`
	Stages      []int                `json:"stages"`
	SoakSeconds int                  `json:"soak_seconds"`
	Stage       int                  `json:"stage"`
	State       string               `json:"state"`
	Reason      string               `json:"reason,omitempty"`
	CreatedBy   *string              `json:"created_by"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
	Stations    []rolloutStationJSON `json:"stations,omitempty"`
}

type rolloutStationJSON struct {
	SatelliteID string     `json:"satellite_id"`
	Stage       int        `json:"stage"`
	State       string     `json:"state"`
	CommandID   *string    `json:"command_id"`
	Detail      string     `json:"detail,omitempty"`
	UpdatedAt   *time.Time `json:"updated_at"`
}

func toRolloutJSON(r *store.Rollout, sts []store.RolloutStation) rolloutJSON {
	out := rolloutJSON{ID: r.ID, ReleaseID: r.ReleaseID, Stages: r.Stages, SoakSeconds: r.SoakSeconds, Stage: r.Stage,
		State: r.State, Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for _, st := range sts {
		out.Stations = append(out.Stations, rolloutStationJSON{SatelliteID: st.SatelliteID, Stage: st.Stage, State: st.State,
			CommandID: st.CommandID, Detail: st.Detail, UpdatedAt: st.UpdatedAt})
	}
	return out
}

func (s *Server) rolloutFail(c *gin.Context, err error) {
	var ie *rollouts.InvalidError
	if errors.As(err, &ie) {
		s.fail(c, errInvalid(ie.Field, "%s: %s", ie.Field, ie.Message))
		return
	}
	s.fail(c, err)
}

func (s *Server) createRollout(c *gin.Context) {
	var req createRolloutRequest
	if !s.bind(c, &req) {
		return
	}
	in := rollouts.CreateInput{ReleaseID: req.ReleaseID, SatelliteIDs: req.SatelliteIDs, TeamID: req.TeamID,
		Stages: req.Stages, SoakSeconds: req.SoakSeconds}
	if p := principalOf(c); p != nil && p.User != nil {
		in.CreatedBy = &p.User.ID
	}
	r, err := s.rollouts.Create(c.Request.Context(), in)
	if err != nil {
		s.rolloutFail(c, err)
		return
	}
	r, sts, err := s.store.RolloutByID(c.Request.Context(), r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, toRolloutJSON(r, sts))
}

func (s *Server) listRollouts(c *gin.Context) {
	rs, err := s.store.Rollouts(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]rolloutJSON, len(rs))
	for i := range rs {
		out[i] = toRolloutJSON(&rs[i], nil)
	}
	writeJSON(c, http.StatusOK, gin.H{"rollouts": out})
}

func (s *Server) getRollout(c *gin.Context) {
	id := c.Param("rolloutID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	r, sts, err := s.store.RolloutByID(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toRolloutJSON(r, sts))
}

type stopRolloutRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) stopRollout(c *gin.Context) {
	id := c.Param("rolloutID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	var req stopRolloutRequest
	if c.Request.ContentLength != 0 && !s.bind(c, &req) {
		return
	}
	if len(req.Reason) > 500 {
		s.fail(c, errInvalid("reason", "reason: at most 500 bytes"))
		return
	}
	if err := s.rollouts.Stop(c.Request.Context(), id, req.Reason); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
