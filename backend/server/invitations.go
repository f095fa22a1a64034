package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/store"
)

// invitationTTL is how long an invitation stays open.
const invitationTTL = 7 * 24 * time.Hour

// codeInvitationClosed answers an accept or decline of an invitation that was already answered
// or has expired.
const codeInvitationClosed = "invitation_closed"

// invitationJSON is an invitation as the API shows it. TeamName is filled for the invited user.
type invitationJSON struct {
	ID        string     `json:"id"`
	TeamID    string     `json:"team_id"`
	TeamName  string     `json:"team_name,omitempty"`
	Email     string     `json:"email"`
	Role      store.Role `json:"role"`
	InvitedBy string     `json:"invited_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
}

func toInvitationJSON(inv *store.Invitation) invitationJSON {
	return invitationJSON{ID: inv.ID, TeamID: inv.TeamID, Email: inv.Email, Role: inv.Role,
		InvitedBy: inv.InvitedBy, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt}
}

type inviteRequest struct {
	Email string     `json:"email"`
	Role  store.Role `json:"role"`
}

func (r *inviteRequest) validate() error {
	if err := accounts.ValidateEmail("email", r.Email); err != nil {
		return err
	}
	return validRole(r.Role)
}

func (s *Server) invitationRoutes() {
	s.teamAPI.POST("/invitations", s.invite)
	s.teamAPI.GET("/invitations", s.teamAdmin, s.listTeamInvitations)
	s.teamAPI.DELETE("/invitations/:invitationID", s.teamAdmin, s.revokeInvitation)
	s.userAPI.GET("/me/invitations", s.myInvitations)
	s.userAPI.POST("/me/invitations/:invitationID/accept", s.answerInvitation(true))
	s.userAPI.POST("/me/invitations/:invitationID/decline", s.answerInvitation(false))
}

// invite invites an email into the team. The answer is the same whether a user has that email
// or not (no lookup is made), so a team admin cannot find out which emails exist.
func (s *Server) invite(c *gin.Context) {
	var req inviteRequest
	if !s.requireRole(c, store.RoleAdmin) || !s.bind(c, &req) || !s.mayManage(c, req.Role) {
		return
	}
	inv := &store.Invitation{TeamID: teamOf(c).ID, Email: req.Email, Role: req.Role, InvitedBy: principalOf(c).ActorID()}
	if err := s.store.CreateInvitation(c.Request.Context(), inv, invitationTTL); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "invitation.create", ObjectType: "invitation", ObjectID: inv.ID, Detail: string(inv.Role)})
	writeJSON(c, http.StatusCreated, toInvitationJSON(inv))
}

func (s *Server) listTeamInvitations(c *gin.Context) {
	invs, err := s.store.TeamInvitations(c.Request.Context(), teamOf(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]invitationJSON, len(invs))
	for i := range invs {
		out[i] = toInvitationJSON(&invs[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"invitations": out})
}

func (s *Server) revokeInvitation(c *gin.Context) {
	id := c.Param("invitationID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	if err := s.store.RevokeInvitation(c.Request.Context(), teamOf(c).ID, id); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "invitation.revoke", ObjectType: "invitation", ObjectID: id})
	c.Status(http.StatusNoContent)
}

// myInvitations lists the open invitations to the caller's email, with the teams' names.
func (s *Server) myInvitations(c *gin.Context) {
	ctx := c.Request.Context()
	invs, err := s.store.InvitationsFor(ctx, principalOf(c).User.Email)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]invitationJSON, len(invs))
	for i := range invs {
		out[i] = toInvitationJSON(&invs[i])
		team, err := s.store.TeamByID(ctx, invs[i].TeamID)
		if err != nil {
			s.fail(c, err)
			return
		}
		out[i].TeamName = team.Name
	}
	writeJSON(c, http.StatusOK, gin.H{"invitations": out})
}

// answerInvitation accepts (201 with the membership) or declines (204) one of the caller's
// invitations; anybody else's is 404.
func (s *Server) answerInvitation(accept bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("invitationID")
		if !store.ValidID(id) {
			s.fail(c, errNotFound)
			return
		}
		u := principalOf(c).User
		inv, err := s.store.AnswerInvitation(c.Request.Context(), u, id, accept)
		if errors.Is(err, store.ErrInvitationClosed) {
			err = &Error{http.StatusConflict, codeInvitationClosed, "the invitation was answered already or has expired", ""}
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		action := "invitation.decline"
		if accept {
			action = "invitation.accept"
		}
		setAudit(c, auditInfo{Action: action, ObjectType: "invitation", ObjectID: id, TeamID: inv.TeamID, Detail: string(inv.Role)})
		if !accept {
			c.Status(http.StatusNoContent)
			return
		}
		writeJSON(c, http.StatusCreated, memberJSON{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName,
			Role: inv.Role, CreatedAt: s.store.Now()})
	}
}
