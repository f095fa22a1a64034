package server

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
)

// Limits of the auto-scheduler's settings (docs/autoscheduler.md).
const (
	maxAutoschedTargets = 1000
	maxShares           = 100
	maxShareWeight      = 1000
	maxPriority         = 100
	maxSlewRateDegS     = 100.0
	// maxSkippedShown bounds the skipped passes listed in a preview or run answer (all are
	// counted in skipped_by_reason).
	maxSkippedShown = 1000
)

const ctxAutoschedTarget = "talos.autosched_target"

// autoschedRoutes: any member (viewers included) reads the team's list, its stations' settings,
// the last run and a preview; team admins change the list and the settings of the team's
// stations (which teams may use them, and how much); members may start a run at once (it books
// observations, so a personal token needs the operate scope).
func (s *Server) autoschedRoutes() {
	g := s.teamAPI.Group("/autoschedule")
	g.GET("", s.autoschedStatus)
	g.GET("/preview", s.autoschedPreview)
	s.operate(g, http.MethodPost, "/run", s.autoschedRun)
	g.GET("/targets", s.listAutoschedTargets)
	g.POST("/targets", s.catalogAdmin, s.createAutoschedTarget)
	one := g.Group("/targets/:targetID", s.autoschedTargetAccess)
	one.GET("", s.getAutoschedTarget)
	one.PATCH("", s.catalogAdmin, s.updateAutoschedTarget)
	one.DELETE("", s.catalogAdmin, s.deleteAutoschedTarget)
	for _, sat := range []*gin.RouterGroup{
		s.userAPI.Group("/satellites/:satelliteID", s.satelliteAccess),
		s.teamAPI.Group("/satellites/:satelliteID", s.teamSatelliteAccess),
	} {
		sat.GET("/autoschedule", s.getStationSettings)
		sat.PUT("/autoschedule", s.catalogAdmin, s.putStationSettings)
	}
}

