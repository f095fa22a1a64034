package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/store"
)

// teamJSON is a team as the API shows it, with the caller's role in it.
type teamJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Slug      string     `json:"slug"`
	Role      store.Role `json:"role,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func toTeamJSON(t *store.Team, role store.Role) teamJSON {
	return teamJSON{ID: t.ID, Name: t.Name, Slug: t.Slug, Role: role, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type createTeamRequest struct {
	Name string `json:"name"`
	// OwnerEmail names the first owner; empty means the caller.
	OwnerEmail string `json:"owner_email"`
}

func (r *createTeamRequest) validate() error {
	if err := validText("name", r.Name, 1, 100); err != nil {
		return err
	}
	if r.OwnerEmail != "" {
		return accounts.ValidateEmail("owner_email", r.OwnerEmail)
	}
	return nil
}

type renameTeamRequest struct {
	Name string `json:"name"`
}

func (r *renameTeamRequest) validate() error { return validText("name", r.Name, 1, 100) }

func (s *Server) teamRoutes() {
	s.userAPI.GET("/teams", s.listTeams)
	s.userAPI.POST("/teams", s.requireAdmin, s.createTeam)
	s.teamAPI.GET("", s.getTeam)
	s.teamAPI.PATCH("", s.renameTeam)
	s.teamAPI.DELETE("", s.deleteTeam)
}

// listTeams lists the caller's teams; a global administrator sees every team.
func (s *Server) listTeams(c *gin.Context) {
	ctx := c.Request.Context()
	p := principalOf(c)
	mine, err := s.store.TeamsOfUser(ctx, p.User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]teamJSON, 0, len(mine))
	for i := range mine {
		out = append(out, toTeamJSON(&mine[i].Team, mine[i].Role))
	}
	if p.User.IsAdmin {
		if out, err = s.allTeams(c, out); err != nil {
			s.fail(c, err)
			return
		}
	}
	writeJSON(c, http.StatusOK, gin.H{"teams": out})
}

// allTeams completes a global administrator's list with the teams they are not a member of
// (shown with role owner, which is how they act there).
func (s *Server) allTeams(c *gin.Context, mine []teamJSON) ([]teamJSON, error) {
	all, err := s.store.ListTeams(c.Request.Context())
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(mine))
	for _, t := range mine {
		seen[t.ID] = true
	}
	for i := range all {
		if !seen[all[i].ID] {
			mine = append(mine, toTeamJSON(&all[i], store.RoleOwner))
		}
	}
	return mine, nil
}

func (s *Server) createTeam(c *gin.Context) {
	var req createTeamRequest
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	ownerID := principalOf(c).User.ID
	if req.OwnerEmail != "" {
		owner, err := s.store.UserByEmail(ctx, req.OwnerEmail)
		if err != nil {
			if store.IsNotFound(err) {
				err = errInvalid("owner_email", "no user has the email %s", req.OwnerEmail)
			}
			s.fail(c, err)
			return
		}
		ownerID = owner.ID
	}
	t, err := s.store.CreateTeam(ctx, strings.TrimSpace(req.Name), ownerID)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "team.create", ObjectType: "team", ObjectID: t.ID, TeamID: t.ID, Detail: t.Slug})
	writeJSON(c, http.StatusCreated, toTeamJSON(t, store.RoleOwner))
}

func (s *Server) getTeam(c *gin.Context) {
	writeJSON(c, http.StatusOK, toTeamJSON(teamOf(c), roleOf(c)))
}

func (s *Server) renameTeam(c *gin.Context) {
	if !s.requireRole(c, store.RoleAdmin) {
		return
	}
	var req renameTeamRequest
	if !s.bind(c, &req) {
		return
	}
	t, err := s.store.RenameTeam(c.Request.Context(), teamOf(c).ID, strings.TrimSpace(req.Name))
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "team.rename", ObjectType: "team", ObjectID: t.ID, Detail: t.Name})
	writeJSON(c, http.StatusOK, toTeamJSON(t, roleOf(c)))
}

func (s *Server) deleteTeam(c *gin.Context) {
	if !s.requireRole(c, store.RoleOwner) {
		return
	}
	t := teamOf(c)
	if err := s.store.DeleteTeam(c.Request.Context(), t.ID); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "team.delete", ObjectType: "team", ObjectID: t.ID, Detail: t.Slug})
	c.Status(http.StatusNoContent)
}
