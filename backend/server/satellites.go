package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
)

// satelliteRoutes registers the satellite protocol and the user routes over satellites. The
// satellite-facing routes sit outside s.api: they take only satellite keys and are not
// audited call by call (a heartbeat every 30 s would drown the audit log); registration is.
func (s *Server) satelliteRoutes() {
	s.satelliteDefaults()
	s.bearers[PrefixSatellite] = s.satelliteKey
	s.engine.POST("/api/satellites/register", s.audited, s.register)

	sat := s.engine.Group("/api/satellites/:satelliteID", s.authenticate, s.requireSatellite, s.wakeLive)
	sat.GET("/commands", s.poll)
	sat.POST("/commands/:commandID/status", s.commandStatus)
	sat.POST("/heartbeat", s.heartbeat)
	sat.POST("/events", s.events)
	s.engine.GET("/api/teams/:teamID/satellites/:satelliteID/commands", s.authenticate, s.requireSatellite, s.poll)

	s.userAPI.GET("/satellites", s.requireAdmin, s.listSatellites)
	byID := s.userAPI.Group("/satellites/:satelliteID", s.satelliteAccess, s.wakeLive)
	inTeam := s.teamAPI.Group("/satellites/:satelliteID", s.teamSatelliteAccess, s.wakeLive)
	s.teamAPI.GET("/satellites", s.listSatellites)
	inTeam.GET("", s.getSatellite)
	inTeam.PATCH("", s.updateSatellite)
	inTeam.DELETE("", s.deleteSatellite)
	byID.GET("", s.getSatellite)
	byID.PATCH("", s.requireAdmin, s.assignSatellite)
	// One rule for both paths: whatever users do with a satellite's commands, heartbeats and
	// events, they do on /api/satellites/{id}/... (team resolved from the satellite) and on
	// /api/teams/{team}/satellites/{id}/... alike (TestSatelliteRoutesHaveBothPaths holds it).
	for _, g := range []*gin.RouterGroup{byID, inTeam} {
		s.operate(g, http.MethodPost, "/commands", s.createCommand)
		g.GET("/commands/history", s.commandHistory)
		s.operate(g, http.MethodPost, "/commands/:commandID/cancel", s.cancelCommand)
		s.operate(g, http.MethodPost, "/pause", s.pauseSatellite)
		s.operate(g, http.MethodPost, "/resume", s.resumeSatellite)
		g.GET("/heartbeats", s.listHeartbeats)
		g.GET("/events", s.listEvents)
	}
}

