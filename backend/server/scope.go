package server

import (
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/store"
)

const (
	ctxTeam = "talos.team"
	ctxRole = "talos.role"
)

// teamScope is the one place that decides whether a principal may see a team. It guards every
// route under /api/teams/:teamID:
//   - a team the principal does not belong to answers 404, exactly like a team that does not
//     exist, so outsiders learn nothing about other teams;
//   - a global administrator acts as the team's owner;
//   - a viewer gets 403 for every unsafe method.
//
// Handlers then read teamOf(c) and roleOf(c), and check stronger roles with requireRole.
func (s *Server) teamScope(c *gin.Context) {
	teamID := c.Param("teamID")
	if !store.ValidID(teamID) {
		s.fail(c, errNotFound)
		return
	}
	ctx := c.Request.Context()
	team, err := s.store.TeamByID(ctx, teamID)
	if err != nil {
		s.fail(c, err)
		return
	}
	role, err := s.roleIn(c, team.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if unsafeMethod(c.Request.Method) && !role.AtLeast(store.RoleMember) {
		s.fail(c, errForbidden)
		return
	}
	c.Set(ctxTeam, team)
	c.Set(ctxRole, role)
	c.Next()
}

// roleIn returns the principal's effective role in teamID, or ErrNotFound when it has none.
func (s *Server) roleIn(c *gin.Context, teamID string) (store.Role, error) {
	p := principalOf(c)
	if p == nil || p.User == nil {
		return "", store.ErrNotFound
	}
	if p.User.IsAdmin {
		return store.RoleOwner, nil
	}
	m, err := s.store.MembershipOf(c.Request.Context(), teamID, p.User.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return m.Role, nil
}

func teamOf(c *gin.Context) *store.Team {
	t, _ := c.Get(ctxTeam)
	team, _ := t.(*store.Team)
	return team
}

func roleOf(c *gin.Context) store.Role {
	r, _ := c.Get(ctxRole)
	role, _ := r.(store.Role)
	return role
}

// requireRole answers 403 and returns false unless the caller's role in the scoped team is at
// least min.
func (s *Server) requireRole(c *gin.Context, min store.Role) bool {
	if !roleOf(c).AtLeast(min) {
		s.fail(c, errForbidden)
		return false
	}
	return true
}
