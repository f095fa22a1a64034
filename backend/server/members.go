package server

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/store"
)

// memberJSON is a team member as the API shows it.
type memberJSON struct {
	UserID      string     `json:"user_id"`
	Email       string     `json:"email"`
	DisplayName string     `json:"display_name"`
	Role        store.Role `json:"role"`
	CreatedAt   time.Time  `json:"created_at"`
}

type addMemberRequest struct {
	Email string     `json:"email"`
	Role  store.Role `json:"role"`
}

func (r *addMemberRequest) validate() error {
	if err := accounts.ValidateEmail("email", r.Email); err != nil {
		return err
	}
	return validRole(r.Role)
}

type setRoleRequest struct {
	Role store.Role `json:"role"`
}

func (r *setRoleRequest) validate() error { return validRole(r.Role) }

func validRole(r store.Role) error {
	if !r.Valid() {
		return errInvalid("role", "role must be owner, admin, member or viewer")
	}
	return nil
}

func (s *Server) memberRoutes() {
	s.teamAPI.GET("/members", s.listMembers)
	s.teamAPI.POST("/members", s.addMember)
	s.teamAPI.PATCH("/members/:userID", s.setMemberRole)
	s.teamAPI.DELETE("/members/:userID", s.removeMember)
}

func (s *Server) listMembers(c *gin.Context) {
	members, err := s.store.Members(c.Request.Context(), teamOf(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]memberJSON, len(members))
	for i, m := range members {
		out[i] = memberJSON(m)
	}
	writeJSON(c, http.StatusOK, gin.H{"members": out})
}

// mayManage reports whether the caller may give or take role target: admins manage admins,
// members and viewers; only owners manage owners.
func (s *Server) mayManage(c *gin.Context, target store.Role) bool {
	need := store.RoleAdmin
	if target == store.RoleOwner {
		need = store.RoleOwner
	}
	return s.requireRole(c, need)
}

// errInviteInstead answers a team admin adding a member directly: nobody joins a team without
// accepting an invitation; only global administrators (who manage every account) add directly.
var errInviteInstead = &Error{http.StatusForbidden, codeForbidden,
	"team admins invite members: POST /api/teams/{id}/invitations; the user accepts", ""}

func (s *Server) addMember(c *gin.Context) {
	if p := principalOf(c); p == nil || p.User == nil || !p.User.IsAdmin {
		s.fail(c, errInviteInstead)
		return
	}
	var req addMemberRequest
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	u, err := s.store.UserByEmail(ctx, req.Email)
	if err != nil {
		if store.IsNotFound(err) {
			err = errInvalid("email", "no user has the email %s", req.Email)
		}
		s.fail(c, err)
		return
	}
	m, err := s.store.AddMember(ctx, teamOf(c).ID, u.ID, req.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "member.add", ObjectType: "user", ObjectID: u.ID, Detail: string(req.Role)})
	writeJSON(c, http.StatusCreated, memberJSON{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName,
		Role: m.Role, CreatedAt: m.CreatedAt})
}

// targetMember loads the member named in the path, answering 404 when there is none.
func (s *Server) targetMember(c *gin.Context) (*store.Membership, bool) {
	userID := c.Param("userID")
	if !store.ValidID(userID) {
		s.fail(c, errNotFound)
		return nil, false
	}
	m, err := s.store.MembershipOf(c.Request.Context(), teamOf(c).ID, userID)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	return m, true
}

func (s *Server) setMemberRole(c *gin.Context) {
	var req setRoleRequest
	if !s.requireRole(c, store.RoleAdmin) || !s.bind(c, &req) {
		return
	}
	m, ok := s.targetMember(c)
	if !ok || !s.mayManage(c, m.Role) || !s.mayManage(c, req.Role) {
		return
	}
	if err := s.store.SetMemberRole(c.Request.Context(), m.TeamID, m.UserID, req.Role); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "member.set_role", ObjectType: "user", ObjectID: m.UserID,
		Detail: string(m.Role) + " -> " + string(req.Role)})
	c.Status(http.StatusNoContent)
}

func (s *Server) removeMember(c *gin.Context) {
	if !s.requireRole(c, store.RoleAdmin) {
		return
	}
	m, ok := s.targetMember(c)
	if !ok || !s.mayManage(c, m.Role) {
		return
	}
	if err := s.store.RemoveMember(c.Request.Context(), m.TeamID, m.UserID); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "member.remove", ObjectType: "user", ObjectID: m.UserID, Detail: string(m.Role)})
	c.Status(http.StatusNoContent)
}