// autoschedTargetJSON is one spacecraft on a team's list.
type autoschedTargetJSON struct {
	ID            string    `json:"id"`
	NORAD         int       `json:"norad"`
	Priority      int       `json:"priority"`
	TransmitterID string    `json:"transmitter_id"`
	Decoder       string    `json:"decoder,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toTargetJSON(t *store.AutoschedTarget) autoschedTargetJSON {
	return autoschedTargetJSON{ID: t.ID, NORAD: t.NORADID, Priority: t.Priority, TransmitterID: t.TransmitterID,
		Decoder: t.Decoder, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func (s *Server) listAutoschedTargets(c *gin.Context) {
	ts, err := s.store.AutoschedTargets(c.Request.Context(), teamOf(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]autoschedTargetJSON, len(ts))
	for i := range ts {
		out[i] = toTargetJSON(&ts[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"targets": out})
}

type createTargetRequest struct {
	NORAD         noradField `json:"norad"`
	Priority      *int       `json:"priority"`
	TransmitterID string     `json:"transmitter_id"`
	Decoder       string     `json:"decoder"`
	norad         int
}

func (r *createTargetRequest) validate() error {
	n, err := catalog.ParseNORAD(string(r.NORAD))
	if err != nil {
		return errInvalid("norad", "norad: %v", err)
	}
	r.norad = n
	if r.Priority == nil {
		return errInvalid("priority", "priority is required: 1 (lowest) to %d", maxPriority)
	}
	if err := validPriority(*r.Priority); err != nil {
		return err
	}
	if r.TransmitterID == "" {
		return errInvalid("transmitter_id", "transmitter_id is required: the id of one of the spacecraft's transmitters")
	}
	return validDecoder(r.Decoder)
}

func validPriority(p int) error {
	if p < 1 || p > maxPriority {
		return errInvalid("priority", "priority must be 1 (lowest) to %d", maxPriority)
	}
	return nil
}

func validDecoder(d string) error {
	if d == "" {
		return nil
	}
	if err := api.ValidateProgramName(d); err != nil {
		return errInvalid("decoder", "decoder %q must be the name of a program of the station's allow-list: 1 to 63 characters of a-z, 0-9, '.', '_', '-'", d)
	}
	return nil
}

// checkTransmitter answers whether transmitterID is a transmitter of the spacecraft the team
// sees with the NORAD id (its own one shadowing a global one).
func (s *Server) checkTransmitter(c *gin.Context, norad int, transmitterID string) error {
	ctx := c.Request.Context()
	scs, err := s.store.VisibleSpacecraft(ctx, teamOf(c).ID, store.SpacecraftQuery{NORADIDs: []int{norad}, Limit: 2})
	if err != nil {
		return err
	}
	if len(scs) == 0 {
		return errInvalid("norad", "the team's catalog has no spacecraft %s", catalog.FormatNORAD(norad))
	}
	sc := scs[0]
	for i := range scs {
		if !scs[i].Global() { // the team's own one wins, as in planning
			sc = scs[i]
		}
	}
	if store.ValidID(transmitterID) {
		owner, err := s.store.TransmitterSpacecraft(ctx, []string{transmitterID})
		if err != nil {
			return err
		}
		if owner[transmitterID] == sc.ID {
			return nil
		}
	}
	return errInvalid("transmitter_id", "%q is not a transmitter of spacecraft %s", transmitterID, catalog.FormatNORAD(norad))
}

func (s *Server) createAutoschedTarget(c *gin.Context) {
	var req createTargetRequest
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	team := teamOf(c)
	if err := s.checkTransmitter(c, req.norad, req.TransmitterID); err != nil {
		s.fail(c, err)
		return
	}
	existing, err := s.store.AutoschedTargets(ctx, team.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(existing) >= maxAutoschedTargets {
		s.fail(c, errInvalid("norad", "a team's list holds at most %d spacecraft", maxAutoschedTargets))
		return
	}
	t := &store.AutoschedTarget{TeamID: team.ID, NORADID: req.norad, Priority: *req.Priority,
		TransmitterID: req.TransmitterID, Decoder: req.Decoder}
	if err := s.store.CreateAutoschedTarget(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = &Error{http.StatusConflict, api.ErrConflict, "spacecraft " + catalog.FormatNORAD(req.norad) + " is already on the team's list", "norad"}
		}
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "autoschedule_target.create", ObjectType: "autoschedule_target", ObjectID: t.ID,
		Detail: catalog.FormatNORAD(t.NORADID)})
	writeJSON(c, http.StatusCreated, toTargetJSON(t))
}

// autoschedTargetAccess loads the team's target of the path (404 for any other).
func (s *Server) autoschedTargetAccess(c *gin.Context) {
	id := c.Param("targetID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	t, err := s.store.AutoschedTarget(c.Request.Context(), teamOf(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxAutoschedTarget, t)
	c.Next()
}

func autoschedTargetOf(c *gin.Context) *store.AutoschedTarget {
	v, _ := c.Get(ctxAutoschedTarget)
	t, _ := v.(*store.AutoschedTarget)
	return t
}

func (s *Server) getAutoschedTarget(c *gin.Context) {
	writeJSON(c, http.StatusOK, toTargetJSON(autoschedTargetOf(c)))
}

type updateTargetRequest struct {
	Priority      *int    `json:"priority"`
	TransmitterID *string `json:"transmitter_id"`
	Decoder       *string `json:"decoder"`
}

func (r *updateTargetRequest) validate() error {
	if r.Priority != nil {
		if err := validPriority(*r.Priority); err != nil {
			return err
		}
	}
	if r.Decoder != nil {
		return validDecoder(*r.Decoder)
	}
	return nil
}

func (s *Server) updateAutoschedTarget(c *gin.Context) {
	var req updateTargetRequest
	if !s.bind(c, &req) {
		return
	}
	t := autoschedTargetOf(c)
	if req.TransmitterID != nil {
		if err := s.checkTransmitter(c, t.NORADID, *req.TransmitterID); err != nil {
			s.fail(c, err)
			return
		}
	}
	t, err := s.store.UpdateAutoschedTarget(c.Request.Context(), t.TeamID, t.ID,
		store.AutoschedTargetUpdate{Priority: req.Priority, TransmitterID: req.TransmitterID, Decoder: req.Decoder})
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "autoschedule_target.update", ObjectType: "autoschedule_target", ObjectID: t.ID,
		Detail: catalog.FormatNORAD(t.NORADID)})
	writeJSON(c, http.StatusOK, toTargetJSON(t))
}

func (s *Server) deleteAutoschedTarget(c *gin.Context) {
	t := autoschedTargetOf(c)
	if err := s.store.DeleteAutoschedTarget(c.Request.Context(), t.TeamID, t.ID); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "autoschedule_target.delete", ObjectType: "autoschedule_target", ObjectID: t.ID,
		Detail: catalog.FormatNORAD(t.NORADID)})
	c.Status(http.StatusNoContent)
}

// stationSettingsJSON is how the auto-scheduler may use a station.
type stationSettingsJSON struct {
	SatelliteID     string      `json:"satellite_id"`
	SlewAzDegS      float64     `json:"slew_az_deg_s"`
	SlewElDegS      float64     `json:"slew_el_deg_s"`
	MinElevationDeg float64     `json:"min_elevation_deg"`
	Shares          []shareJSON `json:"shares"`
	UpdatedAt       *time.Time  `json:"updated_at,omitempty"`
}

type shareJSON struct {
	TeamID string `json:"team_id"`
	Weight int    `json:"weight"`
}

// getStationSettings answers the station's settings, or the defaults (no shares: the
// auto-scheduler leaves it alone) when none were set.
func (s *Server) getStationSettings(c *gin.Context) {
	sat := satelliteOf(c)
	all, err := s.store.AutoschedStations(c.Request.Context(), []string{sat.ID})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := stationSettingsJSON{SatelliteID: sat.ID, SlewAzDegS: autosched.DefaultSlewRateDegS,
		SlewElDegS: autosched.DefaultSlewRateDegS, MinElevationDeg: autosched.DefaultMinElevationDeg, Shares: []shareJSON{}}
	if st := all[sat.ID]; st != nil {
		out.SlewAzDegS, out.SlewElDegS, out.MinElevationDeg, out.UpdatedAt = st.SlewAzDegS, st.SlewElDegS, st.MinElevationDeg, &st.UpdatedAt
		for _, sh := range st.Shares {
			out.Shares = append(out.Shares, shareJSON{TeamID: sh.TeamID, Weight: sh.Weight})
		}
	}
	writeJSON(c, http.StatusOK, out)
}

type putStationRequest struct {
	SlewAzDegS      *float64    `json:"slew_az_deg_s"`
	SlewElDegS      *float64    `json:"slew_el_deg_s"`
	MinElevationDeg *float64    `json:"min_elevation_deg"`
	Shares          []shareJSON `json:"shares"`
}

func (r *putStationRequest) validate() error {
	for field, v := range map[string]*float64{"slew_az_deg_s": r.SlewAzDegS, "slew_el_deg_s": r.SlewElDegS} {
		if v != nil && (math.IsNaN(*v) || *v <= 0 || *v > maxSlewRateDegS) {
			return errInvalid(field, "%s must be degrees per second above 0 and at most %g", field, maxSlewRateDegS)
		}
	}
	if v := r.MinElevationDeg; v != nil && (math.IsNaN(*v) || *v < -5 || *v >= 90) {
		return errInvalid("min_elevation_deg", "min_elevation_deg must be degrees in [-5, 90)")
	}
	if r.Shares == nil {
		return errInvalid("shares", "shares is required: the teams that may use the station, each with a weight ([] for none)")
	}
	if len(r.Shares) > maxShares {
		return errInvalid("shares", "at most %d shares", maxShares)
	}
	seen := map[string]bool{}
	for _, sh := range r.Shares {
		if !store.ValidID(sh.TeamID) {
			return errInvalid("shares.team_id", "%q is not a team id", sh.TeamID)
		}
		if seen[sh.TeamID] {
			return errInvalid("shares.team_id", "team %s has two shares", sh.TeamID)
		}
		seen[sh.TeamID] = true
		if sh.Weight < 1 || sh.Weight > maxShareWeight {
			return errInvalid("shares.weight", "the weight of team %s must be 1 to %d", sh.TeamID, maxShareWeight)
		}
	}
	return nil
}

// putStationSettings replaces the station's settings; fields left out take the defaults.
func (s *Server) putStationSettings(c *gin.Context) {
	var req putStationRequest
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	sat := satelliteOf(c)
	st := &store.AutoschedStation{SatelliteID: sat.ID, SlewAzDegS: orFloat(req.SlewAzDegS, autosched.DefaultSlewRateDegS),
		SlewElDegS: orFloat(req.SlewElDegS, autosched.DefaultSlewRateDegS), MinElevationDeg: orFloat(req.MinElevationDeg, autosched.DefaultMinElevationDeg)}
	for _, sh := range req.Shares {
		if _, err := s.store.TeamByID(ctx, sh.TeamID); err != nil {
			if store.IsNotFound(err) {
				err = errInvalid("shares.team_id", "no team %s", sh.TeamID)
			}
			s.fail(c, err)
			return
		}
		st.Shares = append(st.Shares, store.AutoschedShare{TeamID: sh.TeamID, Weight: sh.Weight})
	}
	if err := s.store.PutAutoschedStation(ctx, st); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "autoschedule_station.update", ObjectType: "satellite", ObjectID: sat.ID})
	s.getStationSettings(c)
}

func orFloat(v *float64, def float64) float64 {
	if v != nil {
		return *v
	}
	return def
}

// autoschedStatus answers the team's last run and whether one is under way.
func (s *Server) autoschedStatus(c *gin.Context) {
	run, err := s.store.AutoschedRunOf(c.Request.Context(), teamOf(c).ID)
	if store.IsNotFound(err) {
		writeJSON(c, http.StatusOK, gin.H{"running": false, "last_run_at": nil})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	running := run.LeaseUntil != nil && run.LeaseUntil.After(s.opts.Now())
	writeJSON(c, http.StatusOK, gin.H{"running": running, "last_run_at": run.LastRunAt, "last_status": run.LastStatus,
		"last_error": run.LastError, "last_booked": run.LastBooked})
}

var (
	errAutoschedRunning = &Error{http.StatusConflict, "autoschedule_running",
		"an auto-scheduler run of this team is under way; try again when it ends", ""}
	errAutoschedUnavailable = &Error{http.StatusServiceUnavailable, "autoscheduler_unavailable",
		"the auto-scheduler has no observations service to book through on this backend", ""}
)

// autoschedPreview answers what a run would book now on the team's stations, and why the
// other passes would not be booked. It plans, so it takes one of the planner's slots.
func (s *Server) autoschedPreview(c *gin.Context) {
	if !s.takePlanSlot(c) {
		return
	}
	defer s.releasePlanSlot()
	rep, err := s.autosched.Runner.Preview(c.Request.Context(), teamOf(c).ID)
	s.answerAutosched(c, rep, err)
}

// autoschedRun runs the auto-scheduler for the team's stations at once.
func (s *Server) autoschedRun(c *gin.Context) {
	if !s.takePlanSlot(c) {
		return
	}
	defer s.releasePlanSlot()
	rep, err := s.autosched.RunNow(c.Request.Context(), teamOf(c).ID)
	if err == nil {
		setAudit(c, auditInfo{Action: "autoschedule.run", ObjectType: "team", ObjectID: teamOf(c).ID})
	}
	s.answerAutosched(c, rep, err)
}

func (s *Server) answerAutosched(c *gin.Context, rep *autosched.Report, err error) {
	switch {
	case errors.Is(err, autosched.ErrRunning):
		s.fail(c, errAutoschedRunning)
	case errors.Is(err, autosched.ErrNoBooker):
		s.fail(c, errAutoschedUnavailable)
	case err != nil:
		s.fail(c, err)
	default:
		writeJSON(c, http.StatusOK, toReportJSON(rep))
	}
}

// takePlanSlot takes one of the planner's slots (one per core) or answers 503 planner_busy.
func (s *Server) takePlanSlot(c *gin.Context) bool {
	select {
	case s.planSlots <- struct{}{}:
		return true
	default:
		s.fail(c, &Error{http.StatusServiceUnavailable, "planner_busy", "the planner is busy; retry in a few seconds", ""})
		return false
	}
}

func (s *Server) releasePlanSlot() { <-s.planSlots }
