package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
)

// meJSON answers GET /api/me.
type meJSON struct {
	User  userJSON   `json:"user"`
	Teams []teamJSON `json:"teams"`
	Auth  meAuthJSON `json:"auth"`
}

type meAuthJSON struct {
	// Kind is "user" (browser session) or "token" (personal API token).
	Kind string `json:"kind"`
	// CSRFToken is the session's CSRF token, so a reloaded page can recover it.
	CSRFToken string `json:"csrf_token,omitempty"`
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (r *passwordRequest) validate() error {
	if r.CurrentPassword == "" {
		return errInvalid("current_password", "current_password is required")
	}
	if err := accounts.ValidatePassword("new_password", r.NewPassword); err != nil {
		return err
	}
	if r.NewPassword == r.CurrentPassword {
		return errInvalid("new_password", "new_password must differ from the current one")
	}
	return nil
}

func (s *Server) meRoutes() {
	s.userAPI.GET("/me", s.me)
	s.userAPI.POST("/me/password", s.changePassword)
}

func (s *Server) me(c *gin.Context) {
	p := principalOf(c)
	teams, err := s.store.TeamsOfUser(c.Request.Context(), p.User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := meJSON{User: toUserJSON(p.User), Teams: make([]teamJSON, len(teams)), Auth: meAuthJSON{Kind: string(p.Kind)}}
	for i := range teams {
		out.Teams[i] = toTeamJSON(&teams[i].Team, teams[i].Role)
	}
	if p.SessionID != "" {
		out.Auth.CSRFToken = s.csrf.Token(p.SessionID)
	}
	writeJSON(c, http.StatusOK, out)
}

// changePassword sets a new password after checking the current one. The check is a password
// guess like a login's and is bounded the same way: the per-address limit, the account's
// failure limit (shared with logins) and the guard's slots; so is hashing the new one. Whoever
// might have known the old password loses access: the user's other sessions end and every
// personal token is revoked, the one making this request included (docs/decisions/0064).
func (s *Server) changePassword(c *gin.Context) {
	if !s.allowAddress(c, "too many password attempts from this address; retry later") {
		return
	}
	var req passwordRequest
	if !s.bind(c, &req) {
		return
	}
	p := principalOf(c)
	ctx := c.Request.Context()
	err := s.guard.Check(ctx, s.passwordAttempt(c, p.User.Email), func() error {
		return s.hasher.Verify(p.User.PasswordHash, req.CurrentPassword)
	})
	if errors.Is(err, auth.ErrMismatch) {
		err = errInvalid("current_password", "current_password is wrong")
	}
	if err != nil {
		s.fail(c, guardError(c, err))
		return
	}
	var hash string
	if err := s.guard.Run(ctx, auth.KindPassword, func() (err error) {
		hash, err = s.hasher.Hash(req.NewPassword)
		return err
	}); err != nil {
		s.fail(c, guardError(c, err))
		return
	}
	revoked, err := s.store.SetPassword(ctx, p.User.ID, hash, p.SessionID)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "user.password_change", ObjectType: "user", ObjectID: p.User.ID,
		Detail: "tokens_revoked=" + itoa(int(revoked))})
	c.Status(http.StatusNoContent)
}
