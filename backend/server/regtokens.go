package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
)

// regTokenJSON is a registration token as listed: never the token itself.
type regTokenJSON struct {
	ID          string    `json:"id"`
	Scope       string    `json:"scope"`
	TeamID      string    `json:"team_id,omitempty"`
	Name        string    `json:"name,omitempty"`
	CreatedBy   string    `json:"created_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	UsesAllowed int       `json:"uses_allowed"`
	UsesLeft    int       `json:"uses_left"`
	// RatePerMinute is the token's own registration rate (0: the per-address limit).
	RatePerMinute int        `json:"rate_per_minute"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

func toRegTokenJSON(t *store.RegistrationToken) regTokenJSON {
	out := regTokenJSON{ID: t.ID, Scope: regtoken.ScopeGlobal, Name: t.Name, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, UsesAllowed: t.UsesAllowed, UsesLeft: t.UsesLeft,
		RatePerMinute: t.RatePerMinute, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
	if t.TeamID != nil {
		out.Scope, out.TeamID = regtoken.ScopeTeam, *t.TeamID
	}
	return out
}

// createdRegTokenJSON answers a creation: the only time the token is shown.
type createdRegTokenJSON struct {
	regTokenJSON
	Token string `json:"token"`
}

type createRegTokenRequest struct {
	// TeamID scopes a token created on /api/registration-tokens to a team (global admins).
	TeamID string `json:"team_id"`
	Name   string `json:"name"`
	// TTL is a Go duration ("24h"); empty picks the default (1 h global, 24 h team).
	TTL  string `json:"ttl"`
	Uses int    `json:"uses"`
	// RatePerMinute gives a multi-use token its own registration rate, in place of the
	// per-address limit (a campus registering many stations behind one NAT address).
	RatePerMinute int `json:"rate_per_minute"`

	ttl time.Duration
}

func (r *createRegTokenRequest) validate() error {
	if r.TeamID != "" && !store.ValidID(r.TeamID) {
		return errInvalid("team_id", "team_id must be a team id")
	}
	if err := validText("name", r.Name, 0, 100); err != nil {
		return err
	}
	if r.TTL != "" {
		d, err := time.ParseDuration(r.TTL)
		if err != nil || d <= 0 || d > regtoken.MaxTTL {
			return errInvalid("ttl", "ttl must be a positive duration up to 720h, e.g. \"24h\"")
		}
		r.ttl = d
	}
	if r.Uses < 0 || r.Uses > regtoken.MaxUses {
		return errInvalid("uses", "uses must be 1 to %d (0 or absent: 1)", regtoken.MaxUses)
	}
	if r.RatePerMinute < 0 || r.RatePerMinute > regtoken.MaxRatePerMinute {
		return errInvalid("rate_per_minute", "rate_per_minute must be 0 to %d", regtoken.MaxRatePerMinute)
	}
	if r.RatePerMinute > 0 && r.Uses < 2 {
		return errInvalid("rate_per_minute", "rate_per_minute needs a multi-use token (uses of 2 or more)")
	}
	return nil
}

func (s *Server) regTokenRoutes() {
	s.userAPI.POST("/registration-tokens", s.requireAdmin, s.createRegToken)
	s.userAPI.GET("/registration-tokens", s.requireAdmin, s.listRegTokens)
	s.userAPI.DELETE("/registration-tokens/:tokenID", s.requireAdmin, s.revokeRegToken)
	s.teamAPI.POST("/registration-tokens", s.teamAdmin, s.createRegToken)
	s.teamAPI.GET("/registration-tokens", s.teamAdmin, s.listRegTokens)
	s.teamAPI.DELETE("/registration-tokens/:tokenID", s.teamAdmin, s.revokeRegToken)
}

// teamAdmin admits team admins and owners (and global administrators) of the scoped team.
func (s *Server) teamAdmin(c *gin.Context) {
	if s.requireRole(c, store.RoleAdmin) {
		c.Next()
	}
}

// tokenScope is the team a registration-token route acts on: the scoped team on team routes,
// nil (every token) on the global ones.
func tokenScope(c *gin.Context) *string {
	if t := teamOf(c); t != nil {
		return &t.ID
	}
	return nil
}

func (s *Server) createRegToken(c *gin.Context) {
	var req createRegTokenRequest
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	team := tokenScope(c)
	if team != nil && req.TeamID != "" && req.TeamID != *team {
		s.fail(c, errInvalid("team_id", "team_id must be left out or name this team"))
		return
	}
	if team == nil && req.TeamID != "" {
		if _, err := s.store.TeamByID(ctx, req.TeamID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = errInvalid("team_id", "no team has the id %s", req.TeamID)
			}
			s.fail(c, err)
			return
		}
		team = &req.TeamID
	}
	signed, row, err := s.sat.tokens.Issue(ctx, s.store, regtoken.Request{TeamID: team, TTL: req.ttl,
		Uses: req.Uses, RatePerMinute: req.RatePerMinute, Name: strings.TrimSpace(req.Name), CreatedBy: principalOf(c).ActorID()})
	if err != nil {
		s.fail(c, err)
		return
	}
	a := auditInfo{Action: "registration_token.create", ObjectType: "registration_token", ObjectID: row.ID}
	if team != nil {
		a.TeamID = *team
	}
	setAudit(c, a)
	writeJSON(c, http.StatusCreated, createdRegTokenJSON{regTokenJSON: toRegTokenJSON(row), Token: signed})
}

func (s *Server) listRegTokens(c *gin.Context) {
	tokens, err := s.store.RegistrationTokens(c.Request.Context(), tokenScope(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]regTokenJSON, len(tokens))
	for i := range tokens {
		out[i] = toRegTokenJSON(&tokens[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"tokens": out})
}

func (s *Server) revokeRegToken(c *gin.Context) {
	id := c.Param("tokenID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	if err := s.store.RevokeRegistrationToken(c.Request.Context(), tokenScope(c), id); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "registration_token.revoke", ObjectType: "registration_token", ObjectID: id})
	c.Status(http.StatusNoContent)
}