// satelliteAccess resolves /api/satellites/:satelliteID for a user: the satellite's team decides,
// exactly as teamScope does for /api/teams/:teamID (outsiders 404, viewers 403 on changes). A
// satellite of no team is visible to global administrators only.
func (s *Server) satelliteAccess(c *gin.Context) {
	id := c.Param("satelliteID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	sat, err := s.store.SatelliteByID(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	role := store.RoleOwner
	if sat.TeamID == nil {
		if !principalOf(c).User.IsAdmin {
			s.fail(c, errNotFound)
			return
		}
	} else if role, err = s.roleIn(c, *sat.TeamID); err != nil {
		s.fail(c, err)
		return
	}
	if unsafeMethod(c.Request.Method) && !role.AtLeast(store.RoleMember) {
		s.fail(c, errForbidden)
		return
	}
	c.Set(ctxSatellite, sat)
	c.Set(ctxRole, role)
	c.Next()
}

// teamSatelliteAccess resolves a satellite of the scoped team; any other id is 404.
func (s *Server) teamSatelliteAccess(c *gin.Context) {
	id := c.Param("satelliteID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	sat, err := s.store.TeamSatellite(c.Request.Context(), teamOf(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxSatellite, sat)
	c.Next()
}

// satelliteJSON is a satellite as users see it (never its key hash).
type satelliteJSON struct {
	ID              string             `json:"id"`
	TeamID          string             `json:"team_id,omitempty"`
	Name            string             `json:"name"`
	Location        api.Location       `json:"location"`
	MinElevationDeg float64            `json:"min_elevation_deg"`
	HorizonMask     []api.HorizonPoint `json:"horizon_mask"`
	Version         string             `json:"version"`
	Capabilities    []string           `json:"capabilities"`
	Tags            map[string]string  `json:"tags"`
	// Status is what users see: "paused" while a pause is in force, else ReportedStatus.
	Status string `json:"status"`
	// ReportedStatus is the station's own (or offline), paused or not.
	ReportedStatus   string     `json:"reported_status"`
	Paused           *pauseJSON `json:"paused,omitempty"`
	Maintenance      bool       `json:"maintenance"`
	KeyID            string     `json:"key_id"`
	HeartbeatSeconds int        `json:"heartbeat_seconds"`
	RegisteredAt     time.Time  `json:"registered_at"`
	KeyRotatedAt     time.Time  `json:"key_rotated_at"`
	LastSeenAt       *time.Time `json:"last_seen_at,omitempty"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

func (s *Server) toSatelliteJSON(sat *store.Satellite) satelliteJSON {
	now := s.store.Now()
	out := satelliteJSON{ID: sat.ID, Name: sat.Name, Location: api.Location{Lat: sat.Lat, Lon: sat.Lon, AltM: sat.AltM},
		MinElevationDeg: sat.MinElevationDeg, HorizonMask: sat.HorizonMask, Version: sat.Version,
		Capabilities: sat.Capabilities, Tags: sat.Tags, Status: satelliteStatus(sat, now), ReportedStatus: sat.Status,
		Paused: pauseOf(sat, now), Maintenance: sat.Maintenance,
		KeyID: sat.APIKeyID, HeartbeatSeconds: sat.HeartbeatSeconds, RegisteredAt: sat.RegisteredAt,
		KeyRotatedAt: sat.KeyRotatedAt, LastSeenAt: sat.LastSeenAt, UpdatedAt: sat.UpdatedAt}
	if sat.TeamID != nil {
		out.TeamID = *sat.TeamID
	}
	if out.Capabilities == nil {
		out.Capabilities = []string{}
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if out.HorizonMask == nil {
		out.HorizonMask = []api.HorizonPoint{}
	}
	return out
}

// registerRequest is api.RegisterRequest with its validation.
type registerRequest api.RegisterRequest

func (r *registerRequest) validate() error {
	if err := validText("name", r.Name, 1, 100); err != nil {
		return err
	}
	if err := validLocation(r.Location); err != nil {
		return err
	}
	if err := validText("version", r.Version, 0, 100); err != nil {
		return err
	}
	if len(r.Capabilities) > api.MaxCapabilities {
		return errInvalid("capabilities", "at most %d capabilities", api.MaxCapabilities)
	}
	for i, c := range r.Capabilities {
		if !api.ValidCapability(c) {
			return errInvalid(fmt.Sprintf("capabilities[%d]", i), "a capability is 1 to 32 of a-z, 0-9, '.', '_', '-'")
		}
	}
	if err := validTags(r.Tags); err != nil {
		return err
	}
	if r.SatelliteID != "" && !store.ValidID(r.SatelliteID) {
		return errInvalid("satellite_id", "satellite_id must be a UUID")
	}
	return nil
}

// validTags checks a station's tags with backend/api's rules, naming the field.
func validTags(tags map[string]string) error {
	var te *api.TagError
	if err := api.ValidateTags(tags); errors.As(err, &te) {
		return errInvalid(te.Field, "%s", te.Message)
	}
	return nil
}

func validLocation(l api.Location) error {
	switch {
	case !(l.Lat >= -90 && l.Lat <= 90):
		return errInvalid("location.lat", "location.lat must be -90 to 90 degrees")
	case !(l.Lon >= -180 && l.Lon <= 180):
		return errInvalid("location.lon", "location.lon must be -180 to 180 degrees")
	case !(l.AltM >= -1000 && l.AltM <= 100000):
		return errInvalid("location.alt_m", "location.alt_m must be -1000 to 100000 metres")
	}
	return nil
}

// Registration errors, with the protocol's stable codes.
var (
	errTokenRequired = &Error{http.StatusUnauthorized, api.ErrRegistrationTokenRequired,
		"registration needs Authorization: Bearer <registration token> (or the satellite's API key to re-register)", ""}
	errTokenInvalid = &Error{http.StatusUnauthorized, api.ErrInvalidRegistrationToken, "the registration token is not valid", ""}
	errTokenExpired = &Error{http.StatusUnauthorized, api.ErrTokenExpired, "the registration token has expired", ""}
	errTokenUsed    = &Error{http.StatusUnauthorized, api.ErrTokenAlreadyUsed, "the registration token has no uses left", ""}
	errTokenScope   = &Error{http.StatusForbidden, api.ErrTokenInvalidScope,
		"the credential may not register this satellite (another team's, a team's with a global token, or not its own key)", ""}
)

// register creates a satellite, or rotates the key of an existing one (satellite_id set,
// authorised by a registration token or by the satellite's current key).
func (s *Server) register(c *gin.Context) {
	defer s.countRegistration(c)
	if ok, wait := s.allowRegistration(c); !ok {
		c.Header("Retry-After", itoa(ratelimit.RetryAfterSeconds(wait)))
		s.fail(c, &Error{http.StatusTooManyRequests, api.ErrRateLimited, "too many registrations; retry later", ""})
		return
	}
	// A refused registration is audited like a failed login (after the rate limit, so a flood
	// does not flood the log); a successful one replaces this entry.
	setAudit(c, auditInfo{Action: "satellite.register_failed", ObjectType: "satellite", Always: true})
	bearer, ok := bearerValue(c)
	if !ok {
		s.fail(c, errTokenRequired)
		return
	}
	var req registerRequest
	if !s.bind(c, &req) {
		return
	}
	reg, apiKey, err := s.registrationFor(c, bearer, api.RegisterRequest(req))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.completeRegistration(c, reg, apiKey)
}

// allowRegistration applies the registration rate: a genuine token carrying its own rate is
// limited by that rate (keyed by the token, whatever the address), everything else by the
// per-address limit. The token's rate is in its signed claims, so this needs no database work
// and a forged or guessed token gets the per-address limit.
func (s *Server) allowRegistration(c *gin.Context) (bool, time.Duration) {
	if bearer, ok := bearerValue(c); ok && !strings.HasPrefix(bearer, PrefixSatellite+"_") {
		if claims, err := s.sat.tokens.Parse(bearer); err == nil && claims.RatePerMinute > 0 {
			return s.sat.tokenLimiter.AllowAt("token:"+claims.ID, time.Minute/time.Duration(claims.RatePerMinute),
				claims.RatePerMinute)
		}
	}
	return s.opts.Satellites.RegisterLimiter.Allow(c.ClientIP())
}

// countRegistration counts a finished registration by its HTTP status.
func (s *Server) countRegistration(c *gin.Context) {
	s.sat.metrics.registrations.WithLabelValues(strconv.Itoa(c.Writer.Status())).Inc()
}

// bearerValue returns the Authorization bearer value, if any.
func bearerValue(c *gin.Context) (string, bool) {
	scheme, value, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	value = strings.TrimSpace(value)
	return value, ok && strings.EqualFold(scheme, "Bearer") && value != ""
}

// registrationFor checks the credential and builds the store's registration with a new key; it
// returns the new key in plaintext too, for the answer (the one time it is shown).
func (s *Server) registrationFor(c *gin.Context, bearer string, req api.RegisterRequest) (store.Registration, string, error) {
	reg := store.Registration{SatelliteID: req.SatelliteID, Name: strings.TrimSpace(req.Name),
		Lat: req.Location.Lat, Lon: req.Location.Lon, AltM: req.Location.AltM, Version: req.Version,
		Capabilities: req.Capabilities, Tags: req.Tags, HeartbeatSeconds: s.opts.Satellites.HeartbeatSeconds}
	if strings.HasPrefix(bearer, PrefixSatellite+"_") {
		key, err := auth.ParseKey(bearer)
		if err != nil {
			return reg, "", errUnauthorized
		}
		p, err := s.satelliteKey(c, key)
		if err != nil {
			return reg, "", err
		}
		if req.SatelliteID != p.SubjectID {
			return reg, "", errTokenScope
		}
		reg.KeyHolder = p.SubjectID
	} else {
		claims, err := s.sat.tokens.Parse(bearer)
		switch {
		case errors.Is(err, regtoken.ErrExpired):
			return reg, "", errTokenExpired
		case err != nil:
			return reg, "", errTokenInvalid
		}
		reg.TokenID = claims.ID
	}
	key, err := auth.NewKey(PrefixSatellite)
	if err != nil {
		return reg, "", err
	}
	// A keyed hash (decision 0092): a microsecond and no memory, so registrations need no slot.
	reg.APIKeyID, reg.APIKeyHash = key.ID, s.keyHash.Hash(key.Secret)
	return reg, key.String(), nil
}

func (s *Server) completeRegistration(c *gin.Context, reg store.Registration, apiKey string) {
	sat, err := s.store.RegisterSatellite(c.Request.Context(), reg)
	if err != nil {
		s.fail(c, registrationError(err))
		return
	}
	c.Set(ctxPrincipal, &Principal{Kind: ActorSatellite, SubjectID: sat.ID})
	a := auditInfo{Action: "satellite.register", ObjectType: "satellite", ObjectID: sat.ID, Detail: sat.Name}
	if reg.SatelliteID != "" {
		a.Action = "satellite.reregister"
	}
	resp := api.RegisterResponse{SatelliteID: sat.ID, APIKey: apiKey, Intervals: s.intervals()}
	if sat.TeamID != nil {
		a.TeamID, resp.TeamID = *sat.TeamID, *sat.TeamID
	}
	setAudit(c, a)
	s.wakeTeam(c.Request.Context(), sat.TeamID)
	s.log.Info("satellite registered", zap.String("satellite_id", sat.ID), zap.String("team_id", resp.TeamID),
		zap.Bool("rotation", reg.SatelliteID != ""))
	writeJSON(c, http.StatusCreated, resp)
}

func registrationError(err error) error {
	switch {
	case errors.Is(err, store.ErrTokenUnknown):
		return errTokenInvalid
	case errors.Is(err, store.ErrTokenExpired):
		return errTokenExpired
	case errors.Is(err, store.ErrTokenUsedUp):
		return errTokenUsed
	case errors.Is(err, store.ErrWrongScope):
		return errTokenScope
	}
	return err
}

func (s *Server) intervals() api.Intervals {
	o := s.opts.Satellites
	return api.Intervals{PollSeconds: api.PollingIdle.Seconds(), HeartbeatSeconds: o.HeartbeatSeconds,
		EventsSeconds: o.EventsSeconds, LongPollSeconds: o.LongPollSeconds}
}

// listSatellites lists the scoped team's satellites, or every satellite for a global
// administrator on /api/satellites.
func (s *Server) listSatellites(c *gin.Context) {
	sats, err := s.store.Satellites(c.Request.Context(), tokenScope(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]satelliteJSON, len(sats))
	for i := range sats {
		out[i] = s.toSatelliteJSON(&sats[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"satellites": out})
}

func (s *Server) getSatellite(c *gin.Context) {
	writeJSON(c, http.StatusOK, s.toSatelliteJSON(satelliteOf(c)))
}

type updateSatelliteRequest struct {
	Name            *string             `json:"name"`
	Maintenance     *bool               `json:"maintenance"`
	MinElevationDeg *float64            `json:"min_elevation_deg"`
	HorizonMask     *[]api.HorizonPoint `json:"horizon_mask"`
}

func (r *updateSatelliteRequest) validate() error {
	if r.Name == nil && r.Maintenance == nil && r.MinElevationDeg == nil && r.HorizonMask == nil {
		return errInvalid("", "give name, maintenance, min_elevation_deg and/or horizon_mask")
	}
	if r.Name != nil {
		if err := validText("name", *r.Name, 1, 100); err != nil {
			return err
		}
	}
	if r.MinElevationDeg != nil && !(*r.MinElevationDeg >= -5 && *r.MinElevationDeg < 90) {
		return errInvalid("min_elevation_deg", "%v is outside [−5, 90)", *r.MinElevationDeg)
	}
	if r.HorizonMask != nil {
		if _, err := planner.StationMask(*r.HorizonMask); err != nil {
			return errInvalid("horizon_mask", "%v", err)
		}
	}
	return nil
}

// updateSatellite renames a satellite, switches its maintenance mode or sets the sky it sees
// (minimum elevation, horizon mask) for pass planning (members and up).
func (s *Server) updateSatellite(c *gin.Context) {
	var req updateSatelliteRequest
	if !s.bind(c, &req) {
		return
	}
	if req.Name != nil {
		*req.Name = strings.TrimSpace(*req.Name)
	}
	sat, err := s.store.UpdateSatellite(c.Request.Context(), teamOf(c).ID, satelliteOf(c).ID,
		store.SatelliteUpdate{Name: req.Name, Maintenance: req.Maintenance,
			MinElevationDeg: req.MinElevationDeg, HorizonMask: req.HorizonMask})
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "satellite.update", ObjectType: "satellite", ObjectID: sat.ID,
		Detail: fmt.Sprintf("name=%q maintenance=%t min_elevation_deg=%g horizon_mask=%d points",
			sat.Name, sat.Maintenance, sat.MinElevationDeg, len(sat.HorizonMask))})
	if req.Maintenance != nil {
		// A long-poll in progress answers with the new interval at once.
		s.cmds.Wake(c.Request.Context(), sat.ID)
	}
	writeJSON(c, http.StatusOK, s.toSatelliteJSON(sat))
}

type assignSatelliteRequest struct {
	TeamID string `json:"team_id"`
}

func (r *assignSatelliteRequest) validate() error {
	if !store.ValidID(r.TeamID) {
		return errInvalid("team_id", "team_id must be a team id")
	}
	return nil
}

// assignSatellite moves a satellite into a team (global administrators): the way a satellite
// registered with a global token joins one.
func (s *Server) assignSatellite(c *gin.Context) {
	var req assignSatelliteRequest
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	if _, err := s.store.TeamByID(ctx, req.TeamID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errInvalid("team_id", "no team has the id %s", req.TeamID)
		}
		s.fail(c, err)
		return
	}
	sat, err := s.store.AssignSatellite(ctx, satelliteOf(c).ID, req.TeamID)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "satellite.assign", ObjectType: "satellite", ObjectID: sat.ID, TeamID: req.TeamID})
	writeJSON(c, http.StatusOK, s.toSatelliteJSON(sat))
}

// deleteSatellite removes a satellite and its data (team admins); its key stops working.
func (s *Server) deleteSatellite(c *gin.Context) {
	if !s.requireRole(c, store.RoleAdmin) {
		return
	}
	sat := satelliteOf(c)
	if err := s.store.DeleteSatellite(c.Request.Context(), teamOf(c).ID, sat.ID); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "satellite.delete", ObjectType: "satellite", ObjectID: sat.ID, Detail: sat.Name})
	c.Status(http.StatusNoContent)
}
